"""Published numbers beside a run, for ``report.md`` (both the cross-run one and a run's own), the
leaderboard and whatever renders their tables (docs/published.md, "In the reports").

The matching rule is :func:`vssleval.published.beside_run`: a run evaluated with ``--preset native
--protocol native`` gets the values its model's README or paper printed for the same dataset and
the same scoring; each shown with its source, its training set and the sample-count caution.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from vssleval import published as pub
from vssleval.report.runs import RunRecord
from vssleval.report.tables import format_value, markdown_grid
from vssleval.report.text import md

#: The columns of the "Published numbers" table (report.md); one row per (run, published value).
HEADER = ("run", "dataset", "trained on", "metric", "source", "test list (ids)", "caution", "published", "this run")
SECTION = "Published numbers"


def matches(run: Mapping[str, Any], result: Mapping[str, Any]) -> list[pub.Beside]:
    """The published values beside a run, from its ``run`` block and its ``metrics.json`` values."""
    return pub.beside_run(run, result.get("n_samples"), result.get("native_evaluator"))


def of_run(r: RunRecord) -> list[pub.Beside]:
    return matches(r.run, r.metrics)


def _published_cell(b: pub.Beside) -> str:
    """``37.18 % (0.3718)``: as printed, and in vssleval's unit when the source printed a percentage."""
    v = b.value
    return v.shown + (f" ({v.fraction:.4f})" if v.unit == "percent" else "")


def _trained(v: pub.PublishedValue) -> str:
    return v.train_set + (f"; {v.variant}" if v.variant else "")


def _size(v: pub.PublishedValue) -> str:
    return f"{v.test_list} ({v.test_size:,})" if v.test_size is not None else f"{v.test_list} (not stated)"


Labelled = Sequence[tuple[str, Mapping[str, Any], Mapping[str, Any]]]


def table_rows(labelled: Labelled) -> list[list[Any]]:
    """The rows of the table (:data:`HEADER`) for ``(label, run block, metrics)`` of each run."""
    data = pub.load()
    return [[label, b.value.dataset, _trained(b.value), data.label(b.value), b.value.source_short, _size(b.value),
             b.caution or "", _published_cell(b), format_value(result, b.value.metric, "none")]
            for label, run, result in labelled for b in matches(run, result)]


def _found(labelled: Labelled) -> list[pub.PublishedValue]:
    return [b.value for _, run, result in labelled for b in matches(run, result)]


def _below(labelled: Labelled) -> list[str]:
    """The lines under the table: each source and scoring rule in full, then the data file's cautions
    for each (model, dataset) shown."""
    data = pub.load()
    found = _found(labelled)
    sources = dict.fromkeys(f"{v.source_short}: [{v.source_kind}] {v.source}" for v in found)
    scoring = dict.fromkeys(f"{v.model} on {v.dataset}, {v.test_list} ({v.test_about}): {v.scoring}" for v in found)
    cautions = dict.fromkeys(t for v in found for t in data.notes("cautions", v.model, v.dataset))
    return ([f"- source {md(t)}" for t in sources] + [f"- scoring of {md(t)}" for t in scoring]
            + [f"- caution: {md(t)}" for t in cautions])


def section(labelled: Labelled, heading: str = "##") -> list[str]:
    """The ``Published numbers`` section of a ``report.md``: the table, its cautions, and why a run
    with published numbers got none (not native/native); empty when no run's model has any."""
    data = pub.load()
    rows = table_rows(labelled)
    unmatched = [(label, run) for label, run, _ in labelled
                 if data.lookup(str(run.get("model_name")), str(run.get("dataset")))
                 and not any(r[0] == label for r in rows)]
    if not rows and not unmatched:
        return []
    lines = [f"{heading} {SECTION}", ""]
    if rows:
        lines += ["What the model's README or paper reports for the same dataset under the same scoring "
                  "(`--preset native --protocol native`), next to this run's value; vssleval writes fractions, "
                  "the sources mostly percentages. A caution says where the run scored another number of samples "
                  "than the published test list: the two numbers are then not on the same samples "
                  "(docs/published.md).", "", markdown_grid(HEADER, rows, left=len(HEADER) - 2)]
        lines += _below(labelled) + [""]
    for label, run in unmatched:
        lines.append(f"- {md(label)}: published numbers exist for {md(run.get('model_name'))} on "
                     f"{md(run.get('dataset'))}, but they are shown only beside a run with `--preset native "
                     f"--protocol native` scored by the same evaluator (this run: preset {md(run.get('preset'))}, "
                     f"protocol {md(run.get('protocol'))}); `vssleval published --model {md(run.get('model_name'))} "
                     f"--dataset {md(run.get('dataset'))}` lists them.")
    return lines + ([""] if unmatched else [])


def report_section(runs: Sequence[RunRecord]) -> list[str]:
    """:func:`section` for the runs of ``vssleval report``."""
    return section([(r.label, r.run, r.metrics) for r in runs])


def leaderboard_notes(cells: Sequence[tuple[str, RunRecord]]) -> list[str]:
    """Markdown lines under a leaderboard table, one per row (``(row name, run)``) with published
    values: each published row's values as printed, its training set and source, and the cautions."""
    data = pub.load()
    out = []
    for name, run in cells:
        found = of_run(run)
        rows = pub.by_row([b.value for b in found])
        parts = [", ".join(f"{data.label(v)} {v.shown}" for v in row) + f" ({_trained(row[0])}; {row[0].source_short})"
                 for row in rows]
        cautions = list(dict.fromkeys(b.caution for b in found if b.caution))
        if parts:
            out.append(md(f"Published for {name}: " + "; ".join(parts)
                          + (f". Caution: {'; '.join(cautions)}" if cautions else "") + " (docs/published.md)."))
    return [""] + [f"{line}\n" for line in out] if out else []


def csv_cells(run: RunRecord) -> list[str]:
    """The leaderboard CSV's ``published`` and ``published_caution`` cells of a run (empty: none):
    each value as ``key=value unit (training set; source)``."""
    found = of_run(run)
    values = "; ".join(f"{b.value.metric}={b.value.value} {b.value.unit} ({_trained(b.value)}; {b.value.source_short})"
                       for b in found)
    return [values, "; ".join(dict.fromkeys(b.caution for b in found if b.caution))]
