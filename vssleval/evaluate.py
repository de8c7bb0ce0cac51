"""``python -m vssleval.evaluate`` = ``vssleval evaluate`` (the spelling of the design card).

Only an entry point: ``vssleval.evaluate`` is the API function :func:`vssleval.api.evaluate`, which
importing this module does not hide (``vssleval/__init__.py``).
"""

import sys

if __name__ == "__main__":
    from vssleval.cli import run_command

    sys.exit(run_command("vssleval.commands.evaluate", prog="python -m vssleval.evaluate"))
