"""One self-contained HTML page to review duplicate groups and flagged shots in a browser.

Everything the page shows is inside the one file: thumbnails are embedded as `data:` JPEGs,
the CSS is inline, there is no JavaScript, and a Content-Security-Policy forbids any fetch —
the page can be opened from a USB stick or mailed to oneself and it never touches the network,
as nothing in xintud does. It only shows: nothing is moved or deleted by writing or opening it.

Every path and text is untrusted (a file name may hold `<`, `&`, quotes, newlines or bytes that
are not UTF-8): it goes through `printable` (control characters and undecodable bytes shown as
escapes, so the page is valid UTF-8) and then `html.escape`.
"""

from __future__ import annotations

import base64
import html
import io
import os
import tempfile
from collections import Counter
from pathlib import Path

from xintud.core.text import printable
from xintud.duplicates.report import GroupReport, MemberReport
from xintud.engine.decode import decode_image

THUMB_SIDE = 240  # px, the long side: sharp enough to compare, small enough for 1000 photos
THUMB_QUALITY = 80
TIER_WORDS = {"exact": "exact copy", "same": "same picture", "burst": "burst"}
SET_ASIDE_COMMAND = "xintuctl dupes set-aside GROUP"
FLAGGED_HEADING = "Blurry and accidental shots"

# Belt and braces with the inline-only page: even a reference slipped in later loads nothing.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_CSS = """
body { font: 15px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
h1 { font-size: 1.5em; margin: 0 0 .3em; }
h2 { font-size: 1.15em; margin: 0 0 .6em; }
.summary { background: #fff; border: 1px solid #ddd; padding: .8em 1.2em; margin-bottom: 1.5em; }
.note { color: #555; }
code { background: #eee; padding: 0 .25em; }
section.group, section#flagged { background: #fff; border: 1px solid #ddd; padding: 1em;
  margin-bottom: 1.5em; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr));
  gap: 1em; }
figure.member { margin: 0; padding: .6em; border: 2px solid #ddd; border-radius: 6px;
  position: relative; background: #fff; }
figure.member.best { border-color: #2a8a3e; background: #f0faf2; }
.badge { position: absolute; top: .4em; left: .4em; background: #2a8a3e; color: #fff;
  font-weight: bold; padding: .1em .5em; border-radius: 4px; }
.thumb { display: block; margin: 0 auto .5em; max-width: 100%; height: auto; }
.missing { height: 160px; display: flex; align-items: center; justify-content: center;
  text-align: center; background: #eee; color: #a33; border: 1px dashed #a33;
  margin-bottom: .5em; padding: .5em; overflow-wrap: anywhere; }
figcaption { font-size: .9em; overflow-wrap: anywhere; }
.name { font-weight: bold; }
.flag { display: inline-block; background: #fde8e8; color: #a33; border-radius: 4px;
  padding: 0 .4em; margin: .1em .2em 0 0; }
ul { margin: .3em 0; padding-left: 1.2em; }
details { margin-top: .8em; font-size: .85em; color: #555; }
"""


def write_review_page(groups: list[GroupReport], flagged: list[MemberReport], out: Path,
                      title: str = "xintud review") -> Path:
    """Write the review page to `out` atomically and return `out`.

    `groups` are the groups to review (reports of photos in no group, with `group` None, are
    left out: they belong in `flagged`, if anywhere); `flagged` are photos in no group whose
    quality has flags. A member whose file cannot be read any more gets a placeholder.
    """
    real = [group for group in groups if group.group is not None]
    page = render_page(real, flagged, title)
    # printable() leaves no surrogate behind; "replace" only guards against a future slip.
    _write_atomically(out, page.encode("utf-8", errors="replace"))
    return out


def flagged_singles(reports: list[GroupReport]) -> list[MemberReport]:
    """The photos in no group whose quality has flags, from `xintud dupes --all` reports."""
    return [member for report in reports if report.group is None
            for member in report.members if member.quality.flags]


def render_page(groups: list[GroupReport], flagged: list[MemberReport], title: str) -> str:
    """The whole page as text."""
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        f"<h1>{_esc(title)}</h1>", _render_summary(groups, flagged),
    ]
    parts.extend(_render_group(group) for group in groups)
    if flagged:
        parts.append(_render_flagged(flagged))
    parts.extend(["</body>", "</html>", ""])
    return "\n".join(parts)


def _render_summary(groups: list[GroupReport], flagged: list[MemberReport]) -> str:
    """Counts per tier, what could be set aside, and the reassurance that nothing was touched."""
    tiers = Counter(group.tier or "" for group in groups)
    per_tier = [f"<li>{tiers[tier]} {_esc(words)} group{'s' if tiers[tier] != 1 else ''}</li>"
                for tier, words in TIER_WORDS.items() if tiers[tier]]
    spare = sum(max(len(group.members) - 1, 0) for group in groups)
    return "\n".join([
        '<div class="summary" id="summary">',
        f"<p><strong>{len(groups)}</strong> group{'s' if len(groups) != 1 else ''}:</p>",
        f"<ul>{''.join(per_tier)}</ul>" if per_tier else "",
        f'<p><strong class="set-aside-count">{spare}</strong> photo{"s" if spare != 1 else ""}'
        " could be set aside (every member but the best of each group); "
        f'<strong class="flagged-count">{len(flagged)}</strong> blurry or accidental '
        f"shot{'s' if len(flagged) != 1 else ''} outside the groups.</p>",
        '<p class="note">Nothing has been moved or deleted. To set a group\'s other photos '
        f"aside, run <code>{_esc(SET_ASIDE_COMMAND)}</code> with the group's id.</p>",
        "</div>",
    ])


def _render_group(group: GroupReport) -> str:
    """One group: heading, member cards (best marked), and the links in a <details>."""
    group_id = _esc(group.group or "")
    tier = group.tier or ""
    words = TIER_WORDS.get(tier, tier)
    count = len(group.members)
    cards = "\n".join(_render_member(member, member.path == group.best)
                      for member in group.members)
    why = "".join(f"<li>{_esc(line)}</li>" for line in group.why)
    details = f"<details><summary>why these belong together</summary><ul>{why}</ul></details>"
    return "\n".join([
        f'<section class="group" id="group-{group_id}" data-tier="{_esc(tier)}">',
        f"<h2>{_esc(words)} · group <code>{group_id}</code> · {count} photo"
        f"{'s' if count != 1 else ''}</h2>",
        f'<div class="cards">{cards}</div>', details if group.why else "", "</section>",
    ])


def _render_flagged(flagged: list[MemberReport]) -> str:
    """The photos in no group that look blurry, badly exposed or taken by accident."""
    cards = "\n".join(_render_member(member, False, suggestions=True) for member in flagged)
    return "\n".join([
        '<section id="flagged">', f"<h2>{_esc(FLAGGED_HEADING)}</h2>",
        '<p class="note">Suggestions only: look at them and decide.</p>',
        f'<div class="cards">{cards}</div>', "</section>",
    ])


def _render_member(member: MemberReport, best: bool, suggestions: bool = False) -> str:
    """One photo's card: thumbnail (or a placeholder), name, score, flags and reasons."""
    path = _esc(member.path)
    name = _esc(os.path.basename(member.path) or member.path)
    uri = thumbnail_uri(member.path)
    if uri is None:
        picture = f'<div class="missing">missing: {path}</div>'
    else:
        picture = f'<img class="thumb" src="{uri}" alt="{name}">'
    quality = member.quality
    flags = "".join(f'<span class="flag">{_esc(flag)}</span>' for flag in quality.flags)
    lines = member.reasons + (quality.suggestions if suggestions else [])
    items = "".join(f"<li>{_esc(line)}</li>" for line in lines)
    return "\n".join([
        f'<figure class="member{" best" if best else ""}" data-path="{path}">',
        '<span class="badge">best</span>' if best else "", picture,
        f'<figcaption><div class="name" title="{path}">{name}</div>',
        f'<div class="score">quality {quality.score:.2f}'
        + (f" · best-shot score {member.score:.2f}" if not suggestions else "") + "</div>",
        f'<div class="flags">{flags}</div>' if flags else "",
        f'<ul class="reasons">{items}</ul>' if items else "", "</figcaption>", "</figure>",
    ])


def thumbnail_uri(path: str) -> str | None:
    """The photo as a `data:image/jpeg;base64,...` thumbnail, or None if it cannot be read."""
    try:
        picture = decode_image(Path(path)).image
    except Exception:
        # Moved, deleted, damaged or anything else since the groups were made: one file must
        # never take the whole page down; the card says "missing" instead.
        return None
    picture.thumbnail((THUMB_SIDE, THUMB_SIDE))  # in place, keeping the aspect ratio
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=THUMB_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _esc(text: str) -> str:
    """Untrusted text made safe for HTML text and quoted attributes (see module docstring)."""
    return html.escape(printable(text), quote=True)


def _write_atomically(out: Path, data: bytes) -> None:
    """Write to a temp file beside `out`, then rename: a reader never sees half a page."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes it 0600, which suits a page listing one's photos; the rename keeps it.
        os.replace(temp, out)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
