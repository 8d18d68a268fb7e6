"""File formats named in more than one stage: camera RAW files (read by the engine from their
embedded preview, moved by intake/library as the companion of a JPEG twin)."""

from __future__ import annotations

RAW_SUFFIXES = frozenset({".dng", ".nef", ".cr2", ".cr3", ".arw", ".raf", ".orf", ".rw2"})
