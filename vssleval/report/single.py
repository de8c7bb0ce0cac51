"""The outputs of one run: metrics files, a readable table on stdout and ``report.md``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from vssleval.io_utils import write_text_atomic
from vssleval.metrics import Accumulator
from vssleval.report.compat import write_metrics, write_protocol_files
from vssleval.report.tables import format_value, headline, markdown_grid

#: Run-configuration keys copied into ``metrics.json`` so the file is self-describing.
RUN_KEYS = ("model_name", "checkpoint", "checkpoint_sha256", "preset", "protocol", "dataset", "data_root",
            "testset", "negatives", "seeds", "noise_bank", "batch_size", "device", "n_samples",
            "offscreen_reuse", "skipped", "audio_rates", "allow_nonfinite", "amp")


def headline_rows(result: Mapping[str, Any], protocol: str) -> list[tuple[str, str]]:
    """``(label, formatted value)`` of each headline key of ``protocol`` present in ``result``."""
    return [(label, format_value(result, key)) for key, label in headline(protocol) if key in result]


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
                      notes: Sequence[str] = (), echo: bool = True, warnings: Sequence[str] = ()) -> dict[str, Any]:
    """Write ``metrics.json``/``metrics.csv``/``per_sample.csv``/``report.md`` (and the protocol's own
    files, e.g. juanola2025's compat files) into ``out_dir``; print the headline table when ``echo``.

    ``warnings``: lines shown at the top of ``report.md`` and before the table on the console."""
    out = Path(out_dir)
    result = acc.result()
    result["run"] = {k: config.get(k) for k in RUN_KEYS}
    result["notes"] = list(notes)
    write_metrics(result, acc.per_sample_rows(), out)
    write_protocol_files(acc, out, config["model_name"], config.get("testset") or config["dataset"])
    rows = headline_rows(result, acc.protocol)
    title = (f"{config['model_name']} on {config['dataset']} | preset {config['preset']} | protocol "
             f"{acc.protocol} | {result['n_samples']} samples x {result['n_seeds']} seeds")
    # plain `---` separators (left=None): the two-column report has always been written that way
    top = input_notes(config)
    body = [f"# {title}", ""] + [f"> **{w}**\n" for w in warnings] + [f"**{line}**\n" for line in top]
    body += [markdown_grid(("metric", "value"), rows, left=None)]
    if acc.rules.report_note:
        body.append(acc.rules.report_note)
    if notes:
        body += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    write_text_atomic(out / "report.md", "\n".join(body))
    if echo:
        for w in warnings:
            print(w)
        width = max(len(a) for a, _ in rows) if rows else 10
        print(title)
        for line in top:
            print(f"  {line}")
        for a, b in rows:
            print(f"  {a:<{width}}  {b}")
        print(f"outputs in {out}/ (metrics.json, metrics.csv, per_sample.csv, report.md)")
    return result
