"""The review page: one self-contained, escaped HTML file, checked as parsed HTML and as a real
headless Chromium renders it."""

from __future__ import annotations

import base64
import io
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from xintud.core.facts import Quality
from xintud.duplicates.report import GroupReport, MemberReport
from xintud.duplicates.review_page import flagged_singles, write_review_page

HOSTILE_NAME = "<b>&\"x'.jpg"
NON_UTF8_NAME = os.fsdecode(b"caf\xe9\nnight.jpg")  # an undecodable byte and a newline
RED, BLUE, GREEN, YELLOW = (255, 0, 0), (0, 0, 255), (0, 160, 0), (250, 220, 0)


# --- the photos and reports, drawn and built here ------------------------------------------

def draw(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (400, 300)) -> str:
    """A plain picture of one colour with a white bar (JPEG or PNG, by the suffix)."""
    picture = Image.new("RGB", size, colour)
    ImageDraw.Draw(picture).rectangle((0, size[1] - 30, size[0], size[1]), fill="white")
    picture.save(path, quality=95) if path.suffix == ".jpg" else picture.save(path)
    return str(path)


def member(path: str, score: float = 0.0, flags: list[str] | None = None,
           suggestions: list[str] | None = None, reasons: list[str] | None = None) -> MemberReport:
    quality = Quality(sharpness=100.0, brightness=0.5, dark_clip=0.0, bright_clip=0.0,
                      score=0.4 if flags else 0.9, flags=flags or [],
                      suggestions=suggestions or [])
    return MemberReport(path=path, sha256="0" * 64, score=score, quality=quality,
                        reasons=reasons or [])


@dataclass
class Library:
    groups: list[GroupReport]
    flagged: list[MemberReport]
    paths: dict[str, str]


@pytest.fixture
def library(tmp_path: Path) -> Library:
    """Three groups (one member missing, one hostile name, one non-UTF-8 name) and one blurry
    photo in no group."""
    photos = tmp_path / "photos"
    photos.mkdir()
    paths = {
        "red": draw(photos / "red.jpg", RED),
        "red_png": draw(photos / "red copy.png", RED),
        "missing": str(photos / "moved-away.jpg"),
        "hostile": draw(photos / HOSTILE_NAME, BLUE),
        "green": draw(photos / "green.jpg", GREEN, (300, 400)),
        "yellow": draw(photos / "yellow.jpg", YELLOW),
        "non_utf8": draw(photos / NON_UTF8_NAME, YELLOW),
        "broken": str(photos / "broken.jpg"),
    }
    Path(paths["broken"]).write_bytes(b"\xff\xd8\xff not really a JPEG")
    blurry = Image.effect_noise((400, 300), 60).convert("RGB").filter(ImageFilter.BoxBlur(12))
    blurry.save(photos / "blurry.png")
    paths["blurry"] = str(photos / "blurry.png")
    groups = [
        GroupReport(group="a1b2c3", tier="same", best=paths["red"], members=[
            member(paths["red"], 1.0, reasons=["largest", "sharpest"]),
            member(paths["red_png"], 0.5), member(paths["missing"], 0.1)],
            why=["red.jpg ~ red copy.png: same: cosine 0.99, pHash 0 bits"]),
        GroupReport(group="d4e5f6", tier="burst", best=paths["hostile"], members=[
            member(paths["hostile"], 0.9, reasons=[f"sharper than {HOSTILE_NAME}"]),
            member(paths["green"], 0.2, flags=["motion_blur"])],
            why=[f"{HOSTILE_NAME} ~ green.jpg: burst: cosine 0.91, 2 s apart"]),
        GroupReport(group="0789ab", tier="exact", best=paths["yellow"], members=[
            member(paths["yellow"], 0.7), member(paths["non_utf8"], 0.7),
            member(paths["broken"], 0.0)]),
    ]
    flagged = [member(paths["blurry"], flags=["blurry"],
                      suggestions=["looks blurry: out of focus or shaken"])]
    return Library(groups, flagged, paths)


# --- reading the page back ------------------------------------------------------------------

@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    section: str | None  # the id of the innermost <section> around it
    text: str = ""

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class Page(HTMLParser):
    """Every element with its attributes, enclosing section and own text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        sections = [e.attrs.get("id") for e in self._open if e.tag == "section"]
        element = Element(tag, {k: v or "" for k, v in attrs}, sections[-1] if sections else None)
        self.elements.append(element)
        if tag not in {"img", "meta", "br", "link", "input"}:  # void elements never close
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop().tag != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1].text += data

    def find(self, tag: str, cls: str | None = None, section: str | None = None) -> list[Element]:
        return [e for e in self.elements if e.tag == tag and (cls is None or cls in e.classes)
                and (section is None or e.section == section)]


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def assert_self_contained(text: str) -> None:
    for reference in ("http://", "https://", 'src="/', "src='/", 'src="file:', "url(", "@import",
                      "<script", "<link"):
        assert reference not in text, reference


@pytest.fixture
def page_path(library: Library, tmp_path: Path) -> Path:
    return write_review_page(library.groups, library.flagged, tmp_path / "out" / "review.html")


# --- the page as HTML -----------------------------------------------------------------------

def test_every_group_is_a_section_with_its_tier_and_members(page_path: Path,
                                                             library: Library) -> None:
    page = parse(page_path.read_text("utf-8"))
    sections = {e.attrs["id"]: e for e in page.find("section", "group")}
    assert list(sections) == ["group-a1b2c3", "group-d4e5f6", "group-0789ab"]
    assert [s.attrs["data-tier"] for s in sections.values()] == ["same", "burst", "exact"]
    headings = {e.section: e.text for e in page.find("h2")}
    assert "same picture" in headings["group-a1b2c3"] and "3 photos" in headings["group-a1b2c3"]
    assert "burst" in headings["group-d4e5f6"] and "2 photos" in headings["group-d4e5f6"]
    assert "exact copy" in headings["group-0789ab"]
    for group in library.groups:
        section = f"group-{group.group}"
        figures = page.find("figure", "member", section)
        assert len(figures) == len(group.members)
        best = page.find("figure", "best", section)
        assert len(best) == 1 and best[0] is figures[0]
        badges = page.find("span", "badge", section)
        assert [b.text for b in badges] == ["best"]
    assert len(page.find("details")) == 2  # the groups with `why` lines


def test_thumbnails_are_embedded_small_jpegs_and_nothing_is_fetched(page_path: Path) -> None:
    text = page_path.read_text("utf-8")
    assert_self_contained(text)
    images = parse(text).find("img")
    assert len(images) == 7  # 9 grouped and flagged photos, minus the missing and the broken
    for image in images:
        prefix, _, data = image.attrs["src"].partition(",")
        assert prefix == "data:image/jpeg;base64"
        thumb = Image.open(io.BytesIO(base64.b64decode(data)))
        assert thumb.format == "JPEG" and max(thumb.size) <= 240


def test_a_missing_or_broken_file_gets_a_placeholder(page_path: Path, library: Library) -> None:
    page = parse(page_path.read_text("utf-8"))
    placeholders = [e.text for e in page.find("div", "missing")]
    assert placeholders == [f"missing: {library.paths['missing']}",
                            f"missing: {library.paths['broken']}"]


def test_paths_and_texts_are_escaped(page_path: Path, library: Library) -> None:
    raw = page_path.read_bytes()
    text = raw.decode("utf-8")  # strictly: the page is valid UTF-8 despite the file name
    assert HOSTILE_NAME not in text and "<b>" not in text
    assert "&lt;b&gt;&amp;&quot;x&#x27;.jpg" in text
    page = parse(text)
    figures = {e.attrs["data-path"]: e for e in page.find("figure")}
    assert library.paths["hostile"] in figures  # the attribute reads back as the real path
    names = [e.text for e in page.find("div", "name")]
    assert HOSTILE_NAME in names
    assert "caf\\xe9\\nnight.jpg" in names  # shown as escapes, as xintud prints names
    assert any(HOSTILE_NAME in e.text for e in page.find("li"))  # reasons and why lines too
    titles = [e.attrs["title"] for e in page.find("div", "name")]
    assert library.paths["hostile"] in titles  # the full path on hover


def test_flagged_shots_have_their_own_section_with_suggestions(page_path: Path,
                                                               library: Library) -> None:
    page = parse(page_path.read_text("utf-8"))
    (figure,) = page.find("figure", "member", "flagged")
    assert figure.attrs["data-path"] == library.paths["blurry"]
    assert "best" not in figure.classes
    assert [e.text for e in page.find("h2", section="flagged")] == ["Blurry and accidental shots"]
    assert [e.text for e in page.find("span", "flag", "flagged")] == ["blurry"]
    assert "looks blurry: out of focus or shaken" in [e.text for e in page.find("li")]


def test_summary_counts_and_says_nothing_was_touched(page_path: Path) -> None:
    text = page_path.read_text("utf-8")
    page = parse(text)
    summary = " ".join(e.text for e in page.elements if e.section is None)
    for line in ("1 exact copy group", "1 same picture group", "1 burst group"):
        assert line in summary
    assert [e.text for e in page.find("strong", "set-aside-count")] == ["5"]
    assert [e.text for e in page.find("strong", "flagged-count")] == ["1"]
    assert "Nothing has been moved or deleted" in text
    assert "xintuctl dupes set-aside GROUP" in text


def test_written_atomically(library: Library, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "review.html"
    out.write_text("old page")

    def refuse(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_review_page(library.groups, [], out)
    assert out.read_text() == "old page"  # the old page stays whole
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["review.html"]
    monkeypatch.undo()
    write_review_page(library.groups, [], out)
    assert out.read_text("utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["review.html"]


def test_no_groups_makes_a_page_too(tmp_path: Path) -> None:
    text = write_review_page([], [], tmp_path / "empty.html").read_text("utf-8")
    assert "0</strong> groups" in text and 'id="flagged"' not in text


def test_flagged_singles_picks_flagged_photos_in_no_group(library: Library) -> None:
    single = GroupReport(group=None, tier=None, best=library.paths["blurry"],
                         members=library.flagged)
    sharp = GroupReport(group=None, tier=None, best="x.jpg", members=[member("x.jpg")])
    assert flagged_singles([*library.groups, single, sharp]) == library.flagged


# --- the page in a real browser ------------------------------------------------------------

CHROMIUM_TIMEOUT = 30  # s; it takes 1-3 s, the rest is for a loaded CI machine
# Running as root in a container: no sandbox (it needs user namespaces), no /dev/shm (often
# 64 MB there), a private profile (else it may wait on a locked one in $HOME), and none of the
# background fetches, first-run or crash-reporter work that can stall a headless start.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-breakpad", "--mute-audio",
    "--hide-scrollbars", "--window-size=1200,2000",
]


def chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("no chromium or chromium-browser on PATH: the browser test needs it "
                    "(./run-tests installs it with apt-get when run as root)")
    return binary


def run_chromium(args: list[str], profile: Path) -> str:
    """Run it, return stdout; on a hang kill its whole process group (it forks helpers)."""
    process = subprocess.Popen([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        out, err = process.communicate(timeout=CHROMIUM_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"chromium did not finish in {CHROMIUM_TIMEOUT} s")
    assert process.returncode == 0, err[-2000:]
    return out


def colour_pixels(pixels: np.ndarray, colour: tuple[int, int, int], tolerance: int = 40) -> int:
    return int((np.abs(pixels - np.array(colour)).max(axis=2) <= tolerance).sum())


@pytest.mark.slow
def test_chromium_renders_the_groups_and_the_thumbnails(page_path: Path, tmp_path: Path) -> None:
    url = page_path.resolve().as_uri()
    shot = tmp_path / "shot.png"
    run_chromium([f"--screenshot={shot}", url], tmp_path / "profile-shot")
    assert shot.is_file()
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (2000, 1200)
    assert pixels.std() > 20  # not a blank page
    # The thumbnails as drawn (240 x 180 of one colour, minus the white bar): the browser
    # decoded the embedded JPEGs, so the page works without any file beside it.
    assert colour_pixels(pixels, RED) > 2 * 30_000  # red.jpg and red copy.png
    assert colour_pixels(pixels, BLUE) > 30_000  # the hostile name's photo
    assert colour_pixels(pixels, (0xF0, 0xFA, 0xF2), 3) > 10_000  # the best cards' background

    dom = run_chromium(["--dump-dom", url], tmp_path / "profile-dom")
    assert_self_contained(dom)
    page = parse(dom)
    assert [e.attrs["id"] for e in page.find("section", "group")] == [
        "group-a1b2c3", "group-d4e5f6", "group-0789ab"]
    assert len(page.find("figure", "best")) == 3
    assert len(page.find("span", "badge")) == 3
    assert len(page.find("figure", "member", "flagged")) == 1
    assert page.find("b") == []  # the hostile name stayed text in the browser's DOM
