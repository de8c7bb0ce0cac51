"""The Python API (``docs/api.md``): what the CLI does, as functions for notebooks and scripts.

``load_model`` -> ``evaluate`` / ``infer`` -> :class:`Results` -> ``report`` / ``rescore``;
``evaluate_many``: several models on several datasets, then one report. The
``vssleval`` subcommands parse their arguments and call these functions: one code path.

The names are imported on first use (:mod:`vssleval._lazy`): the CLI builds its parser from
:mod:`vssleval.api.options` without importing torch or the engine.
"""

from vssleval import _lazy

_NAMES = {"Results": "vssleval.api.results", "evaluate": "vssleval.api.evaluation",
          "evaluate_many": "vssleval.api.sweeps", "infer": "vssleval.api.evaluation",
          "load_model": "vssleval.api.evaluation", "prepare_model": "vssleval.api.evaluation",
          "compare": "vssleval.api.reporting", "report": "vssleval.api.reporting", "rescore": "vssleval.api.reporting",
          "score": "vssleval.api.scoring"}

__all__ = ["Results", "compare", "evaluate", "evaluate_many", "infer", "load_model", "prepare_model", "report",
           "rescore", "score"]

__getattr__, __dir__ = _lazy.exports(globals(), _NAMES)
