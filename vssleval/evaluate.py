"""``python -m vssleval.evaluate`` = ``vssleval evaluate``."""

import sys

from vssleval.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("vssleval.commands.evaluate", prog="python -m vssleval.evaluate"))
