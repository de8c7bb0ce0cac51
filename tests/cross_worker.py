"""Build an expensive test input once per test session, shared by all pytest-xdist workers.

``bash scripts/test.sh`` runs the suite in one worker process per core (``-n auto --dist
loadfile``), and a session-scoped fixture is built once *per worker*: two modules on two workers
that need the same generated checkpoint or the same evaluation run would each build it. Here the
first worker to ask builds it into a folder shared by the session's workers (the parent of the
workers' ``basetemp``, which pytest-xdist makes unique per session); the others wait on a file
lock and reuse it. Without xdist the folder is the session's ``basetemp``.

What is built must be a pure function of its ``key`` (the same files whichever worker builds
them), and readers must not modify it. It is built in its final folder (a run records the paths it
was made in, so it may not be moved afterwards) and a ``<key>.done`` file beside it marks it
complete: a build that raised leaves nothing, and one whose worker died is built again from an
empty folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

from filelock import FileLock


def session_root(tmp_path_factory) -> Path:
    """The folder shared by every worker of this test session."""
    base = Path(tmp_path_factory.getbasetemp())
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "built-once"
    root.mkdir(parents=True, exist_ok=True)
    return root


def build_once(tmp_path_factory, key: str, build: Callable[[Path], object]) -> Path:
    """The folder ``key`` of the session's shared root, filled by ``build(folder)`` the first time
    any worker asks for it. ``key`` must be a valid file name and name everything the build
    depends on."""
    root = session_root(tmp_path_factory)
    target, done = root / key, root / f"{key}.done"
    with FileLock(str(root / f"{key}.lock")):
        if not done.exists():
            shutil.rmtree(target, ignore_errors=True)  # what a dead worker left
            target.mkdir()
            try:
                build(target)
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)
                raise
            done.touch()
    return target
