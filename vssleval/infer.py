"""``python -m vssleval.infer`` = ``vssleval infer``."""

import sys

from vssleval.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("vssleval.commands.infer", prog="python -m vssleval.infer"))
