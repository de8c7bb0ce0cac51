"""vssleval: evaluate visual sound source localization models under positive and negative audio.

The package follows the data flow: ``data`` (files on disk, ground truth, negative sampler,
synthetic benchmark) -> ``frontends`` (spectrograms, image transforms) -> ``models`` (zoo and
checkpoints) -> ``engine`` (batched inference, heatmap store) -> ``metrics`` (pure functions of
maps and ground truth) -> ``report`` (tables and figures). ``api`` and ``cli`` wire them together.

For notebooks (``docs/api.md``)::

    import vssleval
    model = vssleval.load_model("synth-ezvsl")
    results = vssleval.evaluate(model, "synthetic-is3", seeds=1, limit=8)
    results.metrics["ciou"], results.maps("positive").shape

The API names are imported on first use, so ``import vssleval`` (and ``vssleval --help``) stays
light until a model or a run is needed.

Three API names are also module names: the ``vssleval.report`` package (tables and figures) and the
``python -m vssleval.evaluate`` / ``python -m vssleval.infer`` entry modules. Importing a submodule
makes Python bind it on its parent package, which would hide the function; the package therefore
refuses that one binding (:class:`_Package`), so ``vssleval.report(...)`` is the function whatever
was imported before, while ``from vssleval.report.tables import ...`` works as usual (submodules are
found through ``sys.modules``).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from vssleval import _lazy
from vssleval.errors import BadSampleError, VsslevalError

__version__ = "0.1.0"

#: public name -> the module that defines it
_API = {
    "Results": "vssleval.api", "evaluate": "vssleval.api", "evaluate_many": "vssleval.api", "infer": "vssleval.api",
    "load_model": "vssleval.api", "report": "vssleval.api", "rescore": "vssleval.api", "compare": "vssleval.api",
    "score": "vssleval.api", "list_models": "vssleval.models", "list_datasets": "vssleval.data",
}

__all__ = ["BadSampleError", "VsslevalError", "__version__", *_API]

__getattr__, __dir__ = _lazy.exports(globals(), _API)


class _Package(types.ModuleType):
    """The ``vssleval`` module: a submodule named like an API function is not bound over it."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _API and isinstance(value, types.ModuleType):
            return  # the import system binding vssleval.report / .evaluate / .infer: keep the function
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
