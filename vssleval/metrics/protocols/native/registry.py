"""The native evaluators by name: :data:`EVALUATORS` and :func:`get` (docs/protocols.md §11).

Its own module so that :mod:`.protocol` (which reads the registry) and the package's
``__init__`` both import it, in any order.
"""

from __future__ import annotations

from ._base import NativeEvaluator
from .aclssl import ACLSSL
from .aclssl_extended import ACLSSL_EXTENDED
from .ezvsl import EZVSL, FNAC, FNAC_BICUBIC
from .lvs import LVS, SSLTIE
from .sacl import SACL
from .slavc import SLAVC, SLAVC_RELATIVE
from .sslalign import SSLALIGN

#: evaluator name (a model YAML's ``native_evaluator``) -> evaluator
EVALUATORS: dict[str, NativeEvaluator] = {e.name: e for e in (
    EZVSL, FNAC, FNAC_BICUBIC, SLAVC, SLAVC_RELATIVE, LVS, SSLTIE, SSLALIGN, SACL, ACLSSL, ACLSSL_EXTENDED)}


def get(name: str) -> NativeEvaluator:
    """The evaluator of that name; ``ValueError`` listing the known ones otherwise."""
    try:
        return EVALUATORS[name]
    except KeyError:
        raise ValueError(f"unknown native evaluator {name!r}; known: {sorted(EVALUATORS)}") from None
