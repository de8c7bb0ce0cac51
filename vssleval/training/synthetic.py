"""Train ``synth-ezvsl``: a small EZ-VSL-family model on the synthetic benchmark's *train* split.

Data: ``synth(layout, n, seed, split="train")`` in both layouts (single-object VGG-SS pictures and
two-object IS3 scenes, where the audio must pick one of two objects); the ``train`` split enters the
generator's seed sequence as its own word, so no train seed reproduces a test picture or clip.
The files are read back with the dataset readers and turned into model inputs by the
``AudioPipeline``/``ImagePipeline`` of the model's preset, so training and evaluation preprocess
identically. All inputs are computed once and kept in memory.

Objective (EZ-VSL's max-pooled multiple-instance contrastive loss): for a batch of B pairs,
``S[i, j] = max_hw cos(v_i[:, h, w], a_j) / tau``; cross-entropy with the diagonal as positives,
image -> audio and audio -> image. One change for a 10-class world, ``mask_false_negatives``:
a pair (image i, audio j) whose sound class is visible in image i (same class, or the other record
of the same IS3 scene) is not used as a negative; with 10 classes, a batch of 64 would otherwise
be full of false negatives.

Determinism: ``torch.manual_seed``, ``torch.use_deterministic_algorithms(True)``, a fixed thread
count, data generated single-threaded from seeded numpy streams, batches and flips from a seeded
``torch.Generator``. The same config gives identical weights on the same machine/build.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from vssleval import limits
from vssleval.errors import VsslevalError
from vssleval.io_utils import atomic_path, write_text_atomic
# declared without torch, for `vssleval train-synthetic --help`
from vssleval.training.config import TrainConfig


@dataclass
class TrainData:
    """In-memory training set: unique pictures, one audio input per record."""

    images: torch.Tensor      # [U, 3, 224, 224] float32 (preset's image pipeline)
    audio: torch.Tensor       # [N, 1, F, T] float32 (preset's audio pipeline)
    image_index: torch.Tensor  # [N] int64: record -> picture
    label: torch.Tensor       # [N] int64: sound class of the record
    visible: torch.Tensor     # [N, K] bool: classes visible in the record's picture
    sources: dict[str, str]   # layout -> data directory


def model_config(cfg: TrainConfig) -> dict[str, Any]:
    """The model's YAML with ``model_overrides`` merged into its ``model:`` block."""
    from vssleval.models import load_model_config

    mc = dict(load_model_config(cfg.model))
    mc["model"] = {**dict(mc.get("model") or {}), **cfg.model_overrides}
    return mc


def prepare_data(cfg: TrainConfig, data_root: str | Path,
                 log: Callable[[str], None] = lambda s: None) -> TrainData:
    """Generate (or reuse, cached under ``data_root``) the train split and build all inputs."""
    from vssleval.data import load_dataset
    from vssleval.data.synthetic import CLASS_NAMES, default_synthetic_dir
    from vssleval.frontends.pipeline import from_preset
    from vssleval.models.registry import preset_block

    block = preset_block(model_config(cfg), cfg.preset, cfg.model)
    apipe, ipipe = from_preset(block)
    cls_index = {c: i for i, c in enumerate(CLASS_NAMES)}
    images, audio, image_index, label, visible = [], [], [], [], []
    seen: dict[str, int] = {}
    sources = {}
    for layout, n in (("vggss", cfg.n_vggss), ("is3", cfg.n_is3)):
        if n <= 0:
            continue
        t0 = time.perf_counter()
        root = default_synthetic_dir(layout, n=n, seed=cfg.data_seed, split="train", root=data_root)
        sources[layout] = str(root)
        ds = load_dataset(f"synthetic-{layout}", data_dir=root, check_files=False)
        for s in ds.samples:
            key = hashlib.sha1(Path(s.image_path).read_bytes()).hexdigest()  # IS3: one picture, two files
            if key not in seen:
                seen[key] = len(images)
                images.append(ipipe.load(s.image_path))
            image_index.append(seen[key])
            audio.append(apipe.positive(s.audio_path))
            label.append(cls_index[s.label])
            row = torch.zeros(len(CLASS_NAMES), dtype=torch.bool)
            row[[cls_index[c] for c in (s.visible_labels or (s.label,))]] = True
            visible.append(row)
        log(f"[data] {layout}: {len(ds.samples)} records from {root} in {time.perf_counter() - t0:.1f} s")
    if not audio:
        raise VsslevalError("no training data: n_vggss and n_is3 are both 0")
    return TrainData(torch.stack(images), torch.stack(audio), torch.tensor(image_index),
                     torch.tensor(label), torch.stack(visible), sources)


def mil_contrastive_loss(v: torch.Tensor, a: torch.Tensor, tau: float,
                         mask: torch.Tensor | None = None) -> torch.Tensor:
    """EZ-VSL's max-pooled MIL loss.

    Args:
        v: ``[B, D, h, w]`` L2-normalised visual maps. a: ``[B, D]`` L2-normalised audio.
        tau: temperature. mask: ``[B, B]`` bool, True where pair (image i, audio j), i != j,
            must not serve as a negative.
    """
    logits = torch.einsum("nchw,mc->nmhw", v, a).flatten(2).amax(dim=-1) / tau  # [B img, B aud]
    if mask is not None:
        logits = logits.masked_fill(mask, float("-inf"))
    target = torch.arange(v.shape[0], device=v.device)
    return F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)


def _lr_factor(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    rest = max(1, cfg.steps - cfg.warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * (step - cfg.warmup_steps) / rest))


def train(cfg: TrainConfig, data: TrainData, log: Callable[[str], None] = lambda s: None,
          log_every: int = 50) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train from scratch; returns the model (eval mode) and a summary (losses, time)."""
    from vssleval.models import build_model

    prev_threads = torch.get_num_threads()
    prev_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(cfg.threads)
    torch.use_deterministic_algorithms(True)
    try:
        torch.manual_seed(cfg.seed)
        model = build_model(cfg.model, config=model_config(cfg), preset=cfg.preset, random_init=True)
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, cfg))
        gen = torch.Generator().manual_seed(cfg.seed)
        n = data.audio.shape[0]
        bs = min(cfg.batch_size, n)
        order, cursor = torch.randperm(n, generator=gen), 0
        losses: list[float] = []
        t0, c0 = time.perf_counter(), time.process_time()
        for step in range(cfg.steps):
            if cursor + bs > n:
                order, cursor = torch.randperm(n, generator=gen), 0
            idx = order[cursor:cursor + bs]
            cursor += bs
            img = data.images[data.image_index[idx]]
            if cfg.hflip:
                flip = torch.rand(bs, generator=gen) < 0.5
                img = torch.where(flip[:, None, None, None], img.flip(-1), img)
            mask = None
            if cfg.mask_false_negatives:
                # image i shows the class of audio j -> (i, j) is no negative (diagonal stays)
                mask = data.visible[idx][:, data.label[idx]] & ~torch.eye(bs, dtype=torch.bool)
            v = model.encode_image(img)[:, 0]
            a = model.encode_audio(data.audio[idx])[:, 0]
            loss = mil_contrastive_loss(v, a, cfg.tau, mask)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            if log_every and ((step + 1) % log_every == 0 or step == 0):
                recent = losses[-log_every:]
                log(f"[train] step {step + 1}/{cfg.steps} loss {sum(recent) / len(recent):.4f} "
                    f"lr {sched.get_last_lr()[0]:.2e} {time.perf_counter() - t0:.0f} s")
        tail = losses[-min(20, len(losses)):]
        summary = {"final_loss": losses[-1], "final_loss_mean20": sum(tail) / len(tail),
                   "first_loss": losses[0], "train_seconds": time.perf_counter() - t0,
                   "train_cpu_seconds": time.process_time() - c0}
        return model.eval(), summary
    finally:
        torch.set_num_threads(prev_threads)
        torch.use_deterministic_algorithms(prev_det)


def save_checkpoint(model: torch.nn.Module, out: str | Path, cfg: TrainConfig, data: TrainData,
                    summary: dict[str, Any], extra: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Write ``out`` (``{'model': state_dict}``, EZ-VSL's container) and ``out.json`` (the record)."""
    from vssleval.models.synth_ezvsl import sha256_file

    out = Path(out)
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(out) as tmp:  # a fresh file: never written through a link at out (or a fixed temp name)
        torch.save({"model": state}, tmp)
    record = {
        "model": cfg.model,
        "file": out.name,
        "sha256": sha256_file(out),
        "bytes": out.stat().st_size,
        "container": "{'model': state_dict} (EZ-VSL)",
        "config": cfg.to_dict(),
        "model_block": model_config(cfg)["model"],
        "data": {"generator": "vssleval.data.synthetic.synth", "split": "train", "seed": cfg.data_seed,
                 "layouts": {"vggss": cfg.n_vggss, "is3": cfg.n_is3},
                 "records": int(data.audio.shape[0]), "pictures": int(data.images.shape[0]),
                 "note": "split='train' draws from streams disjoint from every test split"},
        "steps": cfg.steps,
        "final_loss": summary["final_loss"],
        "final_loss_mean20": summary["final_loss_mean20"],
        "train_seconds": round(summary["train_seconds"], 1),
        "train_cpu_seconds": round(summary["train_cpu_seconds"], 1),
        "threads": cfg.threads,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "command": "python scripts/train_synthetic.py",
        **(extra or {}),
    }
    sidecar = out.with_suffix(".json")
    write_text_atomic(sidecar, json.dumps(record, indent=1) + "\n")
    return out, sidecar


def run_training(cfg: TrainConfig, out: str | Path, data_root: str | Path | None = None,
                 log: Callable[[str], None] | None = None, max_memory: int | str | None = None) -> dict[str, Any]:
    """Generate/read data, train, save; returns the sidecar record. ``data_root=None``: a temp dir.
    ``max_memory``: bytes (or ``"8G"``) the in-memory training data may use (default: what is available)."""
    max_memory = limits.check("max_memory", max_memory)
    limits.require_memory(limits.train_bytes(cfg.n_vggss, cfg.n_is3), max_memory, what="the training data",
                          fix="Lower --n-vggss / --n-is3.")
    log = log or functools.partial(print, flush=True)
    t0, c0 = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="vssleval-train-") as tmp:
        root = Path(data_root) if data_root is not None else Path(tmp)
        torch.set_num_threads(cfg.threads)
        data = prepare_data(cfg, root, log)
        t_data = time.perf_counter() - t0
        log(f"[data] {data.audio.shape[0]} records, {data.images.shape[0]} pictures, "
            f"audio input {tuple(data.audio.shape[1:])}, {t_data:.1f} s")
        model, summary = train(cfg, data, log)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    pth, sidecar = save_checkpoint(model, out, cfg, data, summary,
                                   extra={"data_seconds": round(t_data, 1), "total_seconds": round(total, 1),
                                          "total_cpu_seconds": round(cpu, 1)})
    log(f"[done] {pth} ({pth.stat().st_size / 1e6:.2f} MB), {sidecar}; total {total:.0f} s "
        f"(data {t_data:.0f} s, training {summary['train_seconds']:.0f} s; CPU time {cpu:.0f} s), final loss {summary['final_loss']:.4f}")
    return json.loads(sidecar.read_text(encoding="utf-8"))
