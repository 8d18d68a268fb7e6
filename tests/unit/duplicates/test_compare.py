"""compare(): the tier of a pair, on pictures drawn here — copies (re-encoded, resized, cropped,
turned) are `same`, the same bytes `exact`, a frame seconds later a `burst`, and the pairs that
only look alike (another scene, two screens of one app, two people on one ID backdrop) are not
grouped.

Fingerprints are made two ways: through the real engine (models, Classifier, then
fingerprint_of_file, as `xintud dupes` does) and, cheaper, straight from the pixels with the
engine's own grey → layout_thumbnail → pHash path.
"""

from __future__ import annotations

import io
import random
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from tests.support.images import app_screen, camera_exif, textured_photo
from xintud.core.facts import Analysis, Quality
from xintud.duplicates.compare import SCREEN_DISAGREEMENT, Tier, compare
from xintud.duplicates.fingerprint import Fingerprint, fingerprint_of_file
from xintud.duplicates.groups import GROUP_TIERS
from xintud.duplicates.report import describe_closeness, find_groups
from xintud.duplicates.vectors import EMBEDDING_SIZE, project
from xintud.engine.classify import Classifier, Job
from xintud.engine.hashes import layout_thumbnail, phash_variants
from xintud.engine.models.store import load_models
from xintud.engine.signals import grey

TAKEN = "2026:05:01 10:00:00"
CHAT = ["Alice: lunch at noon?", "Bob: the report is done", "Carol: see you", "Dan: ok"]
FIVE_SECONDS_LATER = "2026:05:01 10:00:05"
THREE_DAYS_LATER = "2026:05:04 10:00:05"
MOVED_PX = 160  # how far the foreground of the second frame moved (of 1200 px)


# --- pictures --------------------------------------------------------------------------------

@lru_cache(maxsize=8)  # drawn once per test run; callers only read it
def photo(seed: int, moved: int = 0, grain: int = 1, size: tuple[int, int] = (1200, 900)
          ) -> Image.Image:
    """A camera-like scene: textured land and sky with ten textured rectangles and ellipses;
    `moved` shifts the last five (the foreground of a later frame), `grain` is its noise."""
    rng = random.Random(seed)
    image = textured_photo(seed, size)
    texture = textured_photo(seed + 1000, size)
    for k in range(10):
        x0, y0 = rng.randrange(size[0] - 300), rng.randrange(size[1] - 300)
        width, height = rng.randrange(80, 300), rng.randrange(80, 300)
        if k >= 5:
            x0, y0 = x0 + moved, y0 + moved // 2
        mask = Image.new("L", size, 0)
        shape = ImageDraw.Draw(mask).rectangle if k % 2 else ImageDraw.Draw(mask).ellipse
        shape((x0, y0, x0 + width, y0 + height), fill=255)
        tint = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
        soft = mask.filter(ImageFilter.GaussianBlur(2))
        image.paste(Image.blend(texture, tint, 0.5), (0, 0), soft)
    noise = np.random.default_rng(seed * 100 + grain).normal(0, 5, (size[1], size[0], 3))
    return Image.fromarray(np.clip(np.asarray(image, np.float32) + noise, 0, 255).astype(np.uint8))


def id_photo(seed: int, size: tuple[int, int] = (600, 800)) -> Image.Image:
    """A drawn head and shoulders on the one pale-blue ID backdrop: face oval, hair (long,
    short or a bun), eyes, brows, nose, mouth, maybe glasses — a different person per seed."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (205, 222, 240))
    draw = ImageDraw.Draw(image)
    cx = size[0] // 2 + rng.randint(-25, 25)
    face_w, face_h, top = rng.randint(190, 250), rng.randint(250, 310), 200 + rng.randint(-25, 25)
    shirt = tuple(rng.randrange(20, 140) for _ in range(3))
    draw.ellipse((cx - 260, top + face_h - 20, cx + 260, top + face_h + 420), fill=shirt)
    skin = (rng.randint(170, 235), rng.randint(130, 195), rng.randint(100, 165))
    draw.rectangle((cx - 45, top + face_h - 40, cx + 45, top + face_h + 40), fill=skin)
    hair = tuple(rng.randrange(10, 110) for _ in range(3))
    style = rng.randrange(3)
    if style == 0:
        draw.rounded_rectangle((cx - face_w // 2 - 30, top - 40, cx + face_w // 2 + 30,
                                top + face_h + 60), 80, fill=hair)
    elif style == 1:
        draw.ellipse((cx - face_w // 2 - 12, top - 35, cx + face_w // 2 + 12, top + face_h // 2),
                     fill=hair)
    else:
        draw.ellipse((cx - 50, top - 110, cx + 50, top - 10), fill=hair)
        draw.ellipse((cx - face_w // 2 - 8, top - 25, cx + face_w // 2 + 8, top + face_h // 2),
                     fill=hair)
    draw.ellipse((cx - face_w // 2, top, cx + face_w // 2, top + face_h), fill=skin)
    eye_y, eye_x = top + face_h * rng.uniform(0.38, 0.47), face_w * rng.uniform(0.18, 0.26)
    for side in (-1, 1):
        x = cx + side * eye_x
        draw.ellipse((x - 18, eye_y - 9, x + 18, eye_y + 9), fill="white")
        draw.ellipse((x - 8, eye_y - 8, x + 8, eye_y + 8), fill=(60, 40, 20))
        draw.line((x - 22, eye_y - 22 - rng.randint(0, 10), x + 22, eye_y - 26), fill=hair,
                  width=6)
    draw.polygon([(cx, eye_y + 10), (cx - 16, eye_y + 60), (cx + 16, eye_y + 60)],
                 fill=tuple(c - 30 for c in skin))
    mouth_y, mouth_w = top + face_h * rng.uniform(0.72, 0.8), rng.randint(25, 50)
    draw.chord((cx - mouth_w, mouth_y - 16, cx + mouth_w, mouth_y + 16), 0, 180,
               fill=(160, 60, 70))
    if rng.random() < 0.5:
        for side in (-1, 1):
            x = cx + side * eye_x
            draw.ellipse((x - 32, eye_y - 26, x + 32, eye_y + 26), outline=(30, 30, 30), width=5)
    pixels = np.asarray(image.filter(ImageFilter.GaussianBlur(1.2)), np.float32)
    pixels += np.random.default_rng(seed).normal(0, 4, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def copies_of(image: Image.Image) -> dict[str, Image.Image]:
    """The copies that must be `same`: 40% size, 7% cropped off-centre, turned 90°."""
    width, height = image.size
    dx, dy = round(width * 0.07), round(height * 0.07)
    return {"resize_40": image.resize((width * 2 // 5, height * 2 // 5),
                                      Image.Resampling.LANCZOS),
            "crop_7_off_centre": image.crop((dx, 0, width, height - dy)),  # left and bottom
            "rotate_90": image.transpose(Image.Transpose.ROTATE_90)}


# --- fingerprints --------------------------------------------------------------------------

def drawn_fingerprint(image: Image.Image, scene: int, key: str, noise: int = 0,
                      **fields: object) -> Fingerprint:
    """A Fingerprint straight from the pixels, through the engine's own layout and pHash path.
    The vector stands in for the backbone's: a fixed random embedding per scene plus a little
    noise per copy (the models are not needed for what these tests check, the layout)."""
    layout, share = layout_thumbnail(grey(image))
    turns = phash_variants(layout)
    embedding = np.random.default_rng(scene).standard_normal(EMBEDDING_SIZE)
    embedding += np.random.default_rng(1000 + noise).normal(0, 0.2, EMBEDDING_SIZE)
    values: dict[str, object] = dict(
        key=key, sha256=key, path=Path(f"/drawn/{key}.jpg"), phash=turns[0],
        phash_turns=tuple(turns), layout=layout, vector=project(embedding), taken_at=None,
        camera=None, category="other", screen_like=False, width=image.width,
        height=image.height, content_share=share, file_bytes=1, modified=0.0,
        jpeg_quality=None, camera_exif=False, rating=None, edited=False, faces=0,
        quality=Quality(sharpness=100.0, brightness=0.5, dark_clip=0.0, bright_clip=0.0))
    values.update(fields)
    return Fingerprint(**values)  # type: ignore[arg-type]


def reencoded(image: Image.Image, quality: int) -> Image.Image:
    """The picture after a round trip through JPEG at `quality`."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Fingerprint]:
    """Files written here, analysed by the real engine: name → fingerprint (key: the path)."""
    folder = tmp_path_factory.mktemp("compare")
    scene = photo(1)
    scene.save(folder / "scene.jpg", quality=92, exif=camera_exif(taken=TAKEN).tobytes())
    (folder / "scene_copy.jpg").write_bytes((folder / "scene.jpg").read_bytes())
    scene.save(folder / "reencode_q60.jpg", quality=60)
    for name, copy in copies_of(scene).items():
        copy.save(folder / f"{name}.jpg", quality=90)
    photo(2).save(folder / "other_scene.jpg", quality=92)
    later = photo(1, moved=MOVED_PX, grain=2)
    later.save(folder / "frame_5s.jpg", quality=92,
               exif=camera_exif(taken=FIVE_SECONDS_LATER).tobytes())
    later.save(folder / "frame_3d.jpg", quality=92,
               exif=camera_exif(taken=THREE_DAYS_LATER).tobytes())
    id_photo(6).save(folder / "id_a.jpg", quality=92)
    id_photo(9).save(folder / "id_b.jpg", quality=92)
    screen = app_screen(CHAT)
    screen.save(folder / "Screenshot_20261201-101010.png")
    width, height = screen.size
    # copies a user makes: the status bar and the avatars cut off; a crop on all four sides
    screen.crop((60, 150, width, height)).save(folder / "Screenshot_cropped.jpg", quality=85)
    screen.crop((50, 100, width - 40, 900)).save(folder / "Screenshot_cut.jpg", quality=85)
    # and what is another screen: one message reworded, one more message below
    app_screen([*CHAT[:2], "Carol: running late, sorry", CHAT[3]]).save(
        folder / "Screenshot_20261201-101200.png")
    app_screen([*CHAT, "Eve: me too"]).save(folder / "Screenshot_20261201-101300.png")
    app_screen(["Erin: where are you", "Frank: call me back", "Grace: thanks!",
                "Heidi: photos attached"]).save(folder / "Screenshot_20261201-101500.png")
    found = {}
    with Classifier(load_models(threads=2), batch_size=8, decode_threads=2) as classifier:
        for result in classifier.classify(Job(path) for path in sorted(folder.iterdir())):
            assert isinstance(result, Analysis), result
            found[Path(result.path).name] = fingerprint_of_file(result, key=result.path)
    return found


def tier(a: Fingerprint, b: Fingerprint) -> Tier | None:
    return compare(a, b)[0]


# --- copies ----------------------------------------------------------------------------------

def test_the_same_bytes_are_exact(engine: dict[str, Fingerprint]) -> None:
    original, copy = engine["scene.jpg"], engine["scene_copy.jpg"]
    assert original.key != copy.key and original.sha256 == copy.sha256
    assert tier(original, copy) is Tier.EXACT


@pytest.mark.parametrize("copy", ["reencode_q60", "resize_40", "crop_7_off_centre",
                                  "rotate_90"])
def test_copies_through_the_engine_are_same(engine: dict[str, Fingerprint], copy: str) -> None:
    original = engine["scene.jpg"]
    assert not original.screen_like and original.camera_exif  # judged as a camera photo
    tier_found, close = compare(original, engine[f"{copy}.jpg"])
    assert tier_found is Tier.SAME, close
    assert tier(engine[f"{copy}.jpg"], original) is Tier.SAME  # either way round


@pytest.mark.parametrize("copy", ["reencode_q60", "resize_40", "crop_7_off_centre",
                                  "rotate_90"])
def test_copies_drawn_are_same(copy: str) -> None:
    scene = photo(3)
    copied = reencoded(scene, 60) if copy == "reencode_q60" else copies_of(scene)[copy]
    original = drawn_fingerprint(reencoded(scene, 92), scene=3, key="original")
    tier_found, close = compare(original, drawn_fingerprint(copied, scene=3, key=copy, noise=1))
    assert tier_found is Tier.SAME, close


def test_a_different_scene_is_unrelated(engine: dict[str, Fingerprint]) -> None:
    first = drawn_fingerprint(photo(1), scene=1, key="first")
    second = drawn_fingerprint(photo(2), scene=2, key="second")
    assert tier(first, second) is None
    # The real backbone finds two textured landscapes alike (similar at most), never a group;
    # a face is another kind of picture altogether.
    assert tier(engine["scene.jpg"], engine["other_scene.jpg"]) not in GROUP_TIERS
    assert tier(engine["scene.jpg"], engine["id_a.jpg"]) is None


# --- what only looks alike -------------------------------------------------------------------

def test_two_screens_of_one_app_are_not_same(engine: dict[str, Fingerprint]) -> None:
    first = engine["Screenshot_20261201-101010.png"]
    second = engine["Screenshot_20261201-101500.png"]
    assert first.screen_like and second.screen_like
    tier_found, close = compare(first, second)
    assert tier_found not in GROUP_TIERS, close
    # It is the screen rule that holds them apart: as camera photos they would be grouped.
    unscreened = [replace(fp, screen_like=False, category="other") for fp in (first, second)]
    assert tier(*unscreened) in GROUP_TIERS


@pytest.mark.parametrize("name", ["Screenshot_cropped.jpg", "Screenshot_cut.jpg"])
def test_a_cropped_copy_of_a_screenshot_is_same_by_its_screen_thumbnail(
        engine: dict[str, Fingerprint], name: str) -> None:
    first, copy = engine["Screenshot_20261201-101010.png"], engine[name]
    assert first.screen is not None and copy.screen is not None
    assert engine["scene.jpg"].screen is None, "a camera photo keeps no screen thumbnail"
    tier_found, close = compare(first, copy)
    assert tier_found is Tier.SAME, close
    assert close.screen is not None and close.screen <= SCREEN_DISAGREEMENT
    assert f"screens differ at most {close.screen:.2f}" in describe_closeness(close, tier_found)
    # the 64-px layouts alone hold it apart, as they must hold two screens of one app
    assert tier(replace(first, screen=None), replace(copy, screen=None)) is not Tier.SAME


def test_a_screen_with_one_message_reworded_is_not_same(engine: dict[str, Fingerprint]) -> None:
    tier_found, close = compare(engine["Screenshot_20261201-101010.png"],
                                engine["Screenshot_20261201-101200.png"])
    assert tier_found not in GROUP_TIERS, close
    assert close.screen is not None and close.screen > SCREEN_DISAGREEMENT, close


def test_a_screen_with_one_more_message_is_not_same(engine: dict[str, Fingerprint]) -> None:
    """Inside their flat borders the shorter chat is, pixel for pixel, the top 85% of the
    longer one: only a light crop (SCREEN_LEAST_SHARE) counts as a copy."""
    tier_found, close = compare(engine["Screenshot_20261201-101010.png"],
                                engine["Screenshot_20261201-101300.png"])
    assert tier_found not in GROUP_TIERS, close


def test_a_frame_seconds_later_is_a_burst_but_not_days_later(
        engine: dict[str, Fingerprint]) -> None:
    first = engine["scene.jpg"]
    soon, days = engine["frame_5s.jpg"], engine["frame_3d.jpg"]
    tier_found, close = compare(first, soon)
    assert close.seconds_apart == pytest.approx(5.0)
    assert tier_found is Tier.BURST, close
    tier_found, close = compare(first, days)
    assert close.seconds_apart == pytest.approx(3 * 86400 + 5)
    assert tier_found not in GROUP_TIERS, close
    # Another camera's frame at the same moment is not this camera's burst.
    assert tier(first, replace(soon, camera="Other Phone")) is not Tier.BURST


def test_two_people_on_one_id_backdrop_are_not_a_burst(engine: dict[str, Fingerprint]) -> None:
    # The face detector does not take drawn faces for faces, so the category is set as the
    # engine gives it to real ID photos (on an AVX2-only CPU the int8 head even calls one of
    # these drawings a screenshot, which would make the screen rule decide instead).
    first, second = (replace(engine[name], category="idphoto", screen_like=False)
                     for name in ("id_a.jpg", "id_b.jpg"))
    tier_found, close = compare(first, second)
    assert tier_found not in GROUP_TIERS, close
    # Other pictures this alike, untimed, would be a burst: the ID template rule decides.
    assert tier(replace(first, category="other"), replace(second, category="other")) \
        is Tier.BURST


def test_alike_in_content_only_is_similar_and_shown_only_on_request() -> None:
    """Another picture of the same kind of place (its embedding the same, its layout not): no
    group by default; `similar` on request, as `xintud dupes --tier similar` asks."""
    place = drawn_fingerprint(photo(1), scene=1, key="monday")
    other_day = drawn_fingerprint(photo(2), scene=1, key="tuesday", noise=1)
    assert tier(place, other_day) is Tier.SIMILAR
    assert find_groups([place, other_day]) == []
    shown = find_groups([place, other_day], Tier.SIMILAR)
    assert [(g.tier, len(g.members)) for g in shown] == [(Tier.SIMILAR, 2)]
