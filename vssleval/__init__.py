"""vssleval: evaluate visual sound source localization models under positive and negative audio.

The package follows the data flow: ``data`` (files on disk, ground truth, negative sampler,
synthetic benchmark) -> ``frontends`` (spectrograms, image transforms) -> ``models`` (zoo and
checkpoints) -> ``engine`` (batched inference, heatmap store) -> ``metrics`` (pure functions of
maps and ground truth) -> ``report`` (tables and figures). ``cli`` wires them together.
"""

__version__ = "0.1.0"
