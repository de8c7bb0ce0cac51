"""Peak memory of the OFFICIAL vssl_eval evaluation (xavijuanola/vssl_eval, commit e8ebbc9) against
vssleval's compat run of the same model on the same clips (issue 22; docs/performance.md §10).

Nothing of the official code is in this repository: ``--src`` names an unpacked tree of it (e.g.
``git --git-dir=MIRROR archive e8ebbc9 | tar -x -C SRC``). Nothing is fetched at run time: the weights
are the fixtures' rule weights, written in the official containers by the fixtures' own
``make_weights.py`` (``--fixtures``, default ``$VSSLEVAL_SHARED/fixtures``), and the ImageNet ResNet-18
download of ``resnet18(pretrained=True)`` is served from the rule-weight substitute
(``ogl_resnet18_imagenet_substitute.pth``).

    python scripts/reference/vssl_eval_memory.py --src SRC --official-python SIDE/bin/python \\
        [--models ezvsl fnac ...] [--sets vggss is3] [--side official ours] [--json OUT.json]

The side environment runs the official code: torch, torchvision, numpy, scipy, scikit-learn, PIL,
matplotlib, tqdm, soundfile, PyAV, plus opencv (``cv2``), ``easydict``, ``pandas`` and ``torchaudio``
(only its transforms are used; audio is read through soundfile, patch 4). The vssleval side runs
with this interpreter (``sys.executable``) and the repository on ``PYTHONPATH``. The side environment
of the measurements in docs/performance.md: a venv over the project's (a ``.pth`` file naming its
site-packages) plus ``pip install --no-deps opencv-python-headless==5.0.0.93 easydict pandas
torchaudio==2.11.0``, so both sides run the same torch.

For each model and test set, two child processes, one after the other:

* **official**: ``eval.py --pth_name checkpoints/<official file> --data_dir D --testset SET
  --threshold 0.5`` (what ``scripts/eval_models.sh`` passes), run unmodified by ``runpy`` in a scratch
  working directory holding ``metadata/`` (links to the fixture set's metadata files, which the
  official code opens relative to the working directory) and ``checkpoints/``; it evaluates the 10
  seeds, all four audio inputs, in batches of 64 with 8 DataLoader workers (hard-coded).
* **ours**: ``vssleval evaluate --model M --dataset SET --data-dir D --checkpoint <same file>
  --ogl-weights <same substitute> --preset juanola2025 --protocol juanola2025`` with the defaults that
  match the official run (10 seeds: vssl_eval's list; negatives: all; independent noise), into a
  scratch ``--out``.

Each child's cost is read when it ends: **peak RSS** = ``ru_maxrss`` from ``os.wait4``, the largest
resident set of the child or of any descendant it waited for (what ``/usr/bin/time -v`` prints as
"Maximum resident set size"); and **tree PSS** = the largest sum, over the child and all its
descendants, of ``Pss`` from ``/proc/PID/smaps_rollup``, sampled every 0.1 s (the official run's
DataLoader workers each hold their own memory; PSS splits pages shared after the fork). CPU time =
user + sys of the child and the descendants it waited for. Both runs are told to use one torch thread
(``OMP_NUM_THREADS=1``) only if ``--threads`` says so; the default leaves torch's own choice.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------
# PATCHES: every change to the official run's environment, with its reason. Nothing else differs.
PATCHES = [
    ("torch.Tensor.cuda and torch.nn.Module.cuda -> return the object unchanged; "
     "torch.cuda.set_device -> no-op",
     "eval.py calls .cuda() unconditionally (the model, the object-saliency net, every input batch) and "
     "torch.cuda.set_device(args.gpu) because --gpu defaults to 0; the machine measured has no GPU. "
     "The model therefore runs on the CPU, where torch.cuda.is_available() is False, as eval.py's own "
     "'using CPU' branch expects."),
    ("torch.hub.load_state_dict_from_url (and torchvision.models._api's binding of it) -> torch.load of "
     "the local ogl_resnet18_imagenet_substitute.pth",
     "resnet18(pretrained=True) (the OGL object-saliency net, and the image encoders of EZ-VSL/SLAVC/FNAC "
     "before their checkpoint overwrites them) downloads the ImageNet file; no network here. The "
     "substitute has the same keys and shapes, so the same tensors are allocated."),
    ("sys.modules stubs for clip, wav2clip, librosa, skvideo, skvideo.io, pytorch_lightning, ipdb "
     "(empty modules; pytorch_lightning.LightningModule = torch.nn.Module)",
     "imported at module level by utils_dir/eval_utils.py, datasets/datasets_lvs.py, models/resnet.py, "
     "models/model_lvs.py and models/model_ssltie.py, but never called on the evaluation path (CLIP "
     "text/audio embeddings, video reading, plotting, the debugger); they are not installed."),
    ("torchaudio.load -> soundfile.read(dtype='float32', always_2d=True).T as a tensor, the rate as read; "
     "torchaudio.set_audio_backend -> no-op",
     "SSL-TIE's dataset reads audio with torchaudio.load; torchaudio >= 2.9 reads only through "
     "torchcodec (not installed) and has no set_audio_backend. For PCM16 WAVs soundfile's float32 equals "
     "the sox_io backend's int16 / 32768 (the fixtures' golden run did the same)."),
    ("working directory: a scratch folder with metadata/<fixture metadata files> (links) and "
     "checkpoints/<official file name> (rule weights in the official container)",
     "eval.py and its datasets open metadata/... relative to the working directory and dispatch the model "
     "on a substring of --pth_name; it writes metrics/ there too."),
]
# Not patched (the measured run differs from the fixtures' golden run here, which changes values but not
# what is allocated): torchvision's tensor resizes keep this version's default antialias.
# ---------------------------------------------------------------------------------------------

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODELS = ("ezvsl", "fnac", "lvs", "slavc", "sslalign", "ssltie")
SETS = ("vggss", "is3")
#: metadata files the official code opens under metadata/ (fixtures README §1)
METADATA = {"vggss": ("vggss_annotations.json", "vggss.json", "vggss_class_files_dict.json"),
            "is3": ("IS3_annotation.json", "synthetic3240_bbox.json", "IS3_class_files_dict.json")}
OGL_MANIFEST = "ogl_resnet18"

#: Runs in the side interpreter: the patches above, then eval.py as __main__.
BOOTSTRAP = r'''
import sys, types, runpy
src, ogl, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
import torch, torchvision.models._api as tv_api, torch.hub
torch.Tensor.cuda = lambda self, *a, **k: self
torch.nn.Module.cuda = lambda self, *a, **k: self
torch.cuda.set_device = lambda *a, **k: None
def _local(url, *a, **k):
    return torch.load(ogl, map_location="cpu")
torch.hub.load_state_dict_from_url = _local
tv_api.load_state_dict_from_url = _local
for name in ("clip", "wav2clip", "librosa", "skvideo", "skvideo.io", "pytorch_lightning", "ipdb"):
    sys.modules[name] = types.ModuleType(name)
sys.modules["skvideo"].io = sys.modules["skvideo.io"]
sys.modules["pytorch_lightning"].LightningModule = torch.nn.Module
import soundfile, torchaudio
def _load(path, *a, **k):
    data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    return torch.from_numpy(data.T.copy()), rate
torchaudio.load = _load
torchaudio.set_audio_backend = lambda *a, **k: None
sys.path.insert(0, src)
sys.argv = [src + "/eval.py"] + argv
runpy.run_path(src + "/eval.py", run_name="__main__")
'''


def proc_kib(pid: int, name: str, field: str) -> int:
    """A ``kB`` field of ``/proc/PID/<name>`` (``smaps_rollup`` Pss:, ``status`` VmHWM:), 0 once gone."""
    try:
        with open(f"/proc/{pid}/{name}") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def measure(cmd: list[str], cwd: Path, env: dict, log: Path, stop_after_seeds: int = 0) -> dict:
    """Run ``cmd``; peak RSS (the largest of os.wait4's ru_maxrss and the sampled VmHWM of every process
    in its tree) and the peak PSS sum of the tree (sampled every 0.1 s). ``stop_after_seeds`` > 0 ends
    the tree once the official progress bar shows that many of its 10 seeds done."""
    pattern = re.compile(r"(\d+)/10 \[")
    with open(log, "w") as out:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        peak = {"pss": 0, "hwm": 0, "stopped": False}
        done = threading.Event()

        def sample():
            while not done.is_set():
                tree = descendants(proc.pid)
                peak["pss"] = max(peak["pss"], sum(proc_kib(p, "smaps_rollup", "Pss:") for p in tree))
                peak["hwm"] = max([peak["hwm"]] + [proc_kib(p, "status", "VmHWM:") for p in tree])
                if stop_after_seeds and not peak["stopped"]:
                    seen = [int(m) for m in pattern.findall(log.read_text(errors="replace"))]
                    if seen and max(seen) >= stop_after_seeds:
                        peak["stopped"] = True
                        os.killpg(proc.pid, signal.SIGKILL)
                done.wait(0.1)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        thread.join()
        code = os.waitstatus_to_exitcode(status)
    if code != 0 and not peak["stopped"]:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"{' '.join(cmd[:3])} ... exited {code}; log {log}:\n{tail}")
    return {"peak_rss_mib": round(max(usage.ru_maxrss, peak["hwm"]) / 1024, 1),
            "tree_pss_mib": round(peak["pss"] / 1024, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 1), "wall_s": round(time.monotonic() - t0, 1),
            "seeds": stop_after_seeds if peak["stopped"] else 10}


def write_weights(fixtures: Path, model: str, out_dir: Path) -> Path:
    """The rule weights of ``model`` in its official container and file name (fixtures make_weights.py)."""
    manifest = fixtures / "manifests" / f"{model}.json"
    name = json.loads(manifest.read_text())["checkpoint"]["file"]
    path = out_dir / name
    if not path.exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(fixtures / "make_weights.py"), str(manifest), "--out", str(path)],
                       check=True, stdout=subprocess.DEVNULL)
    return path


def run_official(args, model: str, dataset: str, data: Path, ckpt: Path, ogl: Path, scratch: Path) -> dict:
    work = scratch / f"official-{model}-{dataset}"
    (work / "metadata").mkdir(parents=True, exist_ok=True)
    for name in METADATA[dataset]:
        link = work / "metadata" / name
        if not link.exists():
            link.symlink_to(data / name)
    (work / "checkpoints").mkdir(exist_ok=True)
    local = work / "checkpoints" / ckpt.name
    if not local.exists():
        local.symlink_to(ckpt)
    cmd = [args.official_python, "-c", BOOTSTRAP, str(args.src.resolve()), str(ogl),
           "--pth_name", f"checkpoints/{ckpt.name}", "--data_dir", str(data), "--testset", dataset,
           "--threshold", "0.5"]
    return measure(cmd, work, child_env(args), scratch / f"official-{model}-{dataset}.log",
                   args.official_seeds)


def ours_command(model: str, dataset: str, data: Path, ckpt: Path, ogl: Path, out: Path) -> list[str]:
    """The compat run that matches the official one; every other option is the CLI's default (10 seeds
    from vssl_eval's list, all negatives, independent noise, one batch of the 24 clips)."""
    return [sys.executable, "-m", "vssleval", "evaluate", "--model", model, "--dataset", dataset,
            "--data-dir", str(data), "--checkpoint", str(ckpt), "--ogl-weights", str(ogl),
            "--preset", "juanola2025", "--protocol", "juanola2025", "--out", str(out), "--overwrite"]


def run_ours(args, model: str, dataset: str, data: Path, ckpt: Path, ogl: Path, scratch: Path) -> dict:
    cmd = ours_command(model, dataset, data, ckpt, ogl, scratch / f"ours-{model}-{dataset}")
    env = child_env(args)
    env["PYTHONPATH"] = os.pathsep.join([str(args.repo)] + [p for p in [env.get("PYTHONPATH")] if p])
    return measure(cmd, scratch, env, scratch / f"ours-{model}-{dataset}.log")


def child_env(args) -> dict:
    env = dict(os.environ)
    env["CUDA_VISIBLE_DEVICES"] = ""
    if args.threads:
        for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[key] = str(args.threads)
    return env


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", type=Path, help="unpacked official vssl_eval tree (commit e8ebbc9)")
    p.add_argument("--official-python", default=sys.executable,
                   help="interpreter of the side environment that runs the official code")
    p.add_argument("--fixtures", type=Path,
                   default=Path(os.environ.get("VSSLEVAL_SHARED", REPO.parent / "shared")) / "fixtures")
    p.add_argument("--repo", type=Path, default=REPO, help="vssleval checkout for the ours side")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    p.add_argument("--side", nargs="+", default=["official", "ours"], choices=["official", "ours"])
    p.add_argument("--official-seeds", type=int, default=0,
                   help="end the official run once this many of its 10 seeds are done (0: all)")
    p.add_argument("--threads", type=int, default=0, help="OMP/MKL threads of both children (0: default)")
    p.add_argument("--scratch", type=Path, help="work folder (default: a new temporary folder, kept)")
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args(argv)
    if "official" in args.side and (args.src is None or not (args.src / "eval.py").is_file()):
        p.error("--src must name an unpacked vssl_eval tree (eval.py not found)")
    scratch = (args.scratch or Path(tempfile.mkdtemp(prefix="vssl_eval_memory-"))).resolve()
    scratch.mkdir(parents=True, exist_ok=True)
    weights = scratch / "weights"
    ogl = write_weights(args.fixtures, OGL_MANIFEST, weights / OGL_MANIFEST)
    rows = []
    for model in args.models:
        ckpt = write_weights(args.fixtures, model, weights / model)
        for dataset in args.sets:
            data = (args.fixtures / "data" / dataset).resolve()
            row = {"model": model, "set": dataset}
            for side in args.side:
                run = run_official if side == "official" else run_ours
                row[side] = run(args, model, dataset, data, ckpt, ogl, scratch)
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"scratch": str(scratch), "rows": rows}, indent=1))
    print(f"{'model':9} {'set':6} " + " ".join(f"{s + ' rss/pss MiB':>22}" for s in args.side))
    for row in rows:
        cells = " ".join(f"{row[s]['peak_rss_mib']:>10.0f} /{row[s]['tree_pss_mib']:>9.0f}" + " " * 1
                         for s in args.side)
        print(f"{row['model']:9} {row['set']:6} {cells}")
    print(f"scratch: {scratch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
