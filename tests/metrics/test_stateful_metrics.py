"""``vssleval.metrics.Localization``: the engine's numbers from a training loop, across processes.

Equality is to the last digit (``==``, NaN equal to NaN) with the scoring ``evaluate`` runs
(``vssleval.engine.scoring.score_store``: :class:`Accumulator` fed a run's shards) on the golden
maps of the fixtures, under ``vssleval``, ``juanola2025`` (whose official numbers it also meets) and
``native``; with a real ``evaluate`` run in ``tests/test_api.py``. The training-loop example of
docs/metrics.md §6.3 runs here with one process and with two gloo processes and gives one result.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

import shared
from shared import ROOT, require
from test_docs_commands import page_blocks
from vssleval.engine.scoring import upsample_plan_for
from vssleval.metrics import Accumulator, Localization
from vssleval.metrics.protocols import juanola2025 as J
from vssleval.metrics.resampling import MIN_RESAMPLES

MODEL, TESTSET = "ezvsl", "vggss"
NEGS = ("silence", "noise", "offscreen")


@pytest.fixture(scope="module")
def golden():
    """The golden seed-1234 maps of one model x test set (24 samples), the model's thresholds."""
    g = np.load(require(shared.FX.models / f"{MODEL}_{TESTSET}.npz"))
    import yaml

    th = yaml.safe_load((ROOT / "configs" / "models" / f"{MODEL}.yaml").read_text())["thresholds"]
    maps = {"positive": g["raw_pos"], **{v: g[f"raw_{v}"] for v in NEGS}, "ogl": g["raw_ogl"]}
    names = [str(n) for n in g["names"]]
    return maps, g["gt_map"].astype(np.float32), names, [J.QUIRK_scene_key(n) for n in names], th


def same(got: dict, want: dict, keys=None) -> list:
    """The keys whose values differ (NaN equals NaN; nested dicts and lists compared as they are)."""
    keys = list(want) if keys is None else keys
    missing = [k for k in keys if k not in got]
    assert not missing, f"missing keys {missing}"
    return [(k, got[k], want[k]) for k in keys
            if not (got[k] == want[k] or (isinstance(want[k], float) and math.isnan(want[k])
                                          and isinstance(got[k], float) and math.isnan(got[k])))]


def feed_shuffled(metric: Localization, maps: dict, gt, groups, batches=((5, 17, 2), (0, 9, 3, 11)), rest=True):
    """Feed ``metric`` in batches out of dataset order: the positive with the first negative (torch)
    in one call, the other variants (numpy) in separate calls in another batch order."""
    n = len(gt)
    order = [i for b in batches for i in b]
    order += [i for i in range(n) if i not in order] if rest else []
    chunks = [order[i:i + 5] for i in range(0, len(order), 5)]
    first = metric.variants[:2]
    for c in chunks:
        metric.update({v: torch.from_numpy(maps[v][c]) for v in first}, torch.from_numpy(gt[c]), ids=c,
                      groups=[groups[i] for i in c])
    for v in metric.variants[2:]:
        for c in reversed(chunks):
            metric.update(maps[v][c], gt[c], variant=v, ids=torch.tensor(c), groups=[groups[i] for i in c])


def test_clean_protocol_is_the_engine_scoring(golden):
    """Every key of the engine's result, bootstrap intervals included (they depend on the order)."""
    maps, gt, names, groups, th = golden
    acc = Accumulator("vssleval", thresholds=th, upsample="bilinear", seeds=[1234], bootstrap=MIN_RESAMPLES)
    acc.update_seeds([0], names, maps["positive"], silence=maps["silence"], noise=[maps["noise"]],
                     offscreen=[maps["offscreen"]], gt=gt, groups=groups)
    want = acc.result()
    metric = Localization(negatives=list(NEGS), thresholds=th, upsample="bilinear", seed=1234,
                          bootstrap=MIN_RESAMPLES)
    feed_shuffled(metric, maps, gt, groups)
    got = metric.compute()
    assert "ciou_ci95_low" in want and "iiou" in want and "mapiou_positive_noise_max" in want
    assert same(got, want) == []
    assert len(metric._local()["records"]) == 7 + 6 * 3 + 3 * (1 + 2 * 3)  # the docstring's count
    metric.reset()
    with pytest.raises(ValueError, match="no samples"):
        metric.compute()


def test_juanola2025_is_the_engine_scoring_and_the_official_numbers(golden):
    maps, gt, names, groups, th = golden
    ops = upsample_plan_for(MODEL, TESTSET)
    acc = Accumulator("juanola2025", thresholds=th, upsample=ops)
    acc.update(0, names, maps["positive"], maps["silence"], maps["noise"], maps["offscreen"], gt, ogl=maps["ogl"])
    want = acc.result()
    metric = Localization("juanola2025", thresholds=th, upsample=ops)
    assert metric.variants == ("positive", *NEGS, "ogl")
    feed_shuffled(metric, maps, gt, groups)
    got = metric.compute()
    assert same(got, want, J.metric_keys()) == []
    official = json.loads(require(shared.FX.metrics / f"metrics_{MODEL}_{TESTSET}.json").read_text())["raw_mode"]
    assert all(abs(got[k] - v) <= 1e-9 or (math.isnan(v) and math.isnan(got[k])) for k, v in official.items())


def test_native_protocol_with_boxes(golden):
    """``native`` reads the boxes of the targets mapping (ragged box lists padded with NaN)."""
    maps, gt, names, _, _ = golden
    rng = np.random.default_rng(0)
    n = len(gt)
    lo = rng.uniform(0.0, 0.5, (n, 2, 2))
    boxes = np.concatenate([lo, lo + rng.uniform(0.1, 0.5, (n, 2, 2))], axis=2)  # [n, 2, 4] x0 y0 x1 y1
    boxes[::3, 1] = np.nan  # every third sample has one box
    settings = {"evaluator": "ezvsl"}
    acc = Accumulator("native", upsample="bilinear_ac", settings=settings, bootstrap=0)
    acc.update(0, [str(i) for i in range(n)], maps["positive"], gt=gt, boxes=boxes)
    metric = Localization("native", upsample="bilinear_ac", settings=settings)
    for c in (list(range(12, n)), list(range(12))):
        metric.update(maps["positive"][c], {"gt": gt[c], "boxes": [b[~np.isnan(b).all(1)] for b in boxes[c]]}, ids=c)
    got, want = metric.compute(), acc.result()
    assert want["native_evaluator"] == "ezvsl" and same(got, want, [k for k in want if k != "versions"]) == []


def test_ids_match_variants_and_a_repeated_sample_counts_once(golden):
    maps, gt, _, _, _ = golden
    metric = Localization(negatives=["silence"])
    metric.update(maps["positive"][:4], gt[:4], ids=[0, 1, 2, 3])
    metric.update(maps["positive"][:2], gt[:2], ids=[0, 1])  # a padded repeat, as DistributedSampler's
    metric.update(maps["silence"][[1, 0]], gt[[1, 0]], variant="silence", ids=[1, 0])
    with pytest.raises(ValueError, match="2 samples lack variants, the first sample 2 .* has \\['positive'\\]"):
        metric.compute()
    metric.update(maps["silence"][2:4], gt[2:4], variant="silence", ids=[2, 3])
    got = metric.compute()
    plain = Localization(negatives=["silence"])
    plain.update({"positive": maps["positive"][:4], "silence": maps["silence"][:4]}, gt[:4])  # no ids: arrival order
    want = plain.compute()
    assert got["n_samples"] == 4 and same(got, want) == []


def test_bad_input_is_a_clear_error(golden):
    maps, gt, _, _, _ = golden
    metric = Localization()
    with pytest.raises(ValueError, match="variant 'silence' is not scored here; this metric takes \\['positive'\\]"):
        metric.update(maps["silence"][:2], gt[:2], variant="silence")
    with pytest.raises(ValueError, match="batch sizes differ"):
        metric.update(maps["positive"][:2], gt[:3])
    with pytest.raises(ValueError, match="must be \\[B, 224, 224\\].*got \\(2, 112, 224\\)"):
        metric.update(maps["positive"][:2], gt[:2, ::2])
    with pytest.raises(ValueError, match="ids has length 1 for a batch of 2"):
        metric.update(maps["positive"][:2], gt[:2], ids=[0])
    metric.update(maps["positive"][:2], gt[:2], ids=[0, 1])
    with pytest.raises(ValueError, match="give ids in every update or in none"):
        metric.update(maps["positive"][2:4], gt[2:4])
    metric.update(maps["positive"][2:4], gt[2:4], ids=["a", "b"])
    with pytest.raises(ValueError, match="ids mix int and str"):
        metric.compute()
    with pytest.raises(ValueError, match="missing \\['noise'\\]"):
        Localization("juanola2025", negatives=["silence", "offscreen"])


def test_string_ids_order_the_samples_by_name(golden):
    maps, gt, names, _, _ = golden
    order = sorted(range(8), key=lambda i: names[i])
    acc = Accumulator("vssleval", bootstrap=0)
    acc.update(0, [names[i] for i in order], maps["positive"][order], silence=maps["silence"][order], gt=gt[order])
    metric = Localization(negatives=["silence"])
    for c in ([3, 1, 6], [0, 7, 2, 5, 4]):
        metric.update({"positive": maps["positive"][c], "silence": maps["silence"][c]}, gt[c],
                      ids=np.array(names)[c])
    assert same(metric.compute(), acc.result()) == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_maps_are_scored_on_their_device(golden):
    """The accumulator's numbers for the same CUDA tensors, the ground truth moved to their device."""
    maps, gt, _, _, _ = golden
    cuda = {v: torch.from_numpy(maps[v][:8]).cuda() for v in ("positive", "silence")}
    acc = Accumulator("vssleval", bootstrap=0)
    acc.update(0, [str(i) for i in range(8)], cuda["positive"], silence=cuda["silence"],
               gt=torch.from_numpy(gt[:8]).cuda())
    metric = Localization(negatives=["silence"])
    metric.update(cuda["positive"][:5], gt[:5], ids=range(5))  # numpy ground truth goes to the maps' device
    metric.update(cuda["silence"], torch.from_numpy(gt[:8]), variant="silence", ids=range(8))
    metric.update(cuda["positive"][5:], gt[5:8], ids=range(5, 8))
    assert same(metric.compute(), acc.result()) == []


# -- the training-loop example of docs/metrics.md, with 1 and 2 gloo processes ---------------------
DUMP = ("\nimport json as _json\nprint('RESULT', _json.dumps({k: v for k, v in result.items() if k != 'versions'}, "
        "sort_keys=True))\nprint('LOCAL', metric.compute(sync=False)['n_samples'])\n")


def example() -> str:
    blocks = [b for b in page_blocks("docs/metrics.md") if b.marker and b.marker.options.get("path") == "val_loop.py"]
    assert len(blocks) == 1, "docs/metrics.md saves one block as val_loop.py"
    return blocks[0].text + DUMP


def results(output: str) -> list[str]:
    """The JSON lines of the dumped results (compared as text: NaN equals NaN there)."""
    return [line[len("RESULT "):] for line in output.splitlines() if line.startswith("RESULT ")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_training_loop_example_gives_one_result_on_one_and_two_gloo_processes(tmp_path, capsys, monkeypatch):
    code = example()
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with torch.random.fork_rng():  # one process: this one (its random state as it was after)
        exec(compile(code, "val_loop.py", "exec"), {"__name__": "__main__"})
    one = results(capsys.readouterr().out)
    port, env = free_port(), {k: v for k, v in os.environ.items() if k != "VSSLEVAL_SHARED"}
    env.update(PYTHONPATH=str(ROOT), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2",
               OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, env={**env, "RANK": str(r), "LOCAL_RANK": str(r)})
             for r in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(o[-3000:] for o in outs)
    two = [r for o in outs for r in results(o)]
    assert len(one) == 1 and len(two) == 2
    assert json.loads(one[0])["n_samples"] == 11  # DistributedSampler repeats one of the 11 samples on rank 1
    assert two[0] == two[1] == one[0]
    assert "{'n_samples': 11" in outs[0] and "{'n_samples'" not in outs[1]  # the example prints on rank 0
    # without the other process: 6 samples each (rank 1's sixth is sample 0 again, a distinct id there)
    assert [line for o in outs for line in o.splitlines() if line.startswith("LOCAL")] == ["LOCAL 6", "LOCAL 6"]
