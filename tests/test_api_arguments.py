"""Issue 19, mechanism 7: the API's arguments are checked in one place before any work
(vssleval/api/arguments.py), with the CLI's message where the CLI can make the same mistake.
Before, ``preset={'audio': 5}`` and ``neg=['silence', 3]`` ended in TypeErrors from deep inside,
``seeds=[1, 1]`` counted one draw twice, and ``out=5``, ``device=5``, ``skip_bad="no"`` were not
checked at all."""

from __future__ import annotations

import numpy as np
import pytest

import vssleval
from vssleval.cli import main
from vssleval.models.baselines import CenterPrior

FAST = dict(limit=2, bootstrap=0, verbose=False)
CLI = ["evaluate", "--model", "center", "--limit", "2", "--bootstrap", "0", "--device", "cpu"]


def _refused(tmp_path, match: str, model="center", **kwargs) -> str:
    """The message of an evaluate() call that must be refused before it writes anything."""
    out = tmp_path / "run"
    kwargs = {"seeds": 1, "out": out, **FAST, **kwargs}
    with pytest.raises(vssleval.VsslevalError) as info:
        vssleval.evaluate(model, **kwargs)
    message = str(info.value)
    assert match in message, message
    assert "\n" not in message
    assert not out.exists()
    return message


@pytest.mark.parametrize("kwargs, match", [
    (dict(neg=["silence", 3]), "--neg ['silence', 3]: 3 is not a name; use one of silence, noise, offscreen"),
    (dict(neg=("noise", None)), "--neg ('noise', None): None is not a name"),
    (dict(neg=7), "--neg 7: use one of silence, noise, offscreen, a comma-separated list, all or none"),
    (dict(seeds=[1, 1]), "--seeds lists seed 1 more than once ([1, 1])"),
    (dict(seeds=np.array([1234, 2345, 1234])), "--seeds lists seed 1234 more than once"),
    (dict(seeds=np.array([[1, 2]])), "--seeds must be a count K (the first K protocol seeds) or distinct seed values"),
    (dict(seeds={1, 2}), "--seeds must be a count K"),
    (dict(seeds=[2 ** 63]), "each value of --seeds must be >= 0 and <= 9223372036854775807"),  # the store's int64
    (dict(skip_bad="no"), "--skip-bad is a switch: pass True or False, got str 'no'"),
    (dict(allow_nonfinite=1), "--allow-nonfinite is a switch: pass True or False, got int 1"),
    (dict(out=5), "--out must be a path (a str or pathlib.Path), got int 5"),
    (dict(data_dir=["a"]), "--data-dir must be a path (a str or pathlib.Path), got list ['a']"),
    (dict(ogl_weights=3.5), "--ogl-weights must be a path"),
    (dict(checkpoint=5), "--checkpoint must be a path"),
    (dict(device=5), "unknown device 5; use auto, cpu, cuda, cuda:N or mps"),
    (dict(device="cuda:x"), "unknown device 'cuda:x'; use auto, cpu, cuda, cuda:N or mps"),
    (dict(dataset=None), "dataset must be a name (`vssleval datasets`), got NoneType None"),
    (dict(preset=["native"]), "--preset must be a preset name (juanola2025, native)"),
    (dict(resume=True, out=None), "--resume continues the run in --out"),
])
def test_bad_argument_refused_before_any_work(tmp_path, kwargs, match):
    _refused(tmp_path, match, **kwargs)


def test_empty_out_would_mean_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(vssleval.VsslevalError, match="--out must be a non-empty path, got ''"):
        vssleval.evaluate("center", seeds=1, out="", **FAST)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("preset, match", [
    ({"audio": 5, "image": {"ops": ["to_tensor"]}}, "preset 'custom' of model 'centerprior': `audio` must be a "
                                                    "mapping (a preset block as in a model YAML"),
    ({"audio": {"read": 5}, "image": {"ops": ["to_tensor"]}}, "preset audio.read must be a mapping of"),
    ({"audio": {"tile_s": 1.0}, "image": {"ops": 3}}, "preset image block needs a non-empty 'ops' list, got 3"),
    ({"audio": {"tile_s": 1.0}, "image": {"ops": [5]}}, "preset image op 5 must be a name or a one-key mapping"),
    ({"audio": {"tile_s": 1.0}, "image": {"ops": ["to_tensor"]}, "map": {"upsample": 5}},
     "map.upsample must map variants to ops"),
    ({"audio": {"tile_s": 1.0}, "image": {"ops": ["to_tensor"]}, "map": {"tau": "x"}},
     "map.tau must be a positive number"),
])
def test_preset_blocks_of_the_wrong_type_are_one_clear_error(tmp_path, preset, match):
    _refused(tmp_path, match, model=CenterPrior(), preset=preset)


@pytest.mark.parametrize("cli, api, match", [
    (["--seeds", "1234,1234"], dict(seeds=[1234, 1234]), "--seeds lists seed 1234 more than once"),
    (["--seeds", "1234,-1"], dict(seeds=[1234, -1]),
     "each value of --seeds must be >= 0 and <= 9223372036854775807, got -1"),
    (["--seeds", "1,x"], dict(seeds="1,x"), "--seeds must be a count K"),
    (["--neg", "all,silence"], dict(neg="all,silence"), "'all' stands alone (it means every negative)"),
    (["--neg", "none,noise"], dict(neg="none,noise"), "'none' stands alone (it means no negative)"),
    (["--device", "cuda:x"], dict(device="cuda:x"), "unknown device 'cuda:x'"),
])
def test_cli_and_api_give_the_same_message(tmp_path, capsys, cli, api, match):
    message = _refused(tmp_path, match, **api)
    assert main([*CLI, *cli, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert f"vssleval: error: {message}\n" == err, (message, err)
    assert not (tmp_path / "run").exists()


def test_explicit_distinct_seeds_from_the_cli(tmp_path, capsys):
    """``--seeds`` takes distinct values as well as a count, like ``seeds=`` (the same values run)."""
    assert main([*CLI, "--seeds", "7,3", "--neg", "noise", "--out", str(tmp_path / "run")]) == 0
    result = vssleval.Results.open(tmp_path / "run")
    assert result.config["seeds"] == [7, 3]
