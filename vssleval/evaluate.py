"""``python -m vssleval.evaluate`` = ``vssleval evaluate``.

``vssleval.evaluate`` is also the API function (:func:`vssleval.api.evaluate`). Importing this
module by name binds ``vssleval.evaluate`` to the module, so the module forwards calls to that
function (:mod:`vssleval._callable`): ``vssleval.evaluate(model, dataset, ...)`` works either way.
"""

import sys

if __name__ == "__main__":
    from vssleval.cli import run_command

    sys.exit(run_command("vssleval.commands.evaluate", prog="python -m vssleval.evaluate"))
else:
    from vssleval._callable import forward_calls

    forward_calls(__name__, "evaluate")
