"""Everything device-specific, in one place: device choice, mixed precision (``--amp bf16``) and
whether the hardware has it, host-to-device copies (pinned memory, non-blocking) and the
``torch.distributed`` backend. The rest of the engine asks this module and never tests a device
type itself (docs/performance.md).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import torch

from vssleval.errors import VsslevalError

#: ``--amp`` values that mean full precision.
FP32 = (None, "", "none", "fp32")
#: CPU feature flags (Linux ``/proc/cpuinfo`` spelling) that give native bf16 arithmetic: the
#: AVX-512 BF16 dot products and the AMX tile unit. Without them oneDNN emulates bf16 with fp32
#: instructions plus conversions, which is slower than plain fp32 (docs/performance.md §2).
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def resolve_device(name: str = "auto") -> torch.device:
    """Turn ``auto|cpu|cuda|cuda:N|mps`` into a usable :class:`torch.device`.

    ``auto`` picks CUDA, then Apple MPS, then the CPU. Asking explicitly for a device that is not
    there is an error rather than a silent fallback, so a benchmark never runs on the wrong device.
    """
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        index = name[len("cuda"):]
        if index and not (index[0] == ":" and index[1:].isdigit()):
            raise VsslevalError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps")
        if not torch.cuda.is_available():
            raise VsslevalError(
                f"--device {name} was requested but this PyTorch build sees no CUDA device "
                f"(torch {torch.__version__}, cuda build: {torch.version.cuda}). "
                "Use --device cpu or --device auto, or install a CUDA build of torch."
            )
        if index and int(index[1:]) >= torch.cuda.device_count():
            raise VsslevalError(f"--device {name} was requested but this machine has {torch.cuda.device_count()} "
                                f"CUDA device(s), cuda:0 to cuda:{torch.cuda.device_count() - 1}")
        return torch.device(name)
    if name == "mps":
        if getattr(torch.backends, "mps", None) is None or not torch.backends.mps.is_available():
            raise VsslevalError("--device mps was requested but MPS is not available; use --device cpu or auto")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise VsslevalError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps")


# ----------------------------------------------------------------------------- bf16 capability
def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The feature flags of the first CPU in ``cpuinfo`` (empty where the file does not exist:
    macOS, Windows)."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.split(":", 1)[0].strip() in ("flags", "Features"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_has_bf16(flags: set[str] | None = None) -> bool:
    """True when the CPU computes bf16 natively (one of :data:`CPU_BF16_FLAGS`)."""
    flags = cpu_flags() if flags is None else flags
    return any(f in flags for f in CPU_BF16_FLAGS)


def bf16_support(device: torch.device, flags: set[str] | None = None) -> tuple[bool, str]:
    """``(supported, why)`` for bf16 autocast on ``device``; ``flags`` overrides the CPU's own
    (tests). The rule (docs/performance.md §2): CUDA when the GPU has bf16 (compute capability
    8.0 and later); the CPU when it has AVX-512 BF16 or AMX; nothing else."""
    if device.type == "cuda":
        ok = torch.cuda.is_bf16_supported()
        return ok, "" if ok else f"the GPU {torch.cuda.get_device_name(device)} has no bf16 support"
    if device.type == "cpu":
        if cpu_has_bf16(flags):
            return True, ""
        where = "this CPU" if sys.platform.startswith("linux") else f"this CPU (flags unknown on {sys.platform})"
        return False, (f"{where} has neither AVX-512 BF16 nor AMX ({' / '.join(CPU_BF16_FLAGS)} flags): bf16 "
                       "would be emulated and slower than fp32")
    return False, f"bf16 autocast is not supported on {device.type} here"


def check_amp(device: torch.device, amp: str | None, allows_reduced_precision: bool = True,
              protocol: str = "", flags: set[str] | None = None) -> bool:
    """True for bf16, False for fp32; a :class:`VsslevalError` for anything refused (checked before a
    run writes anything, so a refused ``--amp`` leaves no store behind).

    Refused: an unknown value; bf16 under a protocol that reproduces fp32 references
    (``allows_reduced_precision`` False: ``juanola2025``, ``native``); bf16 on a device without
    native bf16 (:func:`bf16_support`).
    """
    if amp in FP32:
        return False
    if amp != "bf16":
        raise VsslevalError(f"unknown --amp {amp!r}; use bf16 or leave it unset for fp32")
    if not allows_reduced_precision:
        raise VsslevalError(f"--amp bf16 is refused under --protocol {protocol}: it reproduces fp32 reference "
                            "numbers, which bf16 maps do not; drop --amp (fp32) or use --protocol vssleval")
    ok, why = bf16_support(device, flags)
    if not ok:
        raise VsslevalError(f"--amp bf16 on {device}: {why}; drop --amp to run in fp32")
    return True


def autocast(device: torch.device, amp: str | None):
    """Mixed precision for ``--amp bf16`` (validated by :func:`check_amp` first); fp32 otherwise.

    fp32 is the default because parity with the official heatmaps is checked at 1e-4.
    """
    if amp in FP32:
        return contextlib.nullcontext()
    return bf16_autocast(device)


def bf16_autocast(device: torch.device):
    """bf16 autocast on ``device`` without the capability check (benchmarks that measure the
    emulated path too)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


# ----------------------------------------------------------------------------- forward size
#: Most inputs one audio forward gets on a CPU. Activation memory grows with them (SSL-TIE's audio
#: ResNet-18 on a 257 x 670 mel holds about 25 MB per input at its widest layers: 0.8 GB for 32),
#: while throughput is flat from 8 inputs up (docs/performance.md §6); and 16-input forwards gave
#: the values of 32-input ones, bit for bit, where fewer did not (oneDNN picks other kernels).
CPU_FORWARD_ROWS = 16


def forward_rows(device: torch.device, batch_size: int) -> int:
    """Inputs per audio forward: the batch on a GPU, at most :data:`CPU_FORWARD_ROWS` on a CPU."""
    return max(1, min(batch_size, CPU_FORWARD_ROWS)) if device.type == "cpu" else batch_size


# ----------------------------------------------------------------------------- copies
def pin_memory(device: torch.device) -> bool:
    """Whether DataLoaders should pin host memory: only for CUDA, where page-locked buffers let
    the copy to the GPU run asynchronously; pinning for the CPU only costs a copy."""
    return device.type == "cuda"


def to_device(x: torch.Tensor, device: torch.device, channels_last: bool = False) -> torch.Tensor:
    """Move a batch of model inputs to ``device`` (non-blocking: with pinned memory the copy
    overlaps the GPU's work; a CPU tensor is returned as is), 4-D inputs in NHWC when
    ``channels_last``."""
    x = x.to(device, non_blocking=device.type == "cuda")
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.dim() == 4 else x


def uses_channels_last(device: torch.device) -> bool:
    """NHWC convolutions: about 30 % faster for these ResNets on CPU and the layout cuDNN prefers;
    MPS keeps NCHW."""
    return device.type in ("cpu", "cuda")


# ----------------------------------------------------------------------------- distributed
def dist_backend(device: torch.device) -> str:
    """``torch.distributed`` backend for ``device``: NCCL between GPUs, gloo otherwise."""
    return "nccl" if device.type == "cuda" else "gloo"
