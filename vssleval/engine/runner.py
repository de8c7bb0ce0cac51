"""The batched inference engine: the fewest forwards the protocol allows, on any device.

Per run (model, preset, dataset, seeds S, negatives):

* pass 1 (only when offscreen features can be reused): positive audio features of every clip,
  ``[N, ...]`` kept in memory (a few MB even for VGG-SS);
* pass 2, per batch of samples: one image forward; the positive map from the cached (or freshly
  computed) audio features; the silence map from audio features computed **once per run** (and per
  sample rate); the noise maps from S noise clips per sample (or from a bank of K clips per seed,
  ``--noise-bank K``, computed once per seed); the offscreen maps from the positive features of
  the drawn clips when the preset gives offscreen audio the positive's preprocessing, else from a
  table of the features of every distinct offscreen input of the run (source clip x what the
  preset's offscreen variant takes from the positive), computed once in fixed chunks before the
  batches (engine/offscreen.py; the engine says why it cannot reuse). Every ``localize`` reuses the
  image features.

Each batch becomes one atomic shard of the heatmap store, so a killed run resumes where it
stopped; under ``torchrun`` batches are dealt round-robin to ranks.

A little over 500 lines on purpose: :class:`Engine` is one object whose set-up, feature caches and
batch loop share its state; the parts that stand alone live beside it (``inputs``, ``offscreen``,
``contract``, ``device``, ``distributed``).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from vssleval.data import Dataset, Sample, gt_map, load_dataset
from vssleval.data.audio import rate_census
from vssleval.data.checks import format_skip_counts, skips_csv
from vssleval.data.negatives import bank_noise, noise_bank_slot
from vssleval.engine import distributed as dist_utils
from vssleval.engine.contract import CheckedModel
from vssleval.engine.device import (autocast, check_amp, forward_rows, pin_memory, resolve_device, to_device,
                                   uses_channels_last)
from vssleval.engine.inputs import InputPlan, SampleInputs, collate, encode_in_groups
from vssleval.engine.noise_memo import NOISE_MEMO
from vssleval.engine.offscreen import (OffscreenDigests, OffscreenInputs, OffscreenKey, as_list, balanced_chunks,
                                       input_digest, offscreen_keys, uses_positive_info)
from vssleval.engine.spec import RunSpec
from vssleval.engine.store import HeatmapStore, pack_gt, pad_boxes
from vssleval.engine.store.reduce import StoreMaps
from vssleval.errors import VsslevalError
from vssleval import fingerprint, timing
from vssleval.frontends.pipeline import AudioPipeline, ImagePipeline
from vssleval.io_utils import write_text_atomic
from vssleval.limits import check_run_memory
from vssleval.metrics.protocols import get_protocol
from vssleval.metrics.protocols.native.protocol import reads_model_confidence
from vssleval.models import build_model
from vssleval.models.checkpoint import resolve_hf_folder, resolve_parts
from vssleval.models.maps import MapRule
from vssleval.models.registry import preset_block
from vssleval.shown_paths import for_console

#: The list of records ``--skip-bad`` left out, in the run folder (docs/datasets.md §8).
SKIPPED_CSV = "skipped.csv"


def limits_check(spec: RunSpec) -> Callable[[int], None]:
    """The default pre-flight: the memory estimate of ``spec`` for N samples (no bootstrap)."""
    return lambda n: check_run_memory(n, len(spec.seeds), spec.batch_size, spec.noise_bank)


@dataclass
class RunOutcome:
    """What :func:`run_inference` produced."""

    out_dir: Path
    store: HeatmapStore
    n_samples: int
    computed_batches: int
    skipped_batches: int
    seconds: float
    notes: list[str] = field(default_factory=list)
    is_main: bool = True  # False on the non-zero ranks of a torchrun job, which write no outputs


def annotation_arrays(samples: list[Sample], max_boxes: int) -> dict[str, np.ndarray]:
    """What a shard holds of the annotation of ``samples`` (docs/report.md, "Run folders and heatmap
    stores"): ``gt`` (bit planes), ``boxes`` ``[n, max_boxes, 4]``, ``groups`` and ``labels`` ``[n]``."""
    return {"gt": pack_gt(np.stack([gt_map(s) for s in samples])),
            "boxes": pad_boxes([s.frame_boxes() for s in samples], max_boxes),
            # "" for a dataset without scenes: scoring then passes no groups (engine/scoring.py)
            "groups": np.array([s.group for s in samples], dtype=str),
            "labels": np.array([s.label for s in samples])}  # per-class breakdown of the report


def weights_sha256(model: torch.nn.Module) -> str:
    """SHA-256 over a module's state dict (key, dtype, shape and bytes of every tensor, keys sorted):
    the identity of in-memory weights, so a resumed run can tell whether they changed."""
    h = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        t = value.detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


class Engine:
    """Holds the model, pipelines and caches of one run; :meth:`run` fills the store."""

    def __init__(self, spec: RunSpec, log: Callable[[str], None] = print, model: torch.nn.Module | None = None,
                 preflight: Callable[[int], None] | None = None, offscreen_table: bool = True):
        """``model``: an already-built model (the Python API's in-memory models) used instead of
        building ``spec.model``; it must carry ``name``, ``config`` and ``map_rule`` as
        :func:`vssleval.models.build_model` sets them, and is moved to the run's device.
        ``preflight(n_samples)``: called once the number of samples is known, before the model is
        built or any output is written (the API's memory check, :mod:`vssleval.limits`).
        ``offscreen_table``: False encodes offscreen inputs per (seed, sample) inside the batches
        instead of once per distinct input (the benchmark's check that both give the same maps)."""
        self.spec = spec
        self.log = log
        self.notes: list[str] = []
        device = resolve_device(spec.device)
        self.rules = get_protocol(spec.protocol)
        check_amp(device, spec.amp, self.rules.allows_reduced_precision, spec.protocol)
        self.dist = dist_utils.init_distributed(device)
        self.device = dist_utils.local_device(device, self.dist)
        self.forward_rows = forward_rows(self.device, spec.batch_size)  # audio inputs per forward
        with timing.phase("data"):
            self.dataset: Dataset = load_dataset(spec.dataset, spec.data_dir, skip_bad=spec.skip_bad,
                                                 max_skip_fraction=spec.max_skip_fraction)
        samples = self.dataset.samples
        self.samples = samples[: spec.limit] if spec.limit else samples
        if not self.samples:
            raise VsslevalError(f"dataset {spec.dataset!r} at {self.dataset.root} has no usable samples")
        (preflight or limits_check(spec))(len(self.samples))
        # one box width for every shard of the run (the store checks that shapes agree across shards)
        self.max_boxes = max(len(s.frame_boxes()) for s in self.samples)
        self.in_memory = model is not None
        if model is None:
            with timing.phase("model"):
                model = build_model(spec.model_file or spec.model, spec.checkpoint, preset=spec.preset,
                                    trust_checkpoint=spec.trust_checkpoint, device=self.device)
        self.model = model.to(self.device).eval()
        # a model declaring that its maps ignore the audio gets no negative forwards (models/base.py)
        self.audio_agnostic = bool(getattr(self.model, "audio_agnostic", False))
        # NHWC where it pays (engine/device.py); values differ from NCHW only in the last bits
        self.channels_last = uses_channels_last(self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        block = preset_block(self.model.config, spec.preset, self.model.name)
        # which preprocessing the negatives get is the protocol's (Protocol.audio_block)
        audio_block = self.rules.audio_block(block.get("audio") or {})
        self.audio = AudioPipeline(audio_block) if audio_block else None
        self.image = ImagePipeline(block["image"]) if block.get("image") else None
        # what the store keeps of the maps (map.store: resized, negatives encoded; docs/models.md §2.8)
        self.store_maps = StoreMaps.of(MapRule.from_config(block.get("map")), self.dataset.layout)
        if self.store_maps is not None:
            self.note(f"maps stored at {self.store_maps.size} x {self.store_maps.size} ({self.store_maps.op}), "
                      f"negatives as {self.store_maps.negatives} (map.store, docs/models.md §2.8)")
        with timing.phase("data"):
            self.audio_rates = self._audio_rates()
        # every call of a model goes through the output-contract check (engine/contract.py)
        self.net = CheckedModel(self.model)
        # the model's own score of each positive pair, for the one evaluator that reads it
        self.wants_confidence = self.net.has_confidence and reads_model_confidence(self.model.config,
                                                                                    self.dataset.layout)
        self.ogl = self._object_prior() if self.rules.needs_ogl else None
        self.ogl_net = self.ogl_image = None
        if self.ogl is not None:
            if self.channels_last:
                self.ogl = self.ogl.to(memory_format=torch.channels_last)
            self.ogl_net = CheckedModel(self.ogl, "ogl")
            if self.image is None:  # a model that takes no image (baselines): the prior's own preprocessing
                self.ogl_image = ImagePipeline(preset_block(self.ogl.config, spec.preset, "ogl")["image"])
        with timing.phase("data"):
            self.offscreen_draws = self._draw_offscreen() if "offscreen" in spec.negatives else None
        self.reuse_offscreen = self._can_reuse_offscreen()
        self.offscreen_table = offscreen_table and self.offscreen_draws is not None and not self.reuse_offscreen
        self._noise_key: tuple | None = None  # set by run() (noise_memo_key)

    # -- set-up ------------------------------------------------------------------------------
    def _object_prior(self):
        """The OGL object prior, for a protocol that blends maps with it (juanola2025's 164 keys)."""
        try:
            with timing.phase("model"):
                ogl = build_model("ogl", self.spec.ogl_weights, preset=self.spec.preset, device=self.device)
        except VsslevalError as exc:
            hint = "" if self.spec.ogl_weights else " (CLI: pass the file with --ogl-weights FILE)"
            raise VsslevalError(f"--protocol {self.spec.protocol} reports the OGL (object-guided) metrics: "
                                f"{exc}{hint}") from exc
        for line in getattr(ogl, "checkpoint_notes", []):  # e.g. weights that are not torchvision's file
            self.note(f"object prior (OGL): {line}")
        return ogl

    def _audio_rates(self) -> dict[str, Any] | None:
        """Native rates of the evaluated clips, and what the preset does with the off-rate ones.

        A preset with ``read.sample_rate`` resamples every clip to it (counted); a preset that keeps
        the native rate to reproduce its reference (``sample_rate: null``) is warned with the count of
        clips not at the model's ``read.model_rate`` (docs/models.md §3.1).
        """
        if self.audio is None:
            return None
        read = self.audio.config("positive").get("read") or {}
        target = read.get("sample_rate")
        expected = int(target or read.get("model_rate") or 0) or None
        rates = rate_census(s.audio_path for s in self.samples)
        other = {r: k for r, k in rates.items() if expected and r != expected}
        off, total = sum(other.values()), sum(rates.values())
        detail = ", ".join(f"{r} Hz: {k}" for r, k in other.items())
        if off and target:
            self.note(f"resampled {off} of {total} audio files to {expected} Hz ({detail})")
        elif off:
            self.note(f"warning: {off} of {total} audio files are not at the model's {expected} Hz ({detail}); preset "
                      f"{self.spec.preset!r} reproduces a reference that reads audio at its native rate, so they were "
                      f"used at their own rate and their maps may be degraded; resample the files to {expected} Hz")
        return {"model_rate": expected, "resampled_to": int(target) if target else None,
                "resampled": off if target else 0, "not_resampled": 0 if target else off,
                "file_rates": {str(r): k for r, k in rates.items()}}

    def _draw_offscreen(self):
        pool = self.dataset.offscreen_pool()
        return [[pool.draw(seed, pos, s) for pos, s in enumerate(self.samples)] for seed in self.spec.seeds]

    def _can_reuse_offscreen(self) -> bool:
        if self.offscreen_draws is None:
            return False
        if self.audio is not None and not self.audio.shares_preprocessing("offscreen", "positive"):
            self.note("offscreen features are computed per draw: the preset gives offscreen audio another "
                      "preprocessing than the positive (vssl_eval quirk, see the preset's audio.variants)")
            return False
        index = {str(s.audio_path): i for i, s in enumerate(self.samples)}
        missing = {d.offscreen_path for row in self.offscreen_draws for d in row} - set(index)
        if missing:
            self.note(f"offscreen features are computed per draw: {len(missing)} offscreen clips are not "
                      "positives of the evaluated samples")
            return False
        self.offscreen_index = np.array([[index[d.offscreen_path] for d in row] for row in self.offscreen_draws])
        return True

    def note(self, text: str) -> None:
        self.notes.append(text)
        if self.dist.is_main:
            self.log(f"[engine] {text}")

    def config(self) -> dict[str, Any]:
        spec = self.spec
        source = getattr(self.model, "checkpoint_source", None)
        if not spec.checkpoint and isinstance(source, (str, Path)):
            # weights found by the default lookup (shipped file, $VSSLEVAL_CHECKPOINTS, ./checkpoints):
            # record that file and its sha256 as if it had been named
            spec = dataclasses.replace(spec, checkpoint=str(source))
        parts = None
        if spec.checkpoint and (self.model.config.get("checkpoint") or {}).get("parts"):
            ckpt_cfg = self.model.config["checkpoint"]
            # a Hugging Face part (ACL-SSL's CLIPSeg folder) is recorded by its weights file
            parts = [resolve_hf_folder(prefix, path, ckpt_cfg, self.model.name)
                     for prefix, path in resolve_parts(spec.checkpoint, ckpt_cfg, self.model.name)]
        # the files the engine's model hashed as it read them a moment ago: not read a second time (an
        # in-memory model may have read its file long before, so that file is hashed afresh)
        hashed = {} if self.in_memory else {r["path"]: r["sha256"]
                                             for r in getattr(self.model, "checkpoint_files", None) or ()}
        cfg = spec.to_config(parts, hashed)
        cfg["data_root"] = str(self.dataset.root)
        cfg["testset"] = self.dataset.layout  # vssl_eval's --testset (selects its upsampling quirks)
        cfg["n_samples"] = len(self.samples)
        cfg["model_name"] = self.model.name
        cfg["model_config"] = self.model.config
        cfg["offscreen_reuse"] = self.reuse_offscreen
        if self.store_maps is not None:  # it changes the stored values: part of the run's identity
            cfg["store_maps"] = self.store_maps.record()
        cfg["device"] = str(self.device)
        cfg["world_size"] = self.dist.world_size
        # counts only: the list goes to skipped.csv (its sha256 here, so a changed list is a new run)
        cfg["skipped"] = self.dataset.skip_summary()
        cfg["audio_rates"] = self.audio_rates
        if self.in_memory:  # no file names these weights: identify them by their bytes
            cfg["weights_sha256"] = weights_sha256(self.model)
        cfg.update(self._ogl_record())
        cfg["fingerprint"], self.inputs = self.fingerprint(cfg)
        return cfg

    def fingerprint(self, cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The ``(summary, detail)`` fingerprint of what this run reads (vssleval/fingerprint.py):
        the dataset's metadata files, every record the reader loaded and its media (``--limit``
        runs read the same data as full ones), the ids evaluated, the offscreen clips drawn, the
        weights (the checkpoint's sha256 already in ``cfg``, the OGL file's), the resolved preset
        and the protocol. Every file is hashed in full (docs/report.md)."""
        if self.in_memory:
            weights = ("of the in-memory model (its state dict)", cfg.get("weights_sha256"))
        else:
            weights = (cfg.get("checkpoint"), cfg.get("checkpoint_sha256"))
        ogl_path = cfg.get("ogl_weights")  # hashed once, on load (_ogl_record)
        ogl = (",".join(ogl_path) if isinstance(ogl_path, list) else ogl_path, cfg.get("ogl_weights_sha256"))
        clips = ({d.offscreen_path for row in self.offscreen_draws for d in row}
                 if self.offscreen_draws is not None else set())
        return fingerprint.compute(
            self.dataset.root, self.dataset.metadata_files, self.dataset.samples, [s.id for s in self.samples],
            sorted(clips), checkpoint=weights, ogl=ogl,
            preset=(self.spec.preset, preset_block(self.model.config, self.spec.preset, self.model.name)),
            protocol=self.spec.protocol)

    def _ogl_record(self) -> dict[str, Any]:
        """The object prior's weights as read: ``ogl_weights`` (the file, also when the default
        look-up found it) and ``ogl_weights_sha256``, beside the checkpoint's; nothing for a
        protocol without the prior."""
        files = getattr(self.ogl, "checkpoint_files", None) if self.ogl is not None else None
        if not files:
            return {}
        return {"ogl_weights": files[0]["path"] if len(files) == 1 else [f["path"] for f in files],
                "ogl_weights_sha256": self.ogl.checkpoint_sha256}

    # -- features ------------------------------------------------------------------------------
    def _encode_audio(self, x: torch.Tensor) -> torch.Tensor:
        """Audio features of the inputs ``x`` ``[n, ...]``, :attr:`forward_rows` per forward."""
        return self._encode_rows(len(x), lambda i, j: x[i:j])

    def _encode_rows(self, n: int, rows: Callable[[int, int], torch.Tensor]) -> torch.Tensor:
        """Audio features of ``n`` inputs, ``rows(i, j)`` giving inputs ``i..j-1``, in forwards of
        :attr:`forward_rows` inputs (activation memory grows with them: engine/device.py)."""
        step = self.forward_rows
        return torch.cat([self.net.encode_audio(self._to_device(rows(i, min(i + step, n))))
                          for i in range(0, n, step)])

    def _to_device(self, x: torch.Tensor) -> torch.Tensor:
        """Move a batch of model inputs to the device, in the memory format the model runs in."""
        return to_device(x, self.device, self.channels_last)

    def _loader(self, positions, plan: InputPlan) -> DataLoader:
        paths = ([[d.offscreen_path for d in row] for row in self.offscreen_draws]
                 if plan.offscreen else None)
        data = SampleInputs(self.samples, positions, plan, self.audio, self.image, paths,
                            object_image=self.ogl_image if plan.object_image else None)
        return DataLoader(data, batch_size=self.spec.batch_size, shuffle=False, num_workers=self.spec.num_workers,
                          collate_fn=collate, pin_memory=pin_memory(self.device))

    def positive_audio_features(self, positions: list[int]) -> tuple[dict[int, torch.Tensor], dict[int, tuple],
                                                                      dict[int, str]]:
        """Pass 1: positive audio features of (at least) ``positions``, gathered from all ranks,
        ``{position: (length, sr)}`` of each positive (what offscreen quirks read of it) and
        ``{position: input digest}`` (an offscreen input equal to a positive's reuses its features).

        Features are computed in canonical batches -- dataset positions ``[j*B, (j+1)*B)`` -- dealt
        round-robin to ranks, so every clip is encoded in the same batch whatever the world size
        and whichever batches a resumed run still needs: convolution results can depend on the
        batch they run in (last-bit differences), and the maps of a ``torchrun`` or resumed run
        must equal those of one uninterrupted process.
        """
        bs = self.spec.batch_size
        n = len(self.samples)
        chunks = sorted({p // bs for p in positions})
        mine = [q for j in chunks[self.dist.rank::self.dist.world_size] for q in range(j * bs, min((j + 1) * bs, n))]
        plan = InputPlan(seeds=tuple(self.spec.seeds), image=False, positive=True)
        feats: dict[int, torch.Tensor] = {}
        infos: dict[int, tuple] = {}
        digests: dict[int, str] = {}
        bar = tqdm(self._loader(mine, plan), desc="audio features", unit="batch", disable=not self.dist.is_main,
                   leave=False)
        with torch.no_grad(), autocast(self.device, self.spec.amp):
            for batch in timing.iterate("front-end", bar):
                with timing.phase("model"):
                    out = self._encode_audio(batch["positive"]).float().cpu()
                feats.update(zip(batch["position"].tolist(), out))
                if self.offscreen_table:
                    digests.update(zip(batch["position"].tolist(), map(input_digest, batch["positive"])))
                if "positive_info" in batch:
                    infos.update(zip(batch["position"].tolist(), map(tuple, batch["positive_info"].tolist())))
        return self._gather(feats), self._gather(infos), self._gather(digests)

    def _gather(self, part: dict) -> dict:
        """The union of every rank's ``part`` (itself in a single process)."""
        if self.dist.world_size == 1:
            return part
        gathered: list[Any] = [None] * self.dist.world_size
        torch.distributed.all_gather_object(gathered, part)
        return {k: v for rank_part in gathered for k, v in rank_part.items()}

    def offscreen_features(self, keys: list[OffscreenKey]) -> dict[OffscreenKey, torch.Tensor]:
        """Audio features of every distinct offscreen input ``keys`` (sorted), gathered from all ranks.

        Keys are split into near-equal chunks of about the batch size (:func:`balanced_chunks`),
        dealt round-robin to ranks; inputs of one chunk with equal shapes are encoded together.
        """
        chunks = balanced_chunks(len(keys), self.spec.batch_size)[self.dist.rank::self.dist.world_size]
        loader = DataLoader(OffscreenInputs(keys, self.audio), batch_sampler=[list(c) for c in chunks],
                            num_workers=self.spec.num_workers, collate_fn=as_list,
                            pin_memory=pin_memory(self.device))
        feats: dict[OffscreenKey, torch.Tensor] = {}
        bar = tqdm(zip(chunks, loader), total=len(chunks), desc="offscreen features", unit="batch",
                   disable=not self.dist.is_main, leave=False)
        with torch.no_grad(), autocast(self.device, self.spec.amp):
            for chunk, inputs in timing.iterate("front-end", bar):
                with timing.phase("model"):
                    out = encode_in_groups(lambda x: self.net.encode_audio(self._to_device(x)), inputs,
                                           self.forward_rows).float().cpu()
                feats.update(zip((keys[i] for i in chunk), out))
        return self._gather(feats)

    # -- the run ---------------------------------------------------------------------------------
    def run(self, out_dir: Path, resume: bool = False, overwrite: bool = False) -> RunOutcome:
        t0 = time.perf_counter()
        store_dir = Path(out_dir) / "store"
        if self.dist.is_main:  # the fingerprint hashes every input once, on one rank
            with timing.phase("data"):
                config = self.config()
            with timing.phase("store"):
                store = HeatmapStore.create_in_run(out_dir, config, resume=resume, overwrite=overwrite,
                                                   inputs=self.inputs)
            self._write_draws(Path(out_dir))
            self._write_skips(Path(out_dir))
        dist_utils.barrier(self.dist)
        store = HeatmapStore(store_dir)
        n = len(self.samples)
        bs = self.spec.batch_size
        batches = [list(range(i, min(i + bs, n))) for i in range(0, n, bs)]
        todo_all = [k for k in range(len(batches)) if not store.has_shard(k)]
        todo = [k for k in todo_all if self.dist.owns(k)]
        if self.dist.is_main:
            self.log(f"[engine] device {self.device} | model {self.model.name} | preset {self.spec.preset} | "
                     f"protocol {self.spec.protocol} | seeds {self.spec.seeds} | negatives "
                     f"{','.join(self.spec.negatives) or 'none'} | {n} samples in {len(batches)} batches"
                     + (f" ({len(batches) - len(todo_all)} already done)" if len(todo_all) < len(batches) else ""))
        cached: dict[int, torch.Tensor] = {}
        table: dict[tuple[int, int], torch.Tensor] = {}
        if todo_all and (self.reuse_offscreen or self.offscreen_table) and not self.audio_agnostic:
            need = {p for k in todo_all for p in batches[k]}
            if self.reuse_offscreen:
                need |= {int(j) for k in todo_all for j in self.offscreen_index[:, batches[k]].ravel()}
            cached, infos, digests = self.positive_audio_features(sorted(need))
            if self.offscreen_table:
                table = self._offscreen_table(sorted(need), infos, cached, digests)
        silence_cache: dict[int, torch.Tensor] = {}
        bank_cache: dict[tuple[int, int], torch.Tensor] = {}
        # noise features of an earlier run of this model in this process (engine/noise_memo.py)
        self._noise_key = self.noise_memo_key()
        noise_known = NOISE_MEMO.has_all(self._noise_key, [tuple(batches[k]) for k in todo])
        plan = InputPlan(seeds=tuple(self.spec.seeds), image=True, positive=not cached,
                         noise=("noise" in self.spec.negatives and self.spec.noise_bank == 0 and not self.audio_agnostic
                                and not noise_known),
                         offscreen=("offscreen" in self.spec.negatives and not (self.reuse_offscreen or table)
                                    and not self.audio_agnostic),
                         object_image=self.ogl_image is not None)
        positions = [p for k in todo for p in batches[k]]
        batch_numbers = iter(todo)
        bar = tqdm(total=len(positions), desc=f"{self.model.name} maps", unit="sample", disable=not self.dist.is_main)
        with torch.no_grad(), autocast(self.device, self.spec.amp):
            for batch in timing.iterate("front-end", self._loader(positions, plan)):
                k = next(batch_numbers)
                pos = batch["position"].tolist()
                if pos != batches[k]:  # the loader must follow the batching of the store
                    raise RuntimeError(f"batch {k}: loader positions {pos[:3]}... differ from the plan")
                with timing.phase("model"):
                    arrays = self._maps_for_batch(batch, pos, cached, silence_cache, bank_cache, table)
                with timing.phase("store"):
                    if self.store_maps is not None:
                        arrays = self.store_maps.reduce(arrays)
                    store.write_shard(k, arrays, self.store_maps.codes() if self.store_maps is not None else None)
                bar.update(len(pos))
        bar.close()
        dist_utils.barrier(self.dist)
        if self.dist.is_main:
            store.mark_complete(len(batches))
        return RunOutcome(Path(out_dir), store, n, len(todo), len(batches) - len(todo_all),
                          time.perf_counter() - t0, self.notes, self.dist.is_main)

    def _offscreen_table(self, positions: list[int], infos: dict[int, tuple], cached: dict[int, torch.Tensor],
                         digests: dict[int, str]) -> dict[tuple[int, int], torch.Tensor]:
        """``{(seed index, position): offscreen features}`` of ``positions``, each distinct input
        encoded once, and not at all when it equals an evaluated positive's input (whose features
        ``cached`` holds; :mod:`vssleval.engine.offscreen`)."""
        keys = offscreen_keys(self.offscreen_draws, positions, infos if uses_positive_info(self.audio) else None)
        distinct = sorted(set(keys.values()))
        by_digest = {d: p for p, d in sorted(digests.items())}
        same: dict[OffscreenKey, int] = {}
        if by_digest and self.audio is not None:
            found = DataLoader(OffscreenDigests(OffscreenInputs(distinct, self.audio)), batch_size=None,
                               num_workers=self.spec.num_workers)
            same = {k: by_digest[d] for k, d in zip(distinct, timing.iterate("front-end", found)) if d in by_digest}
        feats = {k: cached[p] for k, p in same.items()}
        feats.update(self.offscreen_features([k for k in distinct if k not in same]))
        if self.dist.is_main:
            self.log(f"[engine] offscreen features: {len(distinct)} distinct inputs for {len(keys)} draws, "
                     f"{len(same)} of them equal to an evaluated positive's input (its features reused)")
        return {draw: feats[key] for draw, key in keys.items()}

    def _maps_for_batch(self, batch, pos, cached, silence_cache, bank_cache, table) -> dict[str, np.ndarray]:
        model, spec = self.net, self.spec  # the contract-checked calls
        S = len(spec.seeds)
        images = self._to_device(batch["image"])
        visual = model.encode_image(images)
        a_pos = (torch.stack([cached[p] for p in pos]).to(self.device) if cached
                 else self._encode_audio(batch["positive"]))
        out: dict[str, np.ndarray] = {"index": np.asarray(pos, dtype=np.int64),
                                      "ids": np.array([self.samples[p].id for p in pos])}
        as_np = lambda t: t.float().cpu().numpy()  # noqa: E731
        out["positive"] = as_np(model.localize(visual, a_pos))
        if self.wants_confidence:  # the model's own score of the positive pair (docs/protocols.md §11.4)
            out["confidence"] = as_np(model.confidence(visual, a_pos))
        if self.audio_agnostic:  # every negative map is the positive one: no other forward
            out.update(self._agnostic_negatives(out["positive"], pos))
        negatives = () if self.audio_agnostic else spec.negatives
        if "silence" in negatives:
            srs = batch["sr"].tolist()
            for sr in set(srs) - set(silence_cache):  # silence features: once per run and rate
                x = self.audio.silence(sr)[None] if self.audio is not None else torch.zeros(1, 1)
                silence_cache[sr] = self._encode_audio(x)
            if len(set(srs)) == 1:
                out["silence"] = as_np(model.localize(visual, silence_cache[srs[0]]))
            else:
                out["silence"] = as_np(torch.cat([model.localize(visual[i:i + 1], silence_cache[sr])
                                                  for i, sr in enumerate(srs)]))
        if "noise" in negatives:
            out["noise"] = as_np(torch.stack([model.localize(visual, a) for a in self._noise_features(batch, pos, bank_cache)]))
        if "offscreen" in negatives:
            if self.reuse_offscreen:
                feats = [torch.stack([cached[int(j)] for j in self.offscreen_index[s, pos]]).to(self.device)
                         for s in range(S)]
            elif table:
                feats = [torch.stack([table[(s, p)] for p in pos]).to(self.device) for s in range(S)]
            else:
                feats = [encode_in_groups(lambda x: model.encode_audio(self._to_device(x)), batch["offscreen"][s],
                                          self.forward_rows)
                         for s in range(S)]
            out["offscreen"] = as_np(torch.stack([model.localize(visual, a) for a in feats]))
            out["offscreen_ids"] = self._offscreen_ids(pos)
        if self.ogl_net is not None:
            ogl_images = self._to_device(batch["object_image"]) if "object_image" in batch else images
            out["ogl"] = as_np(self.ogl_net.object_map(ogl_images))
        out.update(annotation_arrays([self.samples[p] for p in pos], self.max_boxes))
        return out

    def _agnostic_negatives(self, positive: np.ndarray, pos: list[int]) -> dict[str, np.ndarray]:
        """An audio-agnostic model's negative maps: its positive maps ``[b, h, w]``, shared
        (silence) or broadcast over the seeds (read-only ``[S, b, h, w]`` views)."""
        S = len(self.spec.seeds)
        out: dict[str, np.ndarray] = {}
        if "silence" in self.spec.negatives:
            out["silence"] = positive
        for variant in ("noise", "offscreen"):
            if variant in self.spec.negatives:
                out[variant] = np.broadcast_to(positive, (S, *positive.shape))
        if "offscreen" in self.spec.negatives:
            out["offscreen_ids"] = self._offscreen_ids(pos)
        return out

    def _offscreen_ids(self, pos: list[int]) -> np.ndarray:
        """``[S, b]`` ids of the offscreen clips drawn for samples ``pos``."""
        return np.array([[self.offscreen_draws[s][p].offscreen_id for p in pos] for s in range(len(self.spec.seeds))])

    def noise_memo_key(self) -> tuple | None:
        """What two runs must share for their noise features of the same batch positions to be equal
        (engine/noise_memo.py); None when they cannot be reused: no independent noise, or a preset
        that reads audio at its native rate on a dataset whose clips have several rates (a sample's
        noise length is its clip's rate times the preset's seconds)."""
        spec = self.spec
        if (not NOISE_MEMO.enabled or "noise" not in spec.negatives or spec.noise_bank != 0 or self.audio_agnostic
                or self.audio is None):
            return None
        file_rates = {int(r) for r in ((self.audio_rates or {}).get("file_rates") or {})}
        rates = {self.audio.output_sr(r) for r in file_rates}  # the rate every sample's noise is made at
        if len(rates) != 1:
            return None
        rate = rates.pop()
        model = type(self.model)
        return (f"{model.__module__}.{model.__qualname__}", self.model.name, spec.preset,
                json.dumps(self.model.config, sort_keys=True, default=str), weights_sha256(self.model),
                self.audio.cache_key("noise"),
                self.audio.noise_draws, rate, tuple(spec.seeds), str(self.device), spec.amp, self.channels_last,
                self.forward_rows, torch.get_num_threads())

    def _noise_features(self, batch, pos, bank_cache) -> list[torch.Tensor]:
        """Per seed, noise audio features ``[b, ...]`` for the batch."""
        spec = self.spec
        if spec.noise_bank == 0:
            flat = NOISE_MEMO.get(self._noise_key, tuple(pos))
            if flat is None:
                x = batch["noise"]  # [b, S, ...]
                b = len(x)
                # seed-major rows (row k: sample k % b, seed k // b), copied one forward's worth at a time
                flat = self._encode_rows(b * x.shape[1],
                                         lambda i, j: torch.stack([x[k % b, k // b] for k in range(i, j)]))
                NOISE_MEMO.put(self._noise_key, tuple(pos), flat)
            return list(flat.reshape(len(spec.seeds), len(pos), *flat.shape[1:]))
        srs = batch["sr"].tolist()
        feats = []
        for seed in spec.seeds:
            rows = []
            for p, sr in zip(pos, srs):
                slot = noise_bank_slot(seed, p, spec.noise_bank)
                key = (seed, slot, sr)
                if key not in bank_cache:
                    if self.audio is None:
                        x = torch.zeros(1, 1)
                    else:
                        x = self.audio.noise(bank_noise(seed, slot, self.audio.noise_length(sr)), sr)[None]
                    bank_cache[key] = self._encode_audio(x)[0]
                rows.append(bank_cache[key])
            feats.append(torch.stack(rows))
        return feats

    def _write_skips(self, out_dir: Path) -> None:
        """``skipped.csv``: every record ``--skip-bad`` left out (the counts are in the configuration)."""
        path = out_dir / SKIPPED_CSV
        if not self.dataset.skips:
            path.unlink(missing_ok=True)  # a stale list of an earlier run in this folder
            return
        write_text_atomic(path, skips_csv(self.dataset.skips))
        self.log(f"[engine] --skip-bad: {format_skip_counts(self.dataset.skip_summary())}; list in {for_console(path)}")

    def _write_draws(self, out_dir: Path) -> None:
        """Record every offscreen draw so a run can be audited and re-scored."""
        if self.offscreen_draws is None:
            return
        buf = io.StringIO()
        fields = ["seed", "index", "sample_id", "offscreen_id", "offscreen_class", "offscreen_path", "n_classes"]
        writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        relative: dict[str, str] = {}  # each clip is drawn about once per seed: one path computation per clip
        for row in self.offscreen_draws:
            for d in row:  # the clip relative to the data folder: the file is shared with the metrics
                if d.offscreen_path not in relative:
                    relative[d.offscreen_path] = fingerprint.relative(d.offscreen_path, self.dataset.root)
                writer.writerow({**d.as_dict(), "offscreen_path": relative[d.offscreen_path]})
        write_text_atomic(out_dir / "offscreen_draws.csv", buf.getvalue())


def run_inference(spec: RunSpec, out_dir: str | Path, resume: bool = False, overwrite: bool = False,
                  log: Callable[[str], None] = print, model: torch.nn.Module | None = None,
                  preflight: Callable[[int], None] | None = None) -> RunOutcome:
    """Compute and store every raw map of ``spec`` in ``out_dir/store`` (``model``, ``preflight``:
    see :class:`Engine`)."""
    engine = Engine(spec, log=log, model=model, preflight=preflight)
    try:
        return engine.run(Path(out_dir), resume=resume, overwrite=overwrite)
    finally:
        dist_utils.shutdown(engine.dist)
