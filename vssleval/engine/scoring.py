"""Score a heatmap store: stream its shards into the metrics accumulator (no model runs).

This is what ``vssleval evaluate`` does after inference and what ``vssleval report --from-store``
does on an existing run, so both give identical numbers.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from vssleval import vocabulary
from vssleval.engine.store import HeatmapStore, unpack_gt
from vssleval.errors import VsslevalError
from vssleval.metrics import PROTOCOLS, Accumulator
from vssleval.metrics.protocols import Protocol, ProtocolRefusal, get_protocol
from vssleval.models.maps import MapRule
from vssleval.models.registry import DEFAULT_PRESET, load_model_config, preset_block

#: Map ops of the model YAML that the metrics module spells differently. ``none`` marks maps
#: already at 224 x 224, for which bilinear (align_corners=False) resampling is the identity.
_OP_ALIASES = {"none": "bilinear"}


def upsample_plan(config: dict[str, Any], protocol: str) -> Any:
    """The upsampling the metrics apply: the protocol's plan (:meth:`Protocol.upsample_plan`) from
    the run's model preset (``map.upsample``, per variant and test set)."""
    model_cfg = config["model_config"]
    block = preset_block(model_cfg, config["preset"], config["model_name"])
    rule = MapRule.from_config(block.get("map"))
    testset = config.get("testset")

    def op(variant: str) -> str:
        name = rule.upsample_op(variant, testset)
        return _OP_ALIASES.get(name, name)

    return _refusals(lambda: protocol_of(protocol).upsample_plan(op, config["model_name"], config["preset"]))


def upsample_plan_for(model: str, testset: str | None, protocol: str = "juanola2025",
                      preset: str = DEFAULT_PRESET) -> Any:
    """:func:`upsample_plan` for a model named outside a run (tests, benchmarks, notebooks).

    Args:
        model: a registered model name (its ``configs/models/<model>.yaml`` is read).
        testset: the dataset layout name the YAML's per-dataset ops are keyed by (``vggss``,
            ``is3``, ...); None takes each variant's ``default``.
        protocol: ``juanola2025`` gives ``{positive, ogl, neg}``; ``vssleval`` one op name.
        preset: the preset whose ``map.upsample`` block is read.
    """
    # a minimal run config: the same lookup a stored run goes through, so there is one code path
    config = {"model_config": load_model_config(model), "preset": preset, "model_name": model,
              "testset": testset}
    return upsample_plan(config, protocol)


def protocol_of(name: str) -> Protocol:
    """The registered protocol ``name`` (a :class:`VsslevalError` naming the known ones otherwise)."""
    try:
        return get_protocol(name)
    except ValueError as exc:
        raise VsslevalError(f"unknown --protocol {name!r}; use {' or '.join(PROTOCOLS)}") from exc


def _refusals(call: Callable[[], Any]) -> Any:
    """``call()``, with a protocol's refusal raised as the user-facing :class:`VsslevalError`."""
    try:
        return call()
    except ProtocolRefusal as exc:
        raise VsslevalError(str(exc)) from exc


def check_scorable(protocol: str, negatives) -> None:
    """Refuse, before any model runs, a run whose maps the protocol cannot score (a negative
    variant it scores is missing; e.g. ``juanola2025``'s 164 keys mix the positive with all three)."""
    _refusals(lambda: protocol_of(protocol).check_negatives(list(negatives)))


def protocol_thresholds(model_config: dict[str, Any], model_name: str, protocol: str) -> dict[str, Any]:
    """The universal thresholds ``protocol`` scores ``model_config``'s maps with; a model the
    protocol cannot score is refused (before any model runs, when the caller asks first)."""
    return _refusals(lambda: protocol_of(protocol).thresholds(model_config, model_name))


def protocol_settings(model_config: dict[str, Any], model_name: str, protocol: str, preset: str) -> dict[str, Any]:
    """The per-model evaluator settings ``protocol`` reads from the model YAML and the preset's
    ``map:`` block (:meth:`Protocol.model_settings`); a model it cannot score is refused."""
    preset_map = dict(preset_block(model_config, preset, model_name).get("map") or {})
    return _refusals(lambda: protocol_of(protocol).model_settings(model_config, model_name, preset_map))


def check_run_scorable(config: dict[str, Any], protocol: str) -> dict[str, Any]:
    """Refuse, before any model runs, a run ``protocol`` cannot score: its negatives, the model's
    thresholds and evaluator settings, and the upsampling plan validated by :meth:`Protocol.setup`.

    ``config`` needs ``model_config``, ``model_name``, ``preset``, ``negatives`` and ``testset`` (the
    dataset layout), as a stored run's configuration has them. Returns the checked
    :class:`~vssleval.metrics.Accumulator` arguments ``{thresholds, upsample, settings}``."""
    check_scorable(protocol, config["negatives"])
    thresholds = protocol_thresholds(config["model_config"], config["model_name"], protocol)
    settings = protocol_settings(config["model_config"], config["model_name"], protocol, config["preset"])
    plan = upsample_plan(config, protocol)
    _refusals(lambda: protocol_of(protocol).setup(thresholds, plan, settings))
    return {"thresholds": thresholds, "upsample": plan, "settings": settings}


def check_store_scorable(store: HeatmapStore, protocol: str) -> dict[str, Any]:
    """:func:`check_run_scorable` of a stored run, then the refusal of a store that lacks what
    ``protocol`` reads (the OGL maps; every store holds the boxes); returns the same Accumulator arguments."""
    config = store.config
    scoring = check_run_scorable(config, protocol)
    written_by = config.get("protocol")
    has_prior = written_by in PROTOCOLS and PROTOCOLS[written_by].needs_ogl
    _refusals(lambda: protocol_of(protocol).check_store(has_prior, str(written_by), str(store.root)))
    return scoring


#: Map members of a store shard, in the order the counts are reported.
MAP_VARIANTS = vocabulary.MAP_VARIANTS


def count_nonfinite(store: HeatmapStore) -> dict[str, tuple[int, int]]:
    """``{variant: (maps holding NaN or inf, maps)}`` over every shard of ``store`` (one map = one
    ``[h, w]`` array; ``noise``/``offscreen`` count one per seed and sample)."""
    counts: dict[str, list[int]] = {}
    for shard in store.iter_shards():
        for v in MAP_VARIANTS:
            if v in shard:
                maps = np.asarray(shard[v])
                flat = maps.reshape(-1, maps.shape[-2] * maps.shape[-1]) if maps.ndim >= 2 else maps.reshape(-1, 1)
                bad = int((~np.isfinite(flat)).any(axis=1).sum())
                c = counts.setdefault(v, [0, 0])
                c[0] += bad
                c[1] += len(flat)
    return {v: (c[0], c[1]) for v, c in counts.items()}


def describe_nonfinite(counts: dict[str, tuple[int, int]]) -> str | None:
    """``"16 maps: positive 8 of 8, silence 8 of 8"``, or None when every map is finite."""
    parts = [f"{v} {bad} of {total}" for v, (bad, total) in counts.items() if bad]
    if not parts:
        return None
    return f"{sum(bad for bad, _ in counts.values())} maps ({', '.join(parts)})"


def check_nonfinite(store: HeatmapStore, allow_nonfinite: bool, protocol: str) -> str | None:
    """The one rule for non-finite maps (docs/protocols.md §8.3), applied before a store is scored.

    None when every map is finite. Otherwise, unless ``allow_nonfinite``, a :class:`VsslevalError`
    naming each variant and its count (the store is left as it is, for inspection); with
    ``allow_nonfinite``, the warning line that the console and the top of ``report.md`` show.
    """
    found = describe_nonfinite(count_nonfinite(store))
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
    """What ``evaluate`` and ``report --from-store`` score: :func:`check_nonfinite`, then
    :func:`score_store`. Returns the accumulator and the warnings for the console and ``report.md``."""
    store.require_complete()
    protocol = protocol or store.config["protocol"]
    check_store_scorable(store, protocol)  # a store the protocol cannot score is refused first
    warning = check_nonfinite(store, allow_nonfinite, protocol)
    acc = score_store(store, protocol=protocol, bootstrap=bootstrap, progress=progress)
    return acc, [warning] if warning else []


def score_store(store: HeatmapStore, protocol: str | None = None, bootstrap: int = 200,
                progress: bool = True) -> Accumulator:
    """Accumulate every (seed, sample) of a complete store under ``protocol`` (default: the run's).

    Non-finite maps are scored under the protocol's rule without a question; :func:`score_run`
    is the entry point that refuses them unless asked."""
    store.require_complete()
    config = store.config
    protocol = protocol or config["protocol"]
    acc = Accumulator(protocol=protocol, seeds=config["seeds"], bootstrap=bootstrap,
                      **check_store_scorable(store, protocol))
    negatives = set(config["negatives"])
    for shard in tqdm(store.iter_shards(), total=len(store.shard_numbers()), desc="metrics", unit="shard",
                      disable=not progress, leave=False):
        gt = unpack_gt(shard["gt"])
        ids = [str(x) for x in shard["ids"]]
        groups = [str(x) for x in shard["groups"]]
        labels = [str(x) for x in shard["labels"]]
        for s in range(len(config["seeds"])):
            acc.update(s, ids, shard["positive"],
                       silence=shard["silence"] if "silence" in negatives else None,
                       noise=shard["noise"][s] if "noise" in negatives else None,
                       offscreen=shard["offscreen"][s] if "offscreen" in negatives else None,
                       gt=gt, groups=groups, ogl=shard.get("ogl"), labels=labels,
                       boxes=shard["boxes"])
    return acc
