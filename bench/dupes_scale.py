"""How the duplicates index and grouping scale: `count` synthetic fingerprints (100,000 by
default) with planted groups of near-copies, timed and weighed.

The synthetic library: random unit 128-d float32 vectors, random 64-bit pHashes and turns,
capture times spread over five years (~30% none), and per photo its own 64x64 uint8 layout
(nothing shared: the RSS with the fingerprints is what a library really holds) — a smooth
random field plus texture, so that unrelated layouts correlate a little as real ones do.
Planted: count/100 groups of 2-5 near-copies (vector + small noise, pHash 0-6 bits flipped,
layout + small noise, capture time within seconds or stripped). Run with
`python -m bench.dupes --only scale` (see there).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.measure import load_average, peak_rss_mib, percentile, rss_mib
from xintud.core.facts import Quality
from xintud.duplicates.fingerprint import Fingerprint
from xintud.duplicates.groups import Group, group_links, link_all, link_one
from xintud.duplicates.index import FingerprintIndex

SEED = 20261203
YEARS_S = 5 * 365.25 * 86400
NO_TIME = 0.3
NEW_PHOTOS = 200
CAMERAS = ("Pixel 8", "iPhone 15", "Galaxy S23", None)
_QUALITY = Quality(sharpness=150.0, brightness=0.5, dark_clip=0.0, bright_clip=0.0)


def _interpolation(size: int = 64, coarse: int = 8) -> np.ndarray:
    """[size, coarse] bilinear weights: a coarse grid brought up to `size` (M @ grid @ M.T)."""
    position = (np.arange(size) + 0.5) * coarse / size - 0.5
    low = np.clip(np.floor(position).astype(int), 0, coarse - 1)
    high = np.clip(low + 1, 0, coarse - 1)
    frac = np.clip(position - low, 0.0, 1.0)
    matrix = np.zeros((size, coarse), dtype=np.float32)
    matrix[np.arange(size), low] += 1 - frac
    matrix[np.arange(size), high] += frac
    return matrix


def random_layouts(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """`count` layouts, each its own array: a smooth field (8x8 up to 64x64) plus texture."""
    matrix = _interpolation()
    layouts: list[np.ndarray] = []
    for start in range(0, count, 2048):
        n = min(2048, count - start)
        coarse = rng.uniform(20, 235, (n, 8, 8)).astype(np.float32)
        field = np.einsum("ij,njk,lk->nil", matrix, coarse, matrix)
        field += rng.normal(0, 14, field.shape).astype(np.float32)
        block = np.clip(field, 0, 255).astype(np.uint8)
        layouts.extend(np.array(one) for one in block)  # one allocation per photo
    return layouts


def _random_phashes(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, 2**64, count, dtype=np.uint64)


def _unit(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)).astype(np.float32)


def random_fingerprints(rng: np.random.Generator, count: int, prefix: str = "p"
                        ) -> list[Fingerprint]:
    """Unrelated synthetic fingerprints with keys `prefix` + number."""
    vectors = _unit(rng.standard_normal((count, 128), dtype=np.float32))
    hashes = _random_phashes(rng, count * 8).reshape(count, 8)
    times = rng.uniform(0, YEARS_S, count)
    timed = rng.random(count) >= NO_TIME
    layouts = random_layouts(rng, count)
    cameras = rng.integers(0, len(CAMERAS), count)
    prints = []
    for i in range(count):
        key = f"{prefix}{i:06d}"
        turns = tuple(int(h) for h in hashes[i])
        prints.append(Fingerprint(
            key=key, sha256=key, path=Path(f"/photos/{key}.jpg"), phash=turns[0],
            phash_turns=turns, layout=layouts[i], vector=vectors[i].copy(),
            taken_at=float(times[i]) if timed[i] else None, camera=CAMERAS[cameras[i]],
            category="other", screen_like=False, width=4000, height=3000, content_share=1.0,
            file_bytes=3_000_000, modified=float(times[i]), jpeg_quality=90, camera_exif=True,
            rating=None, edited=False, faces=0, quality=_QUALITY))
    return prints


def near_copy(rng: np.random.Generator, base: Fingerprint, key: str) -> Fingerprint:
    """A near-copy of `base`: vector + noise, pHash 0-6 bits flipped, layout + noise, the
    capture time kept within seconds or stripped."""
    vector = _unit(base.vector + rng.normal(0, 0.02, 128).astype(np.float32))
    phash = base.phash
    for bit in rng.choice(64, int(rng.integers(0, 7)), replace=False):
        phash ^= 1 << int(bit)
    noise = rng.normal(0, 3, base.layout.shape)
    layout = np.clip(base.layout + noise, 0, 255).astype(np.uint8)
    taken = None
    if base.taken_at is not None and rng.random() >= NO_TIME:
        taken = base.taken_at + float(rng.uniform(0, 5))
    return replace(base, key=key, sha256=key, path=Path(f"/photos/{key}.jpg"), phash=phash,
                   phash_turns=(phash, *base.phash_turns[1:]), layout=layout, vector=vector,
                   taken_at=taken, file_bytes=base.file_bytes // 2)


def synthetic_library(count: int, seed: int = SEED) -> tuple[dict[str, Fingerprint],
                                                             list[frozenset[str]]]:
    """`count` fingerprints by key, of which count/100 planted groups of 2-5 near-copies."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 6, max(1, count // 100))
    prints = random_fingerprints(rng, count - int(sizes.sum()) + len(sizes))
    planted = []
    for number, size in enumerate(sizes):
        base = prints[number]  # the first photos are the groups' originals
        copies = [near_copy(rng, base, f"g{number:05d}-{k}") for k in range(1, size)]
        prints.extend(copies)
        planted.append(frozenset([base.key, *(c.key for c in copies)]))
    return {fp.key: fp for fp in prints}, planted


def recovered(groups: list[Group], planted: list[frozenset[str]]) -> dict[str, int]:
    """How many planted groups came out whole, split or joined with strangers."""
    found = {frozenset(g.members) for g in groups}
    owner = {key: number for number, members in enumerate(planted) for key in members}
    whole = sum(members in found for members in planted)
    false = sum(1 for g in groups if len({owner.get(k, -1 - i) for i, k in enumerate(g.members)
                                           }) > 1)
    return {"planted": len(planted), "recovered_whole": whole,
            "groups_found": len(groups), "groups_not_within_one_planted": false}


def _settled_rss() -> float:
    """RSS after garbage collection and handing freed heap back (glibc malloc_trim), so that
    freed temporaries neither count nor hide what is allocated next."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_mib()


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux clear_refs 5); False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _set_blas_threads(count: int) -> bool:
    """Set numpy's OpenBLAS thread count (False where that library is not found): on a busy
    two-core machine its threaded matrix-vector product waits on the other thread."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "openblas" in line and ".so" in line}
    for path in paths:
        library = ctypes.CDLL(path)
        for name in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads"):
            if hasattr(library, name):
                getattr(library, name)(count)
                return True
    return False


def _one_photo_figures(index: FingerprintIndex, prints: dict[str, Fingerprint],
                       rng: np.random.Generator) -> dict[str, object]:
    keys = list(prints)
    half = NEW_PHOTOS // 2
    fresh = random_fingerprints(rng, NEW_PHOTOS - half, prefix="new")
    copies = [near_copy(rng, prints[keys[int(i)]], f"copy{n:04d}")
              for n, i in enumerate(rng.choice(len(keys), half, replace=False))]
    link_ms, search_ms, candidate_counts, linked = [], [], [], 0
    for fp in copies + fresh:
        start = time.perf_counter()
        links = link_one(fp, index, prints.get)
        link_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        candidate_counts.append(len(index.candidates(fp)))
        search_ms.append((time.perf_counter() - start) * 1000)
        linked += bool(links) and fp.key.startswith("copy")
    return {"new_photos": len(link_ms), "near_copies_linked": f"{linked}/{half}",
            "link_one_ms_p50": round(percentile(link_ms, 0.5), 2),
            "link_one_ms_p95": round(percentile(link_ms, 0.95), 2),
            "candidates_ms_p50": round(percentile(search_ms, 0.5), 2),
            "candidates_ms_p95": round(percentile(search_ms, 0.95), 2),
            "candidates_per_photo_mean": round(float(np.mean(candidate_counts)), 1)}


def scale_figures(count: int = 100_000) -> dict[str, object]:
    """Build, full grouping, one new photo and RSS at `count` synthetic fingerprints."""
    rss_start = _settled_rss()
    started = time.perf_counter()
    prints, planted = synthetic_library(count)
    made_s = time.perf_counter() - started
    rss_prints = _settled_rss()
    started = time.perf_counter()
    index = FingerprintIndex()
    for fp in prints.values():
        index.add(fp)
    build_s = time.perf_counter() - started
    rss_index = _settled_rss()
    print(f"scale: {count} fingerprints made in {made_s:.1f} s, index built in {build_s:.2f} s"
          f"; RSS +{rss_index - rss_prints:.1f} MiB index, +{rss_index - rss_start:.1f} MiB "
          "with the fingerprints", flush=True)
    started = time.perf_counter()
    pairs = len({tuple(sorted(pair)) for pair in index.candidate_pairs()})
    pairs_s = time.perf_counter() - started
    _settled_rss()
    exact_peak = _reset_peak()
    started = time.perf_counter()
    groups = group_links(link_all(index, prints.get))
    group_s = time.perf_counter() - started
    peak = peak_rss_mib()
    found = recovered(groups, planted)
    print(f"scale: full grouping {group_s:.1f} s ({pairs} candidate pairs, searched alone in "
          f"{pairs_s:.1f} s); {found}", flush=True)
    one = _one_photo_figures(index, prints, np.random.default_rng(SEED + 1))
    print(f"scale: one new photo {one}", flush=True)
    if _set_blas_threads(1):
        single = _one_photo_figures(index, prints, np.random.default_rng(SEED + 1))
        one["with_one_blas_thread"] = {k: v for k, v in single.items() if "_ms_" in k}
        print(f"scale: one new photo, one BLAS thread {single}", flush=True)
    return {
        "fingerprints": count, "load_average": load_average(),
        "synthesis_s": round(made_s, 1),
        "build_s": round(build_s, 3),
        "candidate_pairs": pairs, "candidate_pairs_search_s": round(pairs_s, 1),
        "full_grouping_s": round(group_s, 1), **found,
        **one,
        "rss_start_mib": round(rss_start, 1),
        "added_rss_index_mib": round(rss_index - rss_prints, 1),
        "added_rss_fingerprints_mib": round(rss_prints - rss_start, 1),
        "added_rss_total_mib": round(rss_index - rss_start, 1),
        "peak_rss_during_grouping_mib": round(peak, 1),
        "peak_added_during_grouping_mib": round(peak - rss_index, 1),
        "peak_is_since": "the grouping's start" if exact_peak else "the process's start",
        "targets": {"full_grouping_s": 60, "one_new_photo_ms": 10, "added_rss_mib": 100},
    }
