"""What determines the weights of a ``synth-ezvsl`` training run (:class:`TrainConfig`), in a module
that imports neither numpy nor torch: ``vssleval train-synthetic`` builds its flags from these
fields, and its ``--help`` must answer at once (docs/performance.md). The training itself is
:mod:`vssleval.training.synthetic`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from vssleval import limits

MODEL_NAME = "synth-ezvsl"


#: The TrainConfig fields that are numbers (each has a row in vssleval.limits.LIMITS).
NUMERIC_FIELDS = ("data_seed", "n_vggss", "n_is3", "seed", "steps", "batch_size", "lr", "weight_decay",
                  "warmup_steps", "tau", "threads")


@dataclass
class TrainConfig:
    """Everything that determines the trained weights (stored in the sidecar)."""

    model: str = MODEL_NAME          # registered name whose YAML gives towers and preprocessing
    preset: str = "juanola2025"      # preset whose audio/image blocks build the inputs
    data_seed: int = 1               # synthetic generator seed of the train split (split="train")
    n_vggss: int = 400               # VGG-SS-layout records (one object per picture)
    n_is3: int = 800                 # IS3-layout records (two per scene: n_is3 / 2 pictures)
    seed: int = 0                    # torch seed (init, batches, flips)
    steps: int = 400
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 30
    # EZ-VSL uses 0.03. Validation split (train, data seed 2; IS3 generator v2), cIoU@0.5 median rule:
    # tau 0.1 -> 0.53, 0.2 -> 0.625, 0.3 -> 0.665, 0.5 -> 0.66 (600 steps at 0.3: 0.68; the 14x14-map
    # variant, visual input_pool 2, picks as well but its sharper maps score lower: 0.42-0.49)
    tau: float = 0.3
    mask_false_negatives: bool = True
    hflip: bool = True               # random horizontal flips of the picture (audio has no side)
    threads: int = 1                 # 1 is faster than 2 on a shared, oversubscribed machine
    model_overrides: dict[str, Any] = field(default_factory=dict)  # tests: smaller towers

    def __post_init__(self) -> None:
        # every number through vssleval.limits (the rows scoped "train-synthetic"): a bad value fails
        # here, before minutes of work, rather than as a traceback or a checkpoint trained on NaN losses
        limits.validate("train-synthetic", **{name: getattr(self, name) for name in NUMERIC_FIELDS})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
