"""FingerprintIndex: which photos are worth comparing closely — by vector, by pHash bits, by
capture time, each capped, and of those the likeliest few — kept consistent through adds,
removals and replacements, and the same pairs whether asked one photo at a time or for the whole
library."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from xintud.core.facts import Quality
from xintud.duplicates.compare import BURST_SECONDS, CANDIDATE_COSINE, CANDIDATE_PHASH_BITS
from xintud.duplicates.fingerprint import Fingerprint
from xintud.duplicates.index import MAX_CANDIDATES, MAX_CLOSE, FingerprintIndex
from xintud.duplicates.vectors import VECTOR_SIZE

BASE = Fingerprint(
    key="base", sha256="base", path=Path("/p/base.jpg"), phash=0, phash_turns=(0,) * 8,
    layout=np.zeros((64, 64), dtype=np.uint8), vector=np.zeros(VECTOR_SIZE, np.float32),
    taken_at=None, camera=None, category="other", screen_like=False, width=100, height=100,
    content_share=1.0, file_bytes=1, modified=0.0, jpeg_quality=None, camera_exif=False,
    rating=None, edited=False, faces=0,
    quality=Quality(sharpness=1.0, brightness=0.5, dark_clip=0.0, bright_clip=0.0))


def axis(i: int) -> np.ndarray:
    """The i-th unit vector: photos on different axes are unrelated (cosine 0)."""
    vector = np.zeros(VECTOR_SIZE, np.float32)
    vector[i] = 1.0
    return vector


def unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def far_hashes(count: int, seed: int = 0) -> list[int]:
    """pHashes all more than CANDIDATE_PHASH_BITS apart (and from 0)."""
    rng = np.random.default_rng(seed)
    found: list[int] = []
    while len(found) < count:
        value = int(rng.integers(0, 2**64, dtype=np.uint64))
        if all((value ^ other).bit_count() > CANDIDATE_PHASH_BITS for other in [0, *found]):
            found.append(value)
    return found


def fp(key: str, vector: np.ndarray, phash: int, taken_at: float | None = None) -> Fingerprint:
    return replace(BASE, key=key, sha256=key, path=Path(f"/p/{key}.jpg"), vector=vector,
                   phash=phash, phash_turns=(phash,) * 8, taken_at=taken_at)


def unrelated(count: int, prefix: str = "k", first_axis: int = 1,
              seed: int = 0) -> list[Fingerprint]:
    """Photos that are nobody's candidates: other axes, far pHashes, no capture time."""
    return [fp(f"{prefix}{i}", axis(first_axis + i), phash)
            for i, phash in enumerate(far_hashes(count, seed))]


def index_of(fingerprints: list[Fingerprint]) -> FingerprintIndex:
    index = FingerprintIndex()
    for fingerprint in fingerprints:
        index.add(fingerprint)
    return index


def pairs_of(index: FingerprintIndex) -> list[tuple[str, str]]:
    return [tuple(sorted(pair)) for pair in index.candidate_pairs()]  # type: ignore[misc]


def pairs_from_candidates(index: FingerprintIndex, fingerprints: list[Fingerprint]
                          ) -> set[tuple[str, str]]:
    return {tuple(sorted((f.key, other))) for f in fingerprints  # type: ignore[misc]
            for other in index.candidates(f)}


def test_an_empty_index_finds_nothing() -> None:
    index = FingerprintIndex()
    assert len(index) == 0 and "k0" not in index
    assert index.candidates(fp("q", axis(0), 0, taken_at=5.0)) == []
    assert list(index.candidate_pairs()) == []
    index.remove("k0")  # no error
    assert len(index) == 0


def test_candidates_are_the_nearest_vectors_up_to_the_cap() -> None:
    query = fp("q", axis(0), 0)
    hashes = far_hashes(40, seed=1)
    near = []
    for k in range(MAX_CANDIDATES + 6):  # cosines 0.95, 0.94, ... all above the floor
        cosine = 0.95 - 0.01 * k
        vector = cosine * axis(0) + np.sqrt(1 - cosine**2) * axis(k + 1)
        near.append(fp(f"n{k:02d}", vector.astype(np.float32), hashes[k]))
    below = fp("below", unit(0.45 * axis(0) + 0.89 * axis(100)), hashes[-1])
    assert float(below.vector @ query.vector) < CANDIDATE_COSINE
    index = index_of([*near, below, *unrelated(5, first_axis=60, seed=2)])
    # blank layouts rank by cosine alone: the nearest MAX_CLOSE
    assert index.candidates(query) == sorted(f.key for f in near[:MAX_CLOSE])
    few = index_of([*near[:5], below])
    assert few.candidates(query) == sorted(f.key for f in near[:5])


def textured(seed: int) -> np.ndarray:
    """A 64x64 layout of random 8x8 blocks: its own 8x8 thumbnail, unlike any other seed's."""
    blocks = np.random.default_rng(seed).integers(0, 256, (8, 8)).astype(np.uint8)
    return np.kron(blocks, np.ones((8, 8), dtype=np.uint8))


def test_in_a_library_of_look_alikes_the_copy_is_compared_and_the_work_is_bounded() -> None:
    """300 photos the embedding finds alike (cosine ~0.9), pHashes within 16 bits and all
    taken in one minute: each kind of evidence is capped, and of them the copy — nearer by
    cosine as copies are (>= 0.95), its layout the photo's turned — is among the few compared
    closely."""
    rng = np.random.default_rng(7)
    centre = unit(rng.standard_normal(VECTOR_SIZE))
    query = replace(fp("q", centre, 0, taken_at=30.0), layout=textured(0))
    crowd = [replace(fp(f"a{i:03d}", unit(centre + rng.normal(0, 0.045, VECTOR_SIZE)),
                        (1 << (i % 16)) - 1, taken_at=float(i % 60)), layout=textured(i + 1))
             for i in range(300)]
    copy = replace(fp("copy", unit(centre + rng.normal(0, 0.01, VECTOR_SIZE)), 0b111,
                      taken_at=None), layout=np.rot90(textured(0)).copy())
    assert min(float(query.vector @ c.vector) for c in crowd) > 0.8
    assert float(query.vector @ copy.vector) > 0.95
    index = index_of([*crowd, copy])
    chosen = index.candidates(query)
    assert len(chosen) == MAX_CLOSE and "copy" in chosen
    assert ("copy", "q") in set(pairs_from_candidates(index_of([*crowd, copy, query]),
                                                      [query]))


def test_candidates_by_phash_bits() -> None:
    query = fp("q", axis(0), 0xF0F0_F0F0_F0F0_F0F0)
    within = [fp(f"in{d}", axis(1 + d), query.phash ^ ((1 << d) - 1)) for d in (0, 5, 16)]
    beyond = [fp(f"out{d}", axis(20 + d), query.phash ^ ((1 << d) - 1)) for d in (17, 40)]
    assert CANDIDATE_PHASH_BITS == 16  # the bit counts above sit on either side of it
    index = index_of([*within, *beyond])
    assert index.candidates(query) == sorted(f.key for f in within)


def test_candidates_by_capture_time_window() -> None:
    hashes = far_hashes(6, seed=3)
    at = 1_000_000.0
    inside = [fp("before", axis(1), hashes[0], at - BURST_SECONDS),
              fp("same_moment", axis(2), hashes[1], at),
              fp("after", axis(3), hashes[2], at + BURST_SECONDS)]
    outside = [fp("too_late", axis(4), hashes[3], at + BURST_SECONDS + 0.5),
               fp("too_early", axis(5), hashes[4], at - BURST_SECONDS - 0.5),
               fp("untimed", axis(6), hashes[5], None)]
    index = index_of([*inside, *outside])
    assert index.candidates(fp("q", axis(0), 0, taken_at=at)) == sorted(f.key for f in inside)
    assert index.candidates(fp("q", axis(0), 0, taken_at=None)) == []


def test_a_photo_is_never_its_own_candidate() -> None:
    photo = fp("photo", axis(0), 12345, taken_at=10.0)
    index = index_of([photo, *unrelated(3)])
    assert index.candidates(photo) == []
    twin = replace(photo, key="twin", sha256="twin")  # the same in every way but its key
    index.add(twin)
    assert index.candidates(photo) == ["twin"] and index.candidates(twin) == ["photo"]


def test_removal_and_replacement_keep_the_rows_consistent() -> None:
    photos = unrelated(6, seed=4)
    timed = [replace(p, taken_at=100.0 * i) for i, p in enumerate(photos)]
    index = index_of(timed)
    index.remove("k1")  # the last row (k5) moves into its place
    assert len(index) == 5 and "k1" not in index and "k5" in index
    probe = lambda f: fp("q", f.vector, f.phash)  # noqa: E731 - the photo's look, another key
    assert index.candidates(probe(timed[1])) == []
    assert index.candidates(probe(timed[5])) == ["k5"]
    assert index.candidates(fp("q", axis(90), 0, taken_at=100.0)) == []  # k1's time went too
    assert index.candidates(fp("q", axis(90), 0, taken_at=500.0)) == ["k5"]
    # Replaced by key: the old look and time find nothing, the new ones find it, once.
    new_k3 = replace(timed[3], vector=axis(100), phash=timed[3].phash ^ 0xFFFF_FFFF,
                     taken_at=9_999.0)
    index.add(new_k3)
    assert len(index) == 5
    assert index.candidates(probe(timed[3])) == []
    assert index.candidates(fp("q", axis(90), 0, taken_at=300.0)) == []
    assert index.candidates(probe(new_k3)) == ["k3"]
    assert index.candidates(fp("q", axis(90), 0, taken_at=9_990.0)) == ["k3"]
    for photo in (timed[0], timed[2], timed[4], new_k3, timed[5]):
        index.remove(photo.key)
    assert len(index) == 0 and index.candidates(probe(timed[5])) == []
    assert list(index.candidate_pairs()) == []


def random_library(count: int, seed: int) -> list[Fingerprint]:
    """A mixed small library: clusters of look-alikes (never more than MAX_CANDIDATES),
    loners, pHash neighbours and photos taken seconds apart."""
    rng = np.random.default_rng(seed)
    photos = []
    centres = [unit(rng.standard_normal(VECTOR_SIZE)) for _ in range(8)]
    for i in range(count):
        if i % 3 == 0:
            vector = unit(rng.standard_normal(VECTOR_SIZE))
        else:
            vector = unit(centres[i % 8] + rng.normal(0, 0.07, VECTOR_SIZE))
        phash = int(rng.integers(0, 2**64, dtype=np.uint64))
        if i % 5 == 1 and photos:  # a few bits from an earlier photo's pHash
            phash = photos[-1].phash ^ int(rng.integers(0, 2**14))
        taken = float(rng.uniform(0, 600)) if i % 4 else None
        photos.append(fp(f"r{i:03d}", vector, phash, taken))
    return photos


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_candidate_pairs_are_the_pairs_candidates_yields(seed: int) -> None:
    photos = random_library(70, seed)
    index = index_of(photos)
    pairs = set(pairs_of(index))
    assert pairs == pairs_from_candidates(index, photos)
    assert len(pairs) > 100  # by vector, pHash and time alike: the check has something to do
    # And still after removals and replacements.
    rng = np.random.default_rng(seed)
    kept = []
    for i, photo in enumerate(photos):
        if i % 7 == 3:
            index.remove(photo.key)
        elif i % 7 == 5:
            moved = replace(photo, vector=unit(rng.standard_normal(VECTOR_SIZE)),
                            taken_at=float(rng.uniform(0, 600)))
            index.add(moved)
            kept.append(moved)
        else:
            kept.append(photo)
    assert len(index) == len(kept)
    assert set(pairs_of(index)) == pairs_from_candidates(index, kept)


def test_candidate_pairs_cover_candidates_in_a_large_cluster() -> None:
    rng = np.random.default_rng(5)
    centre = unit(rng.standard_normal(VECTOR_SIZE))
    hashes = far_hashes(40, seed=6)
    photos = [fp(f"c{i:02d}", unit(centre + rng.normal(0, 0.08, VECTOR_SIZE)), hashes[i])
              for i in range(40)]
    index = index_of(photos)
    assert pairs_from_candidates(index, photos) <= set(pairs_of(index))


def test_the_thumbnail_ranks_a_copy_above_nearer_vectors() -> None:
    """Twenty photos nearer by cosine than a cropped copy, with other layouts: the copy, whose
    8x8 thumbnail agrees, is still among the MAX_CLOSE compared."""
    rng = np.random.default_rng(8)
    centre = unit(rng.standard_normal(VECTOR_SIZE))
    query = replace(fp("q", centre, 0), layout=textured(0))
    nearer = [replace(fp(f"n{i:02d}", unit(centre + rng.normal(0, 0.008, VECTOR_SIZE)),
                         far_hashes(20, seed=9)[i]), layout=textured(i + 1)) for i in range(20)]
    copy_layout = np.asarray(Image.fromarray(textured(0)).resize((64, 64), box=(3, 2, 61, 60)))
    copy = replace(fp("copy", unit(centre + rng.normal(0, 0.02, VECTOR_SIZE)),
                      far_hashes(21, seed=10)[20]), layout=copy_layout)
    assert float(query.vector @ copy.vector) < min(float(query.vector @ n.vector) for n in nearer)
    assert "copy" in index_of([*nearer, copy]).candidates(query)
