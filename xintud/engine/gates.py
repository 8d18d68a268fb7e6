"""When the optional networks run: each only where what it sees can change the answer.

The backbone runs on every picture, and the glance head answers from it alone. Where that
answer is sure (GLANCE_SURE), it stands: the detector, the face detector and the text detector
each cost as much as the backbone or more, and would not change it. Elsewhere the detector
looks (not on screen captures), the face detector where it saw a person, and the first head
answers; the text detector reads the picture where that answer is about writing or unsure, and
the text head answers. Training replays the same gates (training.train_head.Heads), so the
heads are measured as they run.
"""

from __future__ import annotations

from xintud.core.facts import Detection, MetadataCues

# The glance head's confidence from which its answer stands: the lowest at which its answers
# were >= 99% right, out of fold in grouped CV on ../shared/photos (training/reports/head.json,
# glance: at 0.95, 69% of the photos stop there and 99.3% of those are right; 0.9: 97.9%;
# 0.97: 62%, 99.4%; 0.99: 47%, 99.6%). The pipeline's grouped macro accuracy was the same at
# 0.95 and 0.97 (93.6 / 93.5% with one fixed setting).
GLANCE_SURE = 0.95

# A face is looked for only where the detector saw a person at least this sure: a face
# without a COCO person is rare (measured on ../shared/photos, training/reports/head.json).
FACE_PERSON_MIN_SCORE = 0.3
# The categories writing tells apart: screenshots, documents/receipts (other) and photos of
# screens; the text head is asked when the first answer is one of them or is unsure.
TEXT_CATEGORIES = frozenset({"screenshot", "other"})
TEXT_UNSURE_BELOW = 0.8  # the first answer's confidence under which writing is looked for
TEXT_RUNNER_UP_ABOVE = 0.1  # a text category this likely as runner-up gets a look too


def glance_is_enough(scores: dict[str, float]) -> str | None:
    """Why the glance head's answer stands without a closer look, or None when it does not."""
    best, confidence = max(scores.items(), key=lambda item: item[1])
    if confidence >= GLANCE_SURE:
        return f"the backbone alone is sure ({best} {confidence:.2f})"
    return None


def detector_skip_reason(metadata: MetadataCues) -> str | None:
    """Why the detector need not look at this picture, or None when it must.

    A screen capture is a screenshot whatever it shows — a video call full of faces included —
    so people, pets and food found on it cannot change the category. A PNG (or a file named or
    filed as a screenshot) at a phone or desktop screen size, with no camera in its EXIF, is a
    screen capture.
    """
    if metadata.camera_exif or not metadata.screen_size:
        return None
    if metadata.format == "PNG":
        return "a PNG at a screen size without camera EXIF is a screen capture"
    if metadata.screenshot_name or metadata.screenshot_folder:
        return "named or filed as a screenshot, at a screen size, without camera EXIF"
    return None


def faces_skip_reason(detections: list[Detection], detector_skipped: bool) -> str | None:
    """Why faces need not be looked for, or None when they must: without a person in the
    picture (or on a screen capture) a face cannot tip single/social/ID photo."""
    if detector_skipped:
        return "a screen capture (the detector did not look either)"
    if not any(d.label == "person" and d.score >= FACE_PERSON_MIN_SCORE for d in detections):
        return "no person detected"
    return None


def text_look_reason(scores: dict[str, float]) -> str | None:
    """Why the text detector should look, given the first answer's scores, or None when
    writing cannot change it: the answer is sure and none of the categories writing tells
    apart is in play."""
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    (best, confidence), (runner_up, second) = ranked[0], ranked[1]
    if best in TEXT_CATEGORIES:
        return f"first answer {best} {confidence:.2f}: writing tells {best} apart"
    if runner_up in TEXT_CATEGORIES and second >= TEXT_RUNNER_UP_ABOVE:
        return f"{runner_up} {second:.2f} is the runner-up"
    if confidence < TEXT_UNSURE_BELOW:
        return f"first answer unsure ({best} {confidence:.2f})"
    return None
