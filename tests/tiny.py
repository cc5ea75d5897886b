"""Tiny models, images and data folders that the training, augmentation, boosting, data and runner tests share."""
import numpy as np
import torch
import torch.nn as nn

# The data README's per-channel statistics, written out here rather than imported.
MEAN = torch.tensor([125.3069, 122.9504, 113.8654]).view(1, 3, 1, 1)
STD = torch.tensor([62.9932, 62.0887, 66.7049]).view(1, 3, 1, 1)


def tiny_conv(seed=0, classes=10, dropout=0.0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Dropout(dropout), nn.Linear(64, classes))


def id_images(n):
    """Image i has every pixel = i + 1 (so crops and flips keep the centre = the id)."""
    assert n < 255
    v = (torch.arange(n) + 1).to(torch.uint8)
    return v.view(n, 1, 1, 1).expand(n, 3, 32, 32).contiguous()


FAST = dict(recipe="fast", batch_size=50, lr=2e-2, progress=False)  # a tiny net learns the synthetic set in epochs


def warm_bn(model, x):
    """A few train-mode passes, so BatchNorm's running statistics are not the initial ones."""
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(x)


def tiny_linear(seed=0, c=10):
    """A linear classifier of 32x32 RGB images: the smallest model the metrics take."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, c))


def fake_npy(d, n_train=200, n_test=50, labels=None):
    """A CIFAR-10 folder in the .npy layout (random uint8 images) at ``d``; ``labels`` the train labels."""
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.save(d / "train_x_00.npy", rng.integers(0, 256, (n_train, 32, 32, 3), dtype=np.uint8))
    np.save(d / "train_y.npy", rng.integers(0, 10, n_train) if labels is None else labels)
    np.save(d / "test_x.npy", rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8))
    np.save(d / "test_y.npy", rng.integers(0, 10, n_test))
    return d
