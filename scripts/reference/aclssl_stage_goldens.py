"""Per-stage goldens of ACL-SSL's official test path, for tests/models/test_aclssl_parity.py.

Runs the official modules of ``swimmiing/ACL-SSL`` @ 57f4a6c (``--official``: a checkout of it;
nothing of it is copied here) under transformers 4.25.1, on two clips of the committed fixture data
(``tests/fixtures/data/vggss``), with the substitute weights of the weight rule written to
``--weights`` (``scripts/reference/aclssl_weights.py --out DIR``), and stores compact slices of every
stage: image tensor, fbank, ViT hidden states (layers 4, 7, 10), BEATs layers 4/8/12, the FGA audio
token, the audio-driven embedding, the decoder logits and the 224 heatmap.

It calls the official pieces the way ``modules/models.py`` (``encode_audio``, ``forward_decoder``) and
``modules/mask_utils.py`` (``ImageMasker`` in eval mode) chain them. Departures from the official
harness, each because of the side environment, none touching the numbers:

* ``torchaudio.load`` -> ``soundfile.read(dtype='float32')`` (PCM16 / 32768, what torchaudio returns
  for these files; torchaudio 2.11 reads wavs only through torchcodec);
* the tokenizer call -> the prompt's ids ``[49406, 320, 1125, 539, 49407] + [0] * 72`` (no vocab files
  offline);
* ``CLIPSeg.from_pretrained("CIDAS/clipseg-rd64-refined")`` -> the local folder ``--weights``;
* CPU, batch 2 (the official loop runs batch 1; every stage is per sample).

Usage (in an environment with torch, torchvision, torchaudio, transformers==4.25.1, soundfile)::

    python scripts/reference/aclssl_weights.py --out /tmp/w
    python scripts/reference/aclssl_stage_goldens.py --official ACL-SSL --weights /tmp/w \\
        --out tests/fixtures/aclssl/stages.npz
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
CLIPS = ("1ok669VsUVo_000117", "5wJvhuxL3of_000287")  # a 10 s clip and a 4.5 s one (zero-padded)
DATA = ROOT / "tests" / "fixtures" / "data" / "vggss"
#: what of each stage is kept (the tests compare the same slices)
VIT_TOKENS = [0, 1, 100, 242, 484]
BEATS_TOKENS = [0, 7, 248, 495]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--official", type=Path, required=True, help="checkout of swimmiing/ACL-SSL @ 57f4a6c")
    ap.add_argument("--weights", type=Path, required=True, help="folder written by aclssl_weights.py --out")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    sys.path.insert(0, str(a.official))
    import soundfile as sf
    import torch.nn.functional as F
    from PIL import Image
    from torchvision import transforms

    from modules.AudioToken.embedder import FGAEmbedder
    from modules.BEATs.BEATs import BEATs, BEATsConfig
    from modules.CLIPSeg.clipseg_for_audio import CLIPSeg
    from modules.mask_utils import ImageMasker

    tf = transforms.Compose([   # VGGSS_Dataset's test transform at input_resolution 352
        transforms.Resize((352, 352), interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.ToTensor(),
        transforms.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))])
    images = torch.stack([tf(Image.open(DATA / "frames" / f"{c}.jpg")) for c in CLIPS])
    waves = []
    for c in CLIPS:  # VGGSS_Dataset: first 10 s, zeros appended
        x = torch.from_numpy(sf.read(DATA / "audio" / f"{c}.wav", dtype="float32")[0])
        waves.append(x[:160000] if len(x) >= 160000 else torch.cat([x, torch.zeros(160000 - len(x))]))
    waves = torch.stack(waves)

    w = a.weights
    ck = torch.load(w / "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt", map_location="cpu", weights_only=False)
    beats = BEATs(BEATsConfig(ck["cfg"]))
    beats.load_state_dict(ck["model"])
    beats.predictor = None
    param = torch.load(w / "Param_best.pth", map_location="cpu")
    proj = FGAEmbedder(input_size=768 * 3, output_size=512)
    proj.load_state_dict(param["audio_proj"])
    masker = ImageMasker(10.0, 14.0, 1.0)
    masker.load_state_dict(param["masker_i"])
    clipseg = CLIPSeg.from_pretrained(str(w / "clipseg-rd64-refined"))
    for m in (beats, proj, masker, clipseg):
        m.eval()
    ids = torch.tensor([[49406, 320, 1125, 539, 49407] + [0] * 72]).repeat(len(CLIPS), 1)
    with torch.no_grad():
        fbank = beats.preprocess(waves)
        feats = beats.extract_features(waves)[1]
        token = proj(feats).unsqueeze(1)
        emb = clipseg.encode_audio(ids, token, 4, 5 + token.shape[1])
        vo = clipseg.clip.vision_model(pixel_values=images, output_hidden_states=True, return_dict=True)
        acts = [vo.hidden_states[i + 1] for i in clipseg.extract_layers]
        logits = clipseg.decoder(acts, emb, return_dict=True).logits
        logits = logits.reshape(len(CLIPS), 1, 352, 352)
        heat = masker(F.interpolate(logits, 224, mode="bicubic"), infer=True)
    vit = torch.stack(acts, 1)
    np.savez_compressed(
        a.out, clips=np.array(CLIPS), image=images[:, :, ::16, ::16].numpy(), fbank=fbank[:, ::25].numpy(),
        vit=vit[:, :, VIT_TOKENS].numpy(), vit_tokens=np.array(VIT_TOKENS), beats=feats[:, BEATS_TOKENS].numpy(),
        beats_tokens=np.array(BEATS_TOKENS), token=token[:, 0].numpy(), embedding=emb.numpy(),
        logits=logits[:, 0, ::4, ::4].numpy(), heatmap=heat[:, 0].numpy(),
        masker=np.array([float(masker.w), float(masker.b)]))
    print(f"wrote {a.out}: heatmap range {heat.min().item():.4f}..{heat.max().item():.4f}, "
          f"logits {logits.min().item():.3f}..{logits.max().item():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
