"""Control: what the learning commands ask of the daemon — `correct`, `model`, `refile`.

The daemon assembles the parts that do it (daemon/corrections.py, learner.py, refile.py);
control only needs these calls, so it stays on the side of the data flow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class LearningDesk(Protocol):
    """The daemon's learning, as the control commands reach it."""

    def correct(self, path: Path, category: str) -> dict[str, Any]:
        """Give a filed photo its right category (moving it to that folder)."""
        ...

    def model(self, action: str, version: str | None) -> dict[str, Any]:
        """List the versions, refit now, or roll back."""
        ...

    def refile(self, dry_run: bool) -> dict[str, Any]:
        """Move (or list) the filed photos the model in use would file elsewhere."""
        ...

    def teach(self, name: str | None, paths: list[Path], from_folder: bool) -> dict[str, Any]:
        """Add a category of the user's own from examples (or list the folders offered)."""
        ...

    def forget(self, name: str) -> dict[str, Any]:
        """Remove a category of the user's own."""
        ...

    def undone(self, sha256: str, src: Path, dst: Path) -> bool:
        """A move inside the library was undone (a correction's, a refile's): put the record
        back as it was; False when the move was not one of those."""
        ...

    def status(self) -> dict[str, Any]:
        """Corrections and the version in use, for `xintuctl status`."""
        ...
