"""Which onnxruntime execution providers run the networks: the config's `[engine] providers`
(default: the CPU), checked against what the installed onnxruntime offers.

A name may be given in full ("CUDAExecutionProvider") or short ("cuda"), in any case. The CPU
is always added last: onnxruntime runs there whatever an accelerator cannot.
"""

from __future__ import annotations

from collections.abc import Sequence

from xintud.engine.models.manifest import ModelError

CPU = "CPUExecutionProvider"
_SUFFIX = "ExecutionProvider"


def short_name(provider: str) -> str:
    """"CUDAExecutionProvider" → "cuda"."""
    return provider.removesuffix(_SUFFIX).lower()


def available_providers() -> list[str]:
    """What the installed onnxruntime can run on (imports it: ~20 MB)."""
    import onnxruntime as ort

    return list(ort.get_available_providers())


def resolve_providers(requested: Sequence[str], available: Sequence[str] | None = None
                      ) -> list[str]:
    """The providers to open sessions with, in the order asked, the CPU last; ModelError
    naming the available ones when one is not offered here."""
    if not requested or [short_name(p) for p in requested] == ["cpu"]:
        return [CPU]  # needs no check: every onnxruntime has it
    offered = list(available if available is not None else available_providers())
    by_short = {short_name(p): p for p in offered}
    chosen = []
    for name in requested:
        full = by_short.get(short_name(name.strip()))
        if full is None:
            names = ", ".join(f"{short_name(p)} ({p})" for p in offered)
            raise ModelError(
                f"execution provider {name!r} is not offered by the installed onnxruntime; "
                f"it offers: {names}. Fix [engine] providers in the config (or --providers), "
                "or install the onnxruntime build for your accelerator (e.g. onnxruntime-gpu)")
        if full not in chosen:
            chosen.append(full)
    return [p for p in chosen if p != CPU] + [CPU]
