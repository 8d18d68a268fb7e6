"""engine.models.providers: `[engine] providers` checked against what onnxruntime offers, with
an error that names what it does offer; the CPU always last. And the daemon and `xintud
classify` refuse a provider that is not there, saying which are."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.daemon_tree import DaemonTree
from xintud.engine.models.manifest import ModelError
from xintud.engine.models.providers import CPU, available_providers, resolve_providers

OFFERED = ["CUDAExecutionProvider", "OpenVINOExecutionProvider", CPU]


@pytest.mark.parametrize(("asked", "chosen"), [
    ([], [CPU]),
    (["cpu"], [CPU]),
    (["cuda"], ["CUDAExecutionProvider", CPU]),
    (["CPU", "CUDA"], ["CUDAExecutionProvider", CPU]),
    (["OpenVINOExecutionProvider", "cuda", "cuda"], ["OpenVINOExecutionProvider",
                                                    "CUDAExecutionProvider", CPU]),
])
def test_names_short_or_full_in_order_with_the_cpu_last(asked: list[str],
                                                        chosen: list[str]) -> None:
    assert resolve_providers(asked, OFFERED) == chosen


def test_a_provider_not_offered_is_refused_naming_those_that_are() -> None:
    with pytest.raises(ModelError, match=r"'coreml' is not offered .* it offers: cuda "
                                         r"\(CUDAExecutionProvider\), openvino .*cpu"):
        resolve_providers(["coreml"], OFFERED)


def test_this_machine_offers_the_cpu_and_classify_refuses_what_it_lacks(tmp_path: Path) -> None:
    assert CPU in available_providers()
    done = subprocess.run([sys.executable, "-m", "xintud", "classify", "--json", "--providers",
                           "nosuchaccelerator", str(tmp_path)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 2
    assert "'nosuchaccelerator' is not offered" in json.loads(done.stdout)["error"]
    assert "cpu (CPUExecutionProvider)" in json.loads(done.stdout)["error"]


def test_the_daemon_refuses_to_start_on_a_provider_that_is_not_there(tmp_path: Path) -> None:
    tree = DaemonTree(tmp_path)
    tree.write_config()
    tree.config.write_text(tree.config.read_text() + '\n[engine]\nproviders = ["cuda"]\n')
    done = subprocess.run([sys.executable, "-m", "xintud", "--config", str(tree.config)],
                          env=tree.env(), capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 2, done.stderr
    assert "execution provider 'cuda' is not offered" in done.stderr
    assert "Fix [engine] providers in the config" in done.stderr
