"""Run several ``python -m vssleval.evaluate`` command lines one after another in one process.

``tests/engine/test_engine_distributed.py`` launches this under ``torchrun`` once for all its cases,
so torchrun and its ranks start (import torch and vssleval) once instead of once per case. The
first command joins the process group as a command launched alone does
(``vssleval/engine/distributed.py``); the group then stays up for the next command (torch cannot
join a fresh default group on the same rendezvous store) and the last command leaves it.
``argv[1]``: a JSON list of argument lists; the exit status is the first nonzero one.
"""

from __future__ import annotations

import json
import sys

from vssleval.cli import run_command
from vssleval.engine import distributed


def main() -> int:
    commands = json.loads(sys.argv[1])
    leave = distributed.shutdown
    for i, argv in enumerate(commands):
        distributed.shutdown = leave if i == len(commands) - 1 else (lambda info: None)
        code = run_command("vssleval.commands.evaluate", argv, prog="python -m vssleval.evaluate")
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
