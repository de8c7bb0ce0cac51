"""Training the embedded model ``synth-ezvsl`` on the synthetic benchmark, and checking it listens.

``TrainConfig`` / ``run_training`` (:mod:`.synthetic`) train and save ``checkpoints/synth-ezvsl.pth``
with its JSON record; ``audio_ablation`` (:mod:`.ablation`) compares the model with its audio, with
the mean audio and with the centre prior. Entry points: ``scripts/train_synthetic.py``
(= ``vssleval train-synthetic``) and ``scripts/audio_ablation.py``.

The names are imported on first use (:mod:`vssleval._lazy`), so ``vssleval train-synthetic --help``
reads :class:`TrainConfig` (:mod:`.config`) without importing torch.
"""

from vssleval import _lazy

_NAMES = {"TrainConfig": "vssleval.training.config", "audio_ablation": "vssleval.training.ablation",
          "format_ablation": "vssleval.training.ablation", **{name: "vssleval.training.synthetic" for name in (
              "mil_contrastive_loss", "prepare_data", "run_training", "save_checkpoint", "train")}}

__all__ = ["TrainConfig", "audio_ablation", "format_ablation", "mil_contrastive_loss", "prepare_data",
           "run_training", "save_checkpoint", "train"]

__getattr__, __dir__ = _lazy.exports(globals(), _NAMES)
