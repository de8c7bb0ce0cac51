"""Pictures for the synthetic benchmark: a cluttered background plus textured class objects (numpy + PIL).

All arrays are uint8 ``[H, W, 3]``; boxes are integer ``(xmin, ymin, xmax, ymax)``, half-open, in the
picture's own pixels (the picture is 224×224, so these are also the 224-grid boxes).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from vssleval.data.synthetic.classes import SynthClass

SIZE = 224


def background(rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """Smooth colour field plus clutter (lines, small ellipses) in muted colours: uint8 ``[size, size, 3]``."""
    coarse = rng.integers(60, 190, size=(5, 5, 3), dtype=np.uint8)
    img = Image.fromarray(coarse).resize((size, size), Image.BILINEAR)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(10, 22))):
        c = tuple(int(v) for v in rng.integers(70, 170, 3))
        x0, y0, x1, y1 = (int(v) for v in rng.integers(0, size, 4))
        if rng.random() < 0.6:
            draw.line((x0, y0, x1, y1), fill=c, width=int(rng.integers(1, 4)))
        else:
            r = int(rng.integers(3, 10))
            draw.ellipse((x0 - r, y0 - r, x0 + r, y0 + r), fill=c)
    arr = np.asarray(img, dtype=np.int16)
    arr = arr + rng.integers(-12, 13, size=arr.shape, dtype=np.int16)  # sensor-like grain
    return np.clip(arr, 0, 255).astype(np.uint8)


def shape_mask(shape: str, w: int, h: int) -> np.ndarray:
    """Boolean ``[h, w]`` mask of ``shape`` inscribed in a w×h box (sampled at pixel centres)."""
    u = (np.arange(w) + 0.5) / w * 2.0 - 1.0  # [-1, 1] across the box, pixel centres
    v = (np.arange(h) + 0.5) / h * 2.0 - 1.0
    U, V = np.meshgrid(u, v)
    au, av = np.abs(U), np.abs(V)
    if shape == "disc":
        m = U**2 + V**2 <= 1.0
    elif shape in ("square", "bar"):
        m = np.ones((h, w), dtype=bool)
    elif shape == "triangle":
        m = au <= (V + 1.0) / 2.0
    elif shape == "diamond":
        m = au + av <= 1.0
    elif shape == "cross":
        m = (au <= 0.33) | (av <= 0.33)
    elif shape == "ring":
        r2 = U**2 + V**2
        m = (r2 <= 1.0) & (r2 >= 0.45**2)
    elif shape == "hourglass":
        m = au <= av + 0.08
    elif shape == "frame":
        m = (au >= 0.6) | (av >= 0.6)
    elif shape == "xshape":
        m = np.abs(au - av) <= 0.3
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return m


def texture(cls: SynthClass, w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 ``[h, w, 3]`` class texture with a random phase and small colour jitter."""
    y, x = np.mgrid[0:h, 0:w]
    period = max(4, int(rng.integers(6, 11)))
    px, py = int(rng.integers(period)), int(rng.integers(period))
    if cls.texture == "solid":
        sel = np.zeros((h, w), dtype=bool)
    elif cls.texture == "hstripes":
        sel = ((y + py) // (period // 2)) % 2 == 0
    elif cls.texture == "vstripes":
        sel = ((x + px) // (period // 2)) % 2 == 0
    elif cls.texture == "checker":
        sel = (((x + px) // period) + ((y + py) // period)) % 2 == 0
    elif cls.texture == "dots":
        sel = ((x + px) % period - period / 2) ** 2 + ((y + py) % period - period / 2) ** 2 <= (period / 4) ** 2
    elif cls.texture == "diagonal":
        sel = ((x + y + px) // (period // 2)) % 2 == 0
    else:
        raise ValueError(f"unknown texture {cls.texture!r}")
    jitter = rng.integers(-15, 16, size=3)
    c1 = np.clip(np.asarray(cls.color) + jitter, 0, 255)
    c2 = np.clip(np.asarray(cls.color2) + jitter, 0, 255)
    return np.where(sel[..., None], c2, c1).astype(np.uint8)


def paint(canvas: np.ndarray, cls: SynthClass, box: tuple[int, int, int, int],
          rng: np.random.Generator) -> tuple[int, int, int, int]:
    """Draw one object of ``cls`` inside ``box`` onto ``canvas`` in place.

    Returns:
        the tight box of the pixels actually drawn (this is what gets annotated).
    """
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    m = shape_mask(cls.shape, w, h)
    region = canvas[y0:y1, x0:x1]
    region[m] = texture(cls, w, h, rng)[m]
    rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    return (x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1)
