"""Reference harness for ACL-SSL: runs the OFFICIAL test code of swimmiing/ACL-SSL (commit 57f4a6c)
unmodified, on a VGG-SS-layout folder, with the substitute weights of aclssl_weights.py, and records
what every stage produced (docs/models.md §18).

Nothing of the official code is in this repository: ``--src`` names a checkout of it. Run this with a
side environment that has transformers 4.25.1 (the release's pin), torch, torchvision, torchaudio (only
its pure-Python ``compliance.kaldi`` is used), pyyaml, scikit-learn, opencv, tqdm, tensorboard, soundfile:

    python scripts/reference/aclssl.py --src ACL-SSL --weights W --data D --out OUT [--ids ID ...]
    python scripts/reference/aclssl.py ... --full OUT2          # every stage whole, one .npz per clip
    python scripts/reference/aclssl.py --write-manifests --src ACL-SSL   # record the official key sets
    python scripts/reference/aclssl.py --extended ... --data D2 --out OUT  # the extended-set path (below)

What runs, exactly as ``Test_PTModels.main`` does for VGG-SS: ``ACL(config/model/ACL_ViT16.yaml, cpu)``,
``model.train(False)``, ``model.load(Param_best.pth)``, ``VGGSSDataset(D, 'vggss_test', is_train=False,
input_resolution=352)`` in a ``DataLoader(batch_size=1, shuffle=False, num_workers=1)``, then
``Eval.eval_vggss_agg`` (prompt, encode_audio, forward, the 19-threshold evaluator of
``VGGSS/eval_utils.py``, its visual outputs and ``test_rst.txt``). The official code reads
``./config``, ``./pretrain`` and ``VGGSS/metadata/{vggss_test.csv, vggss.json}`` relative to the working
directory, so the harness runs it in a scratch folder laid out that way: the config linked from
``--src``, the BEATs file linked from ``--weights``, and the two metadata files written for the
chosen clips (ids from ``D/vggss.json``, all of them if ``--ids`` is not given). Stages are captured
with forward hooks, which do not change any value.

``--extended`` runs the official extended VGG-SS path (``ExtendVGGSSDataset`` + ``eval_exvggss_agg``)
instead, on D2 = a VGG-SS-layout folder plus its ``vggss_test_plus_silent.csv``, and adds the
``extended*`` goldens to OUT (scripts/reference/aclssl_extended.py; its patches: PATCHES_EXTENDED).
"""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------
# PATCHES: every change to the official run's environment, with its reason. Nothing else differs.
PATCHES = [
    ("transformers.AutoTokenizer.from_pretrained -> a stub tokenizer whose call on 'A photo of ' "
     "returns the CLIP ids [49406, 320, 1125, 539, 49407]",
     "the CLIP BPE files of CIDAS/clipseg-rd64-refined are not available offline; the official "
     "get_placeholder_token still pads them with 0 to 77 and Eval.py still repeats them per batch. "
     "Any other text raises, so a different prompt cannot pass silently."),
    ("CLIPSeg.from_pretrained('CIDAS/clipseg-rd64-refined') -> the local folder WEIGHTS/clipseg-rd64-refined",
     "no network: the Hugging Face download is replaced by the substitute weights written in the "
     "published layout (config.json + pytorch_model.bin); from_pretrained itself runs unchanged."),
    ("torchaudio.load -> soundfile.read(dtype='float32', always_2d=True).T, sample rate returned as read",
     "torchaudio >= 2.9 reads audio only through torchcodec, which is not installed; for PCM16 WAVs "
     "soundfile's float32 equals the sox/soundfile backends of torchaudio 0.13 (int16 / 32768), "
     "channels first."),
    ("device 'cpu' (ACL(..., 'cpu'), as Test_PTModels.py falls back to when CUDA is absent)",
     "goldens are CPU float32; CUDA_VISIBLE_DEVICES is emptied so no GPU kernel is used."),
    ("Test_PTModels.main's VGG-SS steps are performed by the harness, line for line (ACL, train(False), "
     "load, VGGSSDataset at 352, DataLoader(batch_size=1, shuffle=False, num_workers=1, pin_memory=True, "
     "drop_last=False), eval_vggss_agg with tensorboard_path), with Param_best.pth read from WEIGHTS",
     "main() also runs the extended sets, Flickr and AVSBench, whose data do not exist here, and reads "
     "Param_best.pth from SAVE/Train_record/ACL_ViT16_aclifa_2gpu/; nothing else differs."),
    ("working directory: a scratch folder with config -> SRC/config, pretrain/<BEATs file> -> WEIGHTS, and "
     "VGGSS/metadata/{vggss_test.csv, vggss.json} written for the chosen clips from DATA/vggss.json",
     "the official code opens these relative to the working directory; its own metadata list the real "
     "VGG-SS ids, which the synthetic data do not have. The official sources are imported from SRC."),
    ("VGGSS.eval_utils.Evaluator.__init__ -> the official __init__, then the instance is remembered",
     "to record the per-sample cIoU of each of the 19 evaluators at full precision; evaluate_batch, "
     "cal_CIOU and finalize are the official methods, untouched."),
]
#: The extended-set run (``--extended``, scripts/reference/aclssl_extended.py) has patches 1-4, 6 and
#: 7 above (7 records nothing there) and these:
PATCHES_EXTENDED = [
    ("Test_PTModels.main's extended-VGG-SS steps are performed by the harness, line for line (ACL, "
     "train(False), load, ExtendVGGSSDataset(D, input_resolution=352), DataLoader(batch_size=1, shuffle=False, "
     "num_workers=1, pin_memory=True, drop_last=False), eval_exvggss_agg(model, loader, result_dir)), with "
     "Param_best.pth read from WEIGHTS",
     "main() also runs extended Flickr, Flickr, VGG-SS and AVSBench, and reads Param_best.pth from "
     "SAVE/Train_record/...; nothing else differs."),
    ("VGGSS.extend_eval_utils.Evaluator.__init__ -> the official __init__, then the instance is remembered",
     "to read each evaluator's per-sample confidence, cIoU and bb lists, and to call its official "
     "finalize_stats() and finalize() once more after the run for the unformatted AP and F1 list (both "
     "only read the lists); update, evaluate_batch and the aggregation are the official methods, untouched."),
    ("data placement: D/extend_frames -> DATA/frames and D/extend_audio -> DATA/audio (links), and "
     "VGGSS/metadata/vggss_test_plus_silent.csv copied byte for byte from DATA",
     "the official loader reads the positives and the negatives from extend_frames/ and extend_audio/ and "
     "the negatives list from VGGSS/metadata/; the synthetic set keeps one copy of each file."),
]
# ---------------------------------------------------------------------------------------------

import argparse
import contextlib
import csv
import hashlib
import json
import os
import platform
import re
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import aclssl_weights as W  # noqa: E402

HUB_ID = "CIDAS/clipseg-rd64-refined"
PROMPT_IDS = [49406, 320, 1125, 539, 49407]  # <|startoftext|> a photo of <|endoftext|>
COMMIT = "57f4a6c"
THRESHOLDS = [0.05, 0.1, 0.15, 0.2, 0.25, 0.30, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.70, 0.75, 0.8,
              0.85, 0.9, 0.95]  # Eval.py's literal list
BEATS_ROWS = [0, 1, 247, 495]       # BEATs tokens kept whole in the compact goldens (of 496)
VIT_ROWS = [0, 1, 242, 484]         # ViT tokens kept whole (of 485; 0 = CLS)
LOGIT_STRIDE = 4                    # the 352 logits are kept every 4th row/column (88 x 88)

def sha(a: np.ndarray) -> str:
    """sha256 of an array's C-order bytes."""
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


# --------------------------------------------------------------------------- the patches
class _PromptTokenizer:
    """Stands in for the CLIP fast tokenizer: only the prompt ACL uses is known (see PATCHES)."""

    class _Enc:
        def __init__(self, ids):
            self.data = {"input_ids": torch.tensor([ids], dtype=torch.long)}

    def __call__(self, text, return_tensors=None):
        if text != "A photo of " or return_tensors != "pt":
            raise ValueError(f"the harness tokenizer knows only 'A photo of ' (got {text!r})")
        return self._Enc(PROMPT_IDS)


def _read_wav(path, *args, **kwargs):
    """torchaudio.load with soundfile: (channels, samples) float32, sample rate."""
    import soundfile as sf

    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return torch.from_numpy(np.ascontiguousarray(data.T)), sr


EVALUATORS: list = []  # the official Evaluator instances, in creation order


def apply_patches(src: Path, clipseg_dir: Path) -> None:
    """Install the PATCHES (module docstring) before the official modules are used."""
    sys.path.insert(0, str(src))
    import torchaudio
    import transformers

    torchaudio.load = _read_wav
    transformers.AutoTokenizer.from_pretrained = classmethod(lambda cls, name, *a, **k: _PromptTokenizer())
    from modules.CLIPSeg.clipseg_for_audio import CLIPSeg

    original = CLIPSeg.from_pretrained.__func__

    def local(cls, name, *a, **k):
        return original(cls, str(clipseg_dir) if name == HUB_ID else name, *a, **k)

    CLIPSeg.from_pretrained = classmethod(local)
    import VGGSS.eval_utils as ve

    # Record the 19 evaluators (their own __init__ runs first; the class itself stays in place,
    # since its __init__ calls super(Evaluator, self) through the module global).
    original_init = ve.Evaluator.__init__

    def recording_init(self):
        original_init(self)
        EVALUATORS.append(self)

    ve.Evaluator.__init__ = recording_init


# Not a patch, a fact checked when the environment was built: torchaudio 2.11.0's
# torchaudio/compliance/kaldi.py (the fbank BEATs calls) is byte-identical to that of torchaudio
# 0.13.1, the release's pin, so the fbank code is the pinned one, running on torch 2.14.1.
KALDI_NOTE = ("torchaudio 2.11.0 was installed with --no-deps (no torchaudio release matches torch 2.14.1); "
              "its compliance/kaldi.py is byte-identical to torchaudio 0.13.1's (the release's pin), "
              "and it is the only part of torchaudio the test path uses besides load (patched).")


class HarnessError(SystemExit):
    """A one-line error about the harness's inputs."""


def check_inputs(src: Path, weights: Path, data: Path) -> None:
    """Refuse, in one line each, a --src, --weights or --data that cannot be what the run needs."""
    if not (src / "modules" / "models.py").is_file() or not (src / "Eval.py").is_file():
        raise HarnessError(f"--src {src}: not a checkout of swimmiing/ACL-SSL (no modules/models.py or Eval.py)")
    for part, name in W.FILES.items():
        p = weights / name / "config.json" if part == "clipseg" else weights / name
        if not p.is_file():
            raise HarnessError(f"--weights {weights}: {p.relative_to(weights)} is missing; write the substitute "
                               "weights with scripts/reference/aclssl_weights.py --out DIR")
    for rel in ("vggss.json", "frames", "audio"):
        if not (data / rel).exists():
            raise HarnessError(f"--data {data}: {rel} is missing (VGG-SS layout: frames/<id>.jpg, "
                               "audio/<id>.wav, vggss.json)")


# --------------------------------------------------------------------------- the run folder
def make_run_dir(run: Path, src: Path, weights: Path, data: Path, ids: list[str] | None) -> list[str]:
    """Lay out ``run`` as the official code expects its working directory; returns the clip ids."""
    annotations = json.loads((data / "vggss.json").read_text())
    by_id = {a["file"]: a for a in annotations}
    ids = sorted(ids or by_id)
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise HarnessError(f"{data / 'vggss.json'} has no entry for {missing}")
    absent = [i for i in ids if not (data / "frames" / f"{i}.jpg").is_file() or not (data / "audio" / f"{i}.wav").is_file()]
    if absent:
        raise HarnessError(f"{data}: frames/<id>.jpg or audio/<id>.wav missing for {absent}")
    (run / "VGGSS" / "metadata").mkdir(parents=True)
    (run / "VGGSS" / "metadata" / "vggss.json").write_text(json.dumps([by_id[i] for i in ids]))
    with open(run / "VGGSS" / "metadata" / "vggss_test.csv", "w", newline="") as fh:  # quoted as the official list
        csv.writer(fh, lineterminator="\n").writerows([i, by_id[i]["class"]] for i in ids)
    (run / "config").symlink_to(src / "config")
    (run / "pretrain").mkdir()
    (run / "pretrain" / W.FILES["beats"]).symlink_to(weights / W.FILES["beats"])
    return ids


# --------------------------------------------------------------------------- capture
class Capture:
    """Forward hooks on the official modules; each records the tensors of one stage per sample."""

    def __init__(self, model):
        self.rec: dict[str, list[np.ndarray]] = {}
        av = model.av_grounder
        self.handles = [
            model.audio_backbone.patch_embedding.register_forward_pre_hook(self._pre("fbank", 0)),
            model.audio_proj.register_forward_pre_hook(self._pre("beats_features", 0)),
            model.audio_proj.register_forward_hook(self._out("fga_token")),
            av.clip.vision_model.register_forward_pre_hook(self._kw("image", "pixel_values"), with_kwargs=True),
            av.clip.vision_model.register_forward_hook(self._hidden),
            av.decoder.register_forward_pre_hook(self._decoder_in),
            av.decoder.register_forward_hook(self._decoder_out),
            model.masker_i.register_forward_pre_hook(self._pre("logits224", 0)),
            model.masker_i.register_forward_hook(self._out("heatmap")),
        ]

    def _put(self, name, t):
        self.rec.setdefault(name, []).append(t.detach().cpu().numpy().copy())

    def _pre(self, name, i):
        return lambda m, args: self._put(name, args[i])

    def _out(self, name):
        return lambda m, args, out: self._put(name, out)

    def _kw(self, name, key):
        def hook(m, args, kwargs):
            self._put(name, kwargs[key] if key in kwargs else args[0])
        return hook

    def _hidden(self, m, args, out):
        for layer in (4, 7, 10):  # hidden_states[i + 1] for extract_layers (3, 6, 9)
            self._put(f"vit_layer{layer}", out.hidden_states[layer])

    def _decoder_in(self, m, args):
        self._put("embedding", args[1])

    def _decoder_out(self, m, args, out):
        self._put("logits352", out.logits.reshape(-1, 352, 352))

    def stacked(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v, axis=0) for k, v in self.rec.items()}


# --------------------------------------------------------------------------- the official run
@contextlib.contextmanager
def official_session(src: Path, weights: Path, data: Path, workdir: Path, lay_out):
    """Check the inputs, lay out ``workdir`` (``lay_out(workdir, src, weights, data)``), install the
    PATCHES, then run the body inside ``workdir`` with the model built as ``Test_PTModels.main``
    builds it (device 'cpu', see PATCHES). Yields ``(model, what lay_out returned, data resolved)``."""
    src, weights, data = src.resolve(), weights.resolve(), data.resolve()
    check_inputs(src, weights, data)
    laid = lay_out(workdir, src, weights, data)
    apply_patches(src, weights / W.FILES["clipseg"])
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    old = os.getcwd()
    os.chdir(workdir)
    try:
        from modules.models import ACL

        model = ACL("./config/model/ACL_ViT16.yaml", "cpu")
        model.train(False)
        model.load(str(weights / W.FILES["param_best"]))
        yield model, laid, data
    finally:
        os.chdir(old)


def run_official(src: Path, weights: Path, data: Path, ids, workdir: Path):
    """Run the official VGG-SS test path; returns (ids, stages, evaluator records, gt maps, rst text)."""
    with official_session(src, weights, data, workdir,
                          lambda run, s, w, d: make_run_dir(run, s, w, d, ids)) as (model, ids, data):
        from VGGSS.VGGSS_Dataset import VGGSSDataset
        from Eval import eval_vggss_agg

        # Test_PTModels.main, VGG-SS branch.
        dataset = VGGSSDataset(str(data), "vggss_test", is_train=False, input_resolution=352)
        if dataset.file_list != ids:
            raise HarnessError(f"the official file list {dataset.file_list} differs from the chosen ids {ids}: "
                               f"some clip lacks frames/<id>.jpg or audio/<id>.wav in {data}")
        loader = torch.utils.data.DataLoader(dataset, batch_size=1, shuffle=False, num_workers=1,
                                             pin_memory=True, drop_last=False)
        cap = Capture(model)
        result_dir = workdir / "Visual_results" / "vggss"
        best = eval_vggss_agg(model, loader, str(result_dir), tensorboard_path=str(workdir / "Train_record"))
        rst = (result_dir / "test_rst.txt").read_text()
        gt = np.stack([dataset.get_bbox(i).numpy()[0] for i in range(len(dataset))])
        evaluators = EVALUATORS[-len(THRESHOLDS):]
        ciou = np.array([[float(c) for c in e.ciou] for e in evaluators])  # [19, N]
        finals = [e.finalize()[1] for e in evaluators]
        wb = (float(model.masker_i.w.detach()), float(model.masker_i.b.detach()))
        adversarial = run_adversarial(workdir)
    evals = {"ciou": ciou, "ap50": np.array([f["cIoU"] for f in finals], dtype=np.float64),
             "auc": np.array([f["AUC"] for f in finals], dtype=np.float64),
             "best_auc": float(best["best_AUC"]), "masker_w_b": wb, "adversarial": adversarial}
    return ids, cap.stacked(), evals, gt, rst


# --------------------------------------------------------------------------- adversarial evaluator cases
ADV_BOXES = {  # normalised [x1, y1, x2, y2] lists, read by the official load_all_bboxes rules
    "box": [[0.25, 0.25, 0.75, 0.75]],
    "whole": [[0.0, 0.0, 1.0, 1.0]],
    "empty": [],                                     # all-zero GT: the official cIoU is 0/0 = NaN
    "twoboxes": [[0.1, 0.1, 0.5, 0.6], [0.4, 0.3, 0.9, 0.8]],   # overlapping: the union counts once
    "tiny": [[0.5, 0.5, 0.505, 0.505]],              # one pixel after truncation
    "clipped": [[-0.1, 0.6, 1.04, 1.2]],             # clipped to [0, 1] before scaling
}


def adversarial_maps() -> dict[str, np.ndarray]:
    """Float32 224x224 test maps that stress the `>=` rule and the float32 comparison: values exactly
    at each threshold's float32, one ulp below, constants, a ramp, two levels and uniform noise."""
    t32 = np.array(THRESHOLDS, dtype=np.float32)
    col = np.arange(224) % len(THRESHOLDS)
    at = np.broadcast_to(t32[col], (224, 224)).copy()
    below = np.broadcast_to(np.nextafter(t32, np.float32(-1))[col], (224, 224)).copy()
    ramp = np.broadcast_to(np.linspace(0, 1, 224, dtype=np.float32), (224, 224)).copy()
    two = np.full((224, 224), 0.2, np.float32)
    two[40:160, 60:200] = 0.8
    rng = np.random.default_rng(20240121)
    return {"at_thresholds": at, "one_ulp_below": below, "const0": np.zeros((224, 224), np.float32),
            "const1": np.ones((224, 224), np.float32), "const_half": np.full((224, 224), 0.5, np.float32),
            "ramp": ramp, "twolevel": two, "uniform": rng.random((224, 224), dtype=np.float32)}


def run_adversarial(workdir: Path) -> dict:
    """The official VGG-SS evaluator (19 thresholds, as Eval.py calls it, batch 1) on every map x GT,
    the GTs built by the official load_all_bboxes + bbox2gtmap. Needs apply_patches() first."""
    from VGGSS.VGGSS_Dataset import bbox2gtmap, load_all_bboxes
    import VGGSS.eval_utils as ve
    from torchvision import transforms as vt

    ann = workdir / "adversarial_boxes.json"
    ann.write_text(json.dumps([{"file": k, "bbox": v} for k, v in ADV_BOXES.items()]))
    boxes = load_all_bboxes(str(ann))
    gts = {k: vt.ToTensor()(bbox2gtmap(boxes[k])) for k in ADV_BOXES}        # float64 [1,224,224]
    maps = adversarial_maps()
    cases = [(m, g) for m in maps for g in gts]
    per_thr = []
    for thr in THRESHOLDS:
        e = ve.Evaluator()
        for m, g in cases:
            e.evaluate_batch(torch.from_numpy(maps[m])[None, None], gts[g][None], thr)
        ap50, auc = e.finalize()[1].values()
        ok = [i for i, (m, g) in enumerate(cases) if g != "empty"]
        f = ve.Evaluator()
        f.ciou = [e.ciou[i] for i in ok]
        ap50_ne, auc_ne = f.finalize()[1].values()
        per_thr.append({"ciou": [float(c) for c in e.ciou], "ap50": float(ap50), "auc": float(auc),
                        "ap50_without_empty_gt": float(ap50_ne), "auc_without_empty_gt": float(auc_ne)})
    return {"maps": maps, "gts": {k: v[0].numpy().astype(np.uint8) for k, v in gts.items()},
            "cases": cases, "per_threshold": per_thr}


def write_adversarial(out: Path, adv: dict) -> None:
    """adversarial.npz (maps float32, GTs uint8) + adversarial.json (expected values, NaN as null)."""
    names_m, names_g = list(adv["maps"]), list(adv["gts"])
    np.savez_compressed(out / "adversarial.npz", map_names=np.array(names_m), gt_names=np.array(names_g),
                        maps=np.stack([adv["maps"][k] for k in names_m]),
                        gt_maps=np.stack([adv["gts"][k] for k in names_g]),
                        thresholds=np.array(THRESHOLDS, dtype=np.float64))
    nan = lambda x: None if x != x else x  # noqa: E731
    doc = {"evaluator": f"swimmiing/ACL-SSL@{COMMIT} VGGSS/eval_utils.py::Evaluator, one per threshold, "
                        "evaluate_batch per case (batch 1, as Eval.py), finalize() = 100*AP50, 100*AUC",
           "inputs": "adversarial.npz: maps [M,224,224] float32 (the heatmap), gt_maps [G,224,224] uint8 "
                     "(official load_all_bboxes + bbox2gtmap of the boxes below; fed as float64 like the "
                     "dataset's ToTensor); cases = every map x every GT, map-major, in the order below",
           "boxes": ADV_BOXES, "cases": [f"{m}__{g}" for m, g in adv["cases"]], "thresholds": THRESHOLDS,
           "nan": "cIoU of an all-zero GT is 0/0 = NaN in the official code (null here); NaN counts as "
                  "failing every cIoU threshold in AP50/AUC (numpy comparison)",
           "per_threshold": [{**r, "ciou": [nan(c) for c in r["ciou"]]} for r in adv["per_threshold"]]}
    (out / "adversarial.json").write_text(json.dumps(doc, indent=1) + "\n")


# --------------------------------------------------------------------------- goldens
def parse_rst(text: str) -> list[tuple[float, str, str]]:
    """Eval.py's test_rst.txt as (threshold, AP50 text, AUC text) rows, in file order."""
    thr = [float(t) for t in re.findall(r"with thr = ([0-9.]+)\)", text)]
    vals = re.findall(r"AP50\(cIoU\)=(\S+), AUC=(\S+)", text)
    return [(t, a, b) for t, (a, b) in zip(thr, vals)]


def compact(ids, st, ev, gt) -> dict[str, np.ndarray]:
    """The committed golden arrays: maps whole in float32, big intermediates as slices + sha256."""
    out = {"ids": np.array(ids), "thresholds": np.array(THRESHOLDS, dtype=np.float64),
           "heatmap": st["heatmap"][:, 0].astype(np.float32),          # [N,224,224] the test map
           "gt_map": gt.astype(np.uint8),                               # [N,224,224]
           "fga_token": st["fga_token"].astype(np.float32),             # [N,512]
           "embedding": st["embedding"].astype(np.float32),             # [N,512] audio-driven
           "logits352_strided": st["logits352"][:, ::LOGIT_STRIDE, ::LOGIT_STRIDE].astype(np.float32),
           "logits352_first": st["logits352"][0].astype(np.float32),    # clip 0 whole [352,352]
           "image_strided": st["image"][:, :, ::8, ::8].astype(np.float32),  # [N,3,44,44]
           "fbank_rows": st["fbank"][:, 0, ::16, :].astype(np.float32),     # every 16th frame [N,63,128]
           "beats_rows": st["beats_features"][:, BEATS_ROWS].astype(np.float32),  # [N,4,2304]
           "beats_mean": st["beats_features"].mean(1).astype(np.float32),         # [N,2304]
           "ciou": ev["ciou"], "ap50": ev["ap50"], "auc": ev["auc"],
           "masker_w_b": np.array(ev["masker_w_b"], dtype=np.float32),
           "beats_token_index": np.array(BEATS_ROWS), "vit_token_index": np.array(VIT_ROWS)}
    for layer in (4, 7, 10):
        h = st[f"vit_layer{layer}"]
        out[f"vit_layer{layer}_rows"] = h[:, VIT_ROWS].astype(np.float32)   # [N,4,768]
        out[f"vit_layer{layer}_mean"] = h.mean(1).astype(np.float32)        # [N,768]
    for name in ("fbank", "image", "beats_features", "fga_token", "embedding", "vit_layer4", "vit_layer7",
                 "vit_layer10", "logits352", "logits224", "heatmap"):
        a = st[name]
        out[f"sha256_{name}"] = np.array([sha(a[i].astype(np.float32)) for i in range(len(ids))])
        out[f"shape_{name}"] = np.array(a.shape[1:])
    return out


def diagnostics(st, ev) -> dict:
    """Why the maps discriminate: logit range, fraction of pixels >= each threshold, nearest value
    to any threshold (for the exact-mask tests)."""
    h = st["heatmap"][:, 0].astype(np.float32)
    frac = [[float((h[i] >= np.float32(t)).mean()) for t in THRESHOLDS] for i in range(len(h))]
    gap = [float(min(np.abs(h[i] - np.float32(t)).min() for t in THRESHOLDS)) for i in range(len(h))]
    near = [[int((np.abs(h[i] - np.float32(t)) <= 1e-6).sum()) for t in THRESHOLDS] for i in range(len(h))]
    lg = st["logits224"]
    return {"logits224_min_max": [[float(x.min()), float(x.max())] for x in lg],
            "logits224_median": [float(np.median(x)) for x in lg],
            "heatmap_min_max": [[float(x.min()), float(x.max())] for x in h],
            "fraction_at_or_above_threshold": frac,
            "min_distance_to_a_threshold": gap,
            "pixels_within_1e-6_of_threshold": near,
            "masker_w_b": list(ev["masker_w_b"])}


def versions() -> dict:
    import importlib.metadata as md

    pk = ["torch", "torchvision", "torchaudio", "transformers", "tokenizers", "numpy", "pillow",
          "scikit-learn", "opencv-python-headless", "soundfile", "tensorboard", "pyyaml", "tqdm"]
    v = {"python": platform.python_version()}
    for p in pk:
        try:
            v[p] = md.version(p)
        except md.PackageNotFoundError:
            v[p] = None
    return v


def _shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (no machine-specific prefix)."""
    path = path.resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name


def write_goldens(out: Path, ids, st, ev, gt, rst, src: Path, weights: Path, data: Path) -> None:
    """Write golden.npz, evaluator.json and a README.md with provenance and every file's sha256."""
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "golden.npz", **compact(ids, st, ev, gt))
    write_adversarial(out, ev["adversarial"])
    rows = parse_rst(rst)
    evaluator = {"ids": list(ids), "thresholds": THRESHOLDS,
                 "ap50": ev["ap50"].tolist(), "auc": ev["auc"].tolist(), "best_auc": ev["best_auc"],
                 "test_rst_rows": [{"thr": t, "AP50(cIoU)": a, "AUC": b} for t, a, b in rows],
                 "ciou_per_threshold": ev["ciou"].tolist(),
                 "diagnostics": diagnostics(st, ev)}
    (out / "evaluator.json").write_text(json.dumps(evaluator, indent=1) + "\n")
    (out / "test_rst.txt").write_text(rst)
    src_commit = _git_head(src)
    readme = out / "README.md"
    kept = extended_section_of(readme.read_text()) if readme.is_file() else ""  # an --extended run's section
    sums = write_sums(out)
    wsums = "\n".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(weights).as_posix()}"
                      for p in sorted(weights.rglob("*")) if p.is_file())
    patches = "\n".join(f"{i}. **{what}** — {why}" for i, (what, why) in enumerate(PATCHES, 1))
    vers = "\n".join(f"| {k} | {v} |" for k, v in versions().items())
    (out / "README.md").write_text(f"""# ACL-SSL goldens (written by scripts/reference/aclssl.py)

Reference outputs of the **official ACL-SSL test code** (`swimmiing/ACL-SSL`, commit {src_commit or COMMIT},
run unmodified) on {len(ids)} clips of the synthetic VGG-SS-layout fixture data (`{_shown(data)}`), with the substitute weights
of `scripts/reference/aclssl_weights.py` (rule `{W.RULE_VERSION}`, manifests in `manifests/`, masker
w = {ev['masker_w_b'][0]}, b = {ev['masker_w_b'][1]}). CPU, float32. The numbers are meaningless as
localisation scores; they exist to be reproduced.

Clips (the official sorted order): {', '.join(ids)}.

## Files

* `golden.npz` — `heatmap` float32 [N,224,224] (the test map, `sigmoid(bicubic224(logits) + b/w)`),
  `gt_map` uint8, `fga_token` / `embedding` float32 [N,512], `logits352_first` (clip 0 whole) and
  `logits352_strided` (every {LOGIT_STRIDE}th row/column), `image_strided` (the 352 input, every 8th pixel),
  `fbank_rows` (normalised fbank, every 16th of 998 frames), `beats_rows` / `beats_mean` (the 2304-wide
  BEATs layer concatenation: tokens {BEATS_ROWS} and the token mean), `vit_layer{{4,7,10}}_rows` / `_mean`
  (tokens {VIT_ROWS}, 0 = CLS), `ciou` float64 [19,N] per-sample cIoU of each evaluator, `ap50` / `auc`
  [19]; `sha256_<stage>` per clip of the whole float32 tensor and `shape_<stage>` for fbank, image,
  beats_features, fga_token, embedding, vit_layer4/7/10, logits352, logits224, heatmap.
* `evaluator.json` — the 19 thresholds' AP50(cIoU) and AUC at full precision, the rows of the official
  `test_rst.txt` as printed, per-sample cIoU, and diagnostics (logit range, fraction of pixels at or
  above each threshold, each map's smallest distance to a threshold).
* `test_rst.txt` — the official `Eval.eval_vggss_agg` output file, verbatim.
* `adversarial.npz` / `adversarial.json` — the official evaluator (`VGGSS/eval_utils.py`) at the 19
  thresholds on {len(ev['adversarial']['maps'])} crafted maps x {len(ev['adversarial']['gts'])} GTs (values exactly at each threshold's float32
  and one ulp below, constants 0 / 0.5 / 1, a ramp, two levels, uniform noise; box, whole image, empty
  GT giving NaN, two overlapping boxes, a 1-pixel box, a clipped box): per-case cIoU and AP50/AUC.
* `manifests/{{param_best,beats,clipseg}}.json` — key, shape, dtype, rule case and sha256 of every tensor.

## Patches of the run (all of them)

{patches}

## Software

{KALDI_NOTE}

| package | version |
|---|---|
{vers}

## Substitute weight files (as written by `aclssl_weights.py --out`)

```
{wsums}
```

{STAGE_GOLDENS}

{kept + chr(10) + chr(10) if kept else ""}## sha256 of the files here (also in `SHA256SUMS`)

```
{sums}
```
""")


EXTENDED_MARK = ("<!-- extended: written by --extended -->", "<!-- /extended -->")
SUMS_HEADING = "## sha256 of the files here (also in `SHA256SUMS`)"


def extended_section_of(text: str) -> str:
    """The marked extended section of a README.md text ('' when it has none)."""
    start, end = EXTENDED_MARK
    if start not in text or end not in text:
        return ""
    return text[text.index(start):text.index(end) + len(end)]


#: README paragraph on the folder's two files that other scripts write (kept on every rewrite).
STAGE_GOLDENS = """## Stage goldens (written by other scripts)

* `stages.npz`: every stage of the official test path on two clips (image, fbank, ViT layers,
  BEATs, FGA token, embedding, logits, heatmap, subsampled), written by
  `scripts/reference/aclssl_stage_goldens.py` from the official modules under transformers 4.25.1;
  read by `tests/models/test_aclssl_parity.py`.
* `kaldi_fbank.npz`: torchaudio's `compliance.kaldi.fbank` of a 0.5 s PCM16 signal with BEATs'
  arguments, written by `scripts/reference/aclssl_fbank_golden.py`; read by
  `tests/frontends/test_kaldi_fbank.py`."""


def update_readme(out: Path, section: str | None = None) -> None:
    """Rewrite ``out/SHA256SUMS`` and README.md's sha256 block; with ``section``, put it (marked) before
    that block, replacing an earlier extended section."""
    sums = write_sums(out)
    text = (out / "README.md").read_text()
    head = text[:text.index(SUMS_HEADING)]
    old = extended_section_of(head)
    if section is not None:
        marked = f"{EXTENDED_MARK[0]}\n{section.rstrip()}\n{EXTENDED_MARK[1]}"
        head = head.replace(old, marked) if old else f"{head.rstrip()}\n\n{marked}\n\n"
    (out / "README.md").write_text(f"{head}{SUMS_HEADING}\n\n```\n{sums}\n```\n")


def write_sums(out: Path) -> str:
    """Write ``out/SHA256SUMS`` (every file but README.md and the list itself); returns its text."""
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name not in ("README.md", "SHA256SUMS"))
    text = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(out).as_posix()}\n"
                   for p in files)
    (out / "SHA256SUMS").write_text(text)
    return text.rstrip("\n")


def write_full(full: Path, ids, st, ev, gt) -> None:
    """Every captured stage whole (float32), one ``<id>.npz`` per clip, for comparisons."""
    full.mkdir(parents=True, exist_ok=True)
    for i, cid in enumerate(ids):
        arrays = {k: v[i] for k, v in st.items()}
        arrays["gt_map"] = gt[i]
        arrays["ciou"] = ev["ciou"][:, i]
        np.savez(full / f"{cid}.npz", **arrays)
    (full / "evaluator.json").write_text(json.dumps({"ids": list(ids), "ap50": ev["ap50"].tolist(),
                                                     "auc": ev["auc"].tolist()}, indent=1))


def _git_head(src: Path) -> str | None:
    head = src / ".git" / "HEAD"
    try:
        import subprocess

        return subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except Exception:
        return head.read_text().strip() if head.is_file() else None


# --------------------------------------------------------------------------- manifests
def write_manifests(src: Path, out_dir: Path) -> None:
    """Record the official modules' key sets and shapes (no weights are loaded)."""
    sys.path.insert(0, str(src.resolve()))
    from modules.AudioToken.embedder import FGAEmbedder
    from modules.BEATs.BEATs import BEATs, BEATsConfig
    from modules.mask_utils import ImageMasker
    from modules.CLIPSeg.clipseg_for_audio import CLIPSeg
    from transformers import CLIPSegConfig

    out_dir.mkdir(parents=True, exist_ok=True)
    pb = {f"audio_proj.{k}": v for k, v in FGAEmbedder(768 * 3, 512).state_dict().items()}
    pb.update({f"masker_i.{k}": v for k, v in ImageMasker(10.0, 14.0, 1.0).state_dict().items()})
    beats = BEATs(BEATsConfig(dict(W.BEATS_CFG))).state_dict()
    cfg = CLIPSegConfig.from_dict({k: v for k, v in W.CLIPSEG_CONFIG.items() if k != "architectures"})
    clip = CLIPSeg(cfg).state_dict()
    blocks = {
        "param_best": {"file": W.FILES["param_best"], "container": "{'audio_proj': FGAEmbedder state_dict, "
                       "'masker_i': ImageMasker state_dict}; manifest keys carry the container key as prefix",
                       "loaded_by": "ACL.load: strict load_state_dict of each part"},
        "beats": {"file": W.FILES["beats"], "container": "{'cfg': aclssl_weights.BEATS_CFG, 'model': state_dict}",
                  "loaded_by": "ACL.__init__: BEATs(BEATsConfig(cfg)); strict load_state_dict; predictor=None"},
        "clipseg": {"file": W.FILES["clipseg"] + "/pytorch_model.bin (+ config.json = aclssl_weights.CLIPSEG_CONFIG)",
                    "container": "plain state_dict (transformers 4.25.1 CLIPSegForImageSegmentation keys)",
                    "loaded_by": "CLIPSeg.from_pretrained (Hugging Face loader)"},
    }
    for name, sd in (("param_best", pb), ("beats", beats), ("clipseg", clip)):
        m = W.manifest_from_state_dict(name, sd, blocks[name])
        (out_dir / f"{name}.json").write_text(json.dumps(m, indent=0) + "\n")
        print(f"{name}: {len(sd)} keys -> {out_dir / (name + '.json')}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, required=True, help="checkout of swimmiing/ACL-SSL at 57f4a6c")
    ap.add_argument("--weights", type=Path, help="folder with the three parts (aclssl_weights.py --out)")
    ap.add_argument("--data", type=Path, help="VGG-SS-layout folder: frames/<id>.jpg audio/<id>.wav vggss.json")
    ap.add_argument("--ids", nargs="*", help="clip ids (default: all of DATA/vggss.json)")
    ap.add_argument("--out", type=Path, help="write the compact goldens here")
    ap.add_argument("--full", type=Path, help="write every stage whole here, one .npz per clip")
    ap.add_argument("--write-manifests", type=Path, nargs="?", const=W.MANIFEST_DIR, default=None,
                    help="record the official key sets into this folder (default: %(const)s) and stop")
    ap.add_argument("--extended", action="store_true",
                    help="run the official extended VGG-SS path instead (DATA also holds vggss_test_plus_silent.csv; "
                         "--out gains the extended* files and README section: aclssl_extended.py)")
    a = ap.parse_args(argv)
    if a.write_manifests is not None:
        write_manifests(a.src, a.write_manifests)
        return 0
    if not (a.weights and a.data and (a.out or a.full)):
        ap.error("--weights, --data and --out or --full are required")
    if a.extended:
        if a.out and not (a.out / "README.md").is_file():
            ap.error(f"--extended adds to the goldens of a VGG-SS run; {a.out} has no README.md (run without --extended first)")
        import aclssl_extended

        aclssl_extended.run(a.src, a.weights, a.data, a.ids, a.out, a.full)
        return 0
    with tempfile.TemporaryDirectory(prefix="aclssl_ref_") as tmp:
        ids, st, ev, gt, rst = run_official(a.src, a.weights, a.data, a.ids, Path(tmp))
    print(rst)
    print(json.dumps(diagnostics(st, ev)["logits224_min_max"]))
    if a.full:
        write_full(a.full, ids, st, ev, gt)
    if a.out:
        if (a.out / "manifests").is_dir() is False and W.MANIFEST_DIR.is_dir() and a.out.resolve() != W.MANIFEST_DIR.parent:
            shutil.copytree(W.MANIFEST_DIR, a.out / "manifests")
        write_goldens(a.out, ids, st, ev, gt, rst, a.src, a.weights, a.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
