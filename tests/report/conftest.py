"""Real runs for the report tests: the cheap baselines on a tiny synthetic split, made once.

Runs are made in-process through the CLI (as a user would), on 12 synthetic samples x 2 seeds:

* ``center``, ``full``, ``random`` on the IS3 layout (one comparable set);
* ``random`` on the VGG-SS layout (another dataset: the mixed-run refusal and the transfer table);
* ``center`` with ``--preset native`` on the IS3 layout (another preset).

They are made once per test session, whichever xdist worker asks first (``tests/cross_worker.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cross_worker import build_once
from vssleval.cli import main
from vssleval.data.synthetic import synth

N = 12
SEEDS = 2


def evaluate(out: Path, model: str, dataset: str, data: Path, *extra: str) -> Path:
    rc = main(["evaluate", "--model", model, "--dataset", dataset, "--data-dir", str(data),
               "--seeds", str(SEEDS), "--out", str(out), *extra])
    assert rc == 0, f"evaluate {model} on {dataset} failed"
    return out


#: what ``runs`` makes: name -> (folder, model, dataset, extra evaluate arguments)
RUNS = {
    "center": ("center", "center", "synthetic-is3", ()),
    "full": ("full", "full", "synthetic-is3", ()),
    "random": ("random", "random", "synthetic-is3", ()),
    "random_vggss": ("random-vggss", "random", "synthetic-vggss", ()),
    "center_native": ("center-native", "center", "synthetic-is3", ("--preset", "native")),
}
RUNS_KEY = f"report-runs-n{N}-s{SEEDS}"


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Path]:
    """The runs, made once per session and shared by the xdist workers (``cross_worker.build_once``):
    the report modules run on several workers. Read-only: a test that changes a run copies it first."""
    def build(root: Path) -> None:
        data = {"synthetic-is3": synth("is3", N, 7, root / "data-is3"),
                "synthetic-vggss": synth("vggss", N, 7, root / "data-vggss")}
        for folder, model, dataset, extra in RUNS.values():
            evaluate(root / folder, model, dataset, data[dataset], *extra)

    root = build_once(tmp_path_factory, RUNS_KEY, build)
    return {name: root / folder for name, (folder, *_) in RUNS.items()}
