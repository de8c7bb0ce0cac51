"""The embedded synthetic benchmark (VGG-SS and IS3 layouts): ``synth`` and ``default_synthetic_dir``."""

from vssleval.data.synthetic.cache import DEFAULT_N, DEFAULT_TEST_SEED, cache_root, default_synthetic_dir
from vssleval.data.synthetic.classes import CLASS_NAMES, CLASSES
from vssleval.data.synthetic.generate import synth

__all__ = ["CLASSES", "CLASS_NAMES", "DEFAULT_N", "DEFAULT_TEST_SEED", "cache_root", "default_synthetic_dir", "synth"]
