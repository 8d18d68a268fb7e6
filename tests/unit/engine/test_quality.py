"""Photo quality (xintud/engine/quality.py): the legacy measures the head reads, blur and shake,
exposure, accidental frames, the score, face sharpness — on pictures drawn here, and on the blur
groups of ../shared/neardup where present."""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from xintud.core.facts import Face, Quality
from xintud.engine.decode import decode_image
from xintud.engine.quality import (
    MOTION_MIN,
    WORDS,
    measure_quality,
    with_face_sharpness,
)
from xintud.engine.signals import grey

REPO = Path(__file__).resolve().parents[3]
NEARDUP = REPO.parent / "shared" / "neardup"
# The sharp shot has the lowest blur and the highest score in 11 of the 11 blur groups
# (measured); one group of slack.
MIN_BLUR_GROUPS_RANKED = 10
MAX_MS_PER_PICTURE = 30.0  # measured ~1.2 ms: catches a pathological slowdown, not drift


def quality_of(picture: Image.Image) -> Quality:
    """As the engine measures it: on the 256 px grey copy."""
    return measure_quality(grey(picture))


def noisy(pixels: np.ndarray, sigma: float, seed: int = 0) -> Image.Image:
    """A float RGB (or grey) array with sensor-like noise, as a picture."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(np.clip(pixels + rng.normal(0, sigma, pixels.shape), 0, 255)
                           .astype(np.uint8)).convert("RGB")


def textured_scene(size: tuple[int, int] = (600, 400), seed: int = 0) -> Image.Image:
    """A sharp picture: a noise texture, hard-edged shapes and writing."""
    rng = np.random.default_rng(seed)
    width, height = size
    coarse = (rng.random((height // 8, width // 8)) * 150 + 50).astype(np.uint8)
    texture = np.asarray(Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC), np.float32)
    picture = noisy(texture, 18, seed)
    draw = ImageDraw.Draw(picture)
    for i in range(25):
        x, y, side = int(rng.integers(0, width - 60)), int(rng.integers(0, height - 60)), \
            int(rng.integers(10, 60))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        (draw.rectangle if i % 2 else draw.ellipse)((x, y, x + side, y + side), fill=colour)
    for _ in range(8):
        draw.text((int(rng.integers(0, width - 80)), int(rng.integers(0, height - 20))),
                  "Hello 123", fill=(0, 0, 0))
    return picture


def soft_scene(size: tuple[int, int] = (600, 400), seed: int = 0) -> Image.Image:
    """A camera-like picture: smooth regions, soft-edged objects (no noise yet)."""
    rng = np.random.default_rng(seed)
    width, height = size
    coarse = (rng.random((height // 40 + 2, width // 40 + 2)) * 180 + 40).astype(np.uint8)
    picture = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC).convert("RGB")
    draw = ImageDraw.Draw(picture)
    for i in range(12):
        x, y, side = int(rng.integers(0, width - 150)), int(rng.integers(0, height - 150)), \
            int(rng.integers(40, 150))
        colour = tuple(int(c) for c in rng.integers(20, 235, 3))
        (draw.rectangle if i % 2 else draw.ellipse)((x, y, x + side, y + side), fill=colour)
    return picture.filter(ImageFilter.GaussianBlur(1.2))


def motion_blur(picture: Image.Image, length: int, angle: float) -> Image.Image:
    """A straight-line shake: the mean of `length` copies shifted along `angle` degrees."""
    pixels = np.asarray(picture, dtype=np.float32)
    theta = np.deg2rad(angle)
    total = np.zeros_like(pixels)
    for k in np.linspace(-(length - 1) / 2, (length - 1) / 2, length):
        total += np.roll(pixels, (round(k * np.sin(theta)), round(k * np.cos(theta))), (0, 1))
    return Image.fromarray((total / length).round().astype(np.uint8))


def phone_screen(dark: bool = False, lines: int = 28, ink: int = 20,
                 panels: bool = False) -> Image.Image:
    """A 1080×2340 chat-like screen: a status bar and lines of text on white (or black),
    optionally with flat panels (an app bar and a tab bar, or dim cards in dark mode)."""
    page = Image.new("RGB", (1080, 2340), (0, 0, 0) if dark else "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=40)
    if panels and dark:
        for top in range(300, 2200, 700):
            draw.rectangle((60, top, 1020, top + 260), fill=(70, 70, 74))
    elif panels:
        draw.rectangle((0, 0, 1080, 320), fill=(60, 90, 170))
        draw.rectangle((0, 2100, 1080, 2340), fill=(150, 150, 155))
    draw.text((40, 25), "12:45", fill=(200, 200, 200) if dark else "black", font=font)
    for i in range(lines):
        draw.text((60, 200 + 70 * i), f"Message {i}: see you at the station at six",
                  fill=(230, 230, 230) if dark else (ink, ink, ink), font=font)
    return page


def legacy(luma: np.ndarray) -> tuple[float, float, float, float]:
    """The measures as engine/signals.py computed them before quality.py (the head's inputs)."""
    if min(luma.shape) >= 3:
        lap = (luma[1:-1, :-2] + luma[1:-1, 2:] + luma[:-2, 1:-1] + luma[2:, 1:-1]
               - 4 * luma[1:-1, 1:-1])
        sharpness = float(lap.var() * 1000)
    else:
        sharpness = 0.0
    return (round(sharpness, 3), round(float(luma.mean()), 4),
            round(float((luma < 0.03).mean()), 4), round(float((luma > 0.97).mean()), 4))


@pytest.mark.parametrize("picture", [
    textured_scene(), textured_scene(seed=3).filter(ImageFilter.GaussianBlur(3)),
    phone_screen(), phone_screen(dark=True), noisy(np.full((300, 500, 3), 8.0), 5),
    Image.new("RGB", (2, 2), "white"), Image.new("RGB", (640, 480), "black"),
    Image.linear_gradient("L").convert("RGB"),
], ids=["scene", "blurred", "screen", "dark screen", "dark noise", "tiny", "black", "gradient"])
def test_the_heads_four_inputs_are_computed_as_before(picture: Image.Image) -> None:
    luma = grey(picture)
    quality = measure_quality(luma)
    assert (quality.sharpness, quality.brightness, quality.dark_clip, quality.bright_clip) \
        == legacy(luma)


def test_blur_grows_with_the_blur_and_the_sharp_picture_is_not_flagged() -> None:
    for seed in range(3):
        sharp = textured_scene(seed=seed)
        measured = [quality_of(sharp)] + [
            quality_of(sharp.filter(ImageFilter.GaussianBlur(r))) for r in (2, 4, 8)]
        blurs = [q.blur for q in measured]
        assert blurs[0] < 0.5 < blurs[1] < blurs[2]
        assert blurs[3] >= 0.9  # a smear (heavier blur saturates near 1)
        assert "blurry" not in measured[0].flags
        assert all("blurry" in q.flags for q in measured[1:] if "accidental" not in q.flags)
        assert measured[0].score > max(q.score for q in measured[1:])


def test_blur_is_not_the_amount_of_detail() -> None:
    """A sharp picture with little detail (a few thin marks on a plain wall) is not blurry,
    though its Laplacian variance is lower than that of a blurred busy scene."""
    wall = np.full((400, 600, 3), 170.0)
    for x in (100, 300, 450):
        wall[100:300, x:x + 3] = 60.0
    sparse = noisy(wall, 2)
    blurred = textured_scene().filter(ImageFilter.GaussianBlur(2))
    assert quality_of(sparse).sharpness < quality_of(blurred).sharpness * 5
    assert quality_of(sparse).blur < 0.3 < quality_of(blurred).blur


@pytest.mark.parametrize("angle", [0, 30, 90, 135])
def test_a_shaken_texture_is_flagged_as_motion_blur(angle: float) -> None:
    quality = quality_of(motion_blur(textured_scene(seed=1), 15, angle))
    assert quality.motion >= MOTION_MIN
    assert "motion_blur" in quality.flags
    assert quality.suggestions == [WORDS["motion_blur"]]


def test_defocus_is_not_shake_and_sharp_stripes_are_not_shaken() -> None:
    defocused = quality_of(textured_scene(seed=1).filter(ImageFilter.GaussianBlur(2)))
    assert "blurry" in defocused.flags and "motion_blur" not in defocused.flags
    stripes = Image.new("RGB", (600, 400), "white")
    draw = ImageDraw.Draw(stripes)
    for x in range(0, 600, 12):
        draw.rectangle((x, 0, x + 5, 400), fill="black")
    striped = quality_of(stripes)
    assert striped.flags == [] and striped.blur < 0.3


@pytest.mark.parametrize("frame", [
    noisy(np.full((400, 600, 3), 8.0), 5),  # pocket: black with sensor noise
    noisy(np.full((400, 600, 3), 20.0), 8),
    noisy(np.full((400, 600, 3), 128.0), 3),  # a flat grey frame
], ids=["pocket", "dark noisy", "uniform"])
def test_a_frame_with_nothing_in_it_is_accidental(frame: Image.Image) -> None:
    quality = quality_of(frame)
    assert quality.flags == ["accidental"]
    assert quality.suggestions == [WORDS["accidental"]]
    assert quality.score <= 0.2


def test_a_covered_lens_is_accidental() -> None:
    rows, cols = np.mgrid[0:400, 0:600]
    distance = np.hypot(rows - 150, cols - 400) / 500
    glow = np.stack([120 - 80 * distance, 50 - 30 * distance, 30 - 20 * distance], axis=-1)
    assert quality_of(noisy(glow, 2)).flags == ["accidental"]


def test_an_overexposed_frame_is_flagged() -> None:
    lifted = np.asarray(soft_scene(seed=0), dtype=np.float32) * 2.0 + 60
    quality = quality_of(noisy(lifted, 8))
    assert quality.flags == ["overexposed"]
    assert quality.suggestions == [WORDS["overexposed"]]
    assert quality.score < 0.7


def test_a_dark_room_is_underexposed_not_accidental() -> None:
    rng = np.random.default_rng(3)
    room = np.asarray(textured_scene(seed=7), dtype=np.float32) * 0.12
    room[60:200, 380:520] = 100 + rng.normal(0, 4, (140, 140, 3))  # a window, dim daylight
    room[60:200, 445:455] = 15  # its frame
    quality = quality_of(noisy(room, 2))
    assert quality.flags == ["underexposed"]


@pytest.mark.parametrize("screen", [
    phone_screen(), phone_screen(lines=5, ink=130), phone_screen(dark=True),
    phone_screen(panels=True), phone_screen(dark=True, lines=6, panels=True),
], ids=["white page", "sparse grey text", "dark mode", "app bars", "dark cards"])
def test_a_screen_of_text_is_not_accidental_or_badly_exposed(screen: Image.Image) -> None:
    """Lots of flat white (or black) with sharp text: the old rules called it overexposed."""
    quality = quality_of(screen)
    assert quality.flags == []
    assert quality.blur < 0.2


def test_a_subject_on_a_white_backdrop_is_not_overexposed() -> None:
    portrait = Image.new("RGB", (600, 800), "white")
    draw = ImageDraw.Draw(portrait)
    draw.ellipse((180, 150, 420, 450), fill=(200, 160, 130))
    draw.rectangle((120, 450, 480, 800), fill=(40, 50, 90))
    draw.ellipse((170, 120, 430, 260), fill=(40, 30, 20))
    soft = np.asarray(portrait.filter(ImageFilter.GaussianBlur(1)), dtype=np.float32)
    # the studio white is clipped flat; the subject has a camera's noise
    subject = soft.min(axis=-1, keepdims=True) < 250
    pixels = np.asarray(noisy(soft, 16), dtype=np.float32)
    photo = Image.fromarray(np.where(subject, pixels, 255).astype(np.uint8))
    quality = quality_of(photo)
    assert quality.bright_clip > 0.5  # what the old rule called overexposed
    assert "overexposed" not in quality.flags


def test_a_lit_subject_on_black_is_not_underexposed() -> None:
    stage = np.full((400, 600, 3), 6.0)
    stage[100:340, 200:400] = (170, 135, 110)  # a face and shoulders under a spotlight
    stage[170:180, 250:270] = stage[170:180, 330:350] = 30  # eyes
    quality = quality_of(noisy(stage, 4))
    assert quality.brightness < 0.15  # what the old rule called underexposed
    assert quality.flags == []


def test_score_and_suggestions_follow_the_flags() -> None:
    for picture in (textured_scene(), motion_blur(textured_scene(), 15, 0),
                    noisy(np.full((400, 600, 3), 8.0), 5)):
        quality = quality_of(picture)
        assert 0.0 <= quality.score <= 1.0 and 0.0 <= quality.blur <= 1.0
        assert 0.0 <= quality.motion <= 1.0
        assert set(quality.suggestions) <= {WORDS[f] for f in quality.flags}
        assert bool(quality.suggestions) == bool(quality.flags)


def face_picture(blur_face: bool) -> tuple[Image.Image, Face]:
    """A scene whose face box holds a sharp or a blurred patch of the same texture."""
    picture = textured_scene(seed=5)
    box = (200, 100, 320, 250)
    if blur_face:
        picture.paste(picture.crop(box).filter(ImageFilter.GaussianBlur(3)), box[:2])
    width, height = picture.size
    face = Face(score=0.99, box=(box[0] / width, box[1] / height, box[2] / width,
                                 box[3] / height), landmarks=())
    return picture, face


def test_face_sharpness_is_higher_for_a_sharp_face() -> None:
    sharp_picture, face = face_picture(blur_face=False)
    blurred_picture, _ = face_picture(blur_face=True)
    sharp = with_face_sharpness(quality_of(sharp_picture), sharp_picture, [face])
    blurred = with_face_sharpness(quality_of(blurred_picture), blurred_picture, [face])
    assert sharp.face_sharpness is not None and blurred.face_sharpness is not None
    assert sharp.face_sharpness > 5 * blurred.face_sharpness
    # pooled over several faces: a blurred second face lowers it
    other = Face(score=0.99, box=(0.7, 0.6, 0.8, 0.75), landmarks=())
    blurred_second = blurred_picture.copy()
    blurred_second.paste(sharp_picture.crop((200, 100, 320, 250)), (200, 100))
    pooled = with_face_sharpness(quality_of(blurred_second), blurred_second, [face, other])
    assert pooled.face_sharpness is not None


def test_face_sharpness_is_left_out_without_a_usable_face() -> None:
    picture, _ = face_picture(blur_face=False)
    quality = quality_of(picture)
    assert with_face_sharpness(quality, picture, []).face_sharpness is None
    speck = Face(score=0.99, box=(0.5, 0.5, 0.501, 0.501), landmarks=())
    assert with_face_sharpness(quality, picture, [speck]).face_sharpness is None
    assert quality.face_sharpness is None  # the original is not changed


def test_measuring_is_cheap() -> None:
    lumas = [grey(textured_scene(seed=s)) for s in range(3)] + [grey(phone_screen())]
    for luma in lumas:
        measure_quality(luma)
    timings = []
    for luma in lumas * 3:
        start = time.perf_counter()
        measure_quality(luma)
        timings.append((time.perf_counter() - start) * 1000)
    assert float(np.median(timings)) < MAX_MS_PER_PICTURE


def test_the_sharp_shot_of_each_neardup_blur_group_ranks_best() -> None:
    """../shared/neardup's blur groups: one sharp shot (best=1) and blurred versions, three of
    them real camera shots (sharp, defocused, shaken)."""
    if not (NEARDUP / "manifest.csv").is_file():
        pytest.skip("../shared/neardup is absent: no blur groups to rank")
    groups: dict[str, list[tuple[bool, Quality]]] = defaultdict(list)
    with (NEARDUP / "manifest.csv").open(newline="") as manifest:
        for row in csv.DictReader(manifest):
            if row["kind"] == "blur":
                quality = quality_of(decode_image(NEARDUP / row["file"]).image)
                groups[row["group"]].append((row["best"] == "1", quality))
    by_blur = by_score = 0
    for members in groups.values():
        best = next(q for is_best, q in members if is_best)
        others = [q for is_best, q in members if not is_best]
        by_blur += best.blur < min(q.blur for q in others)
        by_score += best.score > max(q.score for q in others)
    print(f"sharp shot lowest blur in {by_blur}/{len(groups)}, highest score {by_score}")
    assert len(groups) >= MIN_BLUR_GROUPS_RANKED
    assert by_blur >= MIN_BLUR_GROUPS_RANKED and by_score >= MIN_BLUR_GROUPS_RANKED
