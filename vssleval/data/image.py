"""Image file I/O: PIL decoding with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vssleval.errors import BadSampleError


def load_rgb(path: str | Path):
    """Open an image and convert it to RGB, as every reference pipeline does first.

    Returns:
        A fully decoded ``PIL.Image.Image`` in mode ``"RGB"`` (W x H as stored).

    Raises:
        BadSampleError: missing, truncated or undecodable file.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()  # decode now so a truncated file fails here, not later in a transform
            return im.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise BadSampleError(path.stem, path, f"cannot read image: {exc}",
                             "check that the file exists and is a complete jpg/png") from exc


def load_rgb_array(path: str | Path) -> np.ndarray:
    """``[H, W, 3]`` uint8 RGB array of :func:`load_rgb`."""
    return np.asarray(load_rgb(path), dtype=np.uint8)
