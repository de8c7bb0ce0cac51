"""``torchrun --nproc_per_node 2 -m vssleval.evaluate`` (CPU, gloo) == one process, number for number.

Two ranks share the batches round-robin, gather the positive audio features for the offscreen
reuse (``all_gather_object``), meet at a barrier, and rank 0 marks the store complete and scores
it. EZ-VSL with rule weights on a 6-sample synthetic set in batches of 2 (rank 0: batches 0 and 2,
rank 1: batch 1). torchrun gives each rank one intra-op thread, so the single-process reference
runs with one thread too (CPU convolutions are only bit-reproducible at equal thread counts).

Both cases come from one ``torchrun`` launch (``torchrun_commands.py``: each rank runs the two
``python -m vssleval.evaluate`` command lines one after another in one process group), so torchrun
and its ranks start once: a start-up is most of a case's cost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import shared
from engine_helpers import ROOT, store_arrays
from vssleval import timing
from vssleval.cli import main
from vssleval.engine.store import HeatmapStore

HERE = Path(__file__).resolve().parent


def _args(data_dir, ckpt, out, extra=()) -> list[str]:
    return [*extra, "--model", "ezvsl", "--checkpoint", str(ckpt), "--dataset", "synthetic-vggss", "--data-dir",
            str(data_dir), "--seeds", "2", "--neg", "all", "--batch-size", "2", "--device", "cpu",
            "--bootstrap", "0", "--out", str(out)]


#: case id -> (extra arguments, offscreen reuse expected, shard numbers of the store)
CASES = {"reuse": ((), True, [0, 1, 2]), "offscreen-table": (("--limit", "4"), False, [0, 1])}


@pytest.fixture(scope="module")
def dist_runs(tmp_path_factory, synthetic_set, ezvsl_checkpoint):
    """Every case's torchrun run, all from one launch (``torchrun_commands.py`` runs the commands one
    after another in each rank): case id -> its run folder."""
    data_dir = synthetic_set("vggss", 6)
    root = tmp_path_factory.mktemp("dist")
    outs = {case: root / case for case in CASES}
    commands = [_args(data_dir, ezvsl_checkpoint, outs[case], extra) for case, (extra, _, _) in CASES.items()]
    # TMPDIR: torchrun makes a torchelastic_* folder for its logs in the temporary folder and leaves
    # it there; it goes under this test's own folder instead
    (root / "tmp").mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)]),
           "TMPDIR": str(root / "tmp")}
    env.pop("WORLD_SIZE", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(HERE / "torchrun_commands.py"), json.dumps(commands)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=shared.HANG_S)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return outs


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_torchrun_two_cpu_ranks_equal_single_process(case, dist_runs, tmp_path, synthetic_set, ezvsl_checkpoint,
                                                     capsys):
    """``--limit 4``: the drawn clips include samples left out, so offscreen features come from the
    table of distinct inputs (engine/offscreen.py), computed in chunks dealt to both ranks."""
    extra, reuse, shards = CASES[case]
    data_dir = synthetic_set("vggss", 6)
    torch.set_num_threads(1)  # as each torchrun rank
    assert main(["evaluate", *_args(data_dir, ezvsl_checkpoint, tmp_path / "single", extra)]) == 0
    capsys.readouterr()
    dist_dir = dist_runs[case]

    dist_store, single_store = HeatmapStore.open(dist_dir), HeatmapStore.open(tmp_path / "single")
    assert dist_store.is_complete() and dist_store.shard_numbers() == shards
    assert dist_store.config["world_size"] == 2 and dist_store.config["offscreen_reuse"] is reuse
    dist_maps, single_maps = store_arrays(dist_store), store_arrays(single_store)
    for key in ("positive", "silence", "noise", "offscreen", "offscreen_ids", "ids"):
        assert (dist_maps[key] == single_maps[key]).all(), key

    dist = json.loads((dist_dir / "metrics.json").read_text())
    single = json.loads((tmp_path / "single" / "metrics.json").read_text())
    for d in (dist, single):
        d["run"].pop("data_root", None)
        for key in timing.PROCESS_KEYS:  # each process's own timing and command line
            d.pop(key)
    assert dist == single  # every number identical, not merely close
    assert (dist_dir / "per_sample.csv").read_bytes() == (tmp_path / "single" / "per_sample.csv").read_bytes()
    # only rank 0 wrote the outputs and the draws
    assert (dist_dir / "offscreen_draws.csv").read_bytes() == \
        (tmp_path / "single" / "offscreen_draws.csv").read_bytes()
