"""Training the embedded model ``synth-ezvsl`` on the synthetic benchmark, and checking it listens.

``TrainConfig`` / ``run_training`` (:mod:`.synthetic`) train and save ``checkpoints/synth-ezvsl.pth``
with its JSON record; ``audio_ablation`` (:mod:`.ablation`) compares the model with its audio, with
the mean audio and with the centre prior. Entry points: ``scripts/train_synthetic.py``
(= ``vssleval train-synthetic``) and ``scripts/audio_ablation.py``.
"""

from vssleval.training.ablation import audio_ablation, format_ablation
from vssleval.training.synthetic import TrainConfig, mil_contrastive_loss, prepare_data, run_training, save_checkpoint, train

__all__ = ["TrainConfig", "audio_ablation", "format_ablation", "mil_contrastive_loss", "prepare_data",
           "run_training", "save_checkpoint", "train"]
