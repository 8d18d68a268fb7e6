"""Fuzzing the untrusted part: mutated image bytes through decode and through the classifier.

The only promises checked: decode returns a picture or raises DecodeError; the classifier
returns an Analysis or an AnalysisFailure; each within a time bound; memory stays bounded.
Mutations are bit flips, truncations, splices of another file's bytes, overwritten headers and
headers that claim hostile sizes (checksums fixed so the claim is believed).
"""

from __future__ import annotations

import io
import resource
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.support.images import camera_exif, scene
from xintud.core.facts import Analysis, AnalysisFailure
from xintud.engine.classify import Classifier, Job
from xintud.engine.decode import DecodedImage, DecodeError, decode_bytes
from xintud.engine.models.store import load_models

# Generous for a shared 2-core machine; a hang or a gigapixel allocation takes far longer.
DECODE_SECONDS = 5.0
CLASSIFY_SECONDS = 15.0
# Peak resident memory may grow by this much over a whole fuzz run (a 20000x2 strip once cost
# 2.6 GB in the backbone resize).
MAX_RSS_GROWTH_MB = 700

# Both run in a few seconds here; the bound is what keeps a slow machine under a minute.
DECODE_EXAMPLES = 600
CLASSIFY_EXAMPLES = 150  # batches of one to four files

HOSTILE_SIDES = (0, 1, 2, 3, 255, 4097, 30000, 65535, 0x7FFF_FFFF, 0xFFFF_FFFF)


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _animated_gif() -> bytes:
    frames = [scene((40, 30), seed=i).convert("P") for i in range(3)]
    return _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)


SEEDS: dict[str, bytes] = {
    "jpeg": _encoded(scene((48, 32), seed=1), "JPEG", quality=80,
                     exif=camera_exif(orientation=6).tobytes()),
    "progressive": _encoded(scene((48, 32), seed=2), "JPEG", quality=70, progressive=True),
    "png": _encoded(scene((40, 30), seed=3), "PNG"),
    "palette-png": _encoded(scene((40, 30), seed=4).convert("P"), "PNG", transparency=0),
    "gif": _animated_gif(),
    "webp": _encoded(scene((40, 30), seed=5), "WEBP", quality=70),
}


def rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- mutations ------------------------------------------------------------------------------


def _png_with_size(data: bytes, width: int, height: int) -> bytes:
    """Rewrite IHDR's size and its CRC, so Pillow believes the claim."""
    if data[12:16] != b"IHDR":
        return data
    body = b"IHDR" + struct.pack(">II", width, height) + data[24:29]
    return data[:8] + data[8:12] + body + struct.pack(">I", zlib.crc32(body)) + data[33:]


def _jpeg_with_size(data: bytes, width: int, height: int) -> bytes:
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = data.find(marker)
        if at >= 0:
            return data[:at + 5] + struct.pack(">HH", height & 0xFFFF, width & 0xFFFF) \
                + data[at + 9:]
    return data


def _gif_with_size(data: bytes, width: int, height: int) -> bytes:
    size = struct.pack("<HH", width & 0xFFFF, height & 0xFFFF)
    patched = data[:6] + size + data[10:]
    at = patched.find(b"\x2c", 13)  # the first image descriptor
    if at >= 0:
        patched = patched[:at + 5] + size + patched[at + 9:]
    return patched


def _with_size(data: bytes, width: int, height: int) -> bytes:
    if data.startswith(b"\x89PNG"):
        return _png_with_size(data, width, height)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_with_size(data, width, height)
    if data.startswith(b"GIF"):
        return _gif_with_size(data, width, height)
    return data


@st.composite
def mutation(draw: st.DrawFn, data: bytes) -> Callable[[bytes], bytes]:
    """One change to apply to a file's bytes."""
    kind = draw(st.sampled_from(["flip", "truncate", "splice", "header", "size"]))
    where = draw(st.integers(0, len(data)))
    if kind == "flip":
        bit = draw(st.integers(0, 7))
        return lambda d: d[:where] + bytes([d[where] ^ (1 << bit)]) + d[where + 1:] \
            if where < len(d) else d
    if kind == "truncate":
        return lambda d: d[:where]
    if kind == "splice":
        other = SEEDS[draw(st.sampled_from(sorted(SEEDS)))]
        start = draw(st.integers(0, len(other) - 1))
        piece = other[start:start + draw(st.integers(1, 400))]
        replace = draw(st.booleans())
        return lambda d: d[:where] + piece + d[where + (len(piece) if replace else 0):]
    if kind == "header":
        offset = draw(st.integers(0, 40))
        junk = draw(st.binary(min_size=1, max_size=8))
        return lambda d: d[:offset] + junk + d[offset + len(junk):]
    width = draw(st.sampled_from(HOSTILE_SIDES))
    height = draw(st.sampled_from(HOSTILE_SIDES))
    return lambda d: _with_size(d, width, height)


@st.composite
def mutated_image(draw: st.DrawFn) -> bytes:
    """A valid small image with one to four mutations applied."""
    data = SEEDS[draw(st.sampled_from(sorted(SEEDS)))]
    for _ in range(draw(st.integers(1, 4))):
        data = draw(mutation(data))(data)
    return data


# --- the tests ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def classifier() -> Iterator[Classifier]:
    with Classifier(load_models(threads=2), batch_size=4) as engine:
        yield engine


def test_seeds_are_valid_images() -> None:
    for name, data in SEEDS.items():
        assert isinstance(decode_bytes(data, name), DecodedImage)


def test_size_mutation_reaches_the_decoder() -> None:
    # The checksum fix-up matters: without it Pillow would reject the header, not the size.
    claim = _with_size(SEEDS["png"], 0x7FFF_FFFF, 0x7FFF_FFFF)
    with pytest.raises(DecodeError, match="bomb"):
        decode_bytes(claim, "huge.png")


def test_decode_returns_a_picture_or_a_decode_error() -> None:
    rss_before = rss_mb()

    @settings(max_examples=DECODE_EXAMPLES, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(data=mutated_image())
    def decode(data: bytes) -> None:
        started = time.monotonic()
        try:
            decoded = decode_bytes(data, "fuzz.jpg")
        except DecodeError as exc:
            assert str(exc).startswith("fuzz.jpg: ")
        else:
            assert decoded.image.mode == "RGB" and min(decoded.image.size) >= 1
        assert time.monotonic() - started < DECODE_SECONDS

    decode()
    assert rss_mb() - rss_before < MAX_RSS_GROWTH_MB


def test_classifier_returns_a_result_for_every_mutation(classifier: Classifier) -> None:
    rss_before = rss_mb()
    outcomes = {"analysis": 0, "failure": 0}

    @settings(max_examples=CLASSIFY_EXAMPLES, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(batch=st.lists(mutated_image(), min_size=1, max_size=4))
    def classify_batch(batch: list[bytes]) -> None:
        started = time.monotonic()
        jobs = [Job(Path(f"fuzz-{i}.jpg"), "camera", data)
                for i, data in enumerate(batch)]
        results = classifier.classify_batch(jobs)
        assert time.monotonic() - started < CLASSIFY_SECONDS
        assert len(results) == len(batch)
        for job, result in zip(jobs, results, strict=True):
            assert isinstance(result, (Analysis, AnalysisFailure))
            assert result.path == str(job.path)
            outcomes["analysis" if isinstance(result, Analysis) else "failure"] += 1

    classify_batch()
    assert outcomes["failure"] > 0  # the mutations do break files...
    assert outcomes["analysis"] > 0  # ...and some still decode and are analysed
    assert rss_mb() - rss_before < MAX_RSS_GROWTH_MB
