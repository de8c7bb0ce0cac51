"""The outputs of one run: metrics files, a readable table on stdout and ``report.md``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from vssleval.io_utils import write_text_atomic
from vssleval.metrics import Accumulator
from vssleval.report.compat import write_compat_outputs, write_metrics

#: (key, label) of the headline numbers of each protocol, in table order.
HEADLINE = {
    "vssleval": [
        ("ciou", "cIoU@0.5"), ("auc", "AUC"), ("ciou_adap", "cIoU_adap"), ("auc_adap", "AUC_adap"),
        ("ap", "AP"), ("max_f1", "max-F1"), ("pia_silence_adap", "pIA silence"), ("pia_noise_adap", "pIA noise"),
        ("pia_offscreen_adap", "pIA offscreen"), ("auroc_max_neg", "AUROC max(pos vs neg)"),
        ("max_pos_median", "median max pos"), ("max_silence_median", "median max silence"),
        ("max_noise_median", "median max noise"), ("max_offscreen_median", "median max offscreen"),
    ],
    "juanola2025": [
        ("CIoU", "CIoU (pooled)"), ("AUC", "AUC (pooled)"), ("CIoU_adap", "CIoU_adap"), ("AUC_adap", "AUC_adap"),
        ("CIoU_maxq3", "CIoU_maxq3"), ("AUC_maxq3", "AUC_maxq3"), ("pIA_Silence_MaxQ3", "pIA silence maxq3"),
        ("pIA_Noise_MaxQ3", "pIA noise maxq3"), ("pIA_OffScreen_MaxQ3", "pIA offscreen maxq3"),
        ("F_Pos_Neg", "F pos/neg"), ("Median_Max_Heatmap", "median max pos"),
        ("Median_Max_Heatmap_Silence", "median max silence"),
    ],
}

#: Run-configuration keys copied into ``metrics.json`` so the file is self-describing.
RUN_KEYS = ("model_name", "checkpoint", "checkpoint_sha256", "preset", "protocol", "dataset", "data_root",
            "testset", "negatives", "seeds", "noise_bank", "batch_size", "device", "n_samples",
            "offscreen_reuse", "skipped_samples")


def format_value(result: Mapping[str, Any], key: str) -> str:
    v = result.get(key)
    if v is None:
        return "n/a"
    std = result.get(f"{key}_std")
    return f"{v:.4f} ± {std:.4f}" if std is not None else f"{v:.4f}"


def headline_rows(result: Mapping[str, Any], protocol: str) -> list[tuple[str, str]]:
    return [(label, format_value(result, key)) for key, label in HEADLINE[protocol] if key in result]


def markdown_table(rows: Sequence[tuple[str, str]], header: tuple[str, str] = ("metric", "value")) -> str:
    lines = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    lines += [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(lines) + "\n"


def write_run_outputs(acc: Accumulator, config: Mapping[str, Any], out_dir: str | Path,
                      notes: Sequence[str] = (), echo: bool = True) -> dict[str, Any]:
    """Write ``metrics.json``/``metrics.csv``/``per_sample.csv``/``report.md`` (and the compat files
    under protocol juanola2025) into ``out_dir``; print the headline table when ``echo``."""
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
    body = [f"# {title}", "", markdown_table(rows)]
    if acc.protocol == "vssleval":
        body.append("Values: mean ± std over seeds; success rates and AUCs in [0, 1]; pIA is the fraction of the "
                    "image above the positive's adaptive threshold.\n")
    if notes:
        body += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    write_text_atomic(out / "report.md", "\n".join(body))
    if echo:
        width = max(len(a) for a, _ in rows) if rows else 10
        print(title)
        for a, b in rows:
            print(f"  {a:<{width}}  {b}")
        print(f"outputs in {out}/ (metrics.json, metrics.csv, per_sample.csv, report.md)")
    return result
