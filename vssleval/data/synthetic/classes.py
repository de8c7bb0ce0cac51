"""The synthetic benchmark's classes: each a distinct visual object and a distinct sound.

Class names are single tokens (no ``_``) so IS3-style names ``<objA>_<objB>_<num>_<target>`` parse.
Every shape touches all four sides of its box, so the tight box is the annotated box.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SynthClass:
    """One class. Colours are RGB 0..255; ``aspect`` is width/height of the object's box."""

    name: str
    shape: str      # disc, square, triangle, diamond, cross, ring, hourglass, bar, frame, xshape
    color: tuple[int, int, int]
    color2: tuple[int, int, int]
    texture: str    # solid, hstripes, vstripes, checker, dots, diagonal
    aspect: float
    sound: str      # harmonic, bandnoise, chirpup, chirpdown, am, clicks, vibrato, siren, square, bursts
    pitch: float    # Hz: the class's characteristic frequency


CLASSES: tuple[SynthClass, ...] = (
    SynthClass("chime", "disc", (220, 40, 40), (250, 200, 60), "solid", 1.0, "harmonic", 523.0),
    SynthClass("hiss", "square", (40, 90, 220), (200, 220, 255), "checker", 1.0, "bandnoise", 5000.0),
    SynthClass("sweep", "triangle", (40, 180, 60), (10, 60, 20), "hstripes", 1.1, "chirpup", 250.0),
    SynthClass("drop", "diamond", (240, 140, 20), (120, 40, 0), "vstripes", 0.8, "chirpdown", 4000.0),
    SynthClass("wobble", "cross", (150, 40, 190), (240, 200, 250), "dots", 1.0, "am", 880.0),
    SynthClass("ticker", "ring", (20, 190, 190), (0, 80, 90), "solid", 1.0, "clicks", 12.0),
    SynthClass("warble", "hourglass", (230, 60, 160), (90, 0, 50), "diagonal", 0.9, "vibrato", 1250.0),
    SynthClass("siren", "bar", (250, 230, 30), (30, 30, 30), "checker", 2.4, "siren", 1600.0),
    SynthClass("buzz", "frame", (120, 70, 30), (230, 180, 120), "hstripes", 1.0, "square", 100.0),
    SynthClass("rumble", "xshape", (250, 250, 250), (60, 60, 200), "diagonal", 1.0, "bursts", 130.0),
)

CLASS_NAMES = tuple(c.name for c in CLASSES)
