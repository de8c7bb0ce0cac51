"""vssleval.limits: one table of bounds for every numeric option, used by the CLI and the API.

D18 (``--seeds 1000000000`` OOM-killed), D19 (``--bootstrap 1e12`` ran the whole evaluation first),
D20 (``synth --n 1000000000`` -> MemoryError traceback), D23 (``infer --overlays -1`` and
``--threshold nan|inf`` accepted): each bound of the table is refused, with the same message, by
the command line and by the API function, before any output exists.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import math

import pytest

import vssleval
from vssleval import api, limits
from vssleval.cli import build_parser, main
from vssleval.data.fetch import fetch_metadata
from vssleval.data.synthetic import synth
from vssleval.errors import VsslevalError
from vssleval.training.config import NUMERIC_FIELDS, TrainConfig
from vssleval.training.synthetic import run_training


# -- how each row of the table is reached: (CLI argv, API call) for a value ----------------------
def _run_cli(name, flag):
    return lambda tmp, v: ["evaluate", "--model", "center", "--out", str(tmp / "out"), f"{flag}={v}"]


def _run_api(name):
    return lambda tmp, v: vssleval.evaluate("center", out=tmp / "out", verbose=False, **{name: v})


def _infer_api(name):
    return lambda tmp, v: vssleval.infer("center", out=tmp / "out", verbose=False, **{name: v})


def _report_api(name):
    return lambda tmp, v: vssleval.report([tmp / "no-run"], tmp / "out", verbose=False, **{name: v})


def _train_cli(flag):
    return lambda tmp, v: ["train-synthetic", "--out", str(tmp / "out" / "w.pth"), f"{flag}={v}"]


def _train_api(name):
    return lambda tmp, v: TrainConfig(**{name: v})


REACH = {
    ("seeds", None): (_run_cli("seeds", "--seeds"), _run_api("seeds")),
    ("seed_values", None): (None, lambda tmp, v: vssleval.evaluate("center", seeds=[1234, v], out=tmp / "out",
                                                                   verbose=False)),
    ("batch_size", None): (_run_cli("batch_size", "--batch-size"), _run_api("batch_size")),
    ("noise_bank", None): (_run_cli("noise_bank", "--noise-bank"), _run_api("noise_bank")),
    ("workers", None): (_run_cli("workers", "--workers"), _run_api("workers")),
    ("limit", None): (_run_cli("limit", "--limit"), _run_api("limit")),
    ("bootstrap", None): (_run_cli("bootstrap", "--bootstrap"), _run_api("bootstrap")),
    ("overlays", None): (lambda tmp, v: ["infer", "--model", "center", "--out", str(tmp / "out"), f"--overlays={v}"],
                         _infer_api("overlays")),
    ("threshold", None): (lambda tmp, v: ["infer", "--model", "center", "--out", str(tmp / "out"), f"--threshold={v}"],
                          _infer_api("threshold")),
    ("max_memory", None): (_run_cli("max_memory", "--max-memory"), _run_api("max_memory")),
    ("max_skip_fraction", None): (_run_cli("max_skip_fraction", "--max-skip-fraction"),
                                  _run_api("max_skip_fraction")),
    ("sweep_samples", None): (lambda tmp, v: ["report", str(tmp / "no-run"), "--out", str(tmp / "out"),
                                              f"--sweep-samples={v}"], _report_api("sweep_samples")),
    ("sweep_points", None): (lambda tmp, v: ["report", str(tmp / "no-run"), "--out", str(tmp / "out"),
                                             f"--sweep-points={v}"], _report_api("sweep_points")),
    ("n", "synth"): (lambda tmp, v: ["synth", "--out", str(tmp / "out"), f"--n={v}"],
                     lambda tmp, v: synth("vggss", v, 0, tmp / "out")),
    ("seed", "synth"): (lambda tmp, v: ["synth", "--out", str(tmp / "out"), "--n", "2", f"--seed={v}"],
                        lambda tmp, v: synth("vggss", 2, v, tmp / "out")),
    ("timeout", "fetch-metadata"): (
        lambda tmp, v: ["fetch-metadata", "vggss", "--dest", str(tmp / "out"), f"--timeout={v}"],
        lambda tmp, v: fetch_metadata([], tmp / "out", timeout=v)),
    **{(name, "train-synthetic"): (_train_cli("--" + name.replace("_", "-")), _train_api(name))
       for name in NUMERIC_FIELDS},
}


def _bad_values(row: limits.Limit) -> list:
    """Values just outside the row's range, and non-finite ones for floats."""
    out = []
    if row.kind == "size":
        return ["1K", "lots"]
    if row.least is not None:
        step = 1 if row.kind in ("int", "seeds") else 0.5
        out.append(row.least if row.strict else row.least - step)
    high = row.upper()
    if high is not None:
        out.append(high + 1)
    if row.kind == "float":
        out += [math.nan, math.inf, -math.inf]
    return out


CASES = [pytest.param(row, v, id=f"{row.scope or 'run'}-{row.name}={v}") for row in limits.LIMITS
         for v in _bad_values(row)]


def test_every_row_is_reached_by_the_tests():
    assert {(r.name, r.scope) for r in limits.LIMITS} == set(REACH)


@pytest.mark.parametrize("row, value", CASES)
def test_each_bound_refused_by_cli_and_api_with_one_message(row, value, tmp_path, capsys):
    cli, api = REACH[(row.name, row.scope)]
    with pytest.raises(VsslevalError) as info:
        api(tmp_path, value)
    message = str(info.value)
    assert message.startswith(f"{row.flag} must be"), message
    if isinstance(value, float) and not math.isfinite(value):
        assert "finite" in message
    if cli is not None:
        assert main(cli(tmp_path, str(value))) == 2  # "--flag=value": argparse takes "-inf" as a value
        err = capsys.readouterr().err
        assert f"vssleval: error: {message}" in err
    assert not (tmp_path / "out").exists()


def test_audit_every_numeric_cli_option_has_a_row():
    """A new int/float option of any command without a row in the table fails here."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    seen = set()
    for command, p in sub.choices.items():
        for action in p._actions:
            if action.type in (int, float) or action.dest in ("max_memory", "seeds"):
                assert limits.limit_for(action.dest, command) is not None, (command, action.dest)
                seen.add(action.dest)
    assert {"seeds", "bootstrap", "overlays", "threshold", "n", "timeout", "lr", "sweep_points"} <= seen


@pytest.mark.parametrize("fn, scope", [(api.evaluate, None), (api.infer, None), (api.report, None),
                                       (api.rescore, None), (synth, "synth"),
                                       (fetch_metadata, "fetch-metadata")])
def test_audit_every_numeric_api_argument_has_a_row(fn, scope):
    numeric = [name for name, p in inspect.signature(fn).parameters.items()
               if any(t in str(p.annotation) for t in ("int", "float")) and "bool" not in str(p.annotation)]
    assert numeric, fn
    for name in numeric:
        assert limits.limit_for(name, scope) is not None, (fn.__name__, name)


def test_train_config_numbers_all_have_rows():
    fields = [f.name for f in dataclasses.fields(TrainConfig) if f.type in ("int", "float")]
    assert sorted(fields) == sorted(NUMERIC_FIELDS)


def test_one_check_valid_values_pass_and_sizes_parse():
    assert limits.check("threshold", -0.25) == -0.25
    assert limits.check("threshold", None) is None
    assert limits.check("max_memory", "1.5G") == 3 * 2 ** 29
    assert limits.check("max_memory", "512MiB") == 512 * 2 ** 20
    assert limits.check("batch_size", 2, "train-synthetic") == 2
    with pytest.raises(VsslevalError, match="--batch-size must be >= 2"):
        limits.check("batch_size", 1, "train-synthetic")
    with pytest.raises(VsslevalError, match=r"--seeds must be a count K .*, got 2.5"):
        limits.check("seeds", 2.5)
    with pytest.raises(VsslevalError, match="--seeds must be a count K .*, got True"):
        limits.check("seeds", True)


# -- memory-derived bounds -----------------------------------------------------------------------
@pytest.fixture
def small_machine(monkeypatch):
    """A machine with 2 GiB available (the real one may have more or less)."""
    monkeypatch.setattr(limits, "available_memory", lambda: (2 * limits.GiB, "MemAvailable in /proc/meminfo"))


@pytest.mark.parametrize("argv, api, what", [
    (["evaluate", "--model", "center", "--seeds", "1000000000"],                       # D18
     lambda out: vssleval.evaluate("center", seeds=10 ** 9, out=out, verbose=False), "1000000000 seeds"),
    (["evaluate", "--model", "center", "--bootstrap", "1000000"],                # D19 (above 10^6: the range)
     lambda out: vssleval.evaluate("center", bootstrap=10 ** 6, out=out, verbose=False), "--bootstrap 1000000"),
    (["synth", "--n", "1000000000"],                                                   # D20
     lambda out: synth("vggss", 10 ** 9, 0, out), "synth --n 1000000000"),
    (["infer", "--model", "center", "--seeds", "100000", "--batch-size", "64"],
     lambda out: vssleval.infer("center", seeds=100_000, batch_size=64, out=out, verbose=False), "100000 seeds"),
])
def test_memory_estimate_refuses_before_any_work(small_machine, tmp_path, capsys, argv, api, what):
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "needs at least about" in err and what in err
    assert "more than the 2.0 GiB available (MemAvailable in /proc/meminfo)" in err and "--max-memory" in err
    with pytest.raises(VsslevalError) as info:
        api(out)
    assert f"vssleval: error: {info.value}" in err
    assert not out.exists()


def test_engine_checks_again_with_the_real_sample_count(monkeypatch, tmp_path):
    """1 sample fits the budget, the dataset's 200 do not: refused once the dataset is read, before
    the model is built or the store is created."""
    r = 10 ** 6
    one = sum(limits.run_bytes(1, 1, 32).values()) + sum(limits.bootstrap_bytes(1, 1, r).values())
    monkeypatch.setattr(limits, "available_memory", lambda: (one + limits.MiB, "test"))
    with pytest.raises(VsslevalError, match=r"a run of 200 samples x 1 seeds needs at least about") as info:
        vssleval.evaluate("center", seeds=1, bootstrap=r, out=tmp_path / "out", verbose=False)
    assert f"--bootstrap {r} resamples x 200 samples" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_max_memory_overrides_the_available_memory(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(limits, "available_memory", lambda: (1 * limits.MiB, "test"))
    argv = ["infer", "--model", "center", "--seeds", "1", "--neg", "silence", "--limit", "2", "--overlays", "0",
            "--out", str(tmp_path / "out")]
    assert main(argv) == 2 and "available (test)" in capsys.readouterr().err
    assert main([*argv, "--max-memory", "2M"]) == 2 and "available (--max-memory)" in capsys.readouterr().err
    assert main([*argv, "--max-memory", "1G"]) == 0
    assert (tmp_path / "out" / "store" / "COMPLETE").is_file()


def test_rescore_checks_bootstrap_against_the_stores_sample_count(monkeypatch, tmp_path):
    run = vssleval.evaluate("center", seeds=1, neg="silence", limit=4, bootstrap=0, out=tmp_path / "run",
                            verbose=False)
    r = 10 ** 6
    one = sum(limits.run_bytes(1, 1, 1).values()) + sum(limits.bootstrap_bytes(1, 1, r).values())
    monkeypatch.setattr(limits, "available_memory", lambda: (one + limits.MiB, "test"))
    with pytest.raises(VsslevalError, match=r"a run of 4 samples x 1 seeds needs at least about"):
        vssleval.rescore(run.out, tmp_path / "again", bootstrap=r, verbose=False)
    assert not (tmp_path / "again").exists()


def test_training_data_memory_refused(tmp_path):
    with pytest.raises(VsslevalError, match=r"the training data needs at least about .* Lower --n-vggss"):
        run_training(TrainConfig(n_vggss=10 ** 8), tmp_path / "w.pth", data_root=tmp_path / "data", max_memory="1G")
    assert not (tmp_path / "data").exists() and not (tmp_path / "w.pth").exists()


def test_synth_refuses_what_the_disk_cannot_hold(monkeypatch, tmp_path):
    monkeypatch.setattr(limits.shutil, "disk_usage", lambda p: type("U", (), {"free": 10 * limits.MiB})())
    with pytest.raises(VsslevalError, match=r"synth --n 100 writes about 32.4 MiB .* has 10.0 MiB free"):
        synth("vggss", 100, 0, tmp_path / "out", max_memory="1G")
    assert not (tmp_path / "out").exists()


def test_available_memory_sources(monkeypatch, tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       1000 kB\nMemFree:  10 kB\nMemAvailable:    2048 kB\n")
    assert limits._meminfo_available(str(meminfo)) == 2 * limits.MiB
    assert limits._meminfo_available(str(tmp_path / "absent")) is None
    monkeypatch.setattr(limits, "_meminfo_available", lambda: None)
    monkeypatch.setattr(limits, "_cgroup_available", lambda: None)
    value, source = limits.available_memory()
    assert source == "os.sysconf" and value > 0

    def broken(name):
        raise ValueError(name)

    monkeypatch.setattr(limits.os, "sysconf", broken)
    assert limits.available_memory() == (None, "unknown")
    limits.require_memory({"huge": 2 ** 60})  # unknown memory: nothing to refuse against
    with pytest.raises(VsslevalError, match="available \\(--max-memory\\)"):
        limits.require_memory({"huge": 2 ** 60}, max_memory="1G")
