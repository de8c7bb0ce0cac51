"""The registry of ``native`` evaluators, by name (docs/protocols.md §11).

Apart from the package's ``__init__`` so that :mod:`.protocol` can read it without importing the
package that imports :mod:`.protocol` (no import cycle, no import-order rule).
"""

from __future__ import annotations

from ._base import NativeEvaluator
from .ezvsl import EZVSL, FNAC, FNAC_BICUBIC
from .lvs import LVS, SSLTIE
from .sacl import SACL
from .slavc import SLAVC, SLAVC_RELATIVE
from .sslalign import SSLALIGN

EVALUATORS: dict[str, NativeEvaluator] = {e.name: e for e in (
    EZVSL, FNAC, FNAC_BICUBIC, SLAVC, SLAVC_RELATIVE, LVS, SSLTIE, SSLALIGN, SACL)}


def get(name: str) -> NativeEvaluator:
    """The evaluator of that name; ``ValueError`` listing the known ones otherwise."""
    try:
        return EVALUATORS[name]
    except KeyError:
        raise ValueError(f"unknown native evaluator {name!r}; known: {sorted(EVALUATORS)}") from None
