"""``python -m vssleval.evaluate`` = ``vssleval evaluate``.

``vssleval.evaluate`` is also the API function (:func:`vssleval.api.evaluate`). Importing this
module by name binds ``vssleval.evaluate`` to the module, so the module forwards calls to that
function: ``vssleval.evaluate(model, dataset, ...)`` works either way.
"""

import sys
import types


class _CallsTheApi(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from vssleval.api import evaluate

        return evaluate(*args, **kwargs)


if __name__ == "__main__":
    from vssleval.cli import run_command

    sys.exit(run_command("vssleval.commands.evaluate", prog="python -m vssleval.evaluate"))
else:
    sys.modules[__name__].__class__ = _CallsTheApi
