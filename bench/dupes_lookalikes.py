"""What one arrival costs in a library of look-alikes: screens of one app and the load test's
drawn scenes, where every photo has hundreds of candidates by evidence and the close
comparison (align.py, screens.py) runs for the most the index allows.

The pictures are drawn here (nothing from ../shared), fingerprinted by the real engine as
`xintud dupes` does, then added one by one as the daemon adds filed photos: `link_one` against
everything before, timed. Every 25th picture also gets a copy (cropped 3-6% and re-encoded),
which must join its original, and nothing else may be linked. Run with
`python -m bench.dupes --only lookalikes`.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageDraw

from bench.dupes_accuracy import fingerprints_of
from bench.measure import load_average, percentile
from tests.support import images
from xintud.duplicates.fingerprint import Fingerprint
from xintud.duplicates.groups import Link, link_one
from xintud.duplicates.index import FingerprintIndex

SEED = 20261204
COPY_EVERY = 25
WORDS = ("lunch", "tomorrow", "photos", "train", "meeting", "weekend", "call", "ok", "thanks",
         "see you", "at eight", "the cat", "birthday", "where", "bring", "park")


def app_screen(rng: random.Random) -> Image.Image:
    """A chat app's screen as the tests draw it: the same bars, other messages each time."""
    rows = rng.randint(4, 12)
    return images.app_screen([" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
                              for _ in range(rows)])


def drawn_scene(index: int) -> Image.Image:
    """The load test's pictures: one drawn 64x48 scene with 16 bits drawn as black blocks."""
    image = Image.new("RGB", (64, 48), (90 + index % 100, 140, 200))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 32, 64, 48), fill=(60, 120 + index % 80, 50))
    for i in range(5):
        x, y = (index * 37 + i * 12) % 24, (index * 11 + i * 53) % 8
        draw.ellipse((x, y, x + 8, y + 6), fill=(200, 50 + 30 * i, 40))
    for bit in range(16):
        if index >> bit & 1:
            x, y = (bit % 8) * 8, 32 + (bit // 8) * 8
            draw.rectangle((x, y, x + 7, y + 7), fill=(0, 0, 0))
    return image


def _copy(image: Image.Image, rng: random.Random) -> Image.Image:
    width, height = image.size
    cut = [rng.uniform(0.0, 0.06) for _ in range(4)]
    return image.crop((round(cut[0] * width), round(cut[1] * height),
                       round(width * (1 - cut[2])), round(height * (1 - cut[3]))))


def write_library(folder: Path, kind: str, count: int) -> dict[str, str]:
    """Draw `count` pictures of one kind (and the copies); return copy path -> original path."""
    rng = random.Random(SEED)
    copies: dict[str, str] = {}
    for index in range(count):
        image = app_screen(rng) if kind == "screens" else drawn_scene(index)
        path = folder / f"{kind}_{index:05d}.png"
        image.save(path)
        if index % COPY_EVERY == 0:
            copy = folder / f"{kind}_{index:05d}_copy.jpg"
            _copy(image, rng).save(copy, "JPEG", quality=rng.randint(70, 90))
            copies[str(copy)] = str(path)
    return copies


def _arrivals(prints: dict[str, Fingerprint]) -> Iterator[Fingerprint]:
    # by name: each copy right after its original, as a chat app's copy arrives soon after
    for path in sorted(prints):
        yield prints[path]


def arrival_figures(kind: str, count: int) -> dict[str, object]:
    """Fingerprint a drawn library and time each arrival's match against those before it."""
    with tempfile.TemporaryDirectory() as tmp:
        copies = write_library(Path(tmp), kind, count)
        prints = fingerprints_of(sorted(Path(tmp).iterdir()))
    index = FingerprintIndex()
    times: list[float] = []
    links: list[Link] = []
    for fingerprint in _arrivals(prints):
        began = time.perf_counter()
        links.extend(link_one(fingerprint, index, prints.get))
        times.append(time.perf_counter() - began)
        index.add(fingerprint)
    later = times[len(times) // 2:]
    expected = {tuple(sorted(pair)) for pair in copies.items()}
    found = {(link.a, link.b) for link in links}
    return {
        "kind": kind, "pictures": len(prints), "load_average": load_average(),
        "screen_like": sum(fp.screen_like for fp in prints.values()),
        "arrival_ms_p50_second_half": round(percentile(later, 0.5) * 1e3, 2),
        "arrival_ms_p95_second_half": round(percentile(later, 0.95) * 1e3, 2),
        "arrival_s_total": round(sum(times), 2),
        "copies_joined": f"{len(expected & found)}/{len(expected)}",
        "other_links": len(found - expected),
        "links_by_tier": dict(Counter(link.tier.value for link in links)),
    }


def lookalike_figures(count: int) -> list[dict[str, object]]:
    """Both kinds of look-alike library."""
    return [arrival_figures(kind, count) for kind in ("screens", "scenes")]
