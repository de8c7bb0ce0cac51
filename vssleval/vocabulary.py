"""The words vssleval uses for its runs, spelled once: audio variants, map variants, presets.

A leaf module: it imports nothing, so every package (``metrics`` included, which otherwise imports
nothing of vssleval) may use it. The protocols' code is the protocol registry
(:data:`vssleval.metrics.protocols.PROTOCOLS`, filled from the protocol modules, which import numpy
and torch); their names and one-line summaries are spelled here (:data:`PROTOCOL_SUMMARIES`), so the
CLI's parser offers them without importing the registry, and each protocol class takes its summary
from here (``tests/test_cli_light.py`` checks that the registry and this table list the same
protocols in the same order).

``positive``
    the image's own audio (never ``pos``).
``silence``, ``noise``, ``offscreen``
    the negative audio variants (docs/protocols.md §2), in this order everywhere.
``ogl``
    the object-guided localization prior: an image-only map of "where objects are", which the
    ``juanola2025`` protocol blends with the audio-visual map (docs/protocols.md §4; never
    "object prior" in keys, options or YAML).
``native`` / ``juanola2025``
    the preprocessing presets of a model YAML: the model's own repository's test pipeline, or
    what vssl_eval feeds the model (docs/models.md §2).
"""

POSITIVE = "positive"
#: the negative audio variants, in display order
NEGATIVES = ("silence", "noise", "offscreen")
#: every audio variant a sample is heard with
AUDIO_VARIANTS = (POSITIVE, *NEGATIVES)
#: the object-guided localization prior's map variant (store member, YAML key, metric-key suffix)
OGL = "ogl"
#: every map a run can hold per sample: the audio variants, then the OGL prior
MAP_VARIANTS = (*AUDIO_VARIANTS, OGL)

#: the preprocessing presets every zoo model YAML defines
PRESETS = ("native", "juanola2025")
#: the preset a run uses when none is named
DEFAULT_PRESET = "juanola2025"

#: the metric protocols, in ``--help`` order (the clean default first): name -> one line for ``--help``
PROTOCOL_SUMMARIES = {
    "vssleval": "vssleval (clean, default)",
    "juanola2025": "juanola2025 (vssl_eval compat)",
    "native": "native (each model's own repository evaluator)",
}
