"""Score a heatmap store: stream its shards into the metrics accumulator (no model runs).

This is what ``vssleval evaluate`` does after inference and what ``vssleval report --from-store``
does on an existing run, so both give identical numbers. What a run is scored with is the
protocol's :meth:`~vssleval.metrics.protocols.Protocol.prepare`: :func:`run_facts` describes the
run to it, :func:`prepare_run` is the one call (also the API's check before any model runs).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from tqdm import tqdm

from vssleval import timing, vocabulary
from vssleval.data.types import scene_groups
from vssleval.engine.store import CONFIG_FILE, EXTREMES_SUFFIX, HeatmapStore, unpack_gt
from vssleval.errors import VsslevalError
from vssleval.metrics import PROTOCOLS, Accumulator
from vssleval.metrics.protocols import Protocol, RunFacts, Setup, StoreFacts, get_protocol
from vssleval.models.maps import MapRule
from vssleval.models.registry import DEFAULT_PRESET, load_model_config, preset_block

def run_facts(config: Mapping[str, Any], store: HeatmapStore | None = None) -> RunFacts:
    """What a protocol is told about a run (:class:`~vssleval.metrics.protocols.RunFacts`).

    ``config`` needs ``model_config``, ``model_name``, ``preset``, ``negatives`` and ``testset`` (the
    dataset layout the preset's per-dataset ops are keyed by; None takes each op's ``default``), as
    a stored run's configuration has them; ``store``: the stored run being scored, if any.
    """
    _check_run_config(config, store)
    block = preset_block(config["model_config"], config["preset"], config["model_name"])
    rule = MapRule.from_config(block.get("map"))
    testset = config.get("testset")

    def op(variant: str) -> str:
        return rule.metric_op(variant, testset)

    facts = None
    if store is not None:
        facts = StoreFacts(root=str(store.root), written_by=str(store.config.get("protocol")),
                           members=frozenset(store.members()))
    return RunFacts(model_name=config["model_name"], preset=config["preset"], model_config=config["model_config"],
                    preset_map=dict(block.get("map") or {}), negatives=tuple(config["negatives"]), op=op,
                    store=facts, testset=testset)


#: the run configuration's entries a protocol's set-up reads, and what each must be
_RUN_KEYS = {"model_config": (dict, "a mapping"), "model_name": (str, "a name"), "preset": (str, "a name"),
             "negatives": ((list, tuple), "a list of variant names")}


def _check_run_config(config: Mapping[str, Any], store: HeatmapStore | None) -> None:
    """A :class:`VsslevalError` naming the entry, for a stored run whose configuration lacks one
    :func:`run_facts` reads or holds it in another form (an edited or damaged ``config.json``)."""
    for key, (kind, what) in _RUN_KEYS.items():
        value = config.get(key)
        if isinstance(value, kind) and (key != "negatives" or all(isinstance(v, str) for v in value)):
            continue
        where = f"{store.root / CONFIG_FILE}" if store is not None else "the run configuration"
        found = "has none" if key not in config else f"holds {type(value).__name__} {str(value)[:60]!r}"
        raise VsslevalError(f"{where}: `{key}` must be {what} and {found} (edited or damaged?); "
                            "evaluate the model again to rebuild the run")


def prepare_run(config: Mapping[str, Any], protocol: str | Protocol,
                store: HeatmapStore | None = None) -> Setup:
    """What ``protocol`` scores the run of ``config`` (and, when given, its ``store``) with
    (:meth:`Protocol.prepare <vssleval.metrics.protocols.Protocol.prepare>`): called before any
    model runs, so a run the protocol cannot score is refused first, and before a store is scored.
    A refusal is a :class:`~vssleval.metrics.protocols.ProtocolRefusal` (a :class:`VsslevalError`)."""
    return protocol_of(protocol).prepare(run_facts(config, store))


def upsample_plan_for(model: str, testset: str | None, protocol: str = "juanola2025",
                      preset: str = DEFAULT_PRESET) -> Any:
    """The upsampling plan (:attr:`Setup.ops <vssleval.metrics.protocols.Setup>`) of a model named
    outside a run (tests, benchmarks, notebooks), with the protocol's default negatives.

    Args:
        model: a registered model name (its ``configs/models/<model>.yaml`` is read).
        testset: the dataset layout name the YAML's per-dataset ops are keyed by (``vggss``,
            ``is3``, ...); None takes each variant's ``default``.
        protocol: ``juanola2025`` gives ``{positive, ogl, neg}``; ``vssleval`` one op name.
        preset: the preset whose ``map.upsample`` block is read.
    """
    # a minimal run config: the same lookup a stored run goes through, so there is one code path
    config = {"model_config": load_model_config(model), "preset": preset, "model_name": model,
              "testset": testset, "negatives": protocol_of(protocol).default_negatives}
    return prepare_run(config, protocol).ops


def protocol_of(name: str | Protocol) -> Protocol:
    """The registered protocol ``name`` (a :class:`VsslevalError` naming the known ones otherwise)."""
    try:
        return get_protocol(name)
    except ValueError as exc:
        raise VsslevalError(f"unknown --protocol {name!r}; use {' or '.join(PROTOCOLS)}") from exc


#: Map members of a store shard, in the order the counts are reported.
MAP_VARIANTS = vocabulary.MAP_VARIANTS


def count_nonfinite(store: HeatmapStore) -> dict[str, tuple[int, int]]:
    """``{variant: (maps holding NaN or inf, maps)}`` over every shard of ``store`` (one map = one
    ``[h, w]`` array; ``noise``/``offscreen`` count one per seed and sample)."""
    counts: dict[str, tuple[int, int]] = {}
    with store.read_only():
        for shard in store.iter_shards():
            add_nonfinite(counts, shard)
    return counts


def add_nonfinite(counts: dict[str, tuple[int, int]], shard: Mapping[str, np.ndarray]) -> None:
    """Add one shard's ``(maps holding NaN or inf, maps)`` per variant to ``counts``."""
    for v in MAP_VARIANTS:
        if v in shard:
            rows = nonfinite_maps(shard[v])
            bad, total = counts.get(v, (0, 0))
            counts[v] = (bad + int(rows.sum()), total + rows.size)


def nonfinite_maps(maps: Any) -> np.ndarray:
    """Which maps of ``maps`` (``[..., h, w]``) hold a NaN or inf: bool ``[...]`` (one per map)."""
    maps = np.asarray(maps)
    if maps.ndim < 2:
        return ~np.isfinite(maps.reshape(-1))
    return (~np.isfinite(maps)).any(axis=(-2, -1))


def describe_nonfinite(counts: dict[str, tuple[int, int]]) -> str | None:
    """``"16 maps: positive 8 of 8, silence 8 of 8"``, or None when every map is finite."""
    parts = [f"{v} {bad} of {total}" for v, (bad, total) in counts.items() if bad]
    if not parts:
        return None
    return f"{sum(bad for bad, _ in counts.values())} maps ({', '.join(parts)})"


def check_nonfinite(store: HeatmapStore, allow_nonfinite: bool, protocol: str,
                    counts: dict[str, tuple[int, int]] | None = None) -> str | None:
    """The one rule for non-finite maps (docs/protocols.md §8.3), applied before any metric is written.

    None when every map is finite. Otherwise, unless ``allow_nonfinite``, a :class:`VsslevalError`
    naming each variant and its count (the store is left as it is, for inspection); with
    ``allow_nonfinite``, the warning line that the console and the top of ``report.md`` show.
    ``counts``: :func:`count_nonfinite` of ``store`` when the caller has it already.
    """
    found = describe_nonfinite(count_nonfinite(store) if counts is None else counts)
    if found is None:
        return None
    run = store.root.parent if store.root.name == "store" else store.root
    if not allow_nonfinite:
        raise VsslevalError(
            f"the model produced non-finite (NaN or inf) maps: {found}. No metrics were written: scored, they "
            f"would look like plausible numbers. The heatmap store {store.root} is kept for inspection "
            f"(`vssleval export {run} maps.npz`); check the checkpoint and the model's inputs. To score them "
            f"anyway under the documented rule (docs/protocols.md §8.3), pass --allow-nonfinite (API: "
            f"allow_nonfinite=True), e.g. `vssleval report --from-store {run} --out {run} --allow-nonfinite`")
    rule = protocol_of(protocol).nonfinite_rule
    return f"WARNING: {found} are non-finite (NaN or inf), {rule} (--allow-nonfinite)"


def score_run(store: HeatmapStore, protocol: str | None = None, bootstrap: int = 200,
              allow_nonfinite: bool = False, progress: bool = True) -> tuple[Accumulator, list[str]]:
    """What ``evaluate`` and ``report --from-store`` score: :func:`score_store`, counting the
    non-finite maps in the same pass over the shards, then :func:`check_nonfinite` (which refuses
    them unless ``allow_nonfinite``; nothing has been written yet). Returns the accumulator and the
    warnings for the console and ``report.md``."""
    with timing.phase("scoring"):
        store.require_complete()
        protocol = protocol or store.config["protocol"]
        setup = prepare_run(store.config, protocol, store)  # a store the protocol cannot score is refused first
        counts: dict[str, tuple[int, int]] = {}
        acc = score_store(store, protocol=protocol, bootstrap=bootstrap, progress=progress, setup=setup,
                          nonfinite=counts)
        warning = check_nonfinite(store, allow_nonfinite, protocol, counts)
    return acc, [warning] if warning else []


def score_store(store: HeatmapStore, protocol: str | None = None, bootstrap: int = 200,
                progress: bool = True, setup: Setup | None = None,
                nonfinite: dict[str, tuple[int, int]] | None = None) -> Accumulator:
    """Accumulate every (seed, sample) of a complete store under ``protocol`` (default: the run's).

    ``setup``: what :func:`prepare_run` returned for this store and protocol (prepared here when
    None). Non-finite maps are scored under the protocol's rule without a question; :func:`score_run`
    is the entry point that refuses them unless asked. ``nonfinite``: a dict that receives
    :func:`count_nonfinite`'s counts, taken in the same pass (each shard is read once)."""
    store.require_complete()
    config = store.config
    protocol = protocol or config["protocol"]
    setup = setup if setup is not None else prepare_run(config, protocol, store)
    acc = Accumulator(protocol=protocol, seeds=config["seeds"], bootstrap=bootstrap, thresholds=setup.thresholds,
                      upsample=setup.ops, settings=setup.settings)
    negatives = set(config["negatives"])
    with store.read_only():  # the scoring reads the maps, never changes them
        for shard in tqdm(store.iter_shards(), total=len(store.shard_numbers()), desc="metrics", unit="shard",
                          disable=not progress, leave=False):
            _score_shard(acc, shard, config, negatives, nonfinite)
    return acc


def _score_shard(acc: Accumulator, shard: Mapping[str, np.ndarray], config: Mapping[str, Any], negatives: set[str],
                 nonfinite: dict[str, tuple[int, int]] | None) -> None:
    """Add one shard's records, every seed at once, to ``acc`` (and its non-finite counts)."""
    if nonfinite is not None:
        add_nonfinite(nonfinite, shard)
    gt = unpack_gt(shard["gt"])
    ids = [str(x) for x in shard["ids"]]
    # None for a dataset without scenes: no scene metrics in the clean protocol, the compat one
    # groups by its name rule; a store written before scenes were optional (an id or a video
    # per sample) is scored as it was
    groups = scene_groups(shard["groups"])
    labels = [str(x) for x in shard["labels"]]
    # every seed of the shard at once: the protocol scores the maps the seeds share once
    acc.update_seeds(range(len(config["seeds"])), ids, shard["positive"],
                     silence=shard["silence"] if "silence" in negatives else None,
                     noise=shard["noise"] if "noise" in negatives else None,
                     offscreen=shard["offscreen"] if "offscreen" in negatives else None,
                     gt=gt, groups=groups, ogl=shard.get("ogl"), labels=labels, boxes=shard["boxes"],
                     extremes=stored_extremes(shard, negatives) or None, confidence=shard.get("confidence"))


def stored_extremes(shard: Mapping[str, np.ndarray], negatives: set[str]) -> dict[str, np.ndarray]:
    """``{variant: (max, min)}`` of the raw maps that ``shard`` records (a store keeping resized
    maps, docs/models.md §2.8): ``[n, 2]``, or ``[S, n, 2]`` for the per-seed variants; empty for a
    store of raw maps."""
    return {v: shard[v + EXTREMES_SUFFIX] for v in ("positive", *negatives) if v + EXTREMES_SUFFIX in shard}
