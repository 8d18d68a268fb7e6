"""Filesystem primitives that never lose a photo: no-replace rename, new files, fsync.

Everything that writes under the user's folders goes through these: the library's move, copy
and tag, and the XMP sidecar writer. The rules they keep: nothing existing is ever replaced
(O_EXCL, renameat2 RENAME_NOREPLACE), what is written is fsynced before it counts, and temp
files are dotfiles ending in ``.part`` (which the watcher ignores).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import shutil
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from xintud.core.hashing import CHUNK_BYTES, sha256_file

PART_PREFIX = ".xintud-"
PART_SUFFIX = ".part"
NAME_MAX_BYTES = 255  # NAME_MAX of ext4, btrfs, xfs, APFS (in UTF-8 bytes)

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1  # Linux renameat2 flag
_RENAME_EXCL = 0x4  # macOS renamex_np flag
# errno values meaning "this kernel/libc/filesystem cannot do a no-replace rename", not "failed".
_NOREPLACE_UNSUPPORTED = frozenset(
    {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOTTY}
)


def fsync_dir(directory: Path) -> None:
    """Make a directory's entries (a rename, a new name, an unlink) durable."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some filesystems (network, FUSE) cannot fsync a directory; nothing more can be done.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    finally:
        os.close(fd)


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


@contextlib.contextmanager
def new_file(path: Path, mode: int = 0o600) -> Iterator[BinaryIO]:
    """Create `path`, which must not exist (O_EXCL), for writing; fsync it when the block ends.

    On any error the half-written file is removed, so a failure never leaves a stray file.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
    try:
        with open(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise


def write_new_file(path: Path, payload: bytes, mode: int | None = None) -> None:
    """Write `payload` to the new file `path` (see new_file), with `mode` if given, fsynced."""
    with new_file(path, 0o666) as handle:
        handle.write(payload)
        if mode is not None:
            os.fchmod(handle.fileno(), mode)


def copy_to_new_file(src: Path, dst: Path) -> None:
    """Copy `src` to the new file `dst` (see new_file), keeping mtime and mode; fsynced."""
    with new_file(dst) as target:
        with open(src, "rb") as source:
            shutil.copyfileobj(source, target, CHUNK_BYTES)
        target.flush()  # before utime: a later flush would set the mtime again
        info = os.stat(src)
        # Photo managers sort by mtime, so keep it; some filesystems refuse either (FAT: modes).
        with contextlib.suppress(OSError):
            os.utime(dst, ns=(info.st_atime_ns, info.st_mtime_ns))
        with contextlib.suppress(OSError):
            os.fchmod(target.fileno(), stat.S_IMODE(info.st_mode))


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


def is_part_name(path: str) -> bool:
    """True for the name of one of xintud's temp files (see part_path)."""
    name = os.path.basename(path)
    return name.startswith(PART_PREFIX) and name.endswith(PART_SUFFIX)


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


def lstat_or_none(path: Path) -> os.stat_result | None:
    """os.lstat, or None when nothing is there."""
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
