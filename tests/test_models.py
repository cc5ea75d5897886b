"""Properties of dboost.models: shapes, the poster's exact ResNet9, the frozen head, head ops."""
import math

import pytest
import torch
import torch.nn as nn

from dboost.models import ARCHS, HEADS, InstanceNorm, build, freeze_last_layer, trainable_parameters

W = 8  # tiny widths keep the whole file fast on 2 CPU cores


def x_batch(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 32, 32, generator=g)


def linear_of(model) -> nn.Linear:
    return model.head[-1]


# ----------------------------------------------------------------------------- shapes

@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("head", ["freeze_last", "linear", "bn_linear_in", "in_linear_tanh", "tanh_linear_bn"])
def test_output_shape_and_structure(arch, head):
    kw = {"depth": 10} if arch == "wide_resnet" else {}
    m = build(arch, num_classes=7, width=W, head=head, **kw)
    x = x_batch()
    y = m(x)
    assert y.shape == (4, 7) and torch.isfinite(y).all()
    assert isinstance(m.head, nn.Sequential) and isinstance(m.head[-1], nn.Linear)
    f = m.body(x)
    assert f.shape == (4, m.num_features) and m.head[-1].in_features == m.num_features
    m.eval()  # forward == post(head(body(x))), checked without dropout/BN-batch noise
    ref = m.head(m.body(x))
    if m.post is not None:
        ref = m.post(ref)
    assert torch.equal(m(x), ref)
    assert m.config["arch"] == arch and m.config["width"] == W and m.config["num_classes"] == 7


def test_config_records_resolved_options():
    m = build("wide_resnet", width=W, depth=10, widen=2, head="linear")
    assert m.config == dict(arch="wide_resnet", width=W, head="none_linear_none", scale=10.0,
                            num_classes=10, depth=10, widen=2, dropout=0.0)
    assert build("wide_resnet", depth=10, widen=1).config["width"] == 16  # default 16 * widen
    assert build("resnet9", width=W).config["dropout"] == 0.2


def test_feature_dims():
    assert build("resnet9", width=W).num_features == 8 * W
    assert build("resnet18", width=W).num_features == 8 * W
    assert build("vgg16", width=W).num_features == 8 * W
    assert build("wide_resnet", width=W, depth=10).num_features == 4 * W


# ----------------------------------------------------------------------------- ResNet9 per spec

def test_resnet9_has_no_affine_batchnorm():
    m = build("resnet9", width=W)
    bns = [mod for mod in m.modules() if isinstance(mod, nn.modules.batchnorm._BatchNorm)]
    assert len(bns) == 2 * 8 + 1  # two per conv block, plus the head's BN1d
    assert all(not bn.affine and bn.weight is None and bn.bias is None for bn in bns)


@pytest.mark.parametrize("w", [4, 8, 12])
def test_resnet9_parameter_count(w):
    # Independent count from the spec: 8 conv blocks, 3x3 kernels with bias, nothing else learnable.
    convs = [(3, w), (w, 2 * w), (2 * w, 2 * w), (2 * w, 2 * w), (2 * w, 4 * w), (4 * w, 8 * w),
             (8 * w, 8 * w), (8 * w, 8 * w)]
    body = sum(9 * ci * co + co for ci, co in convs)
    assert body == 9 * (3 * w + 178 * w * w) + 35 * w
    m = build("resnet9", width=w, num_classes=10)
    assert sum(p.numel() for p in trainable_parameters(m)) == body  # frozen head not counted
    assert sum(p.numel() for p in m.parameters()) == body + 8 * w * 10
    m = build("resnet9", width=w, num_classes=10, head="linear")
    assert sum(p.numel() for p in trainable_parameters(m)) == body + 8 * w * 10 + 10


def test_resnet9_full_width_size():
    # The widely quoted ~6.57M parameters of the DAWNBench-style ResNet9 at width 64.
    m = build("resnet9")
    assert sum(p.numel() for p in m.parameters()) == 6_570_880


def test_resnet9_residual_and_layout():
    body = build("resnet9", width=W).body
    kinds = [type(mod).__name__ for mod in body]
    assert kinds == ["Sequential", "Sequential", "Residual", "Sequential", "Sequential", "Residual",
                     "MaxPool2d", "Flatten", "Dropout"]
    assert body[-1].p == 0.2
    res = body[2].eval()
    h = torch.randn(2, 2 * W, 16, 16)
    assert torch.allclose(res(h), h + res.f(h))
    block = body[1]
    assert [type(mod).__name__ for mod in block] == ["BatchNorm2d", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]
    assert block[1].bias is not None and block[1].kernel_size == (3, 3) and block[1].padding == (1, 1)


# ----------------------------------------------------------------------------- ResNet18 vs torchvision

def test_resnet18_matches_torchvision_at_width_64():
    tv = pytest.importorskip("torchvision")
    ref = tv.models.resnet18(num_classes=10)
    ref.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    ref.maxpool = nn.Identity()
    ref.fc = nn.Identity()
    m = build("resnet18", width=64)
    ref_sd = ref.state_dict()
    sd = m.body.state_dict()
    assert sd.keys() == ref_sd.keys()
    assert all(sd[k].shape == ref_sd[k].shape for k in sd)
    m.body.load_state_dict(ref_sd)
    m.eval(), ref.eval()
    x = x_batch(2)
    with torch.no_grad():
        assert torch.allclose(m.body(x), ref(x), atol=1e-5)


# ----------------------------------------------------------------------------- heads

@pytest.mark.parametrize("arch", ["resnet9", "vgg16"])
@pytest.mark.parametrize("scale", [1.0, 10.0, 3.5])
def test_freeze_last_is_default_init_times_scale(arch, scale):
    torch.manual_seed(123)
    m = build(arch, width=W, num_classes=10, scale=scale)
    torch.manual_seed(123)
    ref = nn.Linear(8 * W, 10, bias=False)
    lin = linear_of(m)
    assert lin.bias is None and not lin.weight.requires_grad
    assert torch.equal(lin.weight, ref.weight * scale)
    assert isinstance(m.head[0], nn.BatchNorm1d) and not m.head[0].affine and len(m.head) == 2
    assert m.post is None
    # default init bound 1/sqrt(fan_in), times scale
    assert lin.weight.abs().max() <= scale / math.sqrt(8 * W)


def test_frozen_head_survives_adam_with_weight_decay():
    torch.manual_seed(0)
    m = build("resnet9", width=W)
    w0 = linear_of(m).weight.detach().clone()
    body0 = [p.detach().clone() for p in m.body.parameters()]
    # all parameters handed over, as a careless trainer would: the frozen one has no grad
    for opt_cls in (torch.optim.Adam, torch.optim.AdamW):
        opt = opt_cls(m.parameters(), lr=1e-2, weight_decay=5e-4)
        for step in range(3):
            x, y = x_batch(8, seed=step), torch.randint(0, 10, (8,))
            opt.zero_grad()
            nn.functional.cross_entropy(m(x), y).backward()
            opt.step()
    assert torch.equal(linear_of(m).weight, w0)
    assert all(not torch.equal(p, q) for p, q in zip(m.body.parameters(), body0))


@pytest.mark.parametrize("head", [h for h in HEADS if h != "freeze_last"])
def test_trainable_heads(head):
    m = build("resnet9", width=4, head=head)
    lin = linear_of(m)
    assert lin.weight.requires_grad and lin.bias is not None and lin.bias.requires_grad
    ids = {id(p) for p in trainable_parameters(m)}
    assert id(lin.weight) in ids and id(lin.bias) in ids
    pre, post = ("none", "none") if head == "linear" else (head.split("_")[0], head.split("_")[2])
    kinds = {"bn": nn.BatchNorm1d, "in": InstanceNorm, "tanh": nn.Tanh}
    assert len(m.head) == (1 if pre == "none" else 2)
    if pre != "none":
        assert isinstance(m.head[0], kinds[pre])
    if post == "none":
        assert m.post is None
    else:
        assert isinstance(m.post, kinds[post])
    for mod in m.modules():  # no affine norm sneaks in through the head
        if isinstance(mod, nn.BatchNorm1d):
            assert not mod.affine
    x = x_batch(4)
    m(x).sum().backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0


def test_instance_norm_standardises_each_sample():
    x = torch.randn(5, 64) * torch.arange(1, 6).unsqueeze(1) + torch.arange(5).unsqueeze(1) * 3
    y = InstanceNorm()(x)
    assert torch.allclose(y.mean(dim=1), torch.zeros(5), atol=1e-5)
    assert torch.allclose(y.var(dim=1, unbiased=False), torch.ones(5), atol=1e-3)
    # per-sample: one sample's output doesn't depend on the others
    assert torch.allclose(InstanceNorm()(x[:1]), y[:1])


def test_post_tanh_bounds_logits():
    m = build("resnet9", width=4, head="bn_linear_tanh")
    assert m(x_batch(4)).abs().max() <= 1


# ----------------------------------------------------------------------------- freeze_last_layer

def test_freeze_last_layer_on_sequential():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 3))
    w0 = net[2].weight.detach().clone()
    out = freeze_last_layer(net, 4.0)
    assert out is net
    assert torch.equal(net[2].weight, w0 * 4.0)
    assert torch.equal(net[2].bias, torch.zeros(3))
    assert not net[2].weight.requires_grad and not net[2].bias.requires_grad
    assert net[0].weight.requires_grad  # only the last layer is frozen
    assert [id(p) for p in trainable_parameters(net)] == [id(net[0].weight), id(net[0].bias)]


def test_freeze_last_layer_on_built_model_with_post_op():
    m = build("resnet9", width=4, head="bn_linear_in")
    lin = linear_of(m)
    w0 = lin.weight.detach().clone()
    freeze_last_layer(m, 2.0)
    assert torch.equal(lin.weight, w0 * 2) and not lin.weight.requires_grad and not lin.bias.requires_grad


def test_freeze_last_layer_errors():
    with pytest.raises(ValueError, match="nn.Linear"):
        freeze_last_layer(nn.Sequential(nn.Linear(3, 3), nn.ReLU()), 2.0)
    with pytest.raises(ValueError, match="nn.Linear"):
        freeze_last_layer(nn.Conv2d(3, 3, 1), 2.0)
    for bad in (0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="scale"):
            freeze_last_layer(nn.Linear(3, 3), bad)


# ----------------------------------------------------------------------------- argument errors

def test_build_errors():
    with pytest.raises(ValueError, match="resnet9.*resnet18.*vgg16.*wide_resnet"):
        build("resnet50")
    with pytest.raises(ValueError, match="freeze_last"):
        build("resnet9", head="bn_linear_ln")
    for w in (0, -8, 8.0, True):
        with pytest.raises(ValueError, match="width"):
            build("resnet9", width=w)
    for c in (1, 0, -3):
        with pytest.raises(ValueError, match="num_classes"):
            build("resnet9", width=W, num_classes=c)
    for s in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="scale"):
            build("resnet9", width=W, scale=s)
    with pytest.raises(ValueError, match="6n\\+4"):
        build("wide_resnet", width=W, depth=12)
    with pytest.raises(ValueError, match="depth"):
        build("wide_resnet", width=W, depth=4)
    with pytest.raises(ValueError, match="does not take"):
        build("vgg16", width=W, depth=16)
    with pytest.raises(ValueError, match="dropout"):
        build("resnet9", width=W, dropout=1.5)


# ----------------------------------------------------------------------------- memory format / autocast

@pytest.mark.parametrize("arch", list(ARCHS))
def test_channels_last_matches_contiguous(arch):
    kw = {"depth": 10} if arch == "wide_resnet" else {}
    torch.manual_seed(0)
    m = build(arch, width=W, **kw)
    m.train()
    with torch.no_grad():  # a few batches to move BN running stats off their init
        for s in range(3):
            m(x_batch(8, seed=s))
    m.eval()
    x = x_batch(4, seed=9)
    with torch.no_grad():
        a = m(x)
        m_cl = m.to(memory_format=torch.channels_last)
        b = m_cl(x.to(memory_format=torch.channels_last))
    assert torch.allclose(a, b, atol=1e-5)


def test_bf16_autocast_runs_and_trains():
    m = build("resnet9", width=W).to(memory_format=torch.channels_last)
    x = x_batch(4).to(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = m(x)
    assert y.shape == (4, 10) and torch.isfinite(y.float()).all()
    y.float().sum().backward()
    assert linear_of(m).weight.grad is None
    assert all(p.grad is not None for p in trainable_parameters(m))
