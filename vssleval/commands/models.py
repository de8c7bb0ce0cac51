"""List the registered models."""

from __future__ import annotations

import argparse

from vssleval.models import list_models, load_model_config

HELP = "list registered models (zoo, baselines, plug-ins) and their checkpoint files"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--verbose", "-v", action="store_true", help="also print each model's presets")


def run(args: argparse.Namespace) -> int:
    for name in list_models():
        cfg = load_model_config(name)
        ck = cfg.get("checkpoint") or {}
        files = ck.get("file") or ", ".join((ck.get("parts") or {}).values()) or "-"
        line = f"{name:<14} checkpoint: {files}"
        if args.verbose:
            line += f"   presets: {', '.join(cfg.get('presets') or {})}"
        print(line)
    return 0
