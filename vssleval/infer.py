"""``python -m vssleval.infer`` = ``vssleval infer``.

Only an entry point: ``vssleval.infer`` is the API function :func:`vssleval.api.infer`, which
importing this module does not hide (``vssleval/__init__.py``).
"""

import sys

if __name__ == "__main__":
    from vssleval.cli import run_command

    sys.exit(run_command("vssleval.commands.infer", prog="python -m vssleval.infer"))
