"""The CLI answers at once: its light commands import neither torch nor the engine (docs/performance.md,
"A CLI that answers at once").

What is checked is the import, not a time: a fresh interpreter builds every parser and runs the
code paths of ``vssleval --help``, ``--version``, every ``<command> --help``, ``python -m
vssleval.evaluate --help`` / ``vssleval.infer --help``, ``vssleval models``, ``vssleval datasets``,
``vssleval published`` and
``vssleval new-model`` (writing its template), then prints the heavy modules it holds. The tables the parser reads instead of the heavy modules
(the protocol names, the built-in model names) are checked against those modules here.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vssleval import cli, vocabulary

#: The modules a light command must not import (a prefix matches the package and its submodules).
HEAVY = ("torch", "torchvision", "scipy", "vssleval.engine", "vssleval.metrics", "vssleval.frontends",
         "vssleval.api.evaluation", "vssleval.api.reporting")

_PROBE = textwrap.dedent("""
    import contextlib, io, json, sys
    from vssleval import cli

    def run(argv, module=None):
        with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()):
            try:
                code = cli.run_command(module, argv, prog="p") if module else cli.main(argv)
            except SystemExit as exc:  # --help and --version exit
                code = exc.code
        return code, out.getvalue()

    results = {"build": bool(cli.build_parser())}
    for argv in (["--help"], ["--version"], [], ["models"], ["models", "-v"], ["datasets"],
                 ["published"], ["published", "--model", "ezvsl", "--dataset", "vggss"],
                 ["new-model", "probe_net", "--out", NEW_MODEL_OUT],
                 *([name, "--help"] for name in cli._command_modules())):
        results[" ".join(argv)] = run(argv)
    for module in ("vssleval.commands.evaluate", "vssleval.commands.infer"):  # python -m vssleval.evaluate / .infer
        results[module] = run(["--help"], module)
    heavy = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
    print(json.dumps({"results": results, "heavy": heavy}))
""")


def _aclssl_files(folder: Path) -> None:
    """Stand-ins for ACL-SSL's three parts in ``folder``, its CLIPSeg part as a Hugging Face folder
    whose ``config.json`` holds what the YAML expects: ``vssleval models`` hashes all three."""
    from vssleval.models.registry import load_model_config

    block = load_model_config("aclssl")["checkpoint"]
    for prefix, name in block["parts"].items():
        spec = (block.get("hf_folders") or {}).get(prefix)
        if spec is None:
            (folder / name).write_bytes(prefix.encode())
            continue
        (folder / name).mkdir()
        (folder / name / spec["weights"][-1]).write_bytes(prefix.encode())
        config: dict = {}
        for key, value in spec["expect_config"].items():
            *outer, last = key.split(".")
            node = config
            for step in outer:
                node = node.setdefault(step, {})
            node[last] = value
        (folder / name / "config.json").write_text(json.dumps(config))


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> dict:
    """The light commands' exit codes and outputs, and the heavy modules imported, in a fresh
    interpreter (about 0.4 CPU-s: the light commands are what keeps this test fast), with ACL-SSL's
    checkpoint present in ``$VSSLEVAL_CHECKPOINTS``."""
    checkpoints = tmp_path_factory.mktemp("checkpoints")
    _aclssl_files(checkpoints)
    env = {**os.environ, "VSSLEVAL_CHECKPOINTS": str(checkpoints)}
    new_model_out = tmp_path_factory.mktemp("new-model") / "probe"
    code = f"HEAVY = {HEAVY!r}\nNEW_MODEL_OUT = {str(new_model_out)!r}\n{_PROBE}"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    return {**json.loads(res.stdout.splitlines()[-1]), "new_model_out": new_model_out}


def test_light_commands_import_neither_torch_nor_the_engine(probe):
    assert probe["heavy"] == []


def test_light_commands_still_answer(probe):
    """The probe ran the real commands: each help names its own flags, the listings their entries."""
    res = probe["results"]
    assert res["--version"][0] == 0 and res["--version"][1].startswith("vssleval ")
    assert res["--help"][0] == 0 and "fetch-metadata" in res["--help"][1]
    assert res[""][0] == 1 and "evaluate" in res[""][1]  # no command: the help, exit 1
    code, models = res["models -v"]
    assert code == 0 and "synth-ezvsl" in models and "presets: native, juanola2025" in models
    aclssl = models.split("\naclssl ")[1].split("\ncenter ")[0]  # present: each part's file and its sha256
    assert "present ($VSSLEVAL_CHECKPOINTS)" in aclssl and "model.safetensors  sha256 " in aclssl
    assert aclssl.count("  sha256 ") == 3
    assert res["datasets"][0] == 0 and "synthetic-vggss" in res["datasets"][1]
    code, ezvsl = res["published --model ezvsl --dataset vggss"]
    assert code == 0 and "cIoU@0.5 37.18 %, AUC 38.75 %" in ezvsl and "stoneMo/EZ-VSL @ 95ff5bf" in ezvsl
    assert res["published"][0] == 0 and "zjsong/SACL @ 265a749" in res["published"][1]
    assert "--protocol {vssleval,juanola2025,native}" in res["evaluate --help"][1]
    assert "--sweep-points" in res["report --help"][1] and "--tau" in res["train-synthetic --help"][1]
    for module in ("vssleval.commands.evaluate", "vssleval.commands.infer"):
        assert res[module][0] == 0 and res[module][1].startswith("usage: p ") and "--neg" in res[module][1]
    assert "--overwrite" in res["new-model --help"][1] and "NAME.yaml" in res["new-model --help"][1]
    written = probe["new_model_out"]
    assert res[f"new-model probe_net --out {written}"][0] == 0
    assert sorted(p.name for p in written.iterdir()) == ["probe_net.py", "probe_net.yaml"]
    assert "class ProbeNetModel(VsslModel):" in (written / "probe_net.py").read_text()


def _subparsers(parser):
    return next(a for a in parser._actions if a.dest == "command").choices


def test_a_command_built_alone_parses_and_helps_as_in_the_full_parser():
    """``main`` adds the arguments of the named command only: that parser must be the full one's."""
    full = _subparsers(cli.build_parser())
    for name in cli._command_modules():
        alone = _subparsers(cli.build_parser([name]))
        assert alone[name].format_help() == full[name].format_help(), name
        others = [other for other in alone if other != name]
        assert all(len(alone[o]._actions) == 1 for o in others)  # -h only: their modules' work is not done
    assert cli._named_command(["--version"]) is None and cli._named_command(["models", "-v"]) == "models"
    assert cli._named_command(["modles"]) is None  # argparse refuses it, with the list of commands


def test_the_protocol_table_is_the_registry():
    """The CLI offers the protocols of :data:`vssleval.vocabulary.PROTOCOL_SUMMARIES`; the registry
    (filled from the protocol modules) must hold the same ones, in the same order, with those summaries."""
    from vssleval.metrics.protocols import PROTOCOLS

    builtin = {name: p for name, p in PROTOCOLS.items() if type(p).__module__.startswith("vssleval.metrics.")}
    assert list(builtin) == list(vocabulary.PROTOCOL_SUMMARIES)
    assert {name: p.summary for name, p in builtin.items()} == vocabulary.PROTOCOL_SUMMARIES


def test_builtin_table_names_what_the_model_modules_register():
    """:data:`~vssleval.models.registry.BUILTIN` (name -> module, imported on first build) declares
    exactly the models the package's modules register, each in the module that registers it."""
    import vssleval.models
    from vssleval.models import registry

    for info in pkgutil.iter_modules(vssleval.models.__path__):
        importlib.import_module(f"vssleval.models.{info.name}")
    registered = {name: e.factory.__module__ for name, e in registry._REGISTRY.items()
                  if e.factory is not None and e.factory.__module__.startswith("vssleval.models.")}
    assert registered == {name: f"vssleval.models.{module}" for name, module in registry.BUILTIN.items()}
