#!/usr/bin/env python
"""Measure what ``vssleval prepare vggss`` loses to the video codecs (docs/datasets.md §10.6).

Makes the synthetic VGG-SS benchmark (``--n`` records, ``--seed``) twice as videos -- H.264 + AAC in
MP4 and H.264 + FLAC in Matroska -- prepares each with ``prepare_vggss`` and compares every prepared
frame and wav with the originals of ``synth --layout vggss`` (same n and seed). Prints, per container,
the median and maximum over records of: the frame's mean and max absolute pixel difference (0-255),
the smallest mean difference to the neighbouring frames (the picture shifted by ``SHIFT_PX``), and
the audio's RMS and max absolute difference (full scale 1). Needs PyAV (``pip install -e '.[video]'`` in the checkout).

    python scripts/measure_codec_tolerance.py --n 20
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image

from vssleval.data.prepare import prepare_vggss
from vssleval.data.synthetic import synth
from vssleval.data.synthetic.video import SHIFT_PX


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(np.int64)


def measure(originals: Path, prepared: Path) -> dict[str, list[float]]:
    """Per-record differences between the original and the prepared frames and wavs."""
    out: dict[str, list[float]] = {k: [] for k in ("frame_mean", "frame_max", "neighbour_mean", "audio_rms",
                                                   "audio_max")}
    for jpg in sorted((originals / "frames").glob("*.jpg")):
        want, got = _rgb(jpg), _rgb(prepared / "frames" / jpg.name)
        diff = np.abs(got - want)
        out["frame_mean"].append(float(diff.mean()))
        out["frame_max"].append(float(diff.max()))
        out["neighbour_mean"].append(min(float(np.abs(got - np.roll(want, s * SHIFT_PX, axis=1)).mean())
                                         for s in (-1, 1)))
        want_a, _ = sf.read(originals / "audio" / f"{jpg.stem}.wav", dtype="int16")
        got_a, _ = sf.read(prepared / "audio" / f"{jpg.stem}.wav", dtype="int16")
        d = np.abs(got_a.astype(np.float64) - want_a) / 32768
        out["audio_rms"].append(float(np.sqrt(np.mean(d ** 2))))
        out["audio_max"].append(float(d.max()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20, help="synthetic records")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        originals = synth("vggss", args.n, args.seed, tmp / "originals")
        print(f"{args.n} synthetic VGG-SS records, seed {args.seed}: median / max over records")
        print(f"{'container':22s} {'frame mean':>14s} {'frame max':>12s} {'neighbour min':>14s} "
              f"{'audio RMS':>16s} {'audio max':>12s}")
        for container, name in (("mp4", "H.264 + AAC in MP4"), ("mkv", "H.264 + FLAC in MKV")):
            videos = synth("vggss", args.n, args.seed, tmp / f"videos-{container}", as_videos=True,
                           container=container)
            summary = prepare_vggss(videos, tmp / f"data-{container}", progress=False)
            assert summary.counts["prepared"] == args.n, summary.text()
            m = measure(originals, tmp / f"data-{container}")
            cell = lambda k, f: f"{f.format(np.median(m[k]))} / {f.format(np.max(m[k]))}"  # noqa: E731
            print(f"{name:22s} {cell('frame_mean', '{:.2f}'):>14s} {cell('frame_max', '{:.0f}'):>12s} "
                  f"{min(m['neighbour_mean']):>14.2f} {cell('audio_rms', '{:.4f}'):>16s} "
                  f"{cell('audio_max', '{:.2f}'):>12s}")


if __name__ == "__main__":
    main()
