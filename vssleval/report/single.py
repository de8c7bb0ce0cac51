"""The outputs of one run: metrics files, a readable table on stdout and ``report.md``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from vssleval.io_utils import write_text_atomic
from vssleval.metrics import Accumulator
from vssleval.report.compat import write_compat_outputs, write_metrics
from vssleval.report.tables import HEADLINE, format_value, markdown_grid

#: Run-configuration keys copied into ``metrics.json`` so the file is self-describing.
RUN_KEYS = ("model_name", "checkpoint", "checkpoint_sha256", "preset", "protocol", "dataset", "data_root",
            "testset", "negatives", "seeds", "noise_bank", "batch_size", "device", "n_samples",
            "offscreen_reuse", "skipped_samples", "allow_nonfinite")


def headline_rows(result: Mapping[str, Any], protocol: str) -> list[tuple[str, str]]:
    """``(label, formatted value)`` of each headline key of ``protocol`` present in ``result``."""
    return [(label, format_value(result, key)) for key, label in HEADLINE[protocol] if key in result]


def write_run_outputs(acc: Accumulator, config: Mapping[str, Any], out_dir: str | Path,
                      notes: Sequence[str] = (), echo: bool = True, warnings: Sequence[str] = ()) -> dict[str, Any]:
    """Write ``metrics.json``/``metrics.csv``/``per_sample.csv``/``report.md`` (and the compat files
    under protocol juanola2025) into ``out_dir``; print the headline table when ``echo``.

    ``warnings``: lines shown at the top of ``report.md`` and before the table on the console."""
    out = Path(out_dir)
    result = acc.result()
    result["run"] = {k: config.get(k) for k in RUN_KEYS}
    result["notes"] = list(notes)
    write_metrics(result, acc.per_sample_rows(), out)
    if acc.protocol == "juanola2025":
        write_compat_outputs(acc, out, config["model_name"], config.get("testset") or config["dataset"])
    rows = headline_rows(result, acc.protocol)
    title = (f"{config['model_name']} on {config['dataset']} | preset {config['preset']} | protocol "
             f"{acc.protocol} | {result['n_samples']} samples x {result['n_seeds']} seeds")
    # plain `---` separators (left=None): the two-column report has always been written that way
    body = [f"# {title}", ""] + [f"> **{w}**\n" for w in warnings]
    body += [markdown_grid(("metric", "value"), rows, left=None)]
    if acc.protocol == "vssleval":
        body.append("Values: mean ± std over seeds; success rates and AUCs in [0, 1]; pIA is the fraction of the "
                    "image above the positive's adaptive threshold.\n")
    if notes:
        body += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    write_text_atomic(out / "report.md", "\n".join(body))
    if echo:
        for w in warnings:
            print(w)
        width = max(len(a) for a, _ in rows) if rows else 10
        print(title)
        for a, b in rows:
            print(f"  {a:<{width}}  {b}")
        print(f"outputs in {out}/ (metrics.json, metrics.csv, per_sample.csv, report.md)")
    return result
