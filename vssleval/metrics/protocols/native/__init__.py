"""The ``native`` evaluators: each model scored as its own repository's test code scores it
(docs/protocols.md §11). Pure functions of raw low-resolution maps and normalised boxes (or GT
maps); numpy in, numbers out. One module per evaluator family:

* :mod:`.ezvsl`: ``ezvsl``, ``fnac`` (FNAC ``validate``), ``fnac_bicubic`` (FNAC ``validate2``)
* :mod:`.slavc`: ``slavc`` (default ``>= 0.5``), ``slavc_relative`` (``--relative_prediction``)
* :mod:`.lvs`: ``lvs``, ``ssltie``
* :mod:`.sslalign`: ``sslalign``
* :mod:`.sacl`: ``sacl``

    from vssleval.metrics.protocols.native import EVALUATORS
    per_sample, dataset = EVALUATORS["lvs"].evaluate(raw_maps, boxes, names=ids)
    dataset["ciou"], dataset["auc"]          # headline keys, beside the evaluator's own names
"""

from ._base import HEADLINE, Inputs, NativeEvaluator
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


# the protocol object last: it reads EVALUATORS (the registry finds it as this package's PROTOCOL)
from .protocol import PROTOCOL, NativeProtocol  # noqa: E402

__all__ = ["EVALUATORS", "HEADLINE", "Inputs", "NativeEvaluator", "NativeProtocol", "PROTOCOL", "get"]
