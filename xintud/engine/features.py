"""The category head's input: the backbone embedding plus explicit, named signals.

Shared by the daemon (decide.py) and by training (training.train_head) so that both build
exactly the same vector; the names are stored with the head's weights and checked at load time.
"""

from __future__ import annotations

import numpy as np

from xintud.core.facts import Detection, Face, Facts, HeadBackground, TextLayout

EMBEDDING_SIZE = 1280
IMAGENET_MASS_FLOOR = 1e-4  # added before the log: a group with no mass still gets a value
PERSON_MIN_SCORE = 0.5
# Face counts at two confidences: MTCNN's O-net score; 0.9 finds more faces in crowds (and a
# few false ones), 0.99 is what a clear face in a portrait or ID photo scores.
FACE_LOOSE, FACE_SURE = 0.9, 0.99

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
    "log_aspect", "screen_size", "border_uniformity",
    "log_sharpness", "brightness",
)
FACE_SIGNAL_NAMES: tuple[str, ...] = (
    "faces_looked", "face_count_loose", "face_count_sure", "face_one", "face_many",
    "face_largest_area", "face_largest_height", "face_second_ratio", "face_off_centre",
    "face_centre_y", "face_frontal", "face_tilt", "faces_minus_persons",
    "head_bg_known", "head_bg_uniformity", "head_bg_brightness", "head_bg_saturation",
    "head_bg_blue", "head_bg_red",
)
TEXT_SIGNAL_NAMES: tuple[str, ...] = (
    "text_looked", "text_boxes", "text_lines", "text_many_lines", "text_area",
    "text_left_aligned", "text_height_spread", "text_top", "text_middle", "text_bottom",
)
# The glance head's signals: those that need no network besides the backbone.
GLANCE_SIGNAL_NAMES: tuple[str, ...] = (
    *(f"imagenet_{group}" for group in IMAGENET_GROUPS),
    "log_aspect", "screen_size", "border_uniformity", "log_sharpness", "brightness",
)
EMBEDDING_NAMES: tuple[str, ...] = tuple(f"emb{i}" for i in range(EMBEDDING_SIZE))
GLANCE_FEATURE_NAMES: tuple[str, ...] = (*EMBEDDING_NAMES, *GLANCE_SIGNAL_NAMES)
FEATURE_NAMES: tuple[str, ...] = (*EMBEDDING_NAMES, *SIGNAL_NAMES, *FACE_SIGNAL_NAMES)
# The text head's features: the first head's and what the text detector found.
TEXT_FEATURE_NAMES: tuple[str, ...] = (*FEATURE_NAMES, *TEXT_SIGNAL_NAMES)


def box_area(box: tuple[float, float, float, float]) -> float:
    """The area of an (x0, y0, x1, y1) box in fractions of the picture: its share of it."""
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
    areas = sorted((box_area(d.box) for d in confident), reverse=True)
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
        out.append(float(np.log(mass + IMAGENET_MASS_FLOOR)))
    return out


PET_GROUPS = ("dogs", "cats", "small_pets")
PET_COLUMNS = np.array([FEATURE_NAMES.index(f"imagenet_{group}") for group in PET_GROUPS])


def pet_mass(features: np.ndarray) -> np.ndarray:
    """The ImageNet probability of dogs, cats and small pets together, from feature vectors
    ([..., FEATURE_NAMES or TEXT_FEATURE_NAMES]): what the backbone says about a pet."""
    logs = features[..., PET_COLUMNS]
    return np.clip(np.exp(logs) - IMAGENET_MASS_FLOOR, 0.0, None).sum(axis=-1)


def frontalness(face: Face) -> tuple[float, float]:
    """(frontal, tilt) from the five landmarks: frontal is 1 when the nose sits midway between
    the eyes (0 at a profile), tilt the eye line's slope (0 when level)."""
    (lx, ly), (rx, ry), (nx, _ny) = face.landmarks[0], face.landmarks[1], face.landmarks[2]
    eye_distance = max(abs(rx - lx), 1e-4)
    offset = abs(nx - (lx + rx) / 2) / eye_distance
    return max(0.0, 1.0 - 2.0 * offset), min(abs(ry - ly) / eye_distance, 1.0)


def background_signals(background: HeadBackground | None) -> list[float]:
    """The head's surroundings: known?, plain?, and its colour (ID photos: white/blue/red)."""
    if background is None:
        return [0.0] * 6
    return [1.0, background.uniformity, background.brightness, background.saturation,
            background.blue, background.red]


def face_signals(faces: list[Face] | None, detections: list[Detection],
                 background: HeadBackground | None) -> list[float]:
    """How many faces, how large, where and how frontal, against the COCO persons: a portrait
    has one large frontal face; an ID photo one centred on a plain background; a group several
    of similar size. All zero when faces were not looked for (faces_looked says which)."""
    if faces is None:
        return [0.0] * len(FACE_SIGNAL_NAMES)
    loose = sorted((f for f in faces if f.score >= FACE_LOOSE), key=lambda f: -box_area(f.box))
    sure = sum(f.score >= FACE_SURE for f in loose)
    persons = sum(d.label == "person" and d.score >= PERSON_MIN_SCORE for d in detections)
    values = [1.0, float(min(len(loose), 8)), float(min(sure, 8)), float(sure == 1),
              float(sure >= 2)]
    if loose:
        largest = loose[0]
        area = box_area(largest.box)
        frontal, tilt = frontalness(largest)
        centre_x = (largest.box[0] + largest.box[2]) / 2
        centre_y = (largest.box[1] + largest.box[3]) / 2
        second = box_area(loose[1].box) / area if len(loose) > 1 and area > 0 else 0.0
        values += [area, largest.box[3] - largest.box[1], second, abs(centre_x - 0.5), centre_y,
                   frontal, tilt]
    else:
        values += [0.0] * 7
    values.append(float(np.clip(len(loose) - persons, -4, 4)))
    return values + background_signals(background)


def text_signals(text: TextLayout | None) -> list[float]:
    """The layout of the writing, in TEXT_SIGNAL_NAMES order; zeros when not looked for."""
    if text is None:
        return [0.0] * len(TEXT_SIGNAL_NAMES)
    return [1.0, float(np.log1p(text.boxes)), float(np.log1p(text.lines)),
            float(text.lines >= 3), text.area, text.left_aligned, min(text.height_spread, 3.0),
            text.top, text.middle, text.bottom]


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
        float(np.log(max(meta.height, 1) / max(meta.width, 1))),
        float(meta.screen_size),
        meta.border_uniformity,
        float(np.log1p(facts.quality.sharpness)),
        facts.quality.brightness,
        *face_signals(facts.faces, detections, facts.background),
    ]
    return np.asarray(values, dtype=np.float32)


def embedding_features(embedding: np.ndarray) -> np.ndarray:
    """The embedding as the head reads it: square roots of the pooled activations (all >= 0
    after ReLU6), so that a few large activations do not outweigh many small ones; measured
    on ../shared/photos by grouped CV, 92.6 -> 93.3% macro."""
    return np.sqrt(np.maximum(embedding.astype(np.float32), 0.0))


def feature_vector(facts: Facts) -> np.ndarray:
    """Embedding followed by the signals, in FEATURE_NAMES order."""
    return np.concatenate([embedding_features(facts.embedding), signal_vector(facts)])


# Where the glance head's features sit in the first head's vector.
GLANCE_COLUMNS = np.array([FEATURE_NAMES.index(name) for name in GLANCE_FEATURE_NAMES])


def features_for(feature_names: tuple[str, ...], full: np.ndarray, facts: Facts) -> np.ndarray:
    """The input of a head with these feature names (one of the three layouts), from the
    picture's feature_vector (`full`, FEATURE_NAMES) and, for the text head, its writing."""
    if feature_names == TEXT_FEATURE_NAMES:
        return np.concatenate([full, np.asarray(text_signals(facts.text), dtype=np.float32)])
    if feature_names == GLANCE_FEATURE_NAMES:
        return full[GLANCE_COLUMNS]
    return full
