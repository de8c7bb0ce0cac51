"""Arguments shared by ``evaluate`` and ``infer``, turned into :mod:`vssleval.api` keyword arguments."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vssleval.data.checks import DEFAULT_MAX_SKIP_FRACTION
from vssleval.errors import VsslevalError
from vssleval.metrics.protocols import PROTOCOLS
from vssleval.vocabulary import PRESETS
from vssleval.models.registry import split_model_file

DEFAULT_DATASET = "synthetic-vggss"


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("what to run")
    g.add_argument("--model", help="registered model name (`vssleval models` lists them)")
    g.add_argument("--model-file", metavar="PATH.py:CLASS", help="register and use your own model class")
    g.add_argument("--checkpoint", help="checkpoint file (SACL: the folder holding frame/sound files)")
    g.add_argument("--trust-checkpoint", action="store_true",
                   help="unpickle arbitrary objects from the checkpoint (only for files you trust)")
    g.add_argument("--preset", default="juanola2025", choices=list(PRESETS),
                   help="preprocessing preset (default: juanola2025)")
    g.add_argument("--protocol", default="vssleval", choices=list(PROTOCOLS),
                   help="metric protocol: " + " or ".join(p.summary or p.name for p in PROTOCOLS.values()))
    d = p.add_argument_group("data")
    d.add_argument("--dataset", default=DEFAULT_DATASET,
                   help=f"registered dataset (`vssleval datasets`; default {DEFAULT_DATASET})")
    d.add_argument("--data-dir", help="dataset root; omitted: the embedded synthetic benchmark")
    d.add_argument("--neg", default=None,
                   help="negatives: silence, noise, offscreen, a comma list, all or none (positive audio only); "
                        "default: all, or none under --protocol native (which scores no negative)")
    d.add_argument("--seeds", default=10, metavar="K|S1,S2,...",
                   help="number of seed repetitions K (the first K protocol seeds; default 10), or distinct "
                        "seed values as a comma-separated list")
    d.add_argument("--noise-bank", type=int, default=0, metavar="K",
                   help="K noise clips per seed shared by all samples (0 = independent noise, default)")
    d.add_argument("--limit", type=int, help="evaluate only the first N samples")
    d.add_argument("--skip-bad", action="store_true",
                   help="leave bad records out (listed in <out>/skipped.csv, counted by reason) and go on")
    d.add_argument("--max-skip-fraction", type=float, default=DEFAULT_MAX_SKIP_FRACTION, metavar="F",
                   help="with --skip-bad, refuse to run when more than this fraction of the records is bad "
                        f"(default {DEFAULT_MAX_SKIP_FRACTION})")
    d.add_argument("--ogl-weights", help="ImageNet ResNet-18 weights for the OGL prior (juanola2025 protocol)")
    d.add_argument("--allow-nonfinite", action="store_true",
                   help="score NaN/inf maps under the protocol's rule (with a warning) instead of stopping the run")
    r = p.add_argument_group("running")
    r.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps")
    r.add_argument("--amp", choices=["bf16"], help="bf16 maps where the hardware computes bf16 (a CUDA GPU with bf16, a CPU with AVX-512 "
                   "BF16 or AMX); refused under --protocol juanola2025 and native; default fp32, for parity")
    r.add_argument("--batch-size", type=int, default=32, help="samples per batch (default 32)")
    r.add_argument("--workers", type=int, default=0, help="DataLoader workers (default 0)")
    r.add_argument("--max-memory", metavar="SIZE", help="memory the run may use, e.g. 16G (default: what the "
                   "system has available); a run estimated to need more is refused before any work")
    r.add_argument("--out", help="output directory (default runs/<model>-<dataset>-<preset>-<protocol>)")
    r.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    r.add_argument("--overwrite", action="store_true", help="replace a run with another configuration in --out (with --resume: resume it if "
                   "the configuration is the same, replace it if not)")


def run_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The arguments of :func:`vssleval.api.evaluate` / :func:`vssleval.api.infer` from the CLI's."""
    if not args.model and not args.model_file:
        raise VsslevalError("name a model: --model NAME (see `vssleval models`) or --model-file PATH.py:CLASS")
    if args.model and args.model_file:
        raise VsslevalError(f"give either --model {args.model} or --model-file {args.model_file}, not both")
    if args.model_file:
        split_model_file(args.model_file)  # the form is checked before any work
    return dict(model=args.model or args.model_file, dataset=args.dataset, data_dir=args.data_dir,
                checkpoint=args.checkpoint, preset=args.preset, protocol=args.protocol, neg=args.neg,
                seeds=args.seeds, noise_bank=args.noise_bank, batch_size=args.batch_size, workers=args.workers,
                device=args.device, amp=args.amp, skip_bad=args.skip_bad, max_skip_fraction=args.max_skip_fraction,
                trust_checkpoint=args.trust_checkpoint,
                ogl_weights=args.ogl_weights, limit=args.limit, out=default_out(args), resume=args.resume,
                overwrite=args.overwrite, max_memory=args.max_memory, allow_nonfinite=args.allow_nonfinite)


def default_out(args: argparse.Namespace) -> Path:
    if args.out:
        return Path(args.out)
    name = args.model_file.rsplit(":", 1)[-1].lower() if args.model_file else args.model
    return Path("runs") / f"{name}-{args.dataset}-{args.preset}-{args.protocol}"
