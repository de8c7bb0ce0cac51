"""engine/device.py: every branch that can run on a CPU-only machine.

The bf16 rule (docs/performance.md §2): accepted on a CUDA GPU with bf16 and on a CPU with AVX-512
BF16 or AMX, refused elsewhere and under protocols that reproduce fp32 references; the CPU's flags
are injected so both outcomes are tested on any machine.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import vssleval.engine.device as device_mod
from vssleval.engine.device import (autocast, bf16_support, check_amp, cpu_flags, cpu_has_bf16, dist_backend,
                                    pin_memory, to_device, uses_channels_last)
from vssleval.errors import VsslevalError
from vssleval.metrics.protocols import PROTOCOLS

CPU, CUDA, MPS = torch.device("cpu"), torch.device("cuda"), torch.device("mps")
AVX2 = {"fpu", "sse4_2", "avx", "avx2", "fma"}  # this project's AMD EPYC: no native bf16


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx2 avx512_bf16 amx_tile\n\n"
                   "processor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(x86) == {"fpu", "avx2", "avx512_bf16", "amx_tile"}  # the first CPU's line
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd bf16\n")
    assert cpu_flags(arm) == {"fp", "asimd", "bf16"}
    assert cpu_flags(tmp_path / "absent") == set()


@pytest.mark.parametrize("flags, native", [(AVX2, False), (AVX2 | {"avx512f", "avx512bw"}, False),
                                           (AVX2 | {"avx512_bf16"}, True), (AVX2 | {"amx_bf16"}, True),
                                           (set(), False)])
def test_native_bf16_needs_avx512_bf16_or_amx(flags, native):
    assert cpu_has_bf16(flags) is native
    ok, why = bf16_support(CPU, flags)
    assert ok is native and (why == "" if native else "AVX-512 BF16" in why)


def test_mps_has_no_bf16_here():
    assert bf16_support(MPS, set()) == (False, "bf16 autocast is not supported on mps here")


@pytest.mark.parametrize("amp", [None, "", "none", "fp32"])
def test_fp32_is_always_accepted(amp):
    for allows in (True, False):
        assert check_amp(CPU, amp, allows, "juanola2025", flags=AVX2) is False


def test_bf16_rule_on_cpu():
    assert check_amp(CPU, "bf16", True, "vssleval", flags=AVX2 | {"amx_bf16"}) is True
    with pytest.raises(VsslevalError, match="neither AVX-512 BF16 nor AMX.*drop --amp"):
        check_amp(CPU, "bf16", True, "vssleval", flags=AVX2)
    with pytest.raises(VsslevalError, match="unknown --amp 'fp16'"):
        check_amp(CPU, "fp16", True, "vssleval", flags=AVX2 | {"amx_bf16"})


def test_protocols_that_reproduce_fp32_refuse_bf16_before_the_hardware_is_asked():
    refusing = sorted(name for name, p in PROTOCOLS.items() if not p.allows_reduced_precision)
    assert refusing == ["juanola2025", "native"]
    assert PROTOCOLS["vssleval"].allows_reduced_precision
    for name in refusing:
        with pytest.raises(VsslevalError, match=f"refused under --protocol {name}"):
            check_amp(CPU, "bf16", PROTOCOLS[name].allows_reduced_precision, name, flags={"amx_bf16"})


def test_autocast_fp32_is_a_no_op_and_bf16_runs_matmuls_in_bf16():
    a, b = torch.randn(8, 8), torch.randn(8, 8)
    with autocast(CPU, None):
        assert (a @ b).dtype == torch.float32
    with autocast(CPU, "bf16"):  # runs on any CPU (emulated without the flags)
        out = a @ b
    assert out.dtype == torch.bfloat16
    np.testing.assert_allclose(out.float().numpy(), (a @ b).numpy(), rtol=0.05, atol=0.1)


def test_host_copies():
    assert pin_memory(CPU) is False and pin_memory(CUDA) is True
    x = torch.randn(2, 3, 5, 7)
    assert to_device(x, CPU) is x  # no copy on the CPU
    nhwc = to_device(x, CPU, channels_last=True)
    assert nhwc.is_contiguous(memory_format=torch.channels_last) and torch.equal(nhwc, x)
    flat = torch.randn(2, 5)
    assert to_device(flat, CPU, channels_last=True) is flat  # only 4-D inputs change layout
    assert uses_channels_last(CPU) and uses_channels_last(CUDA) and not uses_channels_last(MPS)


def test_distributed_backend():
    assert dist_backend(CPU) == "gloo" and dist_backend(CUDA) == "nccl"


def test_engine_refuses_bf16_under_juanola2025_before_writing(tmp_path, synthetic_set, ezvsl_checkpoint, ogl_weights):
    from vssleval.engine.runner import run_inference
    from vssleval.engine.spec import RunSpec, seed_list

    spec = RunSpec(model="ezvsl", checkpoint=str(ezvsl_checkpoint), dataset="synthetic-vggss",
                   data_dir=str(synthetic_set("vggss", 6)), protocol="juanola2025", seeds=seed_list(1),
                   ogl_weights=str(ogl_weights), device="cpu", amp="bf16")
    with pytest.raises(VsslevalError, match="refused under --protocol juanola2025"):
        run_inference(spec, tmp_path / "run", log=lambda s: None)
    assert not (tmp_path / "run").exists()


def test_bf16_run_is_recorded_in_metrics_json(tmp_path, monkeypatch, synthetic_set):
    """On a CPU with native bf16 (injected here) the run goes through and says so in metrics.json;
    on one without, the same call is refused."""
    from vssleval.api import evaluate

    data = synthetic_set("vggss", 6)
    kwargs = dict(data_dir=data, seeds=1, device="cpu", bootstrap=0, verbose=False, neg="silence")
    monkeypatch.setattr(device_mod, "cpu_flags", lambda *a: set(AVX2))
    with pytest.raises(VsslevalError, match="neither AVX-512 BF16 nor AMX"):
        evaluate("synth-ezvsl", out=tmp_path / "refused", amp="bf16", **kwargs)
    monkeypatch.setattr(device_mod, "cpu_flags", lambda *a: AVX2 | {"avx512_bf16"})
    evaluate("synth-ezvsl", out=tmp_path / "bf16", amp="bf16", **kwargs)
    evaluate("synth-ezvsl", out=tmp_path / "fp32", **kwargs)
    bf16 = json.loads((tmp_path / "bf16" / "metrics.json").read_text())
    fp32 = json.loads((tmp_path / "fp32" / "metrics.json").read_text())
    assert bf16["run"]["amp"] == "bf16" and fp32["run"]["amp"] is None
    assert bf16["ciou"] != fp32["ciou"] or bf16["max_positive_median"] != fp32["max_positive_median"]
