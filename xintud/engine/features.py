"""The category head's input: the backbone embedding plus explicit, named signals.

Shared by the daemon (decide.py) and by training (training.train_head) so that both build
exactly the same vector; the names are stored with the head's weights and checked at load time.
"""

from __future__ import annotations

import numpy as np

from xintud.core.facts import Detection, Facts

EMBEDDING_SIZE = 1280
PERSON_MIN_SCORE = 0.5

# ImageNet-1k class index ranges (standard synset order) that bear on our categories.
IMAGENET_GROUPS: dict[str, tuple[tuple[int, int], ...]] = {
    "dogs": ((151, 268),),
    "cats": ((281, 285),),
    "small_pets": ((330, 333), (338, 338)),  # rabbits, hamster, guinea pig
    "food": ((923, 969),),  # plate … eggnog: dishes, fruit, vegetables, drinks
    "scenery": ((970, 980),),  # alp, cliff, coral reef, geyser, lakeside … volcano
    "screen": ((916, 918), (921, 922), (664, 664), (782, 782), (851, 851)),
    # web site, comic book, crossword, book jacket, menu, monitor, screen, television
}

COCO_PETS = frozenset({"cat", "dog"})
COCO_ANIMALS = frozenset({"bird", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"})
COCO_FOOD = frozenset({"banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog",
                       "pizza", "donut", "cake"})
COCO_TABLEWARE = frozenset({"bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl",
                            "dining table"})

SIGNAL_NAMES: tuple[str, ...] = (
    "person_count", "person_one", "person_many", "person_largest_area", "person_area_sum",
    "person_largest_height", "person_top_score", "person_second_score",
    "person_count_loose", "person_count_sure", "person_count_large", "person_second_area_ratio",
    "pet_score", "animal_score", "food_score", "tableware_score",
    *(f"imagenet_{group}" for group in IMAGENET_GROUPS),
    "png", "camera_exif", "log_aspect", "screen_size", "border_uniformity",
    "log_sharpness", "brightness",
)
FEATURE_NAMES: tuple[str, ...] = (
    *(f"emb{i}" for i in range(EMBEDDING_SIZE)), *SIGNAL_NAMES
)


def _area(box: tuple[float, float, float, float]) -> float:
    x0, y0, x1, y1 = box
    return max(0.0, x1 - x0) * max(0.0, y1 - y0)


def _best_score(detections: list[Detection], labels: frozenset[str]) -> float:
    return max((d.score for d in detections if d.label in labels), default=0.0)


def person_signals(detections: list[Detection]) -> list[float]:
    """How many people, how large and how sure: single vs social vs ID photo.

    A portrait has one dominant person (maybe bystanders); a group has several of similar size.
    """
    people = sorted((d for d in detections if d.label == "person"), key=lambda d: -d.score)
    confident = [d for d in people if d.score >= PERSON_MIN_SCORE]
    areas = sorted((_area(d.box) for d in confident), reverse=True)
    heights = [d.box[3] - d.box[1] for d in confident]
    scores = [d.score for d in people] + [0.0, 0.0]
    largest = areas[0] if areas else 0.0
    return [
        float(min(len(confident), 6)),
        float(len(confident) == 1),
        float(len(confident) >= 2),
        largest,
        min(sum(areas), 3.0),
        max(heights, default=0.0),
        scores[0],
        scores[1],
        float(min(len(people), 8)),
        float(min(sum(d.score >= 0.7 for d in people), 6)),
        float(min(sum(h >= 0.3 for h in heights), 6)),
        areas[1] / largest if len(areas) > 1 and largest > 0 else 0.0,
    ]


def imagenet_group_signals(probs: np.ndarray) -> list[float]:
    """Log-probability mass of each ImageNet group (log so that small masses still count)."""
    out = []
    for ranges in IMAGENET_GROUPS.values():
        mass = sum(float(probs[lo:hi + 1].sum()) for lo, hi in ranges)
        out.append(float(np.log(mass + 1e-4)))
    return out


def signal_vector(facts: Facts) -> np.ndarray:
    """The named explicit signals, in SIGNAL_NAMES order."""
    meta = facts.metadata
    detections = facts.detections
    values = [
        *person_signals(detections),
        _best_score(detections, COCO_PETS),
        _best_score(detections, COCO_ANIMALS),
        _best_score(detections, COCO_FOOD),
        _best_score(detections, COCO_TABLEWARE),
        *imagenet_group_signals(facts.imagenet_probs),
        float(meta.format == "PNG"),
        float(meta.camera_exif),
        float(np.log(max(meta.height, 1) / max(meta.width, 1))),
        float(meta.screen_size),
        meta.border_uniformity,
        float(np.log1p(facts.quality.sharpness)),
        facts.quality.brightness,
    ]
    return np.asarray(values, dtype=np.float32)


def feature_vector(facts: Facts) -> np.ndarray:
    """Embedding followed by the signals, in FEATURE_NAMES order."""
    return np.concatenate([facts.embedding.astype(np.float32), signal_vector(facts)])
