"""Write the Kaldi fbank golden of ACL-SSL's BEATs front-end (``tests/fixtures/aclssl/kaldi_fbank.npz``).

The reference is ``torchaudio.compliance.kaldi.fbank``, the function BEATs' ``preprocess`` calls,
with BEATs' arguments (docs/models.md §17.4): ``num_mel_bins=128, sample_frequency=16000,
frame_length=25, frame_shift=10``, dither 0, on the waveform scaled by 2^15. Its input here is a
deterministic 0.5 s signal (a 440 Hz tone plus seeded Gaussian noise, rounded to PCM16), so the
test (``tests/frontends/test_kaldi_fbank.py``) can feed the same samples to vssleval's front-end.

Run in an environment with torchaudio (its pure-Python ``compliance.kaldi`` needs no codec; the
side environment of docs/models.md §18 has torchaudio 2.11.0 installed without its dependencies)::

    python scripts/reference/aclssl_fbank_golden.py --out tests/fixtures/aclssl/kaldi_fbank.npz

It prints the file's sha256; ``tests/fixtures/aclssl/SHA256SUMS`` and README.md record it.
"""

from __future__ import annotations

import argparse
import hashlib
import io
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
SECONDS = 0.5
TONE_HZ = 440.0
SEED = 0


def signal() -> np.ndarray:
    """The input: ``int16 [8000]``, 0.3 * sin(2 pi 440 t) + 0.05 * N(0, 1) (seed 0), as PCM16."""
    t = np.arange(int(SAMPLE_RATE * SECONDS)) / SAMPLE_RATE
    noise = np.random.default_rng(SEED).standard_normal(t.size)
    wave = 0.3 * np.sin(2 * np.pi * TONE_HZ * t) + 0.05 * noise
    return np.clip(np.round(wave * 32768), -32768, 32767).astype(np.int16)


def reference_fbank(pcm16: np.ndarray) -> np.ndarray:
    """torchaudio's Kaldi fbank of ``pcm16 / 32768`` scaled back by 2^15 (BEATs.preprocess), ``[T, 128]``."""
    import torch
    from torchaudio.compliance import kaldi

    wave = torch.from_numpy(pcm16.astype(np.float32) / 32768.0).unsqueeze(0) * 2 ** 15
    return kaldi.fbank(wave, num_mel_bins=128, sample_frequency=SAMPLE_RATE, frame_length=25,
                       frame_shift=10, dither=0.0).numpy().astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="the .npz to write (pcm16, fbank)")
    args = ap.parse_args(argv)
    pcm16 = signal()
    buf = io.BytesIO()
    np.savez(buf, pcm16=pcm16, fbank=reference_fbank(pcm16))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(args.out)
    print(f"{hashlib.sha256(buf.getvalue()).hexdigest()}  {args.out.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
