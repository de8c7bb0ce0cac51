"""The zoo models' published numbers (``vssleval/published.yaml``, docs/published.md): loaded,
validated, and looked up by model and dataset, or by a run's configuration.

Light on purpose: YAML and the standard library only (no torch, no metrics), so ``vssleval
published`` answers at once and the report can ask it without the engine.

Every :class:`PublishedValue` is one number as its source printed it (``value``: the text, e.g.
``"39.50"``; ``unit``: ``percent`` or ``fraction``), with the source, the training set, the test
list and its size, and the scoring rule. :func:`beside_run` applies the matching rule of
docs/published.md ("Matching a run"): only runs with ``--preset native --protocol native`` of the same
model and dataset, scored by the evaluator that reproduces the source's rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

from vssleval.errors import VsslevalError
from vssleval.yaml_io import read_yaml_mapping

#: The data file, shipped as package data (setup.py).
DATA_FILE = Path(__file__).resolve().parent / "published.yaml"
UNITS = {"percent": 100.0, "fraction": 1.0}
#: What a run needs to be matched: both the model's own preprocessing and its repository's scoring.
NATIVE = "native"
_ENTRY_KEYS = {"model", "variant", "train_set", "dataset", "subset", "test_list", "scoring", "source", "unit",
               "values", "printed_as", "object_prior", "notes"}
_REQUIRED = ("model", "train_set", "dataset", "test_list", "scoring", "source", "unit", "values")


@dataclass(frozen=True)
class PublishedValue:
    """One published number.

    Attributes:
        model: the zoo model's name (``vssleval models``). variant: which checkpoint or training
            recipe of it, as the source names it ("" when the source names one only).
        dataset: vssleval's dataset name. subset: a part of that test set ("" for the whole list).
        metric: vssleval's metric key (``ciou``, ``auc``, ``ap``, ``max_f1``). printed_as: the
            source's own name for it.
        value: the number as printed (text, so ``39.50`` keeps its zero). unit: ``percent`` or
            ``fraction``.
        source / source_short / source_kind: ``repository @ commit ...`` or ``paper, table``; a
            short name of it for tables; ``readme`` or ``paper``.
        train_set: the training set as the source states it.
        test_list / test_about / test_size: the list scored, where it comes from, and its number of
            ids (None: the source does not say).
        scoring: the rule in words. evaluator: the native evaluator reproducing it (None: none does).
        object_prior: an AV+OGL number (the native protocol computes no object prior).
        notes: caveats, ``[inference]`` / ``[gap]`` as the data file words them.
        entry: the index of its row in the data file (the values of one published row share it).
    """

    entry: int
    model: str
    variant: str
    dataset: str
    subset: str
    metric: str
    printed_as: str
    value: str
    unit: str
    source: str
    source_short: str
    source_kind: str
    train_set: str
    test_list: str
    test_about: str
    test_size: int | None
    scoring: str
    evaluator: str | None
    object_prior: bool
    notes: tuple[str, ...]

    @property
    def fraction(self) -> float:
        """The value as a fraction of 1, vssleval's unit for ``ciou``/``auc``/``ap``/``max_f1``."""
        return float(self.value) / UNITS[self.unit]

    @property
    def shown(self) -> str:
        """``37.18 %`` or ``0.380`` (as printed, with its unit)."""
        return f"{self.value} %" if self.unit == "percent" else self.value


@dataclass(frozen=True)
class Note:
    """A gap or a caution: applies to ``models`` (empty: all) on ``datasets`` (empty: all)."""

    models: tuple[str, ...]
    datasets: tuple[str, ...]
    text: str

    def applies(self, model: str | None, dataset: str | None) -> bool:
        return ((model is None or not self.models or model in self.models)
                and (dataset is None or not self.datasets or dataset in self.datasets))


@dataclass(frozen=True)
class Published:
    """The whole data file: the values, what is known to be missing, and the cautions."""

    values: tuple[PublishedValue, ...]
    gaps: tuple[Note, ...]
    cautions: tuple[Note, ...]
    metrics: Mapping[str, Mapping[str, str]]

    def lookup(self, model: str | None = None, dataset: str | None = None) -> list[PublishedValue]:
        """The values of ``model`` on ``dataset`` (None: any), in file order."""
        return [v for v in self.values if model in (None, v.model) and dataset in (None, v.dataset)]

    def notes(self, kind: str, model: str | None = None, dataset: str | None = None) -> list[str]:
        """The ``gaps`` or ``cautions`` lines that apply to ``model`` on ``dataset``."""
        return [n.text for n in getattr(self, kind) if n.applies(model, dataset)]

    def short(self, metric: str) -> str:
        """The short name of a metric key (``ciou`` -> ``cIoU@0.5``)."""
        return str(self.metrics[metric]["short"])

    def label(self, value: PublishedValue) -> str:
        """The name a value is shown under: the source's own column name where the data file gives
        one (``Precision (LocAcc)``), else the metric's short name."""
        return value.printed_as if value.printed_as != value.metric else self.short(value.metric)


def by_row(values: Sequence[PublishedValue]) -> list[list[PublishedValue]]:
    """``values`` grouped by published row (:attr:`PublishedValue.entry`), first-seen order."""
    rows: dict[int, list[PublishedValue]] = {}
    for v in values:
        rows.setdefault(v.entry, []).append(v)
    return list(rows.values())


def _fail(path: Path, where: str, problem: str) -> VsslevalError:
    return VsslevalError(f"published numbers {path}: {where}: {problem} (see docs/published.md, \"The data file\")")


def _table(data: Mapping[str, Any], name: str, path: Path, fields: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """A keyed block (``sources``, ``scoring``, ``test_lists``), each item a mapping with ``fields``."""
    block = data.get(name)
    if not isinstance(block, dict) or not block:
        raise _fail(path, name, "missing or not a mapping of keys to entries")
    for key, item in block.items():
        if not isinstance(item, dict) or any(f not in item for f in fields):
            raise _fail(path, f"{name}.{key}", f"needs the fields {', '.join(fields)}")
    return block


def _notes_of(data: Mapping[str, Any], name: str, path: Path) -> tuple[Note, ...]:
    out = []
    for i, item in enumerate(data.get(name) or []):
        if not isinstance(item, dict) or not str(item.get("text") or "").strip():
            raise _fail(path, f"{name}[{i}]", "needs a non-empty text")
        out.append(Note(tuple(item.get("models") or ()), tuple(item.get("datasets") or ()), str(item["text"])))
    return tuple(out)


def _entry_values(i: int, e: Any, path: Path, tables: Mapping[str, Mapping[str, Any]],
                  metrics: Mapping[str, Any]) -> list[PublishedValue]:
    """The values of entry ``i``, checked: known fields, references that resolve, numbers in range."""
    where = f"entries[{i}]"
    if not isinstance(e, dict):
        raise _fail(path, where, "is not a mapping")
    unknown = sorted(set(e) - _ENTRY_KEYS)
    missing = [k for k in _REQUIRED if e.get(k) in (None, "", {})]
    if unknown or missing:
        raise _fail(path, where, f"unknown fields {unknown}" if unknown else f"lacks {missing}")
    refs = {}
    for field, table in (("source", "sources"), ("scoring", "scoring"), ("test_list", "test_lists")):
        if e[field] not in tables[table]:
            raise _fail(path, where, f"{field} {e[field]!r} is not one of {table}: {', '.join(tables[table])}")
        refs[field] = tables[table][e[field]]
    if refs["test_list"]["dataset"] != e["dataset"]:
        raise _fail(path, where, f"test list {e['test_list']!r} is of dataset {refs['test_list']['dataset']!r}, "
                                 f"not {e['dataset']!r}")
    if e["unit"] not in UNITS:
        raise _fail(path, where, f"unit {e['unit']!r} is not one of {', '.join(UNITS)}")
    size = refs["test_list"]["size"]
    if size is not None and (not isinstance(size, int) or size <= 0):
        raise _fail(path, f"test_lists.{e['test_list']}", f"size {size!r} is not a positive count or null")
    printed = dict(e.get("printed_as") or {})
    out = []
    for key, text in dict(e["values"]).items():
        if key not in metrics:
            raise _fail(path, where, f"metric {key!r} is not one of {', '.join(metrics)}")
        try:
            number = float(str(text))
        except ValueError:
            raise _fail(path, where, f"value {text!r} of {key} is not a number") from None
        if not isinstance(text, str) or not 0 <= number <= UNITS[e["unit"]]:
            raise _fail(path, where, f"value {text!r} of {key} must be quoted text within 0..{UNITS[e['unit']]:g} "
                                     f"({e['unit']})")
        out.append(PublishedValue(
            entry=i, model=str(e["model"]), variant=str(e.get("variant") or ""), dataset=str(e["dataset"]),
            subset=str(e.get("subset") or ""), metric=key, printed_as=str(printed.get(key, key)), value=text,
            unit=e["unit"], source=str(refs["source"]["cite"]), source_short=str(refs["source"]["short"]),
            source_kind=str(refs["source"]["kind"]), train_set=str(e["train_set"]),
            test_list=str(refs["test_list"]["list"]), test_about=str(refs["test_list"]["about"]), test_size=size,
            scoring=str(refs["scoring"]["rule"]), evaluator=refs["scoring"]["evaluator"],
            object_prior=bool(e.get("object_prior")), notes=tuple(str(n) for n in e.get("notes") or ())))
    return out


def parse(data: Mapping[str, Any], path: Path) -> Published:
    """The data file's mapping as :class:`Published`; :class:`VsslevalError` naming the entry at fault."""
    metrics = data.get("metrics")
    if not isinstance(metrics, dict) or not metrics or any(
            not isinstance(m, dict) or not m.get("short") or not m.get("text") for m in metrics.values()):
        raise _fail(path, "metrics", "missing, or a metric key without its short name and text")
    tables = {"sources": _table(data, "sources", path, ("short", "kind", "cite")),
              "scoring": _table(data, "scoring", path, ("evaluator", "rule")),
              "test_lists": _table(data, "test_lists", path, ("dataset", "list", "about", "size"))}
    entries = data.get("entries")
    if not isinstance(entries, list) or not entries:
        raise _fail(path, "entries", "missing or not a list")
    values = [v for i, e in enumerate(entries) for v in _entry_values(i, e, path, tables, metrics)]
    return Published(tuple(values), _notes_of(data, "gaps", path), _notes_of(data, "cautions", path), dict(metrics))


@lru_cache(maxsize=4)
def load(path: str | Path = DATA_FILE) -> Published:
    """The published numbers of ``path`` (default: the package's own file), read once."""
    path = Path(path)
    return parse(read_yaml_mapping(path, "published numbers"), path)


@dataclass(frozen=True)
class Beside:
    """A published value beside a run: the value, and the caution when the run's sample count
    differs from the published test list's size (None when they agree or the size is unknown)."""

    value: PublishedValue
    caution: str | None


def count_caution(value: PublishedValue, n_samples: Any) -> str | None:
    """The sample-count caution of docs/published.md: the run scored ``n_samples`` samples, the
    source ``value.test_size`` (or did not say how many)."""
    if value.test_size is None:
        return "the source does not state the size of its test list"
    try:
        n = int(n_samples)
    except (TypeError, ValueError):
        return f"the run's sample count is unknown; the published list has {value.test_size:,}"
    if n == value.test_size:
        return None
    return f"this run scored {n:,} samples, the published list {value.test_size:,} ({value.test_list})"


def beside_run(run: Mapping[str, Any], n_samples: Any, evaluator: Any,
               published: Published | None = None) -> list[Beside]:
    """The published values to show beside a run (docs/published.md, "Matching a run").

    Args:
        run: the run block of ``metrics.json`` (``model_name``, ``dataset``, ``preset``, ``protocol``).
        n_samples: the samples the run scored. evaluator: its ``native_evaluator`` (``metrics.json``).
    Returns:
        Nothing unless the run used ``--preset native --protocol native``; else every value of the same
        model and dataset on the whole test list (no ``subset``), without an object prior, whose
        scoring rule is the run's evaluator's.
    """
    if run.get("preset") != NATIVE or run.get("protocol") != NATIVE:
        return []
    published = published or load()
    return [Beside(v, count_caution(v, n_samples))
            for v in published.lookup(str(run.get("model_name")), str(run.get("dataset")))
            if not v.subset and not v.object_prior and v.evaluator is not None and v.evaluator == evaluator]
