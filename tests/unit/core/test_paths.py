"""Per-user paths: XDG variables move them, the runtime dir falls back to a private dir."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import platformdirs
import pytest

from tests.support.daemon_tree import runtime_prefix
from xintud.core.paths import (
    UnsafeDirectoryError,
    app_paths,
    ensure_private_dir,
    fallback_runtime_dir,
    socket_path_fits,
    user_runtime_dir,
)

pytestmark = pytest.mark.skipif(
    sys.platform in ("darwin", "win32"), reason="XDG base directories apply on Linux and BSD"
)

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
OTHER_UID = 65534  # nobody


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True)
    path.chmod(0o700)
    return path


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG config/state homes inside tmp_path, and no runtime dir from the environment."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    return tmp_path


def test_xdg_variables_move_every_path(xdg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime_base = private_dir(xdg / "rt")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime_base))

    paths = app_paths(run_user_root=xdg / "no-run-user")

    assert paths.config_file == xdg / "cfg" / "xintud" / "config.toml"
    assert paths.state_dir == xdg / "state" / "xintud"
    assert paths.db_path == xdg / "state" / "xintud" / "state.db"
    assert paths.runtime_dir == runtime_base / "xintud"
    assert paths.runtime_dir == Path(platformdirs.user_runtime_dir("xintud"))
    assert paths.socket_path == runtime_base / "xintud" / "control.sock"
    assert paths.lock_path == runtime_base / "xintud" / "xintud.lock"


def test_app_paths_creates_private_state_and_runtime_dirs(
    xdg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(private_dir(xdg / "rt")))
    paths = app_paths()
    assert mode_of(paths.state_dir) == 0o700
    assert mode_of(paths.runtime_dir) == 0o700
    assert not paths.config_file.exists(), "looking paths up must not create a config"


def test_run_user_dir_is_used_without_xdg_runtime_dir(xdg: Path) -> None:
    run_user = xdg / "run-user"
    base = private_dir(run_user / str(os.geteuid()))
    assert app_paths(run_user_root=run_user).runtime_dir == base / "xintud"


def test_runtime_falls_back_without_xdg_runtime_dir_and_run_user(xdg: Path) -> None:
    paths = app_paths(run_user_root=xdg / "missing")
    assert paths.runtime_dir == paths.state_dir / "run"
    assert mode_of(paths.runtime_dir) == 0o700
    assert paths.socket_path.parent == paths.runtime_dir
    assert socket_path_fits(paths.socket_path)


def test_runtime_falls_back_when_xdg_runtime_dir_is_missing(
    xdg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(xdg / "gone"))
    paths = app_paths(run_user_root=xdg / "missing")
    assert paths.runtime_dir == paths.state_dir / "run"
    assert not (xdg / "gone").exists(), "a missing XDG_RUNTIME_DIR is not ours to create"


@pytest.mark.parametrize("mode", [0o755, 0o777, 0o750])
def test_runtime_falls_back_when_xdg_runtime_dir_is_not_private(
    xdg: Path, monkeypatch: pytest.MonkeyPatch, mode: int
) -> None:
    base = xdg / "rt"
    base.mkdir()
    base.chmod(mode)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    state_dir = xdg / "state" / "xintud"
    assert user_runtime_dir(state_dir, xdg / "missing") == state_dir / "run"


def test_relative_xdg_runtime_dir_is_ignored(xdg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", "relative/run")
    state_dir = xdg / "state" / "xintud"
    assert user_runtime_dir(state_dir, xdg / "missing") == state_dir / "run"


def test_fallback_uses_tmp_when_state_dir_is_too_deep_for_a_socket() -> None:
    deep_state = Path("/home") / ("d" * 120) / "xintud"
    assert not socket_path_fits(deep_state / "run" / "control.sock")
    assert fallback_runtime_dir(deep_state) == Path(f"/tmp/xintud-{os.geteuid()}")


def test_ensure_private_dir_creates_parents_with_0700(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c"
    old_umask = os.umask(0)
    try:
        assert ensure_private_dir(target) == target
    finally:
        os.umask(old_umask)
    assert mode_of(target) == 0o700


def test_ensure_private_dir_tightens_a_readable_dir_of_ours(tmp_path: Path) -> None:
    target = tmp_path / "readable"
    target.mkdir()
    target.chmod(0o755)
    ensure_private_dir(target)
    assert mode_of(target) == 0o700


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702, 0o1777])
def test_ensure_private_dir_refuses_a_dir_others_can_write(tmp_path: Path, mode: int) -> None:
    target = tmp_path / "loose"
    target.mkdir()
    target.chmod(mode)
    with pytest.raises(UnsafeDirectoryError, match="writable by group or others") as caught:
        ensure_private_dir(target)
    assert str(target) in str(caught.value)
    assert "chmod 700" in str(caught.value)
    assert stat.S_IMODE(target.stat().st_mode) == mode, "a refused dir is left untouched"


def test_ensure_private_dir_refuses_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("not a dir")
    with pytest.raises(UnsafeDirectoryError, match="not a directory"):
        ensure_private_dir(target)


def _dir_owned_by_someone_else(tmp_path: Path) -> Path:
    if IS_ROOT:
        target = tmp_path / "theirs"
        target.mkdir(mode=0o700)
        os.chown(target, OTHER_UID, OTHER_UID)
        return target
    return Path("/")  # owned by root, never by a test user; only inspected


def test_ensure_private_dir_refuses_a_dir_owned_by_another_user(tmp_path: Path) -> None:
    target = _dir_owned_by_someone_else(tmp_path)
    with pytest.raises(UnsafeDirectoryError, match="owned by uid") as caught:
        ensure_private_dir(target)
    assert str(target) in str(caught.value)


@pytest.mark.skipif(not IS_ROOT, reason="needs root to plant another user's symlink")
def test_ensure_private_dir_refuses_a_symlink_planted_by_another_user(tmp_path: Path) -> None:
    ours = tmp_path / "ours"
    ours.mkdir(mode=0o700)
    link = tmp_path / "xintud-link"
    link.symlink_to(ours)
    os.lchown(link, OTHER_UID, OTHER_UID)
    with pytest.raises(UnsafeDirectoryError, match="owned by uid"):
        ensure_private_dir(link)


def test_ensure_private_dir_follows_a_symlink_of_ours(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o700)
    link = tmp_path / "state"
    link.symlink_to(real)
    assert ensure_private_dir(link) == link


def test_app_paths_refuses_a_loose_state_dir(xdg: Path) -> None:
    state = xdg / "state" / "xintud"
    state.mkdir(parents=True)
    state.chmod(0o777)
    with pytest.raises(UnsafeDirectoryError, match=re.escape(str(state))):
        app_paths(run_user_root=xdg / "missing")


def test_xintuctl_names_a_loosened_runtime_dir_instead_of_saying_not_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon bound its socket in $XDG_RUNTIME_DIR/xintud; then the base was loosened."""
    import socket

    from xintud.core.paths import client_socket_path

    base = Path(tempfile.mkdtemp(prefix=runtime_prefix(), dir="/tmp"))
    try:
        base.chmod(0o700)
        (base / "xintud").mkdir(mode=0o700)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(base / "xintud" / "control.sock"))
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
        assert client_socket_path() == base / "xintud" / "control.sock"
        base.chmod(0o755)
        with pytest.raises(UnsafeDirectoryError) as refused:
            client_socket_path()
        message = str(refused.value)
        assert str(base) in message and "0755" in message and f"chmod 700 {base}" in message
        env = {**os.environ, "XDG_RUNTIME_DIR": str(base),
               "XDG_STATE_HOME": str(tmp_path / "state")}
        proc = subprocess.run([sys.executable, "-m", "xintud.cli.xintuctl", "status"],
                              capture_output=True, text=True, env=env, timeout=30, check=False)
        assert proc.returncode == 1
        assert "not running" not in proc.stderr
        assert f"chmod 700 {base}" in proc.stderr
        listener.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)
