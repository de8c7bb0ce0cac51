"""Real runs for the report tests: the cheap baselines on a tiny synthetic split, made once.

Runs are made in-process through the CLI (as a user would), on 12 synthetic samples x 2 seeds:

* ``center``, ``full``, ``random`` on the IS3 layout (one comparable set);
* ``random`` on the VGG-SS layout (another dataset: the mixed-run refusal and the transfer table);
* ``center`` with ``--preset native`` on the IS3 layout (another preset).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vssleval.cli import main
from vssleval.data.synthetic import synth

N = 12
SEEDS = 2


def evaluate(out: Path, model: str, dataset: str, data: Path, *extra: str) -> Path:
    rc = main(["evaluate", "--model", model, "--dataset", dataset, "--data-dir", str(data),
               "--seeds", str(SEEDS), "--out", str(out), *extra])
    assert rc == 0, f"evaluate {model} on {dataset} failed"
    return out


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("report_runs")
    is3 = synth("is3", N, 7, root / "data-is3")
    vgg = synth("vggss", N, 7, root / "data-vggss")
    return {
        "center": evaluate(root / "center", "center", "synthetic-is3", is3),
        "full": evaluate(root / "full", "full", "synthetic-is3", is3),
        "random": evaluate(root / "random", "random", "synthetic-is3", is3),
        "random_vggss": evaluate(root / "random-vggss", "random", "synthetic-vggss", vgg),
        "center_native": evaluate(root / "center-native", "center", "synthetic-is3", is3, "--preset", "native"),
    }
