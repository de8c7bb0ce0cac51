"""Image file I/O: PIL decoding with errors that name the file.

PIL's ``convert("RGB")`` clips the values of a 16-bit image at 255 instead of scaling them, which
saturates a 16-bit PNG (whatever its file name) to near white. 16-bit greyscale frames are therefore
scaled to 8 bits first, by keeping the high byte (``v >> 8``, as libpng and PIL do for 16-bit colour
PNGs); modes with no defined 8-bit range (32-bit integer, float) are refused by name
(docs/datasets.md §8).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vssleval.errors import BadSampleError

#: 16-bit greyscale modes of PIL, scaled to 8 bits by their high byte.
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
#: Modes with no 8-bit meaning: refused.
REFUSED_MODES = {"I": "32-bit integer", "F": "32-bit float", "I;32": "32-bit integer", "I;32L": "32-bit integer",
                 "I;32B": "32-bit integer", "I;32S": "32-bit integer", "F;32": "32-bit float"}


def unsupported_mode(mode: str) -> str:
    """The reason an image of PIL ``mode`` cannot be read as 8-bit RGB, or ``""`` if it can."""
    if mode in REFUSED_MODES:
        return (f"image has {REFUSED_MODES[mode]} pixels (PIL mode {mode!r}), whose range has no 8-bit meaning; "
                "frames must be 8- or 16-bit")
    return ""


def to_rgb8(im, path: str | Path):
    """A decoded PIL image -> mode ``"RGB"`` (8 bits per channel), 16-bit greyscale scaled, not clipped.

    Raises:
        BadSampleError: a mode :func:`unsupported_mode` refuses.
    """
    from PIL import Image

    problem = unsupported_mode(im.mode)
    if problem:
        raise BadSampleError(Path(path).stem, path, problem, "Convert the frame to an 8-bit RGB jpg or png",
                             kind="unsupported_image")
    if im.mode in SIXTEEN_BIT_MODES:
        arr = np.asarray(im).astype(np.uint16)
        im = Image.fromarray((arr >> 8).astype(np.uint8))  # mode "L"
    return im.convert("RGB")


def load_rgb(path: str | Path):
    """Open an image and convert it to RGB, as every reference pipeline does first.

    Returns:
        A fully decoded ``PIL.Image.Image`` in mode ``"RGB"`` (W x H as stored); a 16-bit frame is
        scaled to 8 bits (module docstring).

    Raises:
        BadSampleError: missing, truncated or undecodable file, or an unsupported pixel format.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()  # decode now so a truncated file fails here, not later in a transform
            return to_rgb8(im, path)
    except BadSampleError:
        raise
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise BadSampleError(path.stem, path, f"cannot read image: {exc}",
                             "check that the file exists and is a complete jpg/png", kind="unreadable_image") from exc

