"""``scripts/reference/vssl_eval_memory.py`` (docs/performance.md §10): the compat run it measures is
the one the official eval.py does, spelled with flags the real CLI accepts; the official code's
metadata files exist in the fixture sets; and its measurement reads a real peak and stops a run after
K seeds. The official code itself is not run here (it is not in this repository, and one run costs
about two CPU-minutes); the measured numbers live in docs/performance.md.
"""

from __future__ import annotations

import sys

import pytest

import shared
from vssleval.cli import build_parser


@pytest.fixture(scope="module")
def harness():
    return shared.script("reference/vssl_eval_memory.py")


def test_ours_is_the_official_runs_compat_equivalent(harness, tmp_path):
    cmd = harness.ours_command("lvs", "is3", tmp_path / "d", tmp_path / "lvs.pth.tar", tmp_path / "o.pth",
                               tmp_path / "out")
    assert cmd[:4] == [sys.executable, "-m", "vssleval", "evaluate"]
    a = build_parser().parse_args(cmd[3:])
    assert (a.model, a.dataset, a.preset, a.protocol) == ("lvs", "is3", "juanola2025", "juanola2025")
    # eval.py: its 10 seeds, all four inputs, one independent noise draw per sample and seed
    assert (str(a.seeds), a.neg, a.noise_bank) == ("10", None, 0)  # neg None: all
    assert (a.checkpoint, a.ogl_weights) == (str(tmp_path / "lvs.pth.tar"), str(tmp_path / "o.pth"))
    assert set(harness.MODELS) == set(shared.juanola_models())


def test_the_official_metadata_files_are_in_the_fixture_sets(harness):
    for dataset, names in harness.METADATA.items():
        for name in names:
            assert (shared.BEST.data(dataset) / name).is_file(), (dataset, name)


def test_measure_reads_a_childs_peak_and_stops_after_k_seeds(harness, tmp_path):
    grow = "import time; b = bytearray(300 << 20); b[::4096] = b'x' * len(b[::4096]); time.sleep(0.3)"
    row = harness.measure([sys.executable, "-c", grow], tmp_path, {}, tmp_path / "a.log")
    assert row["peak_rss_mib"] >= 300 and row["seeds"] == 10
    loop = "import time\nfor k in range(1, 11):\n    print(f' {k}/10 [', flush=True); time.sleep(0.5)"
    row = harness.measure([sys.executable, "-c", loop], tmp_path, {}, tmp_path / "b.log", stop_after_seeds=2)
    assert row["seeds"] == 2 and row["wall_s"] < 4
    assert "3/10" not in (tmp_path / "b.log").read_text()
