"""Models x metrics tables (Markdown and CSV) from the ``metrics.json`` of several runs."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from vssleval.report.runs import COMPARABLE_KEYS, RunRecord
from vssleval.report.single import HEADLINE, format_value

#: The clean protocol's headline split into two tables that fit a page: (title, [(key, label)]).
CLEAN_SECTIONS = (
    ("Localization under positive audio", [
        ("ciou", "cIoU@0.5"), ("auc", "AUC"), ("ciou_adap", "cIoU_adap"), ("auc_adap", "AUC_adap"),
        ("ap", "AP"), ("max_f1", "max-F1"),
    ]),
    ("Negative audio (silence, noise, offscreen)", [
        ("pia_silence_adap", "pIA silence"), ("pia_noise_adap", "pIA noise"),
        ("pia_offscreen_adap", "pIA offscreen"), ("auroc_max_neg", "AUROC max"),
        ("max_pos_median", "med. max pos"), ("max_silence_median", "med. max silence"),
        ("max_noise_median", "med. max noise"), ("max_offscreen_median", "med. max offscreen"),
    ]),
)


def sections(protocol: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The table sections of a protocol: the two clean tables, or juanola2025's headline as one."""
    if protocol == "vssleval":
        return [(title, list(cols)) for title, cols in CLEAN_SECTIONS]
    return [(f"Headline ({protocol})", list(HEADLINE[protocol]))]


def markdown_grid(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A Markdown table; the first ``left`` columns are left-aligned (text), the others
    right-aligned (numbers)."""
    def esc(s: Any) -> str:
        return str(s).replace("|", "\\|")

    lines = ["| " + " | ".join(esc(h) for h in header) + " |",
             "|" + "|".join([":---"] * min(left, len(header)) + ["---:"] * max(0, len(header) - left)) + "|"]
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
