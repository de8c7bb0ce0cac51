#!/usr/bin/env python
"""Train the embedded ``synth-ezvsl`` model (= ``vssleval train-synthetic``; ``--help`` lists options).

    python scripts/train_synthetic.py                 # -> checkpoints/synth-ezvsl.pth + .json
    python scripts/train_synthetic.py --steps 20 --out /tmp/x.pth
"""

import sys

from vssleval.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("vssleval.commands.train_synthetic", prog="train_synthetic.py"))
