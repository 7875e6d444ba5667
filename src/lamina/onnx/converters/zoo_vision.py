"""ONNX converters for the vision model zoo: MLP, LeNet5, VGG, ResNet and its BasicBlock.

Each model is written the way its ``forward`` reads: ``ctx.call`` on the children (so an
unexportable layer is named by its module path, e.g. ``layer2.0.bn1``) and ``ctx.op`` for the
glue between them: the flatten before a classifier (ONNX Flatten at axis 1 keeps the batch
dynamic), the functional ReLUs and the residual additions.

    lamina.onnx.export(resnet8(in_channels=1), lamina.randn(1, 1, 8, 8), "resnet8.onnx")
"""
from __future__ import annotations

from ...models.lenet import LeNet5
from ...models.mlp import MLP
from ...models.resnet import BasicBlock, ResNet
from ...models.vgg import VGG
from ...nn import functional as F
from .._registry import register_converter


def _flatten1(ctx, x):
    """x.flatten(1): (N, C, H, W) -> (N, C*H*W), batch left dynamic."""
    return ctx.op("Flatten", x, axis=1, out=x.tensor.flatten(1))


def _relu(ctx, x):
    return ctx.op("Relu", x, out=F.relu(x.tensor))


@register_converter(MLP)
def _mlp(ctx, m, x):
    """Inputs past 2-D are flattened from dim 1, then the Linear/activation/Dropout stack."""
    if x.rank > 2:
        x = _flatten1(ctx, x)
    for name, child in m.named_children():
        x = ctx.call(child, x, name=name)
    return x


@register_converter(LeNet5, VGG)
def _features_classifier(ctx, m, x):
    """classifier(flatten(features(x)))."""
    h = ctx.call(m.features, x, name="features")
    return ctx.call(m.classifier, _flatten1(ctx, h), name="classifier")


@register_converter(BasicBlock)
def _basic_block(ctx, m, x):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))."""
    out = _relu(ctx, ctx.call(m.bn1, ctx.call(m.conv1, x, name="conv1"), name="bn1"))
    out = ctx.call(m.bn2, ctx.call(m.conv2, out, name="conv2"), name="bn2")
    identity = x if m.downsample is None else ctx.call(m.downsample, x, name="downsample")
    total = ctx.op("Add", out, identity, out=out.tensor + identity.tensor)
    return _relu(ctx, total)


@register_converter(ResNet)
def _resnet(ctx, m, x):
    """fc(pool(layer3(layer2(layer1(relu(bn1(conv1(x))))))))."""
    if x.rank != 4:
        raise ctx.error(f"ResNet on a {x.rank}-D input (it takes (N, C, H, W))")
    h = _relu(ctx, ctx.call(m.bn1, ctx.call(m.conv1, x, name="conv1"), name="bn1"))
    for name in ("layer1", "layer2", "layer3", "pool"):
        h = ctx.call(getattr(m, name), h, name=name)
    return ctx.call(m.fc, h, name="fc")
