"""The best shot of a group, and the reasons a person would give for it.

What counts, in this order of weight: a person's own verdict (an xmp:Rating, a rejection, an
edit); then for copies (exact/same) the original over a re-encoded, shrunk or stripped copy;
for a burst the sharpest frame (where the faces are, when every frame has faces), then the
better exposed, then the larger. Each member gets a score and words for what set it apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from xintud.duplicates.compare import Tier
from xintud.duplicates.fingerprint import Fingerprint

# Points, so that the order of weight above holds: a star or an edit outweighs any measure
# (even a copy at a fifth of the pixels: 6 x 2.3 halvings); a rejection puts a photo last.
STAR = 100.0
REJECTED = -1000.0
EDITED = 50.0
ACCIDENTAL = -8.0
SHARPNESS = 3.0  # per doubling of Laplacian variance relative to the group's sharpest
EXPOSURE = 2.0  # at 100% clipped pixels
COPY_PIXELS = 6.0  # copies: per halving of the pixel count relative to the largest
BURST_PIXELS = 1.0
CAMERA_EXIF = 1.5  # copies: the camera's EXIF survives in the original
JPEG_QUALITY = 1.0  # copies: from quality 100 down to 50 (a re-save may be at a higher one)
OLDEST = 2.0  # copies: the copy is made later than its original, whatever its quality
OLDER_BY_S = 1.0
SHARPER_BY = 1.25  # a frame is called "sharpest" when it leads the next by this factor
# Sharpness within this factor of the sharpest counts as equal: the same picture turned or
# re-encoded measures a few percent apart.
SAME_SHARPNESS = 1.08
TIE = 0.05  # scores this close are a tie: the older file, then the first by name


@dataclass(frozen=True)
class Judged:
    """One member with its score and what set it apart."""

    fingerprint: Fingerprint
    score: float
    reasons: tuple[str, ...]


def choose_best(members: list[Fingerprint], tier: Tier) -> list[Judged]:
    """The members judged, best first (ties go to the earlier-sorted path, stably)."""
    copies = tier in (Tier.EXACT, Tier.SAME)
    sharp = _sharpness_of(members)
    top_sharp = max(sharp.values())
    top_pixels = max(max(m.pixels, 1) for m in members)
    oldest = min(m.modified for m in members)
    judged = []
    for member in members:
        score = _verdict_points(member) + _exposure_points(member)
        ratio = sharp[member.key] / top_sharp
        if ratio * SAME_SHARPNESS < 1.0:
            score += SHARPNESS * math.log2(ratio) * (0.5 if copies else 1)
        pixel_weight = COPY_PIXELS if copies else BURST_PIXELS
        score += pixel_weight * math.log2(max(member.pixels, 1) / top_pixels)
        if copies:
            score += _originality_points(member, members, oldest)
        judged.append((score, member))
    ranked = _ranked(judged)
    return [Judged(member, round(score, 3), _reasons(member, members, sharp, copies, rank == 0))
            for rank, (score, member) in enumerate(ranked)]


def _ranked(judged: list[tuple[float, Fingerprint]]) -> list[tuple[float, Fingerprint]]:
    """Best first; members whose scores lie within TIE of each other (a run of them) are a
    tie, ranked by age and then name rather than by a rounding difference."""
    by_score = sorted(judged, key=lambda pair: -pair[0])
    ranked: list[tuple[float, Fingerprint]] = []
    run: list[tuple[float, Fingerprint]] = []
    for pair in by_score:
        if run and run[-1][0] - pair[0] >= TIE:
            ranked.extend(sorted(run, key=lambda p: (p[1].modified, str(p[1].path))))
            run = []
        run.append(pair)
    ranked.extend(sorted(run, key=lambda p: (p[1].modified, str(p[1].path))))
    return ranked


def _sharpness_of(members: list[Fingerprint]) -> dict[str, float]:
    """Per member: sharpness inside the faces when every member has faces measured, else the
    whole picture's Laplacian variance (comparable within a group: one scene)."""
    faces = [m.quality.face_sharpness for m in members]
    use_faces = all(value is not None and value > 0 for value in faces)
    return {m.key: max(1e-6, (m.quality.face_sharpness if use_faces else m.quality.sharpness)
                       or 1e-6)
            for m in members}


def _verdict_points(member: Fingerprint) -> float:
    points = 0.0
    if member.rating is not None:
        points += REJECTED if member.rating < 0 else STAR * member.rating
    if member.edited:
        points += EDITED
    if "accidental" in member.quality.flags:
        points += ACCIDENTAL
    return points


def _exposure_points(member: Fingerprint) -> float:
    return -EXPOSURE * min(1.0, member.quality.dark_clip + member.quality.bright_clip)


def _originality_points(member: Fingerprint, members: list[Fingerprint], oldest: float
                        ) -> float:
    points = CAMERA_EXIF if member.camera_exif else 0.0
    if member.jpeg_quality is not None:
        points += JPEG_QUALITY * (min(member.jpeg_quality, 100) - 100) / 50
    if member.modified == oldest and any(m.modified > oldest + OLDER_BY_S for m in members):
        points += OLDEST
    return points


def _reasons(member: Fingerprint, members: list[Fingerprint], sharp: dict[str, float],
             copies: bool, best: bool) -> tuple[str, ...]:
    """What sets this member apart from the others, in words."""
    reasons = []
    others = [m for m in members if m.key != member.key]
    if member.rating is not None:
        reasons.append("rejected (xmp:Rating -1)" if member.rating < 0
                       else f"rated {member.rating}★")
    if member.edited:
        reasons.append("edited")
    leader = max(sharp[m.key] for m in others) if others else 0.0
    if sharp[member.key] >= leader * SHARPER_BY:
        reasons.append("sharpest")
    elif sharp[member.key] * SHARPER_BY <= max(sharp.values()):
        reasons.append("blurrier than the best")
    if others and member.pixels > max(m.pixels for m in others):
        reasons.append(f"largest ({member.width}x{member.height})")
    elif others and member.pixels * 1.5 < max(m.pixels for m in members):
        reasons.append(f"smaller copy ({member.width}x{member.height})" if copies
                       else f"smaller ({member.width}x{member.height})")
    if copies and member.camera_exif and not all(m.camera_exif for m in others):
        reasons.append("keeps the camera's EXIF")
    finest = max((m.jpeg_quality or 0 for m in members), default=0)
    if copies and member.jpeg_quality is not None and member.jpeg_quality + 5 <= finest:
        reasons.append(f"re-encoded (JPEG quality {member.jpeg_quality})")
    reasons.extend(member.quality.suggestions)
    if best and not reasons:
        reasons.append("as good as the others; the first by name")
    return tuple(reasons)
