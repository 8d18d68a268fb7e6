"""Bad input never crashes the daemon, never loops and never sticks the queue.

The slow test drops a zoo of broken, odd and oddly named files into a real daemon's watch
folder at once, with good photos among them; the fast ones pin down the pieces it relies on.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import random
import re
import struct
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.daemon_tree import DaemonTree, sha256, wait_for
from tests.support.images import (
    camera_exif,
    jpeg_bytes,
    phone_picture_bytes,
    png_bomb_bytes,
    scene,
    write_jpeg,
)
from xintud.cli.xintuctl import format_recent, json_result
from xintud.config.load import ConfigError, validate_config
from xintud.control.protocol import encode_reply
from xintud.core.text import PrintableFormatter, printable
from xintud.daemon.batch import BatchProcessor
from xintud.engine.classify import Classifier
from xintud.engine.decode import DecodeError, decode_bytes, read_file_bytes
from xintud.engine.models.backbone import backbone_input
from xintud.engine.models.store import LoadedModels, load_models
from xintud.library.actor import Actor
from xintud.library.names import numbered_name
from xintud.state.db import open_state_db
from xintud.state.journal import Journal
from xintud.state.queue import FileQueue
from xintud.state.records import FileState, Records

LOG_LINE = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) ")

# --- picture bytes --------------------------------------------------------------------------


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def animation(fmt: str, seed: int, frames: int = 3) -> bytes:
    pictures = [scene((96, 64), seed=seed + i) for i in range(frames)]
    if fmt == "GIF":
        pictures = [p.convert("P") for p in pictures]
    return encoded(pictures[0], fmt, save_all=True, append_images=pictures[1:], duration=80,
                   loop=0)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def rgb48_png(seed: int) -> bytes:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one, so it is built by hand)."""
    pixels = np.random.default_rng(seed).integers(0, 65535, (40, 60, 3)).astype(">u2")
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)
    header = struct.pack(">IIBBBBB", 60, 40, 16, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))


def with_app1(jpeg: bytes, payload: bytes) -> bytes:
    """A JPEG with an extra APP1 (EXIF) segment right after SOI."""
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def jpeg_claiming_size(width: int, height: int) -> bytes:
    """A small JPEG whose frame header claims another size (a decompression bomb's header)."""
    data = bytearray(jpeg_bytes((64, 48), seed=77))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def png_with_bad_crc() -> bytes:
    data = bytearray(encoded(scene((40, 30), seed=78), "PNG"))
    data[29] ^= 0xFF  # the IHDR chunk's CRC
    return bytes(data)


def palette_with_transparency(seed: int) -> bytes:
    image = scene((80, 60), seed=seed).convert("P")
    return encoded(image, "PNG", transparency=0)


def oriented_jpeg(orientation: int, seed: int) -> bytes:
    return encoded(scene((160, 120), seed=seed), "JPEG", quality=90,
                   exif=camera_exif(orientation=orientation).tobytes())


# --- the zoo --------------------------------------------------------------------------------


@dataclass
class Zoo:
    """Files dropped into a watch folder: name → bytes, split by what must happen to them."""

    bad: dict[str, bytes] = field(default_factory=dict)  # recorded failed, left in place
    good: dict[str, bytes] = field(default_factory=dict)  # filed into the library
    ignored: dict[str, bytes] = field(default_factory=dict)  # never touched, never recorded


def make_zoo() -> Zoo:
    zoo = Zoo()
    whole_jpeg = encoded(scene((400, 300), seed=50), "JPEG", quality=90)
    whole_png = encoded(scene((300, 200), seed=51), "PNG")
    zoo.bad.update({
        "empty.jpg": b"",
        "truncated.jpg": whole_jpeg[: len(whole_jpeg) // 2],
        "truncated.png": whole_png[: len(whole_png) // 2],
        "truncated-animation.gif": animation("GIF", 52)[:2000],  # inside the second frame
        "truncated.webp": encoded(scene((300, 200), seed=53), "WEBP")[:300],
        "header-only.jpg": whole_jpeg[:200],
        "page.jpg": b"<!doctype html><html><body>404 not found</body></html>\n",
        "notes.png": "just some text, 笔记\n".encode(),
        "random.jpg": random.Random(54).randbytes(5000),
        "bomb.png": png_bomb_bytes(),
        "bomb-header.jpg": jpeg_claiming_size(65000, 65000),
        "postscript.jpg": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n",
        "bad-crc.png": png_with_bad_crc(),
        "truncated.heic": phone_picture_bytes("HEIF", (320, 240))[:700],
        "half.heic": (lambda d: d[: len(d) // 2])(phone_picture_bytes("HEIF", (640, 480))),
        "text.heic": b"not a picture at all, only a name\n",
    })
    seeds = iter(range(100, 1000))
    zoo.good.update({
        "1x1.png": encoded(Image.new("RGB", (1, 1), (10, 200, 30)), "PNG"),
        "1x1.jpg": encoded(Image.new("RGB", (1, 1), (200, 10, 30)), "JPEG"),
        "1x1.gif": encoded(Image.new("P", (1, 1), 3), "GIF"),
        "cmyk.jpg": encoded(scene((160, 120), seed=next(seeds)).convert("CMYK"), "JPEG"),
        "grey16.png": encoded(Image.new("I;16", (50, 40), 40000), "PNG"),
        "rgb48.png": rgb48_png(next(seeds)),
        "palette-transparent.png": palette_with_transparency(next(seeds)),
        "rgba.png": encoded(scene((80, 60), seed=next(seeds)).convert("RGBA"), "PNG"),
        "animated.gif": animation("GIF", next(seeds)),
        "animated.webp": animation("WEBP", next(seeds)),
        "animated.png": animation("PNG", next(seeds)),
        "photo.tif": encoded(scene((120, 90), seed=next(seeds)), "TIFF"),
        "photo.bmp": encoded(scene((120, 90), seed=next(seeds)), "BMP"),
        "IMG_0001.HEIC": phone_picture_bytes("HEIF", (160, 120), 6, seed=next(seeds)),
        "IMG_0002.heic": phone_picture_bytes("HEIF", (160, 120), seed=next(seeds)),
        "photo.avif": phone_picture_bytes("AVIF", (160, 120), 8, seed=next(seeds)),
        "panorama.jpg": encoded(scene((12000, 2000), seed=next(seeds)), "JPEG", quality=60),
        "strip.png": encoded(scene((20000, 2), seed=next(seeds)), "PNG"),
        "line.jpg": encoded(scene((65000, 1), seed=next(seeds)), "JPEG"),
        "corrupt-exif.jpg": with_app1(jpeg_bytes((120, 90), seed=next(seeds)),
                                      b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff"
                                      + b"\x01" * 40),
        "odd-exif-values.jpg": encoded(scene((120, 90), seed=next(seeds)), "JPEG",
                                       exif=odd_exif().tobytes()),
    })
    for orientation in range(1, 9):
        zoo.good[f"orientation-{orientation}.jpg"] = oriented_jpeg(orientation, next(seeds))
    for name in odd_names():
        zoo.good[name] = jpeg_bytes((96, 72), seed=next(seeds))
    zoo.ignored.update({
        ".hidden.jpg": jpeg_bytes(seed=next(seeds)),
        "download.jpg.part": jpeg_bytes(seed=next(seeds)),
        "~$lock.jpg": b"",
    })
    return zoo


def odd_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 77  # no such orientation
    exif[0x0132] = "2026:13:45 99:99:99"
    exif[0x010F] = "\x00\x00"
    return exif


def odd_names() -> list[str]:
    return [
        "照片 2026 — 北京 .jpg",
        "with  two  spaces.jpg",
        "new\nline.jpg",
        "INFO filed evil.jpg -> Inbox (other 0.99)\nWARNING forged.jpg",
        "esc\x1b[31mred\r.jpg",
        "-rf.jpg",
        "--help.jpg",
        "a" * 251 + ".jpg",  # 255 bytes
        "图" * 83 + "ab.jpg",  # 255 bytes of UTF-8
        os.fsdecode(b"not-utf8-\xff\xfe.jpg"),
    ]


# --- fast tests of the pieces ----------------------------------------------------------------


@pytest.fixture(scope="module")
def models() -> LoadedModels:
    return load_models(threads=2)


def wire_processor(tmp_path: Path, models: LoadedModels,
                   before_classify: Callable[[], None] = lambda: None
                   ) -> tuple[BatchProcessor, FileQueue, Records, Path]:
    """A BatchProcessor on a real database, actor and classifier; `before_classify` runs
    after the files were read and hashed, just before they are classified."""
    camera = tmp_path / "Camera"
    camera.mkdir()
    config = validate_config({"watch": [{"path": str(camera)}],
                              "library": {"root": str(tmp_path / "Library"),
                                          "min_confidence": 0.0}})
    conn = open_state_db(tmp_path / "state" / "state.db")
    queue, records = FileQueue(conn), Records(conn)
    classifier = Classifier(models)

    def get_classifier() -> Classifier:
        before_classify()
        return classifier

    processor = BatchProcessor(queue, records, Actor(Journal(conn)), get_classifier, config)
    return processor, queue, records, camera


def test_file_deleted_after_the_event_is_not_a_failure(tmp_path: Path,
                                                       models: LoadedModels) -> None:
    processor, queue, records, camera = wire_processor(tmp_path, models)
    photo = write_jpeg(camera / "IMG_1.jpg")
    queue.enqueue(photo, "camera")
    photo.unlink()
    processor.process(queue.claim(10))
    assert queue.pending_count() == 0 and queue.inflight_count() == 0
    assert records.recent(10) == []


def test_file_deleted_while_classified_is_not_retried(tmp_path: Path,
                                                      models: LoadedModels) -> None:
    doomed: list[Path] = []
    processor, queue, records, camera = wire_processor(
        tmp_path, models, before_classify=lambda: [p.unlink() for p in doomed])
    photo = write_jpeg(camera / "IMG_2.jpg")
    doomed.append(photo)
    queue.enqueue(photo, "camera")
    processor.process(queue.claim(10))
    assert queue.pending_count() == 0, "a vanished file must not wait for a retry"
    assert queue.next_retry_at() is None
    assert not any(r.state is FileState.FAILED for r in records.recent(10))


def test_fifo_named_like_a_photo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(DecodeError, match="not a regular file"):
        read_file_bytes(fifo)  # would block forever if it were opened for a blocking read


def test_decoders_are_limited_to_photo_formats() -> None:
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    with pytest.raises(DecodeError, match="unknown format"):
        decode_bytes(eps, "x.jpg")  # EPS would run Ghostscript if it were installed
    with pytest.raises(DecodeError, match="unknown format"):
        decode_bytes(encoded(Image.new("RGB", (16, 16)), "ICO"), "icon.png")


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_every_prefix_of_an_animation_decodes_or_is_a_decode_error(fmt: str) -> None:
    # Cut inside the second frame, Pillow's GIF frame count raised IndexError / struct.error,
    # which escaped the decoder and took the daemon down.
    data = animation(fmt, 1)
    failures = 0
    for cut in range(len(data)):
        try:
            decode_bytes(data[:cut], f"anim.{fmt.lower()}")
        except DecodeError:
            failures += 1
    assert failures > len(data) // 4


def test_the_zoo_is_what_it_claims() -> None:
    zoo = make_zoo()
    for name, data in zoo.bad.items():
        with pytest.raises(DecodeError):
            decode_bytes(data, name)
    for name, data in zoo.good.items():
        assert decode_bytes(data, name).image.mode == "RGB"


@pytest.mark.parametrize("size", [(20000, 2), (2, 20000), (65000, 1)])
def test_extreme_aspect_ratio_stays_cheap(size: tuple[int, int]) -> None:
    # Scaling a 2-pixel side to 256 first would make a 20000x2 strip a 2.5-gigapixel image.
    decoded = decode_bytes(encoded(Image.new("RGB", size, (200, 30, 30)), "PNG"), "strip.png")
    started = time.monotonic()
    picture = backbone_input(decoded.image)
    assert picture.shape == (224, 224, 3)
    assert time.monotonic() - started < 1.0


def test_numbered_name_stays_within_255_bytes() -> None:
    for name in ("a" * 251 + ".jpg", "图" * 83 + "ab.jpg", "x.jpg"):
        numbered = numbered_name(name, 12)
        assert len(os.fsencode(numbered)) <= 255
        assert numbered.endswith(" (12).jpg")
        numbered.encode("utf-8")  # shortened by whole characters


def test_printable_escapes_only_what_breaks_lines() -> None:
    assert printable("照片 2026 — 北京.jpg") == "照片 2026 — 北京.jpg"
    assert printable("new\nline\r.jpg") == "new\\nline\\r.jpg"
    assert printable("esc\x1b[31m.jpg") == "esc\\x1b[31m.jpg"
    assert printable("sep\u2028.jpg") == "sep\\u2028.jpg"
    assert printable(os.fsdecode(b"bad-\xff.jpg")) == "bad-\\xff.jpg"
    assert printable(Path("a\nb")) == "a\\nb"


def test_log_lines_escape_names_but_not_templates() -> None:
    formatter = PrintableFormatter("%(levelname)s %(message)s")
    name = Path("/w/INFO filed evil.jpg\nWARNING forged.jpg")
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "failed %s: %s",
                               (name.name, f"{name}: damaged"), None)
    line = formatter.format(record)
    assert "\n" not in line and "forged.jpg" in line
    multi = logging.LogRecord("x", logging.ERROR, __file__, 1, "config refused:\n  %s",
                              ("library.layout: bad",), None)
    assert formatter.format(multi) == "ERROR config refused:\n  library.layout: bad"


def test_names_that_are_not_utf8_survive_the_control_socket() -> None:
    name = os.fsdecode(b"/w/not-utf8-\xff.jpg")
    line = encode_reply({"ok": True, "result": {"items": [{"file": name}]}})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line)["result"]["items"][0]["file"] == name
    json_result({"file": name}).encode("utf-8")
    text = format_recent({"items": [{"time": 0, "state": "failed", "file": name,
                                     "reason": f"{name}: empty"}]})
    assert "\n" not in text
    text.encode("utf-8")


# Complements test_config.BAD_VALUES: the shapes a folder or template could use to escape.
ESCAPES = [("folder", value) for value in ("..\\..\\etc", "C:\\Users", "D:Food", "Food\x00",
                                           "/", "..", "a/../../b", "//srv")] + [
    ("layout", value) for value in ("{category}/..\\..", "\x00{category}", "/", "//{category}",
                                    "{category}/{year}/..", "..")]


@pytest.mark.parametrize(("key", "value"), ESCAPES)
def test_config_refuses_folders_that_leave_the_library(key: str, value: str) -> None:
    data: dict[str, object] = {"library": {"root": "/lib"}, "watch": [{"path": "/in"}]}
    if key == "folder":
        data["categories"] = {"food": {"folder": value}}
        where = "categories.food.folder"
    else:
        data["library"] = {"root": "/lib", "layout": value}
        where = "library.layout"
    with pytest.raises(ConfigError) as caught:
        validate_config(data)
    assert [key_path for key_path, _ in caught.value.problems] == [where]


# --- the daemon against the whole zoo ---------------------------------------------------------


SETTLE_SECONDS = 1.0
GROW_SECONDS = 15.0
GROW_EVERY = 0.2


def write_config(tree: DaemonTree) -> None:
    # One folder for everything, so same-named photos collide and get numbered names.
    tree.config.write_text(f"""
[[watch]]
path = "{tree.camera}"
kind = "camera"

[library]
root = "{tree.library}"
action = "move"
layout = "Inbox"
min_confidence = 0.0

[daemon]
settle_seconds = {SETTLE_SECONDS}
batch_max_wait_seconds = 0.2
reconcile_interval_seconds = 0
idle_unload_seconds = 0
""")


def recent(tree: DaemonTree) -> list[dict[str, object]]:
    done = tree.ctl("--json", "recent", "-n", "1000")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["items"]


def library_hashes(tree: DaemonTree) -> dict[str, Path]:
    return {sha256(p): p for p in tree.library_files()}


def count_lines(log: str, prefix: str, name: str, after: str = ": ") -> int:
    """How many log lines start with prefix + the (escaped) name + after."""
    pattern = re.compile("^" + re.escape(f"{prefix}{printable(name)}{after}"), re.MULTILINE)
    return len(pattern.findall(log))


@pytest.mark.slow
def test_daemon_survives_the_bad_input_zoo(tmp_path: Path) -> None:
    tree = DaemonTree(tmp_path)
    write_config(tree)
    outside = tmp_path / "outside"
    target = write_jpeg(outside / "target.jpg", seed=900)
    write_jpeg(outside / "album" / "in-linked-folder.jpg", seed=901)
    outside_hashes = {p: sha256(p) for p in outside.rglob("*.jpg")}
    zoo = make_zoo()
    collision = ("sub/" + "a" * 251 + ".jpg", jpeg_bytes((96, 72), seed=990))
    vanishing = {f"vanish-{i}.jpg": jpeg_bytes((96, 72), seed=950 + i) for i in range(10)}
    growing_data = encoded(scene((1600, 1200), seed=999), "JPEG", quality=95)
    growing = tree.camera / "growing.jpg"

    daemon = tree.start()
    try:
        # Everything at once: the zoo, the odd names, a collision, links and a directory.
        for name, data in {**zoo.bad, **zoo.good, **zoo.ignored, **vanishing}.items():
            (tree.camera / name).write_bytes(data)
        (tree.camera / "sub").mkdir()
        (tree.camera / collision[0]).write_bytes(collision[1])
        (tree.camera / "link.jpg").symlink_to(target)
        (tree.camera / "linked-album").symlink_to(outside / "album", target_is_directory=True)
        (tree.camera / "folder.jpg").mkdir()
        # Deleted over the first seconds: before settling, while queued, after filing.
        delete_at = {name: time.monotonic() + 0.8 * i for i, name in enumerate(vanishing)}

        # A file that keeps growing for GROW_SECONDS, a chunk every GROW_EVERY seconds.
        chunks = int(GROW_SECONDS / GROW_EVERY)
        step = len(growing_data) // chunks + 1
        for start in range(0, len(growing_data), step):
            with growing.open("ab") as handle:
                handle.write(growing_data[start:start + step])
            for name, when in list(delete_at.items()):
                if time.monotonic() >= when:
                    (tree.camera / name).unlink(missing_ok=True)
                    del delete_at[name]
            # Cheap checks only: a slow one would stretch the pauses towards the settle time.
            assert growing.exists(), "a file still being written was moved"
            assert "growing.jpg" not in tree.logs(), "a file still being written was processed"
            time.sleep(GROW_EVERY)
        assert sha256(growing) == hashlib.sha256(growing_data).hexdigest()

        good_hashes = {hashlib.sha256(d).hexdigest()
                       for d in [*zoo.good.values(), collision[1], growing_data]}
        wait_for(lambda: good_hashes <= set(library_hashes(tree)), timeout=120, interval=0.5,
                 what="every good photo filed")
        wait_for(lambda: tree.status()["queue"] == 0, what="the queue to drain")
        wait_for(lambda: tree.status()["failed"] == len(zoo.bad), timeout=30,
                 what=f"{len(zoo.bad)} bad files recorded as failed")
        assert daemon.poll() is None, "the daemon died"
        check_outcome(tree, zoo, outside_hashes, target, vanishing, collision[0])
    finally:
        code = tree.stop(daemon)
    assert code == 0, tree.logs()

    # A restart finds the bad files again on its startup scan: none is retried.
    first_log = tree.logs()
    daemon = tree.start()
    try:
        time.sleep(3.0)
        status = tree.status()
        assert status["failed"] == len(zoo.bad) and status["queue"] == 0
    finally:
        assert tree.stop(daemon) == 0, tree.logs()
    later = tree.logs()[len(first_log):]
    assert not re.search(r"^(WARNING failed|INFO filed) ", later, re.MULTILINE), later


def check_outcome(tree: DaemonTree, zoo: Zoo, outside_hashes: dict[Path, str], target: Path,
                  vanishing: dict[str, bytes], collision: str) -> None:
    items = recent(tree)
    by_file = {str(item["file"]): item for item in items}
    log = tree.logs()

    # Bad files: where they were, unchanged, failed with a reason, reported once.
    for name, data in zoo.bad.items():
        path = tree.camera / name
        assert path.read_bytes() == data, f"{name} was changed or moved"
        item = by_file.get(str(path))
        assert item is not None, f"{name} is not in `xintuctl recent`"
        assert item["state"] == "failed" and item["reason"], item
        assert count_lines(log, "WARNING failed ", name) == 1, f"{name} failed more than once"

    # Good photos, odd names included: filed exactly once, content intact. The long name is
    # there twice (once in sub/), so the second one gets a numbered name within 255 bytes.
    filed = library_hashes(tree)
    expected_filings = Counter([*zoo.good, Path(collision).name, "growing.jpg"])
    for name, data in zoo.good.items():
        assert not (tree.camera / name).exists(), f"{name!r} was not filed"
        assert hashlib.sha256(data).hexdigest() in filed
    for name, times in expected_filings.items():
        assert count_lines(log, "INFO filed ", name, " -> ") == times, f"{name!r} filed twice?"
    long_names = [p.name for p in filed.values() if p.name.startswith("aaaa")]
    assert sorted(len(os.fsencode(n)) for n in long_names) == [255, 255]
    assert count_lines(log, "WARNING failed ", "growing.jpg") == 0

    # Ignored names and folders: untouched and never recorded.
    for name, data in zoo.ignored.items():
        assert (tree.camera / name).read_bytes() == data
        assert str(tree.camera / name) not in by_file
    assert (tree.camera / "folder.jpg").is_dir()

    # Symlinks: not followed out of the watch folder, their targets never moved.
    assert (tree.camera / "link.jpg").is_symlink()
    assert (tree.camera / "link.jpg").resolve() == target.resolve()
    for path, digest in outside_hashes.items():
        assert sha256(path) == digest and digest not in filed
    assert not any("link" in str(item["file"]) for item in items)

    # Files deleted early: no failure, no loop; filed only if the daemon got there first. (One
    # deleted while it was being filed may keep the "queued" note made before acting: if it
    # comes back, that lets it be filed then.)
    vanished = {str(tree.camera / name) for name in vanishing}
    for name in vanishing:
        item = by_file.get(str(tree.camera / name))
        assert item is None or item["state"] in ("done", "queued"), item
        assert count_lines(log, "WARNING failed ", name) == 0

    # Counted in status; every state is final.
    status = tree.status()
    assert status["failed"] == len(zoo.bad)
    assert status["queue"] == 0 and status["state"] == "running"
    assert {item["state"] for item in items if item["file"] not in vanished} <= {"done", "failed"}

    # Odd names never break a log line, the JSON, or the plain `recent` listing.
    assert "Traceback" not in log
    bad_lines = [line for line in log.splitlines() if line and not LOG_LINE.match(line)]
    assert bad_lines == [], bad_lines[:5]
    assert "WARNING forged.jpg" not in log.splitlines()
    newline_item = by_file[str(tree.camera / "new\nline.jpg")]  # JSON keeps the real name
    assert newline_item["state"] == "done" and "new\nline.jpg" in str(newline_item["dest"])
    plain = tree.ctl("recent", "-n", "1000")
    assert plain.returncode == 0, plain.stderr
    assert len(plain.stdout.splitlines()) == len(items)
