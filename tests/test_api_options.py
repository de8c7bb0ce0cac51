"""Issue 20 item 3: the run options are declared once (vssleval/api/options.py) and the API, the CLI
and the recorded configuration use the same names; an unknown keyword is refused with the valid ones."""

from __future__ import annotations

import argparse
import dataclasses
import inspect

import pytest

import vssleval
from vssleval.api.options import RUN_OPTIONS, options_for
from vssleval.cli import build_parser
from vssleval.engine.spec import RunSpec

#: Written out here (not read from the code under test): the options docs/api.md documents.
EXPECTED = {"model", "dataset", "checkpoint", "trust_checkpoint", "preset", "protocol", "data_dir", "neg", "seeds",
            "noise_bank", "limit", "skip_bad", "max_skip_fraction", "ogl_weights", "allow_nonfinite", "device", "amp",
            "batch_size", "workers", "max_memory", "out", "resume", "overwrite", "verbose"}
ONLY = {"evaluate": {"bootstrap"}, "infer": {"overlays", "threshold"}}


def _subparser(command: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


@pytest.mark.parametrize("command", ["evaluate", "infer"])
def test_api_signature_is_the_declared_options(command):
    names = list(inspect.signature(getattr(vssleval, command)).parameters)
    assert set(names) == EXPECTED | ONLY[command]
    assert names[:2] == ["model", "dataset"]


@pytest.mark.parametrize("command", ["evaluate", "infer"])
def test_cli_flags_are_the_api_keywords(command):
    """Every flag of the command is an API keyword of the same name (``--batch-size`` = ``batch_size=``),
    and every API keyword but ``verbose`` has a flag (``model`` has two spellings)."""
    dests = {a.dest for a in _subparser(command)._actions if a.dest != "help"}
    assert dests - {"model_file"} == (EXPECTED | ONLY[command]) - {"verbose"}
    for action in _subparser(command)._actions:
        if action.option_strings and action.dest not in ("help", "model_file"):
            assert action.option_strings == ["--" + action.dest.replace("_", "-")]


def test_every_runspec_field_is_a_declared_option():
    """A field added to RunSpec without an option row fails here (model_file is --model-file, the
    second spelling of model)."""
    recorded = {o.record for o in RUN_OPTIONS if o.record}
    assert {f.name for f in dataclasses.fields(RunSpec)} - {"model_file"} == recorded


@pytest.mark.parametrize("command, keyword, hint", [
    ("evaluate", "seed", "did you mean 'seeds'?"),
    ("evaluate", "negatives", "did you mean 'neg'?"),       # the recorded config's name
    ("infer", "num_workers", "did you mean 'workers'?"),
    ("evaluate", "overlays", "it is an option of vssleval.infer() only"),
    ("infer", "bootstrap", "it is an option of vssleval.evaluate() only"),
    ("evaluate", "colour", None),
])
def test_unknown_keyword_refused_with_the_valid_names(tmp_path, command, keyword, hint):
    out = tmp_path / "run"
    with pytest.raises(vssleval.VsslevalError) as info:
        getattr(vssleval, command)("center", out=out, seeds=1, limit=2, **{keyword: 1})
    message = str(info.value)
    assert message.startswith(f"vssleval.{command}() has no option {keyword!r}")
    assert (hint in message) if hint else "did you mean" not in message
    assert all(name in message.split("its options are: ")[1] for name in EXPECTED | ONLY[command])
    assert not out.exists()


def test_positional_misuse_is_one_clear_error():
    with pytest.raises(vssleval.VsslevalError, match="takes model and dataset by position"):
        vssleval.evaluate("center", "synthetic-vggss", 3)
    with pytest.raises(vssleval.VsslevalError, match="got 'dataset' twice"):
        vssleval.infer("center", "synthetic-vggss", dataset="synthetic-is3")
    with pytest.raises(vssleval.VsslevalError, match="needs 'model'"):
        vssleval.evaluate(seeds=1)


def test_cli_defaults_are_the_api_defaults_but_the_declared_exceptions():
    for command in ("evaluate", "infer"):
        parsed = vars(_subparser(command).parse_args([]))
        for option in options_for(command):
            if option.name in parsed and option.name not in ("model", "out"):
                expected = 4 if option.name == "overlays" else option.default  # infer draws 4 overlays from the CLI
                assert parsed[option.name] == expected, (command, option.name)


def test_runspec_defaults_are_the_declared_ones():
    """The engine's RunSpec (which must not import the API) keeps defaults for direct use; they are the
    options' defaults wherever the option is recorded as-is."""
    runspec = {f.name: f.default for f in dataclasses.fields(RunSpec) if f.default is not dataclasses.MISSING}
    same = {o.record: o.default for o in RUN_OPTIONS if o.record in runspec and o.default is not None}
    assert same.keys() >= {"protocol", "noise_bank", "batch_size", "num_workers", "device", "max_skip_fraction",
                           "skip_bad", "trust_checkpoint", "allow_nonfinite"}
    assert {k: runspec[k] for k in same} == same


def test_empty_out_refused_by_cli_as_by_api(tmp_path, capsys, monkeypatch):
    """``--out ''`` once fell back to runs/<name>/ silently; the option's check refuses it either way."""
    from vssleval.cli import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(vssleval.VsslevalError) as info:
        vssleval.evaluate("center", out="", seeds=1, limit=2)
    assert main(["evaluate", "--model", "center", "--seeds", "1", "--limit", "2", "--out", ""]) == 2
    assert capsys.readouterr().err == f"vssleval: error: {info.value}\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("call, message", [
    (lambda: vssleval.report("r", out="o", allow_mix=True), "vssleval.report() has no option 'allow_mix' "
     "(did you mean 'allow_mixed'?); its options are: runs, out, allow_mixed,"),
    (lambda: vssleval.rescore("r", "o", bootstraps=3), "vssleval.rescore() has no option 'bootstraps' "
     "(did you mean 'bootstrap'?)"),
    (lambda: vssleval.compare("a", "b", "o", seed=1), "vssleval.compare() has no option 'seed'; its options are: "
     "run_a, run_b, out, bootstrap, allow_mixed, verbose"),
    (lambda: vssleval.load_model("center", devices="cpu"), "vssleval.load_model() has no option 'devices' "
     "(did you mean 'device'?)"),
])
def test_the_other_api_functions_refuse_an_unknown_keyword_alike(call, message):
    with pytest.raises(vssleval.VsslevalError) as info:
        call()
    assert str(info.value).startswith(message)
