"""Image transforms of the reference pipelines, reproduced without torchvision transforms or OpenCV.

All functions are pure: PIL image / uint8 array / float tensor in, same kind out. The tensor outputs
are ``[3, H, W]`` float32 in ImageNet-normalised units.

* ``to_tensor``: uint8 ``[H, W, 3]`` -> float32 ``[3, H, W]`` in [0, 1] (``/255`` as ToTensor).
* ``resize_tensor_bicubic``: torchvision tensor ``Resize`` = ``F.interpolate(bicubic,
  align_corners=False)`` with the -0.75 kernel, no clamping; ``antialias=False`` reproduces
  torchvision <= 0.16 (docs/models.md §4.2).
* ``resize_pil`` / ``resize_pil_shorter`` / ``center_crop_pil``: PIL resizes (always antialiased)
  and torchvision's CenterCrop offsets ``int(round((H - h) / 2))``.
* ``resize_cv2_cubic``: OpenCV ``cv2.resize(..., INTER_CUBIC)`` on uint8 images (replicate border,
  no antialias), reimplemented in numpy because SACL's frames went through it before the PIL
  resize; PIL's bicubic is *not* equivalent (it antialiases when shrinking).

Facts behind each transform: docs/models.md §4.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)



def to_tensor(img) -> torch.Tensor:
    """PIL image or uint8 ``[H, W, 3]`` array -> float32 ``[3, H, W]`` in [0, 1]."""
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return torch.from_numpy(np.array(arr, copy=True)).permute(2, 0, 1).contiguous().to(torch.float32).div(255)


def normalize(t: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """``(t - mean) / std`` per channel (``[..., 3, H, W]``), float32 ops in torchvision's order."""
    m = torch.as_tensor(mean, dtype=t.dtype, device=t.device).view(-1, 1, 1)
    s = torch.as_tensor(std, dtype=t.dtype, device=t.device).view(-1, 1, 1)
    return (t - m) / s


def resize_tensor_bicubic(t: torch.Tensor, size: tuple[int, int], antialias: bool = False) -> torch.Tensor:
    """Bicubic resize of ``[3, H, W]`` (or ``[B, 3, H, W]``) float tensors to ``size = (h, w)``."""
    batched = t.dim() == 4
    x = t if batched else t.unsqueeze(0)
    y = F.interpolate(x, size=tuple(size), mode="bicubic", align_corners=False, antialias=antialias)
    return y if batched else y[0]


def resize_pil(img, size: tuple[int, int]):
    """PIL bicubic resize to ``size = (h, w)`` (torchvision ``Resize((h, w), BICUBIC)`` on PIL)."""
    from PIL import Image

    h, w = size
    return img.resize((w, h), Image.BICUBIC)


def resize_pil_shorter(img, short: int):
    """torchvision ``Resize(short, BICUBIC)`` on PIL: shorter side -> ``short``, long side truncated."""
    w, h = img.size
    if w <= h:
        new_w, new_h = short, int(short * h / w)
    else:
        new_w, new_h = int(short * w / h), short
    return resize_pil(img, (new_h, new_w))


def center_crop_pil(img, size: int):
    """torchvision ``CenterCrop(size)`` on PIL (zero padding first when the image is smaller)."""
    from PIL import Image

    w, h = img.size
    if w < size or h < size:
        pad_l, pad_t = (max(size - w, 0)) // 2, (max(size - h, 0)) // 2
        canvas = Image.new(img.mode, (max(w, size), max(h, size)), 0)
        canvas.paste(img, (pad_l, pad_t))
        img, (w, h) = canvas, canvas.size
    top = int(round((h - size) / 2.0))
    left = int(round((w - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def _cubic_taps(dst: int, src: int) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's cubic taps: source indices ``[dst, 4]`` (replicate-clamped), float32 weights ``[dst, 4]``.

    Source position ``(d + 0.5) * (src/dst) - 0.5`` rounded to float32 as OpenCV does, Keys kernel with
    A = -0.75 evaluated in float32, last weight ``1 - (w0 + w1 + w2)``.
    """
    scale = 1.0 / (float(dst) / float(src))  # OpenCV: scale = 1 / inv_scale, both double
    pos = ((np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    base = np.floor(pos).astype(np.int64)
    x = (pos - base.astype(np.float32)).astype(np.float32)
    a = np.float32(-0.75)
    one = np.float32(1.0)
    xp1 = x + one
    omx = one - x
    c0 = ((a * xp1 - np.float32(5) * a) * xp1 + np.float32(8) * a) * xp1 - np.float32(4) * a
    c1 = ((a + np.float32(2)) * x - (a + np.float32(3))) * x * x + one
    c2 = ((a + np.float32(2)) * omx - (a + np.float32(3))) * omx * omx + one
    c3 = one - c0 - c1 - c2
    idx = np.clip(base[:, None] + np.arange(-1, 3)[None, :], 0, src - 1)
    return idx, np.stack([c0, c1, c2, c3], axis=1).astype(np.float32)


def resize_cv2_cubic(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``cv2.resize(arr, (w, h), interpolation=INTER_CUBIC)`` for uint8 ``[H, W, C]`` images.

    OpenCV wheels route 8-bit cubic resizes through Intel IPP, which works in floating point (its
    own fixed-point path gives different roundings on ~1 % of pixels). We model IPP as: separable
    cubic with OpenCV's float32 weights, horizontal then vertical, accumulated in float64, rounded
    half-to-even and saturated. Checked against opencv-python 5.0 (IPP on) on the 43 non-256x256
    fixture frames: 3 pixel values of ~8.4 M differ, by one level each, all at exact .5 ties where
    IPP's internal rounding error decides; elsewhere identical. Same-size input is returned as a copy.

    Returns:
        uint8 ``[h, w, C]``.
    """
    if arr.dtype != np.uint8:
        raise TypeError("resize_cv2_cubic reproduces OpenCV's uint8 path only")
    h, w = size
    src_h, src_w = arr.shape[:2]
    if (src_h, src_w) == (h, w):
        return arr.copy()
    xi, xw = _cubic_taps(w, src_w)
    yi, yw = _cubic_taps(h, src_h)
    a = arr.astype(np.float64)
    rows = np.einsum("hwkc,wk->hwc", a[:, xi, :], xw.astype(np.float64))  # [src_h, w, C]
    acc = np.einsum("hkwc,hk->hwc", rows[yi, :, :], yw.astype(np.float64))  # [h, w, C]
    return np.clip(np.rint(acc), 0, 255).astype(np.uint8)
