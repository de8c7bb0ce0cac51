"""Where the default synthetic benchmark lives, generated once on first use.

The cache folder is ``$VSSLEVAL_CACHE``, else ``$XDG_CACHE_HOME/vssleval``, else
``~/.cache/vssleval`` (docs/datasets.md §6). The user never names it on the command line, so a
cache that cannot hold the benchmark (a file where the folder should be, a read-only or full disk)
is reported as such, naming the variable that moves it, never as a problem with ``--out`` or
``--n``, which the user did not pass.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from vssleval.data.synthetic.generate import GENERATOR_VERSION, synth
from vssleval.errors import VsslevalError
from vssleval.io_utils import NO_ROOM, os_error_text
from vssleval.limits import SYNTH_RECORD_DISK, format_bytes

DEFAULT_N = 200
DEFAULT_TEST_SEED = 0  # evaluation data; training data uses split="train" (disjoint streams)
CACHE_ENV = "VSSLEVAL_CACHE"


def cache_root() -> Path:
    """``$VSSLEVAL_CACHE`` if set, else ``$XDG_CACHE_HOME/vssleval`` or ``~/.cache/vssleval``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vssleval"


def describe_cache(root: Path, given: bool = False) -> str:
    """Where the cache folder came from, for a message (``given``: the caller named ``root``)."""
    if given:
        return f"the folder {root}"
    if os.environ.get(CACHE_ENV):
        return f"the cache folder ${CACHE_ENV}={os.environ[CACHE_ENV]}"
    if os.environ.get("XDG_CACHE_HOME"):
        return f"the cache folder {root} ($XDG_CACHE_HOME/vssleval)"
    return f"the cache folder {root} (the default)"


def cache_error(root: Path, problem: str, need: int, given: bool = False) -> VsslevalError:
    """The one-line error for a cache that cannot hold a generated benchmark of ``need`` bytes."""
    fix = (f"choose a writable folder with at least {format_bytes(need)} free" if given else
           f"set {CACHE_ENV} to a writable folder with at least {format_bytes(need)} free (e.g. export "
           f"{CACHE_ENV}=$HOME/vssleval-cache), or pass --data-dir with a dataset of your own")
    return VsslevalError(f"cannot generate the synthetic benchmark in {describe_cache(root, given)}: "
                         f"{problem}. Fix: {fix}")


def _prepare_cache(root: Path, need: int, given: bool) -> None:
    """Create ``root/synthetic`` and check its disk has ``need`` bytes free; else :func:`cache_error`."""
    try:
        (root / "synthetic").mkdir(parents=True, exist_ok=True)
        probe = root / "synthetic" / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")  # a read-only mount accepts mkdir of an existing folder, not a write
        probe.unlink()
    except OSError as exc:
        raise cache_error(root, os_error_text(exc), need, given) from exc
    try:
        free = shutil.disk_usage(root).free
    except OSError:
        return
    if free < need:
        raise cache_error(root, f"its disk has {format_bytes(free)} free and the benchmark needs about "
                                f"{format_bytes(need)}", need, given)


def default_synthetic_dir(layout: str, n: int = DEFAULT_N, seed: int = DEFAULT_TEST_SEED,
                          split: str = "test", root: str | os.PathLike | None = None) -> Path:
    """Path of the cached synthetic dataset ``<root>/synthetic/<layout>[-train]-n<N>-s<seed>-v<version>``.

    The generator version is part of the name, so data from an older generator is never reused.

    Generated (atomically: temporary folder, then rename) if absent, so concurrent callers either
    see nothing or a complete dataset; if two race, the loser's rename fails and it uses the winner's.
    A cache that cannot hold it is a :class:`VsslevalError` naming the cache folder and
    ``$VSSLEVAL_CACHE``.
    """
    given = root is not None
    root = Path(root) if given else cache_root()
    tag = "" if split == "test" else f"-{split}"
    path = root / "synthetic" / f"{layout}{tag}-n{int(n)}-s{int(seed)}-v{GENERATOR_VERSION}"
    if (path / "synthetic_info.json").is_file():
        return path
    need = int(n) * SYNTH_RECORD_DISK
    _prepare_cache(root, need, given)
    try:
        synth(layout, n, seed, path, split=split)
    except OSError as exc:
        if (path / "synthetic_info.json").is_file():  # a lost race: the winner's data is there
            return path
        problem = "the disk filled up" if exc.errno in NO_ROOM else os_error_text(exc)
        raise cache_error(root, problem, need, given) from exc
    return path
