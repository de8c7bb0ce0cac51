"""The Python API (``docs/api.md``): what the CLI does, as functions for notebooks and scripts.

``load_model`` -> ``evaluate`` / ``infer`` -> :class:`Results` -> ``report`` / ``rescore``. The
``vssleval`` subcommands parse their arguments and call these functions: one code path.
"""

from vssleval.api.evaluation import Results, evaluate, infer, load_model, prepare_model
from vssleval.api.reporting import compare, report, rescore

__all__ = ["Results", "compare", "evaluate", "infer", "load_model", "prepare_model", "report", "rescore"]
