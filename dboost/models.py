"""CIFAR-sized networks with a swappable classifier head.

Every model built here is a ``Classifier``::

    logits = post(head(body(x)))

* ``body``  maps a normalised (N, 3, 32, 32) image batch to (N, D) features;
* ``head``  is an ``nn.Sequential`` whose LAST module is the ``nn.Linear`` classifier
  (so ``freeze_last_layer`` and anyone reading ``model.head[-1]`` find it);
* ``post``  is an optional op on the logits (``None`` unless a ``*_linear_{bn,in,tanh}``
  head asks for one).  It lives outside ``head`` so the head always *ends* in the Linear.

The poster's head is ``"freeze_last"``: BatchNorm1d(D, affine=False) followed by a Linear
(no bias) frozen at its default PyTorch init times ``scale`` (= 10 in
``ResNet9_freeze_last_10norm``).  Why frozen: with a trainable last layer the network can
grow the logit scale without bound, and a constant gap in the discounted loss becomes
meaningless (thesis Lemma 1).  The affine-free BN pins the feature scale, the frozen W pins
the logit scale, so margins (and gaps) stay comparable across members.

The head is constructed *before* the body, so the frozen classifier depends only on the
seed and (D, C): after ``torch.manual_seed(s)``, ``model.head[-1].weight`` equals
``nn.Linear(D, C, bias=False).weight * scale`` built right after the same seed.

Other heads are ``"{pre}_linear_{post}"`` with pre, post in {bn, in, tanh, none} and a
trainable Linear(D, C, bias=True) (the "frozen last layer" figure's variants); ``"linear"``
is an alias of ``"none_linear_none"``, a plain trainable classifier.
"""
from __future__ import annotations

import math
import numbers

import torch
import torch.nn as nn
import torch.nn.functional as F

# ----------------------------------------------------------------------------- heads

_OPS = ("bn", "in", "tanh", "none")
HEADS = ("freeze_last", "linear") + tuple(f"{a}_linear_{b}" for a in _OPS for b in _OPS)


class InstanceNorm(nn.Module):
    """Per-sample standardisation over the feature dim, no affine ("IN" in the poster).

    For a (N, D) tensor, nn.InstanceNorm1d would normalise each *feature* over a length
    axis that does not exist; what the authors mean is zero mean / unit (biased) variance
    across the D entries of each sample, which is exactly an affine-free layer norm.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, x.shape[-1:])


def _op(kind: str, dim: int) -> nn.Module | None:
    # BN is affine-free everywhere: a learnable gain would undo the scale pinning.
    return {"bn": lambda: nn.BatchNorm1d(dim, affine=False), "in": InstanceNorm,
            "tanh": nn.Tanh, "none": lambda: None}[kind]()


def _canonical_head(head) -> str:
    if not isinstance(head, str) or head not in HEADS:
        raise ValueError(f"unknown head {head!r}; known heads: {', '.join(HEADS)}")
    return "none_linear_none" if head == "linear" else head


def _build_head(head: str, dim: int, num_classes: int, scale: float):
    """Return (head Sequential ending in Linear, post-op or None)."""
    if head == "freeze_last":
        seq = nn.Sequential(nn.BatchNorm1d(dim, affine=False), nn.Linear(dim, num_classes, bias=False))
        return freeze_last_layer(seq, scale), None
    pre, _, post = head.split("_")
    layers = [m for m in (_op(pre, dim),) if m is not None]
    seq = nn.Sequential(*layers, nn.Linear(dim, num_classes, bias=True))
    return seq, _op(post, num_classes)


def _check_scale(scale) -> float:
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a finite number > 0; got {scale!r}")
    return float(scale)


def freeze_last_layer(model: nn.Module, scale: float = 1.0) -> nn.Module:
    """Scale the model's final Linear by ``scale`` and freeze it (in place); return the model.

    The final Linear is ``model.head[-1]`` for a model with a Sequential ``head`` ending in a
    Linear (every model from ``build``, even one with a post-op on the logits); otherwise it
    is the last leaf of ``model.modules()``, which must be an ``nn.Linear``.  A bias, if
    present, is zeroed and frozen too: a frozen random offset per class would only bias the
    margins.  Calling this twice multiplies by ``scale`` twice.
    """
    scale = _check_scale(scale)
    head = getattr(model, "head", None)
    if isinstance(head, nn.Sequential) and len(head) and isinstance(head[-1], nn.Linear):
        last = head[-1]
    else:
        leaves = [m for m in model.modules() if not list(m.children())]
        last = leaves[-1] if leaves else None
        if not isinstance(last, nn.Linear):
            raise ValueError(f"freeze_last_layer needs a model whose last module is nn.Linear; "
                             f"got {type(last).__name__}")
    with torch.no_grad():
        last.weight.mul_(scale)
        if last.bias is not None:
            last.bias.zero_()
    for p in last.parameters():
        p.requires_grad_(False)
    return model


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Parameters with requires_grad (what to hand the optimizer; skips the frozen head)."""
    return [p for p in model.parameters() if p.requires_grad]


class Classifier(nn.Module):
    """forward(x) = post(head(body(x))); see the module docstring."""

    def __init__(self, body: nn.Module, head: nn.Sequential, post: nn.Module | None, num_features: int):
        super().__init__()
        # Registration order matters: with no post-op the head's Linear is the last leaf
        # of modules(), so generic "last layer" code sees the classifier.
        self.body = body
        self.head = head
        self.post = post
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.head(self.body(x))
        return z if self.post is None else self.post(z)


# ----------------------------------------------------------------------------- ResNet9

def _block(c_in: int, c_out: int, pool: bool = False) -> nn.Sequential:
    # The spec's block: BN on the *input* as well as after the conv, both affine-free.
    layers = [nn.BatchNorm2d(c_in, affine=False), nn.Conv2d(c_in, c_out, 3, padding=1, bias=True),
              nn.BatchNorm2d(c_out, affine=False), nn.ReLU(inplace=True)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class Residual(nn.Module):
    def __init__(self, *layers: nn.Module):
        super().__init__()
        self.f = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.f(x)


def _resnet9(w: int, dropout: float = 0.2):
    body = nn.Sequential(
        _block(3, w),                                      # 32x32
        _block(w, 2 * w, pool=True),                       # 16x16
        Residual(_block(2 * w, 2 * w), _block(2 * w, 2 * w)),
        _block(2 * w, 4 * w, pool=True),                   # 8x8
        _block(4 * w, 8 * w, pool=True),                   # 4x4
        Residual(_block(8 * w, 8 * w), _block(8 * w, 8 * w)),
        nn.MaxPool2d(4), nn.Flatten(), nn.Dropout(dropout),
    )
    return body, 8 * w


# ----------------------------------------------------------------------------- ResNet18

class BasicBlock(nn.Module):
    """torchvision's BasicBlock (same attribute names, so state_dicts are interchangeable)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet18Body(nn.Module):
    """torchvision resnet18 minus fc, adapted to 32x32 (3x3 stride-1 stem, no maxpool).

    At width 64 its state_dict keys and shapes match torchvision's (``fc`` excluded), with
    widths (w, 2w, 4w, 8w) per stage in general.
    """

    def __init__(self, w: int):
        super().__init__()
        self.conv1 = nn.Conv2d(3, w, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity()  # a 32x32 input is too small to pool before stage 1
        c = w
        for i, (mult, stride) in enumerate([(1, 1), (2, 2), (4, 2), (8, 2)], start=1):
            setattr(self, f"layer{i}", nn.Sequential(BasicBlock(c, mult * w, stride), BasicBlock(mult * w, mult * w)))
            c = mult * w
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        # torchvision's init, so width 64 starts from the same distribution.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)


def _resnet18(w: int):
    return ResNet18Body(w), 8 * w


# ----------------------------------------------------------------------------- VGG16

VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def _vgg16(w: int):
    layers, c = [], 3
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            c_out = v * w // 64  # every entry is a multiple of 64, so this is exact
            # no conv bias: the BN right after it has its own shift
            layers += [nn.Conv2d(c, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            c = c_out
    layers.append(nn.Flatten())  # five 2x2 pools: 32x32 -> 1x1, so D = 8w
    return nn.Sequential(*layers), c


# ----------------------------------------------------------------------------- WideResNet

class WideBlock(nn.Module):
    """Pre-activation basic block (Zagoruyko & Komodakis): BN-ReLU-conv-BN-ReLU-(dropout)-conv.

    When the shape changes, the 1x1 shortcut sees the *pre-activated* input, as in the
    reference implementation.
    """

    def __init__(self, c_in: int, c_out: int, stride: int, dropout: float):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Conv2d(c_in, c_out, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = F.relu(self.bn1(x))
        out = self.conv1(a)
        out = self.conv2(self.dropout(F.relu(self.bn2(out))))
        return out + (x if self.shortcut is None else self.shortcut(a))


def _wide_resnet(w: int, depth: int = 16, widen: int = 4, dropout: float = 0.0):
    # depth/widen are validated in build(); here w is the first group's width (16*widen by default).
    n = (depth - 4) // 6
    layers, c = [nn.Conv2d(3, 16, 3, 1, 1, bias=False)], 16  # the 16-channel stem of the paper
    for mult, stride in [(1, 1), (2, 2), (4, 2)]:
        for i in range(n):
            layers.append(WideBlock(c, mult * w, stride if i == 0 else 1, dropout))
            c = mult * w
    layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    body = nn.Sequential(*layers)
    for m in body.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return body, c


# ----------------------------------------------------------------------------- build

# name: (body factory, default width, extra options with defaults, description)
ARCHS = {
    "resnet9": (_resnet9, 64, {"dropout": 0.2},
                "the poster's ResNet9 (affine-free BN, conv bias), D = 8*width"),
    "resnet18": (_resnet18, 64, {},
                 "torchvision resnet18 for 32x32 (3x3 stem, no maxpool), stage widths w..8w, D = 8*width"),
    "vgg16": (_vgg16, 64, {},
              "CIFAR VGG16-BN, channels scaled by width/64, D = 8*width"),
    "wide_resnet": (_wide_resnet, None, {"depth": 16, "widen": 4, "dropout": 0.0},
                    "pre-activation WRN-depth-widen (depth = 6n+4); width = first group width, "
                    "default 16*widen (an explicit width overrides widen); D = 4*width"),
}


def _check_int(name: str, v, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}; got {v!r}")
    return int(v)


def build(name: str, num_classes: int = 10, width: int | None = None, head: str = "freeze_last",
          scale: float = 10.0, **kw) -> Classifier:
    """Build ``name`` with ``head``; the default is the poster's ResNet9_freeze_last_10norm.

    ``width`` is the first-stage channel count (None: the architecture's default, see
    ``ARCHS``).  ``scale`` multiplies the frozen head's init (only used by "freeze_last").
    Extra options (``kw``): resnet9 ``dropout`` (0.2, before the head); wide_resnet ``depth``
    (16), ``widen`` (4), ``dropout`` (0.0).  The resolved settings are in ``model.config``.
    """
    if not isinstance(name, str) or name not in ARCHS:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(ARCHS)}")
    factory, default_width, options, _ = ARCHS[name]
    head = _canonical_head(head)
    num_classes = _check_int("num_classes", num_classes, 2)
    scale = _check_scale(scale)
    unknown = set(kw) - set(options)
    if unknown:
        raise ValueError(f"{name} does not take {sorted(unknown)}; its options: {sorted(options) or 'none'}")
    opts = {**options, **kw}
    if "dropout" in opts:
        d = opts["dropout"]
        if isinstance(d, bool) or not isinstance(d, numbers.Real) or not 0 <= d < 1:
            raise ValueError(f"dropout must be in [0, 1); got {d!r}")
    if name == "wide_resnet":
        opts["depth"] = _check_int("depth", opts["depth"], 10)
        opts["widen"] = _check_int("widen", opts["widen"], 1)
        if (opts["depth"] - 4) % 6:
            raise ValueError(f"wide_resnet depth must be 6n+4 (10, 16, 22, 28, ...); got {opts['depth']}")
        default_width = 16 * opts["widen"]
    width = default_width if width is None else _check_int("width", width, 1)

    # Feature dim per architecture, known before the body exists (see module docstring).
    dim = {"resnet9": 8, "resnet18": 8, "vgg16": 8, "wide_resnet": 4}[name] * width
    head_seq, post = _build_head(head, dim, num_classes, scale)
    body, body_dim = factory(width, **opts)
    assert body_dim == dim, (name, body_dim, dim)

    model = Classifier(body, head_seq, post, dim)
    model.config = dict(arch=name, width=width, head=head, scale=scale, num_classes=num_classes, **opts)
    return model
