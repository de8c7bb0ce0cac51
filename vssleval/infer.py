"""``python -m vssleval.infer`` = ``vssleval infer``.

``vssleval.infer`` is also the API function (:func:`vssleval.api.infer`); like
``vssleval/evaluate.py``, this module forwards calls to it when imported by name.
"""

import sys
import types


class _CallsTheApi(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from vssleval.api import infer

        return infer(*args, **kwargs)


if __name__ == "__main__":
    from vssleval.cli import run_command

    sys.exit(run_command("vssleval.commands.infer", prog="python -m vssleval.infer"))
else:
    sys.modules[__name__].__class__ = _CallsTheApi
