"""Picture hashes for finding copies: the dHash the daemon has always stored, and a DCT
perceptual hash (pHash) that the duplicates stage compares.

Both are taken from the picture as shown (EXIF orientation applied by decode.py), so a copy
whose orientation was baked into its pixels hashes like its original. A copy that was turned
or mirrored is matched through `phash_variants`, the hashes of the eight turns and mirrors.
pHash and the layout thumbnail (the duplicates stage's close comparison) are taken inside the
flat borders, so a letterboxed or pillarboxed copy (a photo fitted to a video or chat frame)
hashes like the photo.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

# pHash: the lowest 8x8 DCT frequencies of a 32x32 grey thumbnail, each compared with their
# median — the classic construction (Zauner 2010, imagehash's phash): robust to re-encoding,
# resizing, mild filtering and small crops, which change the high frequencies it ignores.
PHASH_THUMB = 32
PHASH_BLOCK = 8
# The layout thumbnail: 64x64 grey, enough to tell two ID photos of different people apart
# (measured in duplicates/compare.py), 4 KB a photo.
LAYOUT_SIZE = 64
# The screen thumbnail: what tells a copy of a screenshot from another screen of the same app
# (a line of text, a sidebar opened), which at 64x64 look alike (duplicates/screens.py). Grey,
# 128 px on the shorter side, the aspect kept, the longer side at most 512; kept only for
# screen-like pictures, as PNG (text on flat colour: ~10 KB).
SCREEN_SHORT_SIDE = 128
SCREEN_LONG_SIDE = 512
# A border row/column is "flat" (letterbox, pillarbox, a scanner's margin) below this spread of
# grey levels (0..1); at least MIN_CONTENT pixels of the picture are always kept.
FLAT_SPREAD = 0.02
MIN_CONTENT = 8


def _dct_matrix(n: int) -> np.ndarray:
    """The orthonormal DCT-II matrix: dct(x) = M @ x."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    matrix = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2 / n)
    matrix[0] /= np.sqrt(2)
    return matrix


_DCT = _dct_matrix(PHASH_THUMB)[:PHASH_BLOCK]  # only the rows of the frequencies kept


def difference_hash(luma: np.ndarray) -> str:
    """64-bit dHash: compares neighbouring pixels of a 9x8 thumbnail; robust to resizing."""
    thumb = Image.fromarray((luma * 255).astype(np.uint8)).resize((9, 8), Image.Resampling.BILINEAR)
    pixels = np.asarray(thumb, dtype=np.int16)
    bits = (pixels[:, 1:] > pixels[:, :-1]).flatten()
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"


def content_box(luma: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the picture inside its flat borders."""
    height, width = luma.shape
    top, bottom, left, right = 0, height, 0, width
    while top < bottom - MIN_CONTENT and luma[top].std() < FLAT_SPREAD:
        top += 1
    while bottom > top + MIN_CONTENT and luma[bottom - 1].std() < FLAT_SPREAD:
        bottom -= 1
    while left < right - MIN_CONTENT and luma[top:bottom, left].std() < FLAT_SPREAD:
        left += 1
    while right > left + MIN_CONTENT and luma[top:bottom, right - 1].std() < FLAT_SPREAD:
        right -= 1
    return top, bottom, left, right


def layout_thumbnail(luma: np.ndarray) -> tuple[np.ndarray, float]:
    """The picture inside its flat borders as a 64x64 grey uint8 thumbnail (box-filtered:
    every pixel counts), the input of pHash and of the duplicates' close comparison; and the
    share of the picture inside the borders (a letterboxed copy has fewer real pixels)."""
    image = content_image(luma)
    share = image.width * image.height / max(1, luma.shape[0] * luma.shape[1])
    return np.asarray(image.resize((LAYOUT_SIZE, LAYOUT_SIZE), Image.Resampling.BOX)), share


def content_image(luma: np.ndarray) -> Image.Image:
    """The picture inside its flat borders (content_box) as a grey uint8 image."""
    top, bottom, left, right = content_box(luma)
    return Image.fromarray((np.clip(luma[top:bottom, left:right], 0, 1) * 255).astype(np.uint8))


def screen_thumbnail(luma: np.ndarray) -> np.ndarray:
    """The picture inside its flat borders, grey uint8, SCREEN_SHORT_SIDE on its shorter side
    (box-filtered; the longer side at most SCREEN_LONG_SIDE)."""
    image = content_image(luma)
    width, height = image.size
    scale = min(SCREEN_SHORT_SIDE / min(height, width), SCREEN_LONG_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(image.resize(size, Image.Resampling.BOX))


def screen_png(thumbnail: np.ndarray) -> bytes:
    """A screen thumbnail as PNG bytes (see `screen_from_png`)."""
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(thumbnail, dtype=np.uint8)).save(out, "PNG")
    return out.getvalue()


def screen_from_png(data: bytes) -> np.ndarray:
    """The screen thumbnail back from `screen_png`. Raises ValueError for anything else."""
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            if image.mode != "L" or max(image.size) > SCREEN_LONG_SIDE:
                raise ValueError(f"a screen thumbnail is grey and at most {SCREEN_LONG_SIDE} "
                                 f"px, not {image.mode} {image.size}")
            return np.asarray(image)
    except OSError as exc:
        raise ValueError(f"not a screen thumbnail: {exc}") from exc


def screen_text(thumbnail: np.ndarray) -> str:
    """A screen thumbnail as the base64 PNG text results carry (see `screen_from_text`)."""
    return base64.b64encode(screen_png(thumbnail)).decode()


def screen_from_text(text: str) -> np.ndarray:
    """The screen thumbnail back from `screen_text`. Raises ValueError for anything else."""
    return screen_from_png(base64.b64decode(text, validate=True))


def phash_thumbnail(layout: np.ndarray) -> np.ndarray:
    """The 32x32 grey thumbnail pHash is computed from, out of the layout thumbnail."""
    image = Image.fromarray(layout)
    return np.asarray(image.resize((PHASH_THUMB, PHASH_THUMB), Image.Resampling.BOX),
                      dtype=np.float32)


def _bits_of(thumb: np.ndarray) -> int:
    block = _DCT @ thumb @ _DCT.T
    bits = (block > np.median(block)).flatten()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def perceptual_hash(layout: np.ndarray) -> int:
    """64-bit pHash of a layout thumbnail, as an unsigned int."""
    return _bits_of(phash_thumbnail(layout))


def phash_variants(layout: np.ndarray) -> list[int]:
    """pHashes of the picture in its eight turns and mirrors (the first is `perceptual_hash`)."""
    thumb = phash_thumbnail(layout)
    turns = [np.rot90(thumb, k) for k in range(4)]
    return [_bits_of(t) for t in turns] + [_bits_of(np.fliplr(t)) for t in turns]


def hash_hex(value: int) -> str:
    """A 64-bit hash as 16 hex digits, as results store it."""
    return f"{value:016x}"


def layout_text(layout: np.ndarray) -> str:
    """A layout thumbnail as the base64 text results carry (see `layout_from_text`)."""
    return base64.b64encode(np.ascontiguousarray(layout, dtype=np.uint8).tobytes()).decode()


def layout_from_text(text: str) -> np.ndarray:
    """The layout thumbnail back from `layout_text`. Raises ValueError for anything else."""
    raw = base64.b64decode(text, validate=True)
    if len(raw) != LAYOUT_SIZE * LAYOUT_SIZE:
        raise ValueError(f"a layout thumbnail has {LAYOUT_SIZE ** 2} bytes, not {len(raw)}")
    return np.frombuffer(raw, dtype=np.uint8).reshape(LAYOUT_SIZE, LAYOUT_SIZE)
