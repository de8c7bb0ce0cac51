"""``python -m vssleval.infer`` = ``vssleval infer``.

``vssleval.infer`` is also the API function (:func:`vssleval.api.infer`); like
``vssleval/evaluate.py``, this module forwards calls to it when imported by name.
"""

import sys

if __name__ == "__main__":
    from vssleval.cli import run_command

    sys.exit(run_command("vssleval.commands.infer", prog="python -m vssleval.infer"))
else:
    from vssleval._callable import forward_calls

    forward_calls(__name__, "infer")
