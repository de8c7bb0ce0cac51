#!/usr/bin/env python
"""Does the model listen? cIoU of the model, of itself with the mean audio, and of the centre prior.

    python scripts/audio_ablation.py                              # synth-ezvsl on synthetic-is3
    python scripts/audio_ablation.py --checkpoint /tmp/x.pth --data-dir DIR --json out.json
"""

import argparse
import json
import sys

from vssleval.training.ablation import audio_ablation, format_ablation


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="synth-ezvsl")
    p.add_argument("--checkpoint", help="default: the shipped checkpoint")
    p.add_argument("--dataset", default="synthetic-is3")
    p.add_argument("--data-dir", help="default: the embedded test split")
    p.add_argument("--preset", default="juanola2025", choices=["native", "juanola2025"])
    p.add_argument("--limit", type=int)
    p.add_argument("--json", help="also write the numbers to this file")
    a = p.parse_args(argv)
    res = audio_ablation(a.model, a.checkpoint, a.dataset, a.data_dir, a.preset, a.limit)
    print(format_ablation(res))
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:
            json.dump(res, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
