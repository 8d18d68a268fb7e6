"""The library's one entry point: file (move/copy), tag, undo and recover — journaled.

Safety rules every verb keeps:

- A user's photo is never deleted or overwritten. The destination name is decided before
  anything is touched (names.py); a name holding identical content means "duplicate": nothing
  is done, the source stays where it is.
- Every action is journaled: `Journal.begin` (committed to disk) before the first change,
  `mark_done` after the last; on any error `mark_failed` with the cause, the temp file is
  removed and the source is as it was. A crash at any instant leaves a "begun" row that
  `Actor.recover` finishes or rolls back from what it finds on disk (recovery.py).
- Moves and copies: move.py, with companions sets.py; tags: tag.py, rejections rating.py,
  album keywords event_tags.py; undo: undo.py.
"""

from __future__ import annotations

from pathlib import Path

from xintud.library.event_tags import EventTagger
from xintud.library.outcome import ActOutcome
from xintud.library.rating import Rater
from xintud.library.recovery import Recoverer
from xintud.library.sets import SetMover
from xintud.library.steps import ActSettings
from xintud.library.tag import Tagger
from xintud.library.undo import Undoer
from xintud.state.journal import Action, ActionKind, Journal


class Actor:
    """Carries out move / copy / tag decisions, journaled, and undoes them.

    `dry_run`: nothing is changed on disk and nothing is journaled; outcomes say what would
    happen (status "dry_run"). `force_cross_device`: always take the copy → fsync → verify →
    unlink path for moves, even within one filesystem (tests; also a belt-and-braces option for
    filesystems whose rename is not trusted). `library_root`: if given, it must already exist
    (an unplugged drive's mount point must not silently fill the system disk); folders are only
    created below it.
    """

    def __init__(
        self,
        journal: Journal,
        dry_run: bool = False,
        *,
        force_cross_device: bool = False,
        library_root: Path | None = None,
    ) -> None:
        self.settings = ActSettings(journal, dry_run, force_cross_device, library_root)
        self._mover = SetMover(self.settings)
        self._tagger = Tagger(self.settings)
        self._rater = Rater(self.settings)
        self._events = EventTagger(self.settings)
        self._undoer = Undoer(self.settings)
        self._recoverer = Recoverer(self.settings)

    @property
    def dry_run(self) -> bool:
        """Nothing is changed on disk and nothing is journaled."""
        return self.settings.dry_run

    @dry_run.setter
    def dry_run(self, value: bool) -> None:
        self.settings.dry_run = value

    @property
    def library_root(self) -> Path | None:
        """The library folder; it must exist when a photo is filed."""
        return self.settings.library_root

    @library_root.setter
    def library_root(self, value: Path | None) -> None:
        self.settings.library_root = value

    def move(self, src: Path, dst_dir: Path, sha256: str) -> ActOutcome:
        """Move `src` into `dst_dir` (created if missing)."""
        return self._mover.move(src, dst_dir, sha256)

    def copy(self, src: Path, dst_dir: Path, sha256: str) -> ActOutcome:
        """Copy `src` into `dst_dir` (created if missing); the source stays as it is."""
        return self._mover.copy(src, dst_dir, sha256)

    def file_set(self, kind: ActionKind, src: Path, dst_dir: Path, sha256: str,
                 companions: list[Path]) -> ActOutcome:
        """Move or copy `src` with its companions (its Live Photo video, sidecars, RAW twin)
        into `dst_dir`: all of them, or none (sets.py)."""
        return self._mover.file_set(kind, src, dst_dir, sha256, companions)

    def follow(self, companion: Path, photo: Action) -> ActOutcome:
        """A companion that arrived after its photo was filed joins it (sets.py)."""
        return self._mover.follow(companion, photo)

    def tag(self, src: Path, category: str, sha256: str) -> ActOutcome:
        """Write `category` into the XMP sidecar beside `src` (merging with an existing one)."""
        return self._tagger.tag(src, category, sha256)

    def reject(self, src: Path, sha256: str) -> ActOutcome:
        """Mark `src` rejected (xmp:Rating -1) in its sidecar, in tag mode's set-aside."""
        return self._rater.reject(src, sha256)

    def tag_event(self, photo: Path, sha256: str, album: str | None) -> ActOutcome | None:
        """Put `photo` in `album` (None: in none) as ``Events|<album>`` in its sidecar, in
        place of the one xintud wrote before (event_tags.py); None when nothing changed."""
        return self._events.tag_event(photo, sha256, album)

    def undo(self, action: Action) -> ActOutcome:
        """Reverse a done action (see undo.py); status "undone", or "failed" changing nothing."""
        return self._undoer.undo(action)

    def recover(self) -> list[str]:
        """Finish or roll back what a crash left unfinished; one line per action."""
        return self._recoverer.recover()
