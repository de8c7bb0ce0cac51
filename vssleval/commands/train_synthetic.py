"""``vssleval train-synthetic``: train the embedded ``synth-ezvsl`` model (same code as
``scripts/train_synthetic.py``)."""

from __future__ import annotations

import argparse
import dataclasses

from vssleval.training.config import TrainConfig

HELP = "train the embedded synth-ezvsl model on the synthetic train split (CPU, a few minutes)"


def _bool(text: str) -> bool:
    """A BOOL option's value; a typo is an error, not False."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false (or 1/0, yes/no, on/off), got {text!r}")


def add_arguments(p: argparse.ArgumentParser) -> None:
    defaults = TrainConfig()
    p.add_argument("--out", default=None,
                   help="checkpoint path (default: <repo>/checkpoints/synth-ezvsl.pth; a .json record goes beside it)")
    p.add_argument("--data-root", default=None,
                   help="where the train split is generated/cached (default: a temporary folder, removed after)")
    p.add_argument("--max-memory", metavar="SIZE", help="memory the training data may use, e.g. 8G (default: what "
                   "the system has available)")
    for f in dataclasses.fields(TrainConfig):
        if f.name == "model_overrides":
            continue
        value = getattr(defaults, f.name)
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            p.add_argument(flag, type=_bool, default=value, metavar="BOOL", help=f"(default {value})")
        else:
            p.add_argument(flag, type=type(value), default=value, help=f"(default {value})")


def run(args: argparse.Namespace) -> int:
    from vssleval.models.synth_ezvsl import shipped_checkpoint_dir
    from vssleval.training.synthetic import run_training

    cfg = TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
                         if f.name != "model_overrides"})
    out = args.out or shipped_checkpoint_dir() / "synth-ezvsl.pth"
    run_training(cfg, out, data_root=args.data_root, max_memory=args.max_memory)
    return 0
