"""The heatmap store: every map of a run, resumable, written atomically, verified.

The maps are the raw low-resolution ones the model returned, or, where the preset's ``map.store``
asks for it, those maps resized to 224 with 12-bit negatives (docs/models.md §2.8).

Split by job (docs/report.md, "Run folders and heatmap stores"):

* :mod:`.shards`: the format of one shard (its members, the ``<variant>=positive`` placeholders,
  the ground-truth bit planes), read and written atomically;
* :mod:`.manifest`: the ``store_format`` version, the ``COMPLETE`` manifest (sha256 per shard) and
  the verification of a store before it is read or resumed;
* :mod:`.ownership`: which run a folder belongs to (config hash, owner marker), the refusals that
  keep two runs apart, and the fingerprint check of a resumed run;
* :mod:`.heatmap`: :class:`HeatmapStore`, which uses the three;
* :mod:`.reduce` and :mod:`.codec`: what a store keeps of the maps when the preset's ``map.store``
  asks for resized maps and 12-bit negatives (docs/models.md §2.8).

The names below are the store's public interface; callers import them from here.
"""

from vssleval.engine.store.heatmap import HeatmapStore
from vssleval.engine.store.manifest import COMPLETE_FILE, CONFIG_FILE, STORE_FORMAT
from vssleval.engine.store.ownership import (
                                             DERIVED_FROM_INPUTS,
                                             INPUT_KEYS,
                                             OWNER_FILE,
                                             RUN_RESULT_FILES,
                                             VOLATILE_KEYS,
                                             changed_inputs,
                                             check_run_folder,
                                             claim_run_folder,
                                             config_hash,
                                             is_store_dir,
                                             refuse_changed_inputs,
                                             release_run_folder,
                                             run_folder_owner,
                                             run_label,
                                             store_containing,
)
from vssleval.engine.store.shards import (
                                             EXTREMES_SUFFIX,
                                             MAP_MEMBERS,
                                             PER_SEED,
                                             pack_gt,
                                             pad_boxes,
                                             unpack_gt,
)

__all__ = [
                                             "COMPLETE_FILE",
                                             "CONFIG_FILE",
                                             "DERIVED_FROM_INPUTS",
                                             "EXTREMES_SUFFIX",
                                             "INPUT_KEYS",
                                             "MAP_MEMBERS",
                                             "OWNER_FILE",
                                             "PER_SEED",
                                             "RUN_RESULT_FILES",
                                             "STORE_FORMAT",
                                             "VOLATILE_KEYS",
                                             "HeatmapStore",
                                             "changed_inputs",
                                             "check_run_folder",
                                             "claim_run_folder",
                                             "config_hash",
                                             "is_store_dir",
                                             "pack_gt",
                                             "pad_boxes",
                                             "refuse_changed_inputs",
                                             "release_run_folder",
                                             "run_folder_owner",
                                             "run_label",
                                             "store_containing",
                                             "unpack_gt",
]
