"""The extended-set half of the ACL-SSL reference harness: ``scripts/reference/aclssl.py --extended``.

Runs the OFFICIAL extended VGG-SS path of swimmiing/ACL-SSL (commit 57f4a6c) unmodified, as
``Test_PTModels.main`` does it: ``ExtendVGGSSDataset(D, input_resolution=352)`` in a
``DataLoader(batch_size=1, shuffle=False, num_workers=1, pin_memory=True, drop_last=False)``, then
``Eval.eval_exvggss_agg`` (the heatmap, ``encode_masked_vision`` and the cosine confidence, the 19
evaluators of ``VGGSS/extend_eval_utils.py`` and their ``test_rst.txt``), with the substitute weights
of aclssl_weights.py. Every patch of the run is listed in ``aclssl.PATCHES`` (shared with the VGG-SS
run) and ``aclssl.PATCHES_EXTENDED`` (this run only), at the top of aclssl.py.

DATA is a VGG-SS-layout folder (frames/<id>.jpg, audio/<id>.wav, vggss.json) plus the negatives
list ``vggss_test_plus_silent.csv`` (header ``video,audio,label``). The official loader reads the
positives and negatives from ``extend_frames/`` and ``extend_audio/`` and the lists from
``VGGSS/metadata/``; the harness lays those out in its scratch folder (links and copies only).

It also runs the official evaluator class on crafted inputs (``adversarial_cases``): the 8 x 6
adversarial map x GT cases of the VGG-SS run through ``evaluate_batch`` with crafted confidences,
and confidence / cIoU / label lists set on an evaluator and finalised (ties, all negatives, a single
sample, and sizes below and above 10 and 200 for the two step rules).
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import aclssl as H  # noqa: E402

NEGATIVES_CSV = "vggss_test_plus_silent.csv"
NEGATIVE_LABEL = "non-sounding"
EXT_EVALUATORS: list = []  # the official extend_eval_utils.Evaluator instances, in creation order
TOKENS = [0, 1, 242, 484]  # rows of the projected dense tokens kept whole (0 = CLS, dropped by the code)


# --------------------------------------------------------------------------- the run folder
def read_negatives(path: Path) -> list[tuple[str, str]]:
    """``(video, audio)`` of every ``non-sounding`` row, in file order (what the official loader keeps)."""
    with open(path, newline="") as fh:
        return [(r[0], r[1]) for r in csv.reader(fh) if len(r) >= 3 and r[2] == NEGATIVE_LABEL]


def make_extended_dir(run: Path, src: Path, weights: Path, data: Path, ids) -> tuple[list[str], list]:
    """The VGG-SS working directory of :func:`aclssl.make_run_dir`, plus the negatives list in
    ``VGGSS/metadata/`` (copied byte for byte) and ``run/data/extend_{frames,audio}`` linked to
    DATA's ``frames`` / ``audio``. Returns the positives' ids and the negatives."""
    csv_path = data / NEGATIVES_CSV
    if not csv_path.is_file():
        raise H.HarnessError(f"--data {data}: {NEGATIVES_CSV} is missing (header video,audio,label)")
    ids = H.make_run_dir(run, src, weights, data, ids)
    negatives = read_negatives(csv_path)
    absent = [f"{v},{a}" for v, a in negatives
              if not (data / "frames" / f"{v}.jpg").is_file() or not (data / "audio" / f"{a}.wav").is_file()]
    if absent:  # the official loader does not check them: it would fail in the middle of the run
        raise H.HarnessError(f"{csv_path}: frames/<video>.jpg or audio/<audio>.wav missing for {absent}")
    shutil.copyfile(csv_path, run / "VGGSS" / "metadata" / NEGATIVES_CSV)
    (run / "data").mkdir()
    (run / "data" / "extend_frames").symlink_to(data / "frames")
    (run / "data" / "extend_audio").symlink_to(data / "audio")
    return ids, negatives


def record_evaluators() -> None:
    """PATCHES_EXTENDED 2: remember each extend_eval_utils.Evaluator (its own __init__ runs first)."""
    import VGGSS.extend_eval_utils as xe

    original = xe.Evaluator.__init__

    def recording_init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        EXT_EVALUATORS.append(self)

    xe.Evaluator.__init__ = recording_init


# --------------------------------------------------------------------------- capture
class ExtendedCapture:
    """Forward hooks (they change no value): the audio-driven embedding, the dense CLIP features of
    ``get_pixels``, the feature mask and the test heatmap of each sample."""

    def __init__(self, model):
        self.rec: dict[str, list[np.ndarray]] = {}
        clip = model.av_grounder.clip
        self.handles = [
            clip.text_projection.register_forward_hook(self._put_out("embedding")),
            clip.visual_projection.register_forward_hook(self._dense),
            model.masker_f.register_forward_pre_hook(lambda m, args: self._put("mask_logits", args[0])),
            model.masker_f.register_forward_hook(self._put_out("feature_mask")),
            model.masker_i.register_forward_hook(self._heatmap, with_kwargs=True),
        ]

    def _put(self, name, t):
        self.rec.setdefault(name, []).append(t.detach().cpu().numpy().copy())

    def _put_out(self, name):
        return lambda m, args, out: self._put(name, out)

    def _dense(self, m, args, out):
        if out.ndim == 3:  # get_pixels' per-token projection (the masked pass projects pooled [B, 512])
            self._put("dense_tokens", out)

    def _heatmap(self, m, args, kwargs, out):
        if kwargs.get("infer"):  # the test heatmap (the two Gumbel calls of encode_masked_vision are not)
            self._put("heatmap", out)

    def stacked(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v, axis=0) for k, v in self.rec.items()}


# --------------------------------------------------------------------------- the official run
def run_official_extended(src: Path, weights: Path, data: Path, ids, workdir: Path) -> dict:
    """Run the official extended VGG-SS test path; returns every record the goldens need."""
    lay_out = lambda run, s, w, d: make_extended_dir(run, s, w, d, ids)  # noqa: E731
    with H.official_session(src, weights, data, workdir, lay_out) as (model, (ids, negatives), _):
        record_evaluators()
        from VGGSS.VGGSS_Dataset import ExtendVGGSSDataset
        from Eval import eval_exvggss_agg

        # Test_PTModels.main, extended VGG-SS branch.
        dataset = ExtendVGGSSDataset(str(workdir / "data"), input_resolution=352)
        expected = [f"{i}.jpg" for i in ids] + [f"{v}.jpg" for v, _ in negatives]
        if dataset.image_files != expected:
            raise H.HarnessError(f"the official file list {dataset.image_files} differs from {expected}")
        loader = torch.utils.data.DataLoader(dataset, batch_size=1, shuffle=False, num_workers=1,
                                             pin_memory=True, drop_last=False)
        cap = ExtendedCapture(model)
        result_dir = workdir / "Visual_results" / "exvggss"
        eval_exvggss_agg(model, loader, str(result_dir))
        rst = (result_dir / "test_rst.txt").read_text()
        gt = np.stack([dataset.get_bbox(i).numpy()[0] for i in range(len(dataset))])
        evaluators = EXT_EVALUATORS[-len(H.THRESHOLDS):]
        adversarial = adversarial_cases(workdir)
    first = evaluators[0]
    conf = np.array([float(c) for c in first.confidence_list], dtype=np.float32)
    for e in evaluators:  # one confidence per sample, the same in all 19 evaluators
        assert np.array_equal(np.array([float(c) for c in e.confidence_list], dtype=np.float32), conf)
    names = list(first.name_list)
    return {"positives": ids, "negatives": negatives, "names": names, "labels": list(dataset.labels),
            "image_ids": [Path(f).stem for f in dataset.image_files],
            "audio_ids": [Path(f).stem for f in dataset.audio_files],
            "bb": np.array(first.bb_list, dtype=np.int64), "conf": conf, "gt": gt,
            "ciou": np.array([[float(c) for c in e.ciou_list] for e in evaluators]),
            "stats": [summary(e) for e in evaluators], "rst": rst, "stages": cap.stacked(),
            "masker_w_b": (float(model.masker_i.w.detach()), float(model.masker_i.b.detach())),
            "adversarial": adversarial}


def summary(e) -> dict:
    """What one official evaluator reports: ``finalize_stats`` (full precision) and ``finalize``."""
    stats = e.finalize_stats()
    printed = e.finalize()[1]
    return {"AP-all@50": float(stats["AP-all@50"]), "F1-all@50": stats["F1-all@50"],
            "AUC-all@50": float(stats["AUC-all@50"]), "Precision-all@50": float(stats["Precision-all@50"]),
            "printed_AP": float(printed["AP"]), "printed_Max-F1": float(printed["Max-F1"])}


# --------------------------------------------------------------------------- crafted cases
def list_cases() -> dict[str, dict]:
    """Confidence / cIoU / bb lists that stress the aggregation: ties, all negatives, one or two
    samples, cIoU exactly 0.5, float32 neighbours, and sizes around the two step rules (F1 every
    max(1, n // 10)-th confidence, AP every max(1, n // 200)-th)."""
    rng = np.random.default_rng(20241206)

    def random_case(n, levels=None):
        conf = rng.random(n).astype(np.float32) if levels is None else \
            rng.choice(np.linspace(-0.2, 0.3, levels).astype(np.float32), n)
        ciou = np.round(rng.random(n), 3)
        bb = (rng.random(n) < 0.5).astype(int)
        ciou[bb == 0] = 0.0
        return {"conf": conf, "ciou": ciou, "bb": bb}

    f32 = np.float32(0.25)
    cases = {
        "ties": {"conf": np.array([0.1, 0.3, 0.3, 0.3, 0.1, 0.2, 0.2, 0.3, 0.1, 0.2, 0.3, 0.1], np.float32),
                 "ciou": np.array([0.9, 0.6, 0.2, 0.0, 0.7, 0.5, 0.0, 0.8, 0.0, 0.4, 0.0, 0.55]),
                 "bb": np.array([1, 1, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1])},
        "all_tied": {"conf": np.full(6, 0.05, np.float32), "ciou": np.array([0.9, 0.1, 0.0, 0.7, 0.0, 0.5]),
                     "bb": np.array([1, 1, 0, 1, 0, 1])},
        "all_negative": {"conf": np.array([0.3, -0.1, 0.2, 0.2, 0.05], np.float32), "ciou": np.zeros(5),
                         "bb": np.zeros(5, int)},
        "all_positive_good": {"conf": np.array([0.4, 0.1, 0.3, 0.2], np.float32), "ciou": np.array([1.0, 0.8, 0.6, 0.5]),
                              "bb": np.ones(4, int)},
        "single_positive": {"conf": np.array([0.2], np.float32), "ciou": np.array([0.7]), "bb": np.array([1])},
        "single_negative": {"conf": np.array([0.2], np.float32), "ciou": np.array([0.0]), "bb": np.array([0])},
        "two": {"conf": np.array([0.2, 0.1], np.float32), "ciou": np.array([0.0, 0.9]), "bb": np.array([0, 1])},
        "ciou_at_half": {"conf": np.array([0.5, 0.4, 0.3, 0.2], np.float32),
                         "ciou": np.array([0.5, np.nextafter(0.5, 0.0), 0.25088 / 0.50176, 0.5]),
                         "bb": np.array([1, 1, 1, 0])},
        "float32_neighbours": {"conf": np.array([f32, np.nextafter(f32, np.float32(1)), np.nextafter(f32, np.float32(0)),
                                                 f32, np.nextafter(f32, np.float32(1))], np.float32),
                               "ciou": np.array([0.6, 0.0, 0.7, 0.2, 0.9]), "bb": np.array([1, 0, 1, 1, 1])},
    }
    for n in (7, 10, 19, 20, 57, 199, 200, 401, 1234):
        cases[f"n{n}"] = random_case(n)
    cases["n437_ties"] = random_case(437, levels=9)
    return cases


def run_list_case(xe, case: dict) -> dict:
    """The official aggregation of one list case (lists set on a fresh evaluator, as ``update``
    would have filled them: 0-d float32 confidences, float cIoUs, int bb)."""
    e = xe.Evaluator()
    n = len(case["conf"])
    e.confidence_list = [np.array(c, dtype=np.float32) for c in case["conf"]]
    e.ciou_list = [float(c) for c in case["ciou"]]
    e.bb_list = [int(b) for b in case["bb"]]
    e.name_list = [str(i) for i in range(n)]
    e.area_list = [0.0] * n
    return summary(e)


def conf_for_case(k: int) -> float:
    """A crafted confidence for map case ``k``: 11 levels, so many cases tie."""
    return float(np.float32(((7 * k) % 11) / 10 - 0.3))


def adversarial_cases(workdir: Path) -> dict:
    """The official extended evaluator on crafted inputs (needs the patched import path)."""
    import VGGSS.extend_eval_utils as xe
    from VGGSS.VGGSS_Dataset import bbox2gtmap, load_all_bboxes
    from torchvision import transforms as vt

    ann = workdir / "adversarial_boxes.json"
    ann.write_text(json.dumps([{"file": k, "bbox": v} for k, v in H.ADV_BOXES.items()]))
    boxes = load_all_bboxes(str(ann))
    gts = {k: vt.ToTensor()(bbox2gtmap(boxes[k])) for k in H.ADV_BOXES}
    maps = H.adversarial_maps()
    cases = [(m, g) for m in maps for g in gts]
    labels = [NEGATIVE_LABEL if g == "empty" else "thing" for _, g in cases]
    conf = [conf_for_case(k) for k in range(len(cases))]
    per_thr = []
    for thr in H.THRESHOLDS:
        e = xe.Evaluator()
        for k, (m, g) in enumerate(cases):
            e.evaluate_batch(torch.from_numpy(maps[m])[None, None], gts[g][None], [labels[k]],
                             torch.tensor([conf[k]], dtype=torch.float32), [f"{m}__{g}"], thr)
        per_thr.append({"ciou": [float(c) for c in e.ciou_list], **summary(e)})
    lists = list_cases()
    return {"map_cases": {"cases": [f"{m}__{g}" for m, g in cases], "labels": labels, "conf": conf,
                          "per_threshold": per_thr},
            "list_cases": {name: {"conf": [float(c) for c in c_["conf"]], "ciou": [float(c) for c in c_["ciou"]],
                                  "bb": [int(b) for b in c_["bb"]], **run_list_case(xe, c_)}
                           for name, c_ in lists.items()}}


# --------------------------------------------------------------------------- goldens
def levels(heat: np.ndarray) -> np.ndarray:
    """uint8 ``[N, 224, 224]``: how many sweep thresholds each pixel passes (``>=`` the float32 of
    each); ``levels > k`` is the mask of threshold ``k``, for all 19 thresholds exactly."""
    t32 = np.array(H.THRESHOLDS, dtype=np.float32)
    return (heat[..., None] >= t32).sum(-1).astype(np.uint8)


def compact(r: dict) -> dict[str, np.ndarray]:
    """The committed arrays of the extended run."""
    st = r["stages"]
    heat = st["heatmap"][:, 0].astype(np.float32)
    dense = st["dense_tokens"].astype(np.float32)                     # [N, 485, 512]
    mask = st["feature_mask"][:, 0].astype(np.float32)               # [N, 352, 352]
    out = {"names": np.array(r["names"]), "image_ids": np.array(r["image_ids"]), "audio_ids": np.array(r["audio_ids"]),
           "labels": np.array(r["labels"]), "bb": r["bb"],
           "thresholds": np.array(H.THRESHOLDS, dtype=np.float64), "conf": r["conf"], "ciou": r["ciou"],
           "levels": levels(heat), "gt_map": r["gt"].astype(np.uint8),
           "embedding": st["embedding"].astype(np.float32),          # [N, 512]
           "dense_rows": dense[:, TOKENS], "dense_mean": dense[:, 1:].mean(1),
           "feature_mask_patches": mask[:, ::16, ::16],              # the pixels F.interpolate(nearest) reads
           "masker_w_b": np.array(r["masker_w_b"], dtype=np.float32), "dense_token_index": np.array(TOKENS)}
    for name, a in (("heatmap", heat), ("dense_tokens", dense), ("feature_mask", mask),
                    ("mask_logits", st["mask_logits"][:, 0].astype(np.float32))):
        out[f"sha256_{name}"] = np.array([H.sha(x) for x in a])
    return out


def write_extended(out: Path, r: dict, data: Path) -> None:
    """extended.npz / extended.json / extended_test_rst.txt / extended_adversarial.json and the
    synthetic set's two lists under extended_data/; then SHA256SUMS and README.md's sections."""
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "extended.npz", **compact(r))
    (out / "extended_test_rst.txt").write_text(r["rst"])
    doc = {"evaluator": f"swimmiing/ACL-SSL@{H.COMMIT} Eval.py eval_exvggss_agg + VGGSS/extend_eval_utils.py",
           "positives": r["positives"], "negatives": [list(n) for n in r["negatives"]], "names": r["names"],
           "image_ids": r["image_ids"], "audio_ids": r["audio_ids"],
           "bb": r["bb"].tolist(), "conf": [float(c) for c in r["conf"]], "thresholds": H.THRESHOLDS,
           "ciou_per_threshold": r["ciou"].tolist(), "per_threshold": r["stats"]}
    (out / "extended.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / "extended_adversarial.json").write_text(json.dumps(r["adversarial"], indent=0) + "\n")
    (out / "extended_data").mkdir(exist_ok=True)
    for name in ("vggss.json", NEGATIVES_CSV):
        shutil.copyfile(data / name, out / "extended_data" / name)
    H.update_readme(out, extended_section(r, data))


def extended_section(r: dict, data: Path) -> str:
    """The README.md section of the extended goldens."""
    patches = "\n".join(f"{i}. **{what}** — {why}" for i, (what, why) in enumerate(H.PATCHES_EXTENDED, 1))
    hashes = "\n".join(f"{hashlib.sha256((data / n).read_bytes()).hexdigest()}  {n}"
                       for n in ("vggss.json", NEGATIVES_CSV))
    pairs = "; ".join(f"{v}, {a}" + (" (a frame with its own audio)" if v == a else "") for v, a in r["negatives"])
    media = H._shown((data / "frames").resolve().parent)
    return f"""## Extended VGG-SS (written by `aclssl.py --extended`)

The official extended path (`ExtendVGGSSDataset` + `Eval.eval_exvggss_agg`, `VGGSS/extend_eval_utils.py`)
on {len(r['names'])} samples: the {len(r['positives'])} positives {', '.join(r['positives'])} (frames and audio of
`{media}`, boxes from `extended_data/vggss.json`) and the {len(r['negatives'])} `non-sounding` pairs (image, audio) of
`extended_data/{NEGATIVES_CSV}`: {pairs}.

* `extended.npz` — `names` (the official ids, `<image>_<audio>`), `image_ids`, `audio_ids`, `labels`, `bb`, `conf` float32 [N] (the official
  confidence), `ciou` float64 [19,N], `levels` uint8 [N,224,224] (how many sweep thresholds each pixel
  of the official heatmap passes: `levels > k` is threshold k's mask, exactly), `gt_map`, `embedding`
  [N,512], the dense CLIP features of `get_pixels` (`dense_rows`: tokens {TOKENS}; `dense_mean` over the
  patches), `feature_mask_patches` [N,22,22] (the masker_f output at the pixels the nearest resize reads),
  `sha256_<stage>` of the whole float32 heatmap, dense tokens, feature mask and mask logits.
* `extended.json` — the same per-sample values, and per threshold the evaluator's `AP-all@50` and
  `F1-all@50` (full precision / as formatted), `AUC-all@50`, `Precision-all@50` and the printed AP and Max-F1.
* `extended_test_rst.txt` — the official output file, verbatim.
* `extended_adversarial.json` — the official evaluator class on crafted inputs: the 48 map x GT cases
  of `adversarial.npz` through `evaluate_batch` (label `non-sounding` for the empty GT, confidences
  `float32(((7k) mod 11)/10 - 0.3)`), and {len(r['adversarial']['list_cases'])} confidence / cIoU / bb lists
  finalised directly (ties, all negatives, one and two samples, cIoU at 0.5, float32 neighbours, n = 7 ... 1234).
* `extended_data/` — the synthetic set's lists (sha256 as read):

```
{hashes}
```

Patches of this run, besides 1-4, 6 and 7 above (7 is installed but records nothing here):

{patches}
"""


def run(src: Path, weights: Path, data: Path, ids, out: Path | None, full: Path | None) -> dict:
    """The ``--extended`` mode of aclssl.py: run, print the result file, write the goldens."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="aclssl_ext_") as tmp:
        r = run_official_extended(src, weights, data, ids, Path(tmp))
    print(r["rst"])
    if full:
        full.mkdir(parents=True, exist_ok=True)
        np.savez(full / "extended_stages.npz", **r["stages"])
    if out:
        write_extended(out, r, data.resolve())
    return r
