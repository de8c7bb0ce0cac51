"""Device and precision selection."""

from __future__ import annotations

import contextlib

import torch

from vssleval.errors import VsslevalError


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
        if not torch.cuda.is_available():
            raise VsslevalError(
                f"--device {name} was requested but this PyTorch build sees no CUDA device "
                f"(torch {torch.__version__}, cuda build: {torch.version.cuda}). "
                "Use --device cpu or --device auto, or install a CUDA build of torch."
            )
        return torch.device(name)
    if name == "mps":
        if getattr(torch.backends, "mps", None) is None or not torch.backends.mps.is_available():
            raise VsslevalError("--device mps was requested but MPS is not available; use --device cpu or auto")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise VsslevalError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps")


def autocast(device: torch.device, amp: str | None):
    """Context manager for optional mixed precision (``--amp bf16``, CUDA only); fp32 otherwise.

    fp32 is the default because parity with the official heatmaps is checked at 1e-4.
    """
    if not check_amp(device, amp):
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16)


def check_amp(device: torch.device, amp: str | None) -> bool:
    """True for bf16 on CUDA, False for fp32; a :class:`VsslevalError` for anything else (checked
    before a run writes anything, so a refused ``--amp`` leaves no store behind)."""
    if amp in (None, "", "none", "fp32"):
        return False
    if amp != "bf16":
        raise VsslevalError(f"unknown --amp {amp!r}; use bf16 (CUDA only) or leave it unset for fp32")
    if device.type != "cuda":
        raise VsslevalError("--amp bf16 needs a CUDA device; on CPU the evaluation runs in fp32")
    return True
