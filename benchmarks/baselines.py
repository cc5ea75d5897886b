"""Reference training loops that dboost's trainer is measured against (benchmarks only).

* ``plain_epoch``: the plain PyTorch way -- a Dataset applying torchvision transforms to one
  PIL-free uint8 tensor at a time, a DataLoader, the same model, loss and optimiser.  This is
  the *strong* plain loop (transforms v2 on tensors); the targets are measured against it.
* ``plain_epoch(..., pil=True)``: the textbook loop most CIFAR-10 code still uses --
  ``torchvision.datasets.CIFAR10``'s per-item ``PIL.Image.fromarray`` and the classic
  ``RandomCrop / RandomHorizontalFlip / ToTensor / Normalize`` -- reported beside it.
* ``ceiling_epoch``: forward + backward + optimiser step on pre-made, pre-normalised tensors
  already on the device (no data work at all): the most a trainer could reach.
"""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from dboost.data import CIFAR10_MEAN, CIFAR10_STD


class PerSampleCIFAR(Dataset):
    """uint8 (N, 3, 32, 32) images through per-sample torchvision transforms."""

    def __init__(self, x, y):
        import torchvision.transforms.v2 as T
        self.x, self.y = x, y
        self.tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToDtype(torch.float32, scale=False),
                             T.Normalize(CIFAR10_MEAN, CIFAR10_STD)])

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.tf(self.x[i]), self.y[i]


class PerSamplePIL(Dataset):
    """What ``torchvision.datasets.CIFAR10(transform=...)`` does per item: HWC uint8 -> PIL -> transforms."""

    def __init__(self, x, y):
        import torchvision.transforms as T
        self.x, self.y = x.permute(0, 2, 3, 1).contiguous().numpy(), y  # CIFAR10.data is (N, 32, 32, 3) uint8
        # ToTensor scales to [0, 1], so the 0..255 statistics are scaled with it
        self.tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                             T.Normalize([m / 255 for m in CIFAR10_MEAN], [s / 255 for s in CIFAR10_STD])])

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        from PIL import Image
        return self.tf(Image.fromarray(self.x[i])), self.y[i]


def _opt(model):
    return torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3.2e-3, weight_decay=1e-3)


def plain_epoch(model, split, batch_size=500, device="cpu", workers=0, max_steps=None, pil=False) -> float:
    """Seconds for one epoch (or ``max_steps`` batches) of the plain DataLoader loop."""
    dl = DataLoader((PerSamplePIL if pil else PerSampleCIFAR)(split.x, split.y), batch_size=batch_size, shuffle=True, drop_last=True,
                    num_workers=workers, pin_memory=device != "cpu", persistent_workers=False)
    model.to(device).train()
    opt = _opt(model)
    amp = str(device).startswith("cuda")
    _sync(device)
    t0 = time.perf_counter()
    for s, (xb, yb) in enumerate(dl):
        if max_steps is not None and s >= max_steps:
            break
        xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(model(xb).float(), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    _sync(device)
    return time.perf_counter() - t0


def ceiling_epoch(model, n, batch_size=500, device="cpu", channels_last=True) -> float:
    """Seconds for n // batch_size steps of bare forward + backward + step on ready tensors."""
    model.to(device).train()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    opt = _opt(model)
    amp = str(device).startswith("cuda")
    xb = torch.randn(batch_size, 3, 32, 32, device=device)
    if channels_last:
        xb = xb.contiguous(memory_format=torch.channels_last)
    yb = torch.randint(0, 10, (batch_size,), device=device)
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(n // batch_size):
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(model(xb).float(), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    _sync(device)
    return time.perf_counter() - t0


def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
