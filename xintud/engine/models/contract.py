"""A model's input/output contract, as the manifest states it, checked against the real graph.

Each network wrapper (backbone.py, detector.py) runs its session with the names the manifest
gives, not names written into the code, and refuses at load time a file whose graph does not
have them: a rebuilt model with a renamed output fails with a clear message at start, not with
an onnxruntime error on the first photo.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xintud.engine.models.manifest import REINSTALL_HINT, ModelError, ModelFile

if TYPE_CHECKING:
    import onnxruntime as ort


def checked_names(session: ort.InferenceSession, entry: ModelFile) -> tuple[str, list[str]]:
    """(input name, output names) from the manifest entry, after checking the graph has them."""
    if entry.input is None or not entry.outputs:
        raise ModelError(f"the manifest entry for {entry.file} states no input/output contract; "
                         f"{REINSTALL_HINT}")
    inputs = [item.name for item in session.get_inputs()]
    outputs = [item.name for item in session.get_outputs()]
    if entry.input.name not in inputs:
        raise ModelError(f"{entry.file} has no input {entry.input.name!r} (it has "
                         f"{', '.join(inputs)}), so it does not match the manifest; "
                         f"{REINSTALL_HINT}")
    missing = [name for name in entry.outputs if name not in outputs]
    if missing:
        raise ModelError(f"{entry.file} lacks the outputs {', '.join(missing)} the manifest "
                         f"promises; {REINSTALL_HINT}")
    return entry.input.name, list(entry.outputs)
