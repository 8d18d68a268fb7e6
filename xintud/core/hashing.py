"""Content hashes: a file is known by its sha256, not by its path."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK_BYTES = 1 << 20  # 1 MiB: few syscalls per photo, bounded memory for large videos/RAWs


def sha256_file(path: Path, chunk_bytes: int = CHUNK_BYTES) -> str:
    """Return the hex sha256 of the file at `path`, read in chunks (never whole into memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()
