"""Metric tables (Markdown and CSV): models x metrics from the ``metrics.json`` of several runs.

Also the pieces the one-run ``report.md`` (:mod:`vssleval.report.single`) shares with them: the
headline columns of each protocol (defined by its protocol object), the value format and the one Markdown table writer (this module
imports nothing of ``single``, so ``single`` can import it).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from vssleval.metrics.protocols import get_protocol
from vssleval.report.runs import COMPARABLE_KEYS, RunRecord

def headline(protocol: str) -> list[tuple[str, str]]:
    """``(key, label)`` of the headline numbers of ``protocol``, in table order (its protocol object's)."""
    return list(get_protocol(protocol).headline)


def sections(protocol: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The table sections of a protocol (e.g. the two clean tables, or juanola2025's headline as one)."""
    return get_protocol(protocol).sections()


def format_value(result: Mapping[str, Any], key: str) -> str:
    """``result[key]`` as ``mean ± std`` (4 decimals; ``key_std`` when present), ``n/a`` if absent."""
    v = result.get(key)
    if v is None:
        return "n/a"
    std = result.get(f"{key}_std")
    return f"{v:.4f} ± {std:.4f}" if std is not None else f"{v:.4f}"


def markdown_grid(header: Sequence[str], rows: Sequence[Sequence[str]], left: int | None = 1) -> str:
    """A Markdown table (``header``: column titles; ``rows``: cells, one sequence per row; ``|``
    in a cell is escaped). The first ``left`` columns are left-aligned (text), the others
    right-aligned (numbers); ``left=None`` writes plain ``---`` separators (no alignment)."""
    def esc(s: Any) -> str:
        return str(s).replace("|", "\\|")

    n = len(header)
    if left is None:
        rule = ["---"] * n
    else:
        rule = [":---"] * min(left, n) + ["---:"] * max(0, n - left)
    lines = ["| " + " | ".join(esc(h) for h in header) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def run_columns(runs: Sequence[RunRecord], mixed_keys: Sequence[str]) -> list[str]:
    """Identity columns shown before the metrics: the run label plus whatever differs."""
    words = dict(COMPARABLE_KEYS)
    return ["run", *(words.get(k, k) for k in mixed_keys)]


def metric_table(runs: Sequence[RunRecord], columns: Sequence[tuple[str, str]],
                 mixed_keys: Sequence[str] = ()) -> str:
    """One Markdown table: a row per run, ``mean ± std`` over seeds per metric (``n/a`` if absent)."""
    present = [(k, lab) for k, lab in columns if any(k in r.metrics for r in runs)]
    header = run_columns(runs, mixed_keys) + [lab for _, lab in present]
    rows = []
    for r in runs:
        ident = [r.label] + [str(r.run.get(k)) for k in mixed_keys]
        rows.append(ident + [format_value(r.metrics, k) for k, _ in present])
    return markdown_grid(header, rows, left=1 + len(mixed_keys))


def summary_csv(runs: Sequence[RunRecord]) -> str:
    """Every headline number of every run as ``run,model,dataset,preset,protocol,key,mean,std``."""
    lines = ["run,model,dataset,preset,protocol,key,mean,std"]
    for r in runs:
        for _, cols in sections(r.protocol):
            for key, _ in cols:
                if key not in r.metrics:
                    continue
                mean, std = r.metrics.get(key), r.metrics.get(f"{key}_std")
                lines.append(",".join([_cell(r.label), _cell(r.model), _cell(r.run["dataset"]), _cell(r.run["preset"]),
                                       _cell(r.protocol), key, _num(mean), _num(std)]))
    return "\n".join(lines) + "\n"


def _num(v: Any) -> str:
    return "" if v is None else repr(float(v))


def _cell(s: Any) -> str:
    s = str(s)
    return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\n') else s


def protocol_groups(runs: Sequence[RunRecord]) -> Mapping[str, list[RunRecord]]:
    """Runs grouped by protocol (their metric keys differ), in first-seen order."""
    groups: dict[str, list[RunRecord]] = {}
    for r in runs:
        groups.setdefault(r.protocol, []).append(r)
    return groups
