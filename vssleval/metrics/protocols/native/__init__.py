"""The ``native`` evaluators: each model scored as its own repository's test code scores it
(docs/protocols.md §11). Pure functions of raw low-resolution maps and normalised boxes (or GT
maps); numpy in, numbers out. One module per evaluator family:

* :mod:`.ezvsl`: ``ezvsl``, ``fnac`` (FNAC ``validate``), ``fnac_bicubic`` (FNAC ``validate2``)
* :mod:`.slavc`: ``slavc`` (default ``>= 0.5``), ``slavc_relative`` (``--relative_prediction``)
* :mod:`.lvs`: ``lvs``, ``ssltie``
* :mod:`.sslalign`: ``sslalign``
* :mod:`.sacl`: ``sacl``
* :mod:`.aclssl`: ``aclssl`` (ACL-SSL's threshold sweep on its sigmoid map)
* :mod:`.aclssl_extended`: ``aclssl_extended`` (ACL-SSL's AP / max-F1 on the extended sets, by the
  model's stored confidence)

:mod:`.registry` holds them by name; :mod:`.protocol` is the ``native`` protocol that runs them.

    from vssleval.metrics.protocols.native import EVALUATORS
    per_sample, dataset = EVALUATORS["lvs"].evaluate(raw_maps, boxes, names=ids)
    dataset["ciou"], dataset["auc"]          # headline keys, beside the evaluator's own names
"""

from ._base import HEADLINE, Inputs, NativeEvaluator
from .protocol import PROTOCOL, NativeProtocol  # PROTOCOLS (../__init__.py) finds it here
from .registry import EVALUATORS, get

__all__ = ["EVALUATORS", "HEADLINE", "Inputs", "NativeEvaluator", "NativeProtocol", "PROTOCOL", "get"]
