"""The outputs of one run: metrics files, a readable table on stdout and ``report.md``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from vssleval import timing
from vssleval.io_utils import write_text_atomic
from vssleval.metrics import Accumulator
from vssleval.report import breakdowns, published
from vssleval.report.compat import write_metrics, write_protocol_files
from vssleval.report.completeness import completeness, partial_line
from vssleval.report.tables import format_value, headline, markdown_grid, no_interval_reason
from vssleval.report.text import md, visible
from vssleval.shown_paths import for_console

#: Run-configuration keys copied into ``metrics.json`` so the file is self-describing.
RUN_KEYS = ("model_name", "checkpoint", "checkpoint_sha256", "preset", "protocol", "dataset", "data_root",
            "testset", "negatives", "seeds", "noise_bank", "batch_size", "device", "n_samples",
            "offscreen_reuse", "skipped", "limit", "audio_rates", "allow_nonfinite", "amp", "ogl_weights",
            "ogl_weights_sha256")


def headline_rows(result: Mapping[str, Any], protocol: str, style: str = "bracket") -> list[tuple[str, str]]:
    """``(label, formatted value)`` of each headline key of ``protocol`` present in ``result``."""
    return [(label, format_value(result, key, style)) for key, label in headline(protocol) if key in result]


def input_notes(config: Mapping[str, Any]) -> list[str]:
    """Lines about the inputs that belong at the top of ``report.md`` and on the console: records
    ``--skip-bad`` left out (counts by reason) and audio clips not at the model's rate."""
    lines = []
    skipped = config.get("skipped")
    if isinstance(skipped, Mapping) and (skipped.get("samples") or skipped.get("offscreen_clips")):
        # the wording of vssleval.data.checks.format_skip_counts (this package imports no data code)
        text = f"{skipped['samples']} of {skipped['records']} records skipped"
        if skipped.get("offscreen_clips"):
            text += f" and {skipped['offscreen_clips']} offscreen clip(s) left out of the pool"
        reasons = ", ".join(f"{k} {v}" for k, v in (skipped.get("by_reason") or {}).items())
        lines.append(f"Skipped (--skip-bad): {text}{f' ({reasons})' if reasons else ''}; the list is in skipped.csv")
    rates = config.get("audio_rates")
    if isinstance(rates, Mapping) and (rates.get("resampled") or rates.get("not_resampled")):
        detail = ", ".join(f"{r} Hz: {k}" for r, k in (rates.get("file_rates") or {}).items()
                           if str(r) != str(rates.get("model_rate")))
        if rates.get("resampled"):
            lines.append(f"Resampled: {rates['resampled']} audio file(s) to {rates['resampled_to']} Hz ({detail})")
        else:
            lines.append(f"Warning: {rates['not_resampled']} audio file(s) not at the model's {rates['model_rate']} Hz "
                         f"({detail}) were used at their own rate, as the preset's reference did")
    return lines


def write_run_outputs(acc: Accumulator, config: Mapping[str, Any], out_dir: str | Path,
                      notes: Sequence[str] = (), echo: bool = True, warnings: Sequence[str] = (),
                      splits: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Write ``metrics.json``/``metrics.csv``/``per_sample.csv``/``per_class.csv``/``report.md`` (and
    the protocol's own files, e.g. juanola2025's compat files) into ``out_dir``; print the headline
    table when ``echo``.

    ``warnings``: lines shown at the top of ``report.md`` and before the table on the console.
    ``splits``: the dataset's published splits resolved per sample
    (:func:`vssleval.data.splits.resolve_splits`), for the breakdowns."""
    out = Path(out_dir)
    with timing.phase("scoring"):  # the protocol's aggregation; its bootstrap is a phase of its own
        result = acc.result()
        result.update(completeness(config, int(result["n_samples"])))
        seeds = acc.seed_records()
        parts = breakdowns.compute(seeds, acc.rules.breakdown_fields, splits)
    result.update(parts.keys)
    result["run"] = {k: config.get(k) for k in RUN_KEYS}
    # an audio-agnostic reference (the YAML's ``baseline: true``): reports set it apart
    result["run"]["baseline"] = bool((config.get("model_config") or {}).get("baseline"))
    if config.get("maps_file"):  # a run scored from a maps file: which file, and who made it (vssleval score)
        result["run"]["maps_file"] = config["maps_file"]
    # what the run read (vssleval/fingerprint.py): a reader tells runs on different data apart by it
    result["fingerprint"] = config.get("fingerprint")
    result["notes"] = list(notes)
    rows = acc.per_sample_rows()
    n = len(seeds[0].ids)
    for name, col in parts.columns.items():  # per-sample breakdown columns, the same in every seed
        for j, row in enumerate(rows):  # rows are seed-major, the samples in order within a seed
            row[name] = col[j % n]
    # how long it took and how it was called (a timed run: vssleval.timing); not part of the run's identity
    result.update(timing.run_record())
    write_metrics(result, rows, out)
    if parts.classes:
        write_text_atomic(out / "per_class.csv", breakdowns.per_class_csv(parts.classes))
    write_protocol_files(acc, out, config["model_name"], config.get("testset") or config["dataset"])
    headline = headline_rows(result, acc.protocol)
    title = _title(config, acc.protocol, result, md)
    partial = partial_line(result)
    top = ([f"{partial[0].upper()}{partial[1:]}"] if partial else []) + input_notes(config)
    body = [f"# {title}", ""] + [f"> **{md(w)}**\n" for w in warnings] + [f"**{md(line)}**\n" for line in top]
    # plain `---` separators (left=None): the two-column report has always been written that way
    body += [markdown_grid(("metric", "value"), headline, left=None)]
    body.append(_values_note(result))
    if acc.rules.report_note:
        body.append(acc.rules.report_note)
    body += breakdowns.markdown(result, parts, lambda h, r: markdown_grid(h, r, left=1))
    body += published.section([(config["model_name"], result["run"], result)])  # docs/published.md
    if notes:
        body += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    write_text_atomic(out / "report.md", "\n".join(body))
    if echo:
        for w in warnings:
            print(w)
        width = max(len(a) for a, _ in headline) if headline else 10
        print(_title(config, acc.protocol, result, visible))
        for line in top:
            print(f"  {visible(line)}")
        for a, b in headline:
            print(f"  {a:<{width}}  {b}")
        why = no_interval_reason(result)
        if why and isinstance(result.get("bootstrap"), Mapping):  # asked for intervals, got none: say why
            print(f"  intervals n/a: {why}")
        print(f"outputs in {for_console(out)}/ (metrics.json, metrics.csv, per_sample.csv, report.md"
              f"{', per_class.csv' if parts.classes else ''})")
    return result


def _title(config: Mapping[str, Any], protocol: str, result: Mapping[str, Any], esc: Callable[[Any], str]) -> str:
    """The run's one-line title, its names through ``esc`` (Markdown for report.md, visible for the console)."""
    return (f"{esc(config['model_name'])} on {esc(config['dataset'])} | preset {esc(config['preset'])} | protocol "
            f"{esc(protocol)} | {result['n_samples']} samples x {result['n_seeds']} seeds")


def _values_note(result: Mapping[str, Any]) -> str:
    """How the table's values read: the interval, its resamples and seed, the seed spread; or why
    there are no intervals (``--bootstrap 0``, or fewer resamples than docs/metrics.md §11.1 asks)."""
    boot = result.get("bootstrap")
    why = no_interval_reason(result)
    if isinstance(boot, Mapping) and not why:
        return (f"Values: `value ± std over seeds [95 % bootstrap interval over samples]`; the ± only where "
                f"the metric depends on the seed (noise and offscreen draws). Intervals: {boot.get('resamples')} "
                f"resamples, seed {boot.get('seed')}, paired across seeds (docs/metrics.md §11).\n")
    if isinstance(boot, Mapping):
        return f"Values: `value ± std over seeds`; intervals n/a: {md(why)} (docs/metrics.md §11.1).\n"
    return "Values: `value ± std over seeds` (no bootstrap intervals: --bootstrap 0).\n"
