"""models/manifest.json: every shipped model file with its sha256, contract and provenance.

Every file is checked against the sha256 in the manifest before it is used: a corrupt or
missing model is refused with a message that says how to get a good one back.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ValidationError

from xintud.core.hashing import sha256_file

MODELS_DIR_ENV = "XINTUD_MODELS_DIR"


REINSTALL_HINT = (
    "reinstall xintud (pip install --force-reinstall xintud) or rebuild the models with "
    "`python -m training.build` from the source tree"
)


class ModelError(Exception):
    """A model that is missing, corrupt or unusable; the message says what to do."""


class InputContract(BaseModel):
    """How a model wants its input."""

    name: str
    shape: list[int | str]
    layout: str
    dtype: str
    color: str | None = None
    mean: float | None = None
    std: float | None = None
    resize: str | None = None


class ModelFile(BaseModel):
    """One file listed in the manifest."""

    file: str
    sha256: str
    bytes: int
    role: str
    input: InputContract | None = None
    outputs: list[str] = []
    labels: str | None = None
    provenance: dict[str, str] = {}
    accuracy: dict[str, object] = {}


class Manifest(BaseModel):
    """models/manifest.json."""

    version: str
    files: dict[str, ModelFile]


def models_dir() -> Path:
    """Where the models are: $XINTUD_MODELS_DIR if set, else the installed xintud.models."""
    override = os.environ.get(MODELS_DIR_ENV)
    if override:
        return Path(override)
    return Path(str(resources.files("xintud.models")))


def read_manifest(directory: Path) -> Manifest:
    """Read and validate manifest.json in directory."""
    path = directory / "manifest.json"
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except FileNotFoundError as exc:
        raise ModelError(f"model manifest {path} is missing; {REINSTALL_HINT}") from exc
    except (ValidationError, ValueError) as exc:
        raise ModelError(f"model manifest {path} is damaged ({exc}); {REINSTALL_HINT}") from exc


def verified_path(directory: Path, entry: ModelFile) -> Path:
    """The path of a manifest entry, after checking it exists and its sha256 matches."""
    path = directory / entry.file
    if not path.is_file():
        raise ModelError(f"model file {path} is missing; {REINSTALL_HINT}")
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise ModelError(
            f"model file {path} is corrupt (sha256 {actual[:12]}…, manifest says "
            f"{entry.sha256[:12]}…); {REINSTALL_HINT}"
        )
    return path
