"""List the registered models, where each one's checkpoint is (or would be) found, and where its
official release is published. Nothing is downloaded. A model whose configuration cannot be read
is listed as unusable, with the reason, and the command exits 1 after listing the others.

Everything here reads YAMLs and files: no model is built and torch is not imported (a plug-in
installed as an entry point is imported when its config is an attribute of its class)."""

from __future__ import annotations

import argparse

from vssleval.errors import VsslevalError
from vssleval.fingerprint import file_sha256
from vssleval.models.registry import list_models, load_model_config
from vssleval.resources import checkpoint_search_dirs, find_checkpoint, resolve_hf_folder

HELP = ("list registered models (zoo, baselines, plug-ins), whether each checkpoint file is present "
        "and where its official release is published")
INDENT = " " * 4


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--verbose", "-v", action="store_true", help="also print each model's presets")


def checkpoint_lines(ckpt_cfg: dict) -> list[str]:
    """The lines under a model: its file(s) present (path, sha256) or missing (every place looked),
    then its official release."""
    look = find_checkpoint(ckpt_cfg)
    if not look.official:
        return [f"{INDENT}no checkpoint needed"]
    lines = []
    if look.found:
        lines.append(f"{INDENT}present ({look.source}):")
        prefixes = {name: prefix for prefix, name in (ckpt_cfg.get("parts") or {}).items()}
        for path in look.files:  # a Hugging Face part: its weights file, in the folder or the HF cache
            path = resolve_hf_folder(prefixes.get(path.name, ""), path, ckpt_cfg, "the model")
            lines.append(f"{INDENT}  {path}  sha256 {file_sha256(path)}")
    else:
        lines.append(f"{INDENT}not present; looked for {look.describe_looked()}")
    release = ckpt_cfg.get("official_release")
    lines.append(f"{INDENT}official release: {release or 'not stated in its YAML'}")
    for prefix, where in (ckpt_cfg.get("part_releases") or {}).items():
        lines.append(f"{INDENT}  part {prefix}: {where}")
    return lines


def run(args: argparse.Namespace) -> int:
    places = " then ".join(f"{label} ({path})" for label, path in checkpoint_search_dirs())
    print(f"zoo checkpoints are looked up in: --checkpoint, else {places}")
    broken = 0
    for name in list_models():
        try:
            cfg = load_model_config(name)
        except VsslevalError as exc:  # e.g. a plug-in whose YAML was moved: list the others anyway
            print(f"{name:<14} unusable: {exc}")
            broken += 1
            continue
        ck = cfg.get("checkpoint") or {}
        files = ck.get("file") or ", ".join((ck.get("parts") or {}).values()) or "-"
        line = f"{name:<14} checkpoint: {files}"
        if args.verbose:
            line += f"   presets: {', '.join(cfg.get('presets') or {})}"
        print(line)
        for sub in checkpoint_lines(ck):
            print(sub)
    return 1 if broken else 0
