"""The trainer's data path on the device: uint8 images to normalised input (:func:`to_input`), and
the augmentation -- random crop, flip and rotation as batched tensor ops (:func:`augment`)."""
from __future__ import annotations

import torch

from .data import CIFAR10_MEAN, CIFAR10_STD
from .recipes import PAD_MODES


def to_input(x: torch.Tensor, device=None, mean=CIFAR10_MEAN, std=CIFAR10_STD) -> torch.Tensor:
    """uint8 images (N, 3, H, W) -> normalised float32, channels_last, on ``device``.

    ``mean``/``std``: per-channel statistics in 0..255 units (a Split's ``.mean``/``.std``; CIFAR-10's
    by default).  Float tensors are taken as already normalised and only moved.
    """
    device = torch.device(device) if device is not None else x.device
    x = x.to(device, non_blocking=True)
    if x.dtype == torch.uint8:
        mean = torch.tensor(mean, device=device).view(1, 3, 1, 1)
        std = torch.tensor(std, device=device).view(1, 3, 1, 1)
        x = (x.float() - mean) / std
    return x.contiguous(memory_format=torch.channels_last)


def augment(x: torch.Tensor, pad: int, flip: bool, generator: torch.Generator | None = None, *,
            pad_mode: str = "zeros", rotate_deg: float = 0.0) -> torch.Tensor:
    """Random crop, flip and (optionally) rotation of a batch, in that order; returns x's dtype.

    crop: pad ``pad`` px (``pad_mode`` "zeros", or "reflect" = torchvision's ``padding_mode=
    "reflect"``, edge not repeated) and crop back at a uniform offset: a translation by up to
    ``pad`` px.  flip: each image mirrored with probability 1/2.  rotation: each image by its own
    uniform angle in [-rotate_deg, rotate_deg) degrees, see :func:`rotate`.
    Works on uint8 or float (N, C, H, W) on any device; random numbers come from ``generator``.
    With pad_mode="zeros" and rotate_deg=0 this is bit-identical to the original crop + flip
    (same ops, same random numbers drawn): the fast recipe trains exactly as before.
    """
    n, c, h, w = x.shape
    dev = x.device
    gdev = generator.device if generator else "cpu"
    if pad:
        off = torch.randint(0, 2 * pad + 1, (2, n), generator=generator, device=gdev).to(dev)
        rows = (off[0][:, None] + torch.arange(h, device=dev))[:, None, :, None]
        cols = (off[1][:, None] + torch.arange(w, device=dev))[:, None, None, :]
        if pad_mode == "reflect":
            if pad >= min(h, w):
                raise ValueError(f"reflect padding needs pad < image size; got pad={pad} for {h}x{w}")
            # gather straight from x at reflected indices: -k -> k, (h-1)+k -> (h-1)-k
            src, rows, cols = x, _reflect(rows - pad, h), _reflect(cols - pad, w)
        elif pad_mode == "zeros":
            src = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        else:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}; got {pad_mode!r}")
        x = src[torch.arange(n, device=dev)[:, None, None, None], torch.arange(c, device=dev)[None, :, None, None], rows, cols]
    if flip:
        f = torch.rand(n, generator=generator, device=gdev).to(dev) < 0.5
        x = torch.where(f[:, None, None, None], x.flip(3), x)
    if rotate_deg:  # 0: no op and no random numbers drawn
        angles = (torch.rand(n, generator=generator, device=gdev).to(dev) * 2 - 1) * float(rotate_deg)
        x = rotate(x, angles)
    return x


def _reflect(i: torch.Tensor, size: int) -> torch.Tensor:
    i = i.abs()
    return torch.where(i > size - 1, 2 * (size - 1) - i, i)


def rotate(x: torch.Tensor, degrees) -> torch.Tensor:
    """Rotate each image of (N, C, H, W) ``x`` about its centre by ``degrees`` (float or (N,)), batched.

    Counter-clockwise for positive angles, nearest neighbour, zero fill, same size: the geometry of
    ``torchvision.transforms.functional.rotate(img, a, InterpolationMode.NEAREST)`` (its inverse
    affine map on pixel centres, ``align_corners=False``), as one affine_grid + grid_sample.
    uint8 is sampled in float32 (nearest copies values, so nothing is lost) and returned as uint8.
    """
    n, _, h, w = x.shape
    work = x if x.dtype in (torch.float32, torch.float64) else x.float()
    a = torch.deg2rad(torch.as_tensor(degrees, dtype=work.dtype, device=x.device).expand(n))
    cos, sin = a.cos(), a.sin()
    zero = torch.zeros_like(a)
    # output pixel (x right, y down, centred) -> input: (cos x - sin y, sin x + cos y), here in
    # grid_sample's normalised coordinates (x / (w/2), y / (h/2)).
    theta = torch.stack([torch.stack([cos, -sin * (h / w), zero], 1),
                         torch.stack([sin * (w / h), cos, zero], 1)], 1)
    grid = torch.nn.functional.affine_grid(theta, list(work.shape), align_corners=False)
    out = torch.nn.functional.grid_sample(work, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    if not x.dtype.is_floating_point:
        out = out.round()
    return out.to(x.dtype)
