"""Builders of DESIGN.md's ``cnn`` and ``resnet`` benchmark workloads, in lamina and in PyTorch.

Each returns a ``step()`` closure: forward + backward + optimizer update on one fixed random
batch (the pattern of ``benchmarks/workloads.py``). The PyTorch builders import torch inside the
function: torch is only the yardstick, lamina itself never needs it.

"""
from __future__ import annotations

import numpy as np


def _batch(shape, classes=10, seed=0):
    r = np.random.default_rng(seed)
    return r.standard_normal(shape).astype(np.float32), r.integers(0, classes, shape[0]).astype(np.int64)


# ---------------------------------------------------------------- cnn
def cnn_lamina():
    """Conv(1->32,3,p1) ReLU MaxPool2 . Conv(32->64,3,p1) ReLU MaxPool2 . Linear(3136->128) ReLU . Linear(128->10);
    batch 64 of 1x28x28, Adam 1e-3."""
    import lamina
    from lamina import nn, optim
    from lamina.nn.layers.conv import Conv2d
    from lamina.nn.layers.pooling import MaxPool2d

    x, y = _batch((64, 1, 28, 28))
    x, y = lamina.tensor(x), lamina.tensor(y)
    model = nn.Sequential(Conv2d(1, 32, 3, padding=1), nn.ReLU(), MaxPool2d(2),
                          Conv2d(32, 64, 3, padding=1), nn.ReLU(), MaxPool2d(2),
                          nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def cnn_torch():
    import torch
    from torch import nn

    x, y = _batch((64, 1, 28, 28))
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


# ---------------------------------------------------------------- resnet
def resnet_lamina():
    """ResNet-8 on a batch of 32 3x32x32 images, SGD(lr 0.1, momentum 0.9)."""
    import lamina
    from lamina import nn, optim
    from lamina.models import resnet8

    x, y = _batch((32, 3, 32, 32))
    x, y = lamina.tensor(x), lamina.tensor(y)
    model = resnet8(num_classes=10)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def torch_resnet(depth=8, in_channels=3, num_classes=10, widths=(16, 32, 64)):
    """The same CIFAR ResNet in PyTorch, with lamina's state_dict keys (a torch reference model)."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            return torch.relu(out + (x if self.downsample is None else self.downsample(x)))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            n = (depth - 2) // 6
            self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(widths[0])
            stages, cin = [], widths[0]
            for i, w in enumerate(widths):
                blocks = [Block(cin, w, 1 if i == 0 else 2)] + [Block(w, w, 1) for _ in range(n - 1)]
                stages.append(nn.Sequential(*blocks))
                cin = w
            self.layer1, self.layer2, self.layer3 = stages
            self.fc = nn.Linear(widths[2], num_classes)

        def forward(self, x):
            x = torch.relu(self.bn1(self.conv1(x)))
            x = self.layer3(self.layer2(self.layer1(x)))
            return self.fc(x.mean((2, 3)))

    return Net()


def resnet_torch():
    import torch

    x, y = _batch((32, 3, 32, 32))
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    model = torch_resnet(8)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step
