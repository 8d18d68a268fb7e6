"""Act: file a photo into the library (move or copy) or tag it in place (XMP sidecar).

Safety rules this module keeps (see DESIGN.md):

- A user's photo is never deleted or overwritten. The destination name is decided before anything
  is touched: a taken name gets a suffix (``IMG_1.jpg`` → ``IMG_1 (1).jpg``), and a name holding
  identical content (same sha256) means "duplicate": nothing is done, the source stays where it is.
- Every action is journaled: `Journal.begin` (committed to disk) before the first change,
  `mark_done` after the last; on any error `mark_failed` with the cause, the temp file is removed
  and the source is as it was. A crash at any instant leaves a "begun" row that `Actor.recover`
  finishes or rolls back from what it finds on disk.
- A move within one filesystem is one no-replace rename (`rename_no_replace`). Across filesystems
  it is copy to ``.xintud-<action id>.part`` in the destination folder → fsync → verify the sha256
  → no-replace rename to the final name → fsync the folder → unlink the source. A copy is the same
  without the unlink. Temp files are dotfiles ending in ``.part``, which the watcher ignores.
- `Actor.undo` reverses a done action, refusing (and changing nothing) when the file has changed
  or gone; undoing a move is itself a journaled move, so a crash during undo is recoverable too.

Content hashes come from `xintud.hashing.sha256_file`.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import logging
import os
import shutil
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from xintud.durable import fsync_dir
from xintud.hashing import CHUNK_BYTES, sha256_file
from xintud.journal import Action, ActionKind, Journal
from xintud.xmp import (
    XmpError,
    check_keyword,
    hierarchical_keyword,
    read_sidecar,
    remove_xintud_keywords,
    sidecar_path,
    write_sidecar,
)

logger = logging.getLogger(__name__)

Status = Literal["moved", "copied", "tagged", "duplicate", "dry_run", "failed", "undone"]

PART_PREFIX = ".xintud-"
PART_SUFFIX = ".part"
NAME_MAX_BYTES = 255  # NAME_MAX of ext4, btrfs, xfs, APFS (in UTF-8 bytes)
MAX_NAME_SUFFIX = 9999  # "IMG_1 (9999).jpg"; more collisions than that means something is wrong

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1  # Linux renameat2 flag
_RENAME_EXCL = 0x4  # macOS renamex_np flag
# errno values meaning "this kernel/libc/filesystem cannot do a no-replace rename", not "failed".
_NOREPLACE_UNSUPPORTED = frozenset(
    {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOTTY}
)

# errno → (what went wrong, what the user can do about it)
_ERRNO_ADVICE: dict[int, tuple[str, str]] = {
    errno.EROFS: (
        "the filesystem is mounted read-only",
        "remount it read-write, or point library.root at a writable folder",
    ),
    errno.EACCES: (
        "permission denied",
        "give your user write access to that folder (chmod u+w), or choose another library.root",
    ),
    errno.EPERM: (
        "the operation is not permitted there",
        "check the folder's permissions and flags (chattr/chflags), or choose another folder",
    ),
    errno.ENOSPC: (
        "the disk is full",
        "free some space on that disk; xintud tries the file again later",
    ),
    errno.EDQUOT: (
        "your disk quota is used up",
        "free some space or ask for a larger quota; xintud tries the file again later",
    ),
    errno.ENOENT: (
        "a folder or file on the way does not exist (a drive unplugged? moved away?)",
        "reconnect the drive or check that the folder exists",
    ),
    errno.ENOTDIR: (
        "a part of the path is a file, not a folder",
        "rename that file, or change library.root / library.layout",
    ),
    errno.EEXIST: (
        "another file appeared under that name meanwhile",
        "nothing was replaced; xintud tries the file again later",
    ),
    errno.EIO: (
        "an input/output error (a failing disk or a dropped connection)",
        "check the drive (dmesg, SMART) and its cable or network",
    ),
    errno.ENAMETOOLONG: (
        "the path is too long for that filesystem",
        "use a shorter library.root or library.layout",
    ),
}


@dataclass
class ActOutcome:
    """What an action did. `dst` is the (planned) destination; `action_id` the journal row.

    status "undone" (an extension of the interface's list) is returned by `Actor.undo`.
    """

    status: Status
    src: Path
    dst: Path | None
    action_id: int | None
    message: str

    @property
    def ok(self) -> bool:
        """False only for "failed"."""
        return self.status != "failed"


@dataclass(frozen=True)
class Placement:
    """Where a file will go: a free name, or a name already holding identical content."""

    dst: Path
    identical: bool = False  # dst already holds the same content: nothing to do
    same_file: bool = False  # dst *is* the source (it is already filed there)


class ActError(Exception):
    """An action cannot go ahead; the message is for people (file, cause, what to do)."""


# --- filesystem primitives -----------------------------------------------------------------


def rename_no_replace(src: Path, dst: Path) -> None:
    """Rename `src` to `dst` in one step; raise FileExistsError when `dst` exists. Never replaces.

    Why not ``if not dst.exists(): os.rename(src, dst)``: a sync client or the user can create
    `dst` between the check and the rename, and rename(2) would silently replace it: a lost photo.
    The kernel has to make the check, so:

    1. renameat2(RENAME_NOREPLACE) on Linux, renamex_np(RENAME_EXCL) on macOS: one atomic rename.
       After a crash the file is under exactly one of the two names.
    2. Where that is missing (old kernel or libc, a filesystem that rejects the flag):
       link(src, dst) then unlink(src). link fails with EEXIST rather than replacing. A crash
       between the two leaves both names on one inode; `Actor.recover` sees a complete `dst`
       and a `src` that is the same file, and unlinks `src`.

    Raises OSError with errno EXDEV when the two are on different filesystems.
    """
    if _rename_noreplace_syscall(src, dst):
        return
    os.link(src, dst)
    os.unlink(src)


def _rename_noreplace_syscall(src: Path, dst: Path) -> bool:
    """True when renamed; False when the platform cannot do it (caller falls back)."""
    call = _noreplace_rename_call()
    if call is None:
        return False
    if call(os.fsencode(src), os.fsencode(dst)) == 0:
        return True
    code = ctypes.get_errno()
    if code in _NOREPLACE_UNSUPPORTED:
        return False
    # OSError picks the subclass from the errno (EEXIST → FileExistsError).
    raise OSError(code, os.strerror(code), os.fspath(src), None, os.fspath(dst))


@functools.cache
def _noreplace_rename_call() -> Callable[[bytes, bytes], int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        renameat2 = libc.renameat2
        c_int, c_path = ctypes.c_int, ctypes.c_char_p
        renameat2.argtypes = [c_int, c_path, c_int, c_path, ctypes.c_uint]
        renameat2.restype = ctypes.c_int
        return lambda a, b: renameat2(_AT_FDCWD, a, _AT_FDCWD, b, _RENAME_NOREPLACE)
    if sys.platform == "darwin" and hasattr(libc, "renamex_np"):
        renamex_np = libc.renamex_np
        renamex_np.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint]
        renamex_np.restype = ctypes.c_int
        return lambda a, b: renamex_np(a, b, _RENAME_EXCL)
    return None


def ensure_directory(directory: Path) -> None:
    """mkdir -p, making each new folder's entry durable in its parent."""
    missing: list[Path] = []
    current = directory
    while not current.exists() and current.parent != current:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # created meanwhile by someone else: fine
            folder.mkdir()
        fsync_dir(folder.parent)
    if not directory.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), os.fspath(directory))


def copy_to_new_file(src: Path, dst: Path) -> None:
    """Copy `src` to `dst`, which must not exist (O_EXCL), keeping mtime and mode; fsync it."""
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        with open(src, "rb") as source, open(fd, "wb", closefd=False) as target:
            shutil.copyfileobj(source, target, CHUNK_BYTES)
        info = os.stat(src)
        # Photo managers sort by mtime, so keep it; some filesystems refuse either (FAT: modes).
        with contextlib.suppress(OSError):
            os.utime(dst, ns=(info.st_atime_ns, info.st_mtime_ns))
        with contextlib.suppress(OSError):
            os.fchmod(fd, stat.S_IMODE(info.st_mode))
        os.fsync(fd)
    finally:
        os.close(fd)


def drop_cached_pages(path: Path) -> None:
    """Ask the kernel to forget a file's cached pages, so the next read comes from the disk.

    After fsync the pages are clean, so this works; the verify pass then checks what the disk
    holds, not what we handed the page cache. Best effort (not every OS has posix_fadvise).
    """
    if not hasattr(os, "posix_fadvise"):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass
    finally:
        os.close(fd)


def part_path(directory: Path, action_id: int) -> Path:
    """The temp name for action `action_id` in `directory` (a dotfile ending .part)."""
    return directory / f"{PART_PREFIX}{action_id}{PART_SUFFIX}"


def holds_content(path: Path, sha256: str) -> bool:
    """True when `path` is a regular file whose sha256 is `sha256`."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return False
        return sha256_file(path) == sha256
    except FileNotFoundError:
        return False


def is_same_file(a: Path, b: Path) -> bool:
    """True when both names exist and are one inode (hard links, or the same path)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def numbered_name(name: str, n: int) -> str:
    """``IMG_1.jpg`` with n=2 → ``IMG_1 (2).jpg``; n=0 gives the name itself.

    The stem is shortened (by whole characters) when the numbered name would pass the
    filesystem's 255-byte limit, so a photo with a maximal name can still be filed beside one.
    """
    if n == 0:
        return name
    path = Path(name)
    ending = f" ({n}){path.suffix}"
    stem = path.stem
    while stem and len(os.fsencode(stem + ending)) > NAME_MAX_BYTES:
        stem = stem[:-1]
    return f"{stem}{ending}"


def choose_destination(
    src: Path, dst_dir: Path, sha256: str, *, name: str | None = None, dedupe: bool = True
) -> Placement:
    """Pick the destination for `src` in `dst_dir`: its name (or `name`) if free, else the
    first free numbered name. With `dedupe`, a taken name holding the same content is returned
    as identical instead (nothing needs doing). Reads only; raises ActError after too many."""
    base = name or src.name
    for n in range(MAX_NAME_SUFFIX + 1):
        candidate = dst_dir / numbered_name(base, n)
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            return Placement(candidate)
        except NotADirectoryError:
            return Placement(candidate)  # dst_dir is not a folder; the mkdir step will say so
        if dedupe and stat.S_ISREG(info.st_mode):
            if is_same_file(src, candidate):
                return Placement(candidate, identical=True, same_file=True)
            if info.st_size == os.stat(src).st_size and sha256_file(candidate) == sha256:
                return Placement(candidate, identical=True)
    raise ActError(
        f"{dst_dir} already holds {base} and {MAX_NAME_SUFFIX} numbered variants of it; "
        f"{src} was left where it is. Tidy that folder up, then scan again."
    )


def explain_os_error(exc: OSError) -> str:
    """A sentence for people: the file involved, what went wrong, and what to do."""
    cause, fix = _ERRNO_ADVICE.get(
        exc.errno or 0, (exc.strerror or str(exc), "check the path and its drive, then retry")
    )
    where = f" at {exc.filename}" if exc.filename else ""
    if exc.filename and _is_part_name(os.fspath(exc.filename)):
        # Our temp file means nothing to the user; the folder it was going into does.
        where = f" in {Path(os.fspath(exc.filename)).parent}"
    if exc.filename2:
        where += f" → {exc.filename2}"
    return f"{cause}{where}; {fix}"


# --- the actor -----------------------------------------------------------------------------


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
        self._journal = journal
        self.dry_run = dry_run
        self._force_cross_device = force_cross_device
        self.library_root = library_root

    # --- filing ----------------------------------------------------------------------------

    def move(self, src: Path, dst_dir: Path, sha256: str) -> ActOutcome:
        """Move `src` into `dst_dir` (created if missing); see the module docstring."""
        return self._file("move", Path(src), Path(dst_dir), sha256)

    def copy(self, src: Path, dst_dir: Path, sha256: str) -> ActOutcome:
        """Copy `src` into `dst_dir` (created if missing); the source stays as it is."""
        return self._file("copy", Path(src), Path(dst_dir), sha256)

    def _file(self, kind: ActionKind, src: Path, dst_dir: Path, sha256: str) -> ActOutcome:
        try:
            self._check_library_root(src, dst_dir)
            self._check_source(src, sha256)
            placement = choose_destination(src, dst_dir, sha256)
        except ActError as exc:
            return self._failed(src, None, None, str(exc))
        except OSError as exc:
            return self._failed(src, None, None, f"cannot {kind} {src}: {explain_os_error(exc)}")
        if placement.identical:
            return self._duplicate(src, placement)
        if self.dry_run:
            return ActOutcome(
                "dry_run", src, placement.dst, None, f"would {kind} to {placement.dst}"
            )
        try:
            ensure_directory(dst_dir)
        except OSError as exc:
            return self._failed(
                src,
                placement.dst,
                None,
                f"cannot create folder {dst_dir} for {src.name}: {explain_os_error(exc)}. "
                f"{src} was left untouched.",
            )
        action = self._begin(kind, sha256, src, placement.dst)
        if isinstance(action, ActOutcome):
            return action
        try:
            self._transfer(action, remove_source=kind == "move")
        except (OSError, ActError) as exc:
            cause = explain_os_error(exc) if isinstance(exc, OSError) else str(exc)
            message = f"cannot {kind} {src} to {placement.dst}: {cause}. {src} was left untouched."
            self._abandon(action, message)
            return self._failed(src, placement.dst, action.id, message)
        self._finish(action)
        status: Status = "moved" if kind == "move" else "copied"
        logger.info("%s %s → %s", status, src, placement.dst)
        return ActOutcome(status, src, placement.dst, action.id, f"{status} to {placement.dst}")

    def _transfer(self, action: Action, remove_source: bool) -> None:
        """Put action.src's content at action.dst (moving or copying); raise on failure with
        the source untouched and nothing left at dst."""
        src, dst = action.src, action.dst
        if remove_source and not self._force_cross_device and _same_device(src, dst.parent):
            try:
                rename_no_replace(src, dst)
            except OSError as exc:
                # Bind mounts and some FUSE filesystems share st_dev but refuse rename with EXDEV.
                if exc.errno != errno.EXDEV:
                    raise
                logger.debug("rename %s → %s crosses filesystems; copying", src, dst)
            else:
                _fsync_dirs_after_placement(dst.parent, src.parent)
                return
        self._copy_verify_place(action)
        if remove_source:
            self._remove_source_after_copy(action)

    def _copy_verify_place(self, action: Action) -> None:
        part = part_path(action.dst.parent, action.id)
        copy_to_new_file(action.src, part)
        drop_cached_pages(part)
        actual = sha256_file(part)
        if actual != action.sha256:
            raise ActError(
                f"the copy at {part} does not match the original (sha256 {actual[:12]}… instead "
                f"of {action.sha256[:12]}…): the source changed during the copy, or the disk "
                "returned different data; check the drive if this repeats"
            )
        rename_no_replace(part, action.dst)
        try:
            fsync_dir(action.dst.parent)
        except OSError:
            # The copy may not survive a crash, so the source must not go: take the copy back.
            _unlink_quietly(action.dst)
            raise

    def _remove_source_after_copy(self, action: Action) -> None:
        try:
            os.unlink(action.src)
        except FileNotFoundError:
            # Someone else removed the source meanwhile: the verified copy is now the only one.
            logger.warning("%s vanished during the move; its copy is at %s", action.src, action.dst)
            return
        except OSError:
            # The source stays (its folder is read-only?), so take our verified copy back: a
            # failed move leaves things as they were, not a photo in two places.
            _unlink_quietly(action.dst)
            raise
        _fsync_dirs_after_placement(action.src.parent)

    # --- tagging ---------------------------------------------------------------------------

    def tag(self, src: Path, category: str, sha256: str) -> ActOutcome:
        """Write `category` into the XMP sidecar beside `src` (merging with an existing one).

        The keyword is `category` as given (the category id, e.g. "food"); the hierarchical
        keyword is ``xintud|<category>``. The photo itself is never written.
        """
        src = Path(src)
        sidecar = sidecar_path(src)
        try:
            _check_category(category)
            self._check_source(src, sha256)
            already = self._already_tagged(sidecar, category)
        except (ActError, XmpError) as exc:
            return self._failed(src, sidecar, None, str(exc))
        except OSError as exc:
            return self._failed(src, sidecar, None, f"cannot tag {src}: {explain_os_error(exc)}")
        if already:
            status: Status = "dry_run" if self.dry_run else "tagged"
            return ActOutcome(
                status, src, sidecar, None, f"{sidecar} already has {category!r}; unchanged"
            )
        if self.dry_run:
            return ActOutcome("dry_run", src, sidecar, None, f"would tag {category!r} in {sidecar}")
        action = self._begin("tag", sha256, src, sidecar)
        if isinstance(action, ActOutcome):
            return action
        try:
            write_sidecar(
                src,
                [category],
                [hierarchical_keyword(category)],
                action_id=action.id,
                temp_name=part_path(sidecar.parent, action.id).name,
            )
        except (OSError, XmpError) as exc:
            cause = explain_os_error(exc) if isinstance(exc, OSError) else str(exc)
            message = f"cannot write sidecar {sidecar}: {cause}. {src} is untouched."
            self._abandon(action, message)
            return self._failed(src, sidecar, action.id, message)
        self._finish(action)
        logger.info("tagged %s as %s in %s", src, category, sidecar)
        return ActOutcome("tagged", src, sidecar, action.id, f"tagged {category!r} in {sidecar}")

    @staticmethod
    def _already_tagged(sidecar: Path, category: str) -> bool:
        try:
            info = read_sidecar(sidecar)
        except FileNotFoundError:
            return False
        return category in info.subjects and hierarchical_keyword(category) in info.hierarchical

    # --- recovery --------------------------------------------------------------------------

    def recover(self) -> list[str]:
        """Finish or roll back every action a crash left unfinished; one line per action.

        Decides from the disk: a complete destination (right sha256) means the action happened
        (a move's leftover source is removed only when it holds the same content); otherwise it
        is rolled back, removing only xintud's own temp file. An action that cannot be settled
        now (e.g. its drive is missing) stays unfinished for the next start.
        """
        lines: list[str] = []
        for action in self._journal.unfinished():
            try:
                if action.kind == "tag":
                    line = self._recover_tag(action)
                else:
                    line = self._recover_transfer(action)
            except Exception as exc:  # one bad row must not stop the daemon from starting
                logger.exception("could not recover journal action #%d", action.id)
                line = (
                    f"could not settle {action.kind} #{action.id} ({action.src} → {action.dst}): "
                    f"{exc}; it is tried again at the next start"
                )
            else:
                logger.info("recovery: %s", line)
            lines.append(line)
        return lines

    def _recover_transfer(self, action: Action) -> str:
        src, dst, part = action.src, action.dst, part_path(action.dst.parent, action.id)
        label = f"{action.kind} #{action.id} ({src} → {dst})"
        if not os.path.lexists(src) and not dst.parent.is_dir():
            # Neither end is reachable (a drive not plugged in yet?): deciding now could record
            # a finished move as rolled back, so leave the row for a later start.
            return (
                f"left {label} unfinished: neither {src} nor the folder {dst.parent} is there "
                "(a drive not connected?); it is tried again at the next start"
            )
        if holds_content(dst, action.sha256):
            detail = ""
            if action.kind == "move" and os.path.lexists(src):
                if is_same_file(src, dst) or holds_content(src, action.sha256):
                    os.unlink(src)
                    _fsync_dirs_after_placement(src.parent)
                    detail = "; removed the source left beside the complete copy"
                else:
                    detail = f"; {src} now holds other content and was left alone"
            if _unlink_quietly(part):
                detail += f"; removed the temp file {part.name}"
            self._journal.mark_done(action.id)
            return f"finished {label}{detail}"
        source_gone = not os.path.lexists(src)
        if source_gone and not os.path.lexists(dst) and holds_content(part, action.sha256):
            # The source was removed by someone else after the copy was complete: the temp file
            # is the last copy of this photo, so it is put in place rather than deleted.
            rename_no_replace(part, dst)
            _fsync_dirs_after_placement(dst.parent)
            self._journal.mark_done(action.id)
            return f"finished {label}: the source was gone, so the complete copy was put in place"
        reason = "the crash came before the destination was complete"
        if _unlink_quietly(part):
            reason += f"; removed the temp file {part}"
        reason += f"; {src} is where it was" if os.path.lexists(src) else f"; {src} is gone"
        if os.path.lexists(dst):
            reason += f"; {dst} holds another file, left alone"
        self._journal.mark_rolled_back(action.id, reason)
        return f"rolled back {label}: {reason}"

    def _recover_tag(self, action: Action) -> str:
        sidecar, part = action.dst, part_path(action.dst.parent, action.id)
        label = f"tag #{action.id} ({sidecar})"
        removed = _unlink_quietly(part)
        try:
            mark = read_sidecar(sidecar).mark
        except (FileNotFoundError, XmpError):
            mark = None
        if mark is not None and mark.action_id == action.id:
            self._journal.mark_done(action.id)
            return f"finished {label}: the sidecar was complete"
        reason = "the crash came before the sidecar was written; it is as it was"
        if removed:
            reason += f"; removed the temp file {part}"
        self._journal.mark_rolled_back(action.id, reason)
        return f"rolled back {label}: {reason}"

    # --- undo ------------------------------------------------------------------------------

    def undo(self, action: Action) -> ActOutcome:
        """Reverse a done action: move the photo back, remove the copy, or take the keyword out
        of the sidecar. Refuses (status "failed", nothing changed) when the file is missing or
        its content changed. On success the original action is marked undone; status "undone".
        """
        if action.state != "done":
            return self._failed(
                action.src,
                action.dst,
                action.id,
                f"action #{action.id} is {action.state}; only a done action can be undone",
            )
        if self.dry_run:
            return ActOutcome(
                "dry_run", action.dst, action.src, action.id, f"would undo action #{action.id}"
            )
        try:
            if action.kind == "move":
                return self._undo_move(action)
            if action.kind == "copy":
                return self._undo_copy(action)
            return self._undo_tag(action)
        except ActError as exc:
            return self._failed(action.dst, action.src, action.id, str(exc))
        except OSError as exc:
            return self._failed(
                action.dst,
                action.src,
                action.id,
                f"cannot undo action #{action.id}: {explain_os_error(exc)}. Nothing was changed.",
            )

    def _undo_move(self, action: Action) -> ActOutcome:
        here, home = action.dst, action.src
        if not os.path.lexists(here):
            return self._undo_of_missing_move(action)
        if not holds_content(here, action.sha256):
            raise ActError(
                f"cannot undo move #{action.id}: {here} changed since xintud moved it (its "
                f"sha256 differs), so it was left where it is; move it back to {home} by hand "
                "if you want it there"
            )
        ensure_directory(home.parent)
        # No dedupe: the user asked for the photo back, and nothing is ever deleted to get there.
        placement = choose_destination(
            here, home.parent, action.sha256, name=home.name, dedupe=False
        )
        reverse = self._begin("move", action.sha256, here, placement.dst, reverses=action.id)
        if isinstance(reverse, ActOutcome):
            return reverse
        try:
            self._transfer(reverse, remove_source=True)
        except (OSError, ActError) as exc:
            cause = explain_os_error(exc) if isinstance(exc, OSError) else str(exc)
            message = f"cannot move {here} back to {placement.dst}: {cause}. Nothing was changed."
            self._abandon(reverse, message)
            return self._failed(here, placement.dst, reverse.id, message)
        self._finish(reverse)
        self._journal.mark_undone(action.id)
        message = f"moved {here} back to {placement.dst}"
        if placement.dst != home:
            message += f" ({home} is taken by another file, so it got a numbered name)"
        logger.info("undo #%d: %s", action.id, message)
        return ActOutcome("undone", here, placement.dst, reverse.id, message)

    def _undo_of_missing_move(self, action: Action) -> ActOutcome:
        """The moved file is not at its destination: fine if it is already back (an undo that
        crashed before marking the original undone), else refuse."""
        if holds_content(action.src, action.sha256):
            self._journal.mark_undone(action.id)
            return ActOutcome(
                "undone", action.dst, action.src, action.id, f"{action.src} is already back"
            )
        reverse = self._find_reverse(action)
        if reverse is not None:
            self._journal.mark_undone(action.id)
            return ActOutcome(
                "undone",
                action.dst,
                reverse.dst,
                reverse.id,
                f"already moved back to {reverse.dst} by action #{reverse.id}",
            )
        raise ActError(
            f"cannot undo move #{action.id}: {action.dst} is no longer there (moved or deleted "
            f"since), and {action.src} does not hold it either; nothing was changed"
        )

    def _find_reverse(self, action: Action) -> Action | None:
        for candidate in self._journal.done_actions(since=action.finished_at,
                                                    include_reversals=True):
            if (
                candidate.kind == "move"
                and candidate.id > action.id
                and candidate.src == action.dst
                and candidate.sha256 == action.sha256
                and holds_content(candidate.dst, action.sha256)
            ):
                return candidate
        return None

    def _undo_copy(self, action: Action) -> ActOutcome:
        copy, original = action.dst, action.src
        original_ok = holds_content(original, action.sha256) and not is_same_file(original, copy)
        if not os.path.lexists(copy):
            if not original_ok:
                raise ActError(
                    f"cannot undo copy #{action.id}: the copy {copy} is gone and the original "
                    f"{original} is missing or changed; nothing was changed"
                )
            self._journal.mark_undone(action.id)
            return ActOutcome("undone", copy, original, action.id, f"{copy} was already gone")
        if not holds_content(copy, action.sha256):
            raise ActError(
                f"cannot undo copy #{action.id}: {copy} changed since xintud made it (its sha256 "
                "differs), so it is someone's edit; it was left in place"
            )
        if not original_ok:
            raise ActError(
                f"cannot undo copy #{action.id}: the original {original} is gone or changed, so "
                f"{copy} may be the only copy of this photo; xintud will not delete it. Remove "
                "it by hand if you are sure."
            )
        # One unlink: atomic, so a crash leaves the copy either there (undo again) or gone (undo
        # again finds it gone, sees the original intact, and marks the action undone).
        os.unlink(copy)
        _fsync_dirs_after_placement(copy.parent)
        self._journal.mark_undone(action.id)
        logger.info("undo #%d: removed the copy %s", action.id, copy)
        return ActOutcome(
            "undone", copy, original, action.id, f"removed the copy {copy}; {original} is kept"
        )

    def _undo_tag(self, action: Action) -> ActOutcome:
        photo, sidecar = action.src, action.dst
        # The sidecar is replaced or removed in one step, so undo needs no journal row of its
        # own: after a crash it is either as before (undo again) or done (undo again finds
        # nothing of ours and marks the action undone). Only its temp file can be left over.
        temp = sidecar.with_name(f"{PART_PREFIX}{action.id}.undo{PART_SUFFIX}")
        _unlink_quietly(temp)
        try:
            result = remove_xintud_keywords(photo, expect_action_id=action.id, temp_name=temp.name)
        except XmpError as exc:
            raise ActError(f"cannot undo tag #{action.id}: {exc}") from exc
        self._journal.mark_undone(action.id)
        message = {
            "deleted": f"removed {sidecar}, which xintud had created",
            "rewritten": f"took xintud's keywords out of {sidecar}; the rest of it is kept",
            "unchanged": f"{sidecar} holds nothing of xintud's any more",
            "absent": f"there is no sidecar at {sidecar} any more; nothing left to undo",
        }[result]
        logger.info("undo #%d: %s", action.id, message)
        return ActOutcome("undone", photo, sidecar, action.id, message)

    # --- shared steps ----------------------------------------------------------------------

    def _check_library_root(self, src: Path, dst_dir: Path) -> None:
        root = self.library_root
        if root is None:
            return
        if not root.is_dir():
            raise ActError(
                f"the library folder {root} does not exist (is its drive unplugged?); {src} was "
                "left where it is. Reconnect the drive or create the folder."
            )
        if not dst_dir.resolve().is_relative_to(root.resolve()):
            raise ActError(f"{dst_dir} is outside the library {root}; {src} was left where it is")

    @staticmethod
    def _check_source(src: Path, sha256: str) -> None:
        try:
            info = os.lstat(src)
        except FileNotFoundError as exc:
            raise ActError(
                f"{src} is gone (moved or deleted before xintud got to it); nothing to do"
            ) from exc
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
            raise ActError(f"{src} is not a regular file (a link?); xintud leaves it alone")
        actual = sha256_file(src)
        if actual != sha256:
            raise ActError(
                f"{src} changed since it was analysed (sha256 {actual[:12]}… instead of "
                f"{sha256[:12]}…); it was left where it is and will be looked at again"
            )

    def _duplicate(self, src: Path, placement: Placement) -> ActOutcome:
        if placement.same_file:
            message = f"{src} is already filed at {placement.dst}; nothing to do"
        else:
            message = f"{placement.dst} already holds identical content; {src} was left where it is"
        status: Status = "dry_run" if self.dry_run else "duplicate"
        return ActOutcome(status, src, placement.dst, None, message)

    def _begin(
        self, kind: ActionKind, sha256: str, src: Path, dst: Path, reverses: int | None = None
    ) -> Action | ActOutcome:
        try:
            return self._journal.begin(kind, sha256, src, dst, reverses=reverses)
        except Exception as exc:  # the journal is the precondition: no row, no touching files
            logger.exception("could not journal %s %s → %s", kind, src, dst)
            return self._failed(
                src,
                dst,
                None,
                f"cannot {kind} {src}: the journal could not be written ({exc}); nothing was "
                "touched. Check the state database (see the log).",
            )

    def _finish(self, action: Action) -> None:
        try:
            self._journal.mark_done(action.id)
        except Exception:
            # The files are in place; the row stays "begun" and recover() marks it done later.
            logger.exception("action #%d is done but could not be journaled as done", action.id)

    def _abandon(self, action: Action, message: str) -> None:
        _unlink_quietly(part_path(action.dst.parent, action.id))
        try:
            self._journal.mark_failed(action.id, message)
        except Exception:
            # The row stays "begun"; recover() finds nothing complete and rolls it back.
            logger.exception("could not journal the failure of action #%d", action.id)

    @staticmethod
    def _failed(src: Path, dst: Path | None, action_id: int | None, message: str) -> ActOutcome:
        logger.warning("%s", message)
        return ActOutcome("failed", src, dst, action_id, message)


def _check_category(category: str) -> None:
    if not category or "|" in category or category != category.strip():
        raise ActError(f"category {category!r} cannot be a keyword (empty, spaces or '|')")
    try:
        check_keyword(category)
    except ValueError as exc:
        raise ActError(str(exc)) from exc


def _same_device(src: Path, dst_dir: Path) -> bool:
    return os.stat(src).st_dev == os.stat(dst_dir).st_dev


def _fsync_dirs_after_placement(*directories: Path) -> None:
    """fsync folders after the file is already in place: a failure here cannot be undone by
    failing the action (the rename happened), so it is logged, not raised."""
    for directory in dict.fromkeys(directories):
        try:
            fsync_dir(directory)
        except OSError as exc:
            logger.warning("could not fsync folder %s: %s", directory, explain_os_error(exc))


def _is_part_name(path: str) -> bool:
    name = os.path.basename(path)
    return name.startswith(PART_PREFIX) and name.endswith(PART_SUFFIX)


def _unlink_quietly(path: Path) -> bool:
    """Remove one of xintud's own files if it is there; True when something was removed."""
    if not os.path.lexists(path):
        return False  # checked first: on a read-only filesystem unlink says EROFS, not ENOENT
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        logger.warning("could not remove %s: %s", path, explain_os_error(exc))
        return False
    return True
