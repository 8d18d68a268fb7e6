"""Destination names: a free name in the target folder, or proof that it is already there.

A taken name gets a suffix (``IMG_1.jpg`` → ``IMG_1 (1).jpg``); a name holding identical
content (same sha256) means "duplicate": nothing needs doing. Reads only, never writes.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from xintud.core.fs import NAME_MAX_BYTES, is_same_file
from xintud.core.hashing import sha256_file
from xintud.library.outcome import ActError

MAX_NAME_SUFFIX = 9999  # "IMG_1 (9999).jpg"; more collisions than that means something is wrong


@dataclass(frozen=True)
class Destination:
    """Where a file will go: a free name, or a name already holding identical content."""

    dst: Path
    identical: bool = False  # dst already holds the same content: nothing to do
    same_file: bool = False  # dst *is* the source (it is already filed there)


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
) -> Destination:
    """Pick the destination for `src` in `dst_dir`: its name (or `name`) if free, else the
    first free numbered name. With `dedupe`, a taken name holding the same content is returned
    as identical instead (nothing needs doing). Reads only; raises ActError after too many."""
    base = name or src.name
    for n in range(MAX_NAME_SUFFIX + 1):
        candidate = dst_dir / numbered_name(base, n)
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            return Destination(candidate)
        except NotADirectoryError:
            return Destination(candidate)  # dst_dir is not a folder; the mkdir step will say so
        if dedupe and stat.S_ISREG(info.st_mode):
            if is_same_file(src, candidate):
                return Destination(candidate, identical=True, same_file=True)
            if info.st_size == os.stat(src).st_size and sha256_file(candidate) == sha256:
                return Destination(candidate, identical=True)
    raise ActError(
        f"{dst_dir} already holds {base} and {MAX_NAME_SUFFIX} numbered variants of it; "
        f"{src} was left where it is. Tidy that folder up, then scan again."
    )
