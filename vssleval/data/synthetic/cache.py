"""Where the default synthetic benchmark lives, generated once on first use."""

from __future__ import annotations

import os
from pathlib import Path

from vssleval.data.synthetic.generate import GENERATOR_VERSION, synth

DEFAULT_N = 200
DEFAULT_TEST_SEED = 0  # evaluation data; training data uses split="train" (disjoint streams)


def cache_root() -> Path:
    """``$VSSLEVAL_CACHE`` if set, else ``$XDG_CACHE_HOME/vssleval`` or ``~/.cache/vssleval``."""
    env = os.environ.get("VSSLEVAL_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vssleval"


def default_synthetic_dir(layout: str, n: int = DEFAULT_N, seed: int = DEFAULT_TEST_SEED,
                          split: str = "test", root: str | os.PathLike | None = None) -> Path:
    """Path of the cached synthetic dataset ``<root>/synthetic/<layout>[-train]-n<N>-s<seed>-v<version>``.

    The generator version is part of the name, so data from an older generator is never reused.

    Generated (atomically: temporary folder, then rename) if absent, so concurrent callers either
    see nothing or a complete dataset; if two race, the loser's rename fails and it uses the winner's.
    """
    root = Path(root) if root is not None else cache_root()
    tag = "" if split == "test" else f"-{split}"
    path = root / "synthetic" / f"{layout}{tag}-n{int(n)}-s{int(seed)}-v{GENERATOR_VERSION}"
    if not (path / "synthetic_info.json").is_file():
        try:
            synth(layout, n, seed, path, split=split)
        except OSError:
            if not (path / "synthetic_info.json").is_file():  # not a lost race: a real failure
                raise
    return path
