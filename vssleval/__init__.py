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
"""

from __future__ import annotations

import importlib
from typing import Any

from vssleval.errors import BadSampleError, VsslevalError

__version__ = "0.1.0"

#: public name -> the module that defines it
_API = {
    "Results": "vssleval.api", "evaluate": "vssleval.api", "infer": "vssleval.api", "load_model": "vssleval.api",
    "report": "vssleval.api", "rescore": "vssleval.api", "compare": "vssleval.api", "list_models": "vssleval.models",
    "list_datasets": "vssleval.data",
}

__all__ = ["BadSampleError", "VsslevalError", "__version__", *_API]


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'vssleval' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
