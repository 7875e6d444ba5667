"""ONNX export of the vision model zoo: every vision model in lamina.models.list_models(), built small,
checked against lamina at two batch sizes on random inputs and on real 8x8 digits images.

``VISION_CASES`` (name -> (builder, make_inputs)) is read by test_export_zoo_coverage.py, which fails
when a registered model has no export test.
"""
import numpy as np
import pytest

from export_util import assert_exports, lonnx, onnx, run_onnx

import lamina
import lamina.nn as nn
from lamina.models import BasicBlock, create_model

SMALL_WIDTHS = (4, 6, 8)


def _randomise_batchnorm(model, seed=0):
    """Non-trivial running statistics and affine parameters, so eval-mode BatchNorm is really tested."""
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
            c = m.num_features
            m.running_mean.array[...] = rng.normal(0, 0.2, c)
            m.running_var.array[...] = rng.uniform(0.5, 1.5, c)
            m.weight.array[...] = rng.uniform(0.7, 1.3, c)
            m.bias.array[...] = rng.normal(0, 0.2, c)
    for m in model.modules():
        if isinstance(m, BasicBlock):  # small residual branches keep a 110-layer net's logits O(1)
            m.bn2.weight.array[...] *= 0.2
    return model


def _build(name, **config):
    def builder():
        lamina.manual_seed(0)
        return _randomise_batchnorm(create_model(name, **config))
    builder.__name__ = f"build_{name}"
    return builder


def _images(n):
    return (lamina.randn(n, 1, 8, 8),)


def _resnet(name, **extra):
    return (_build(name, in_channels=1, num_classes=10, widths=SMALL_WIDTHS, **extra), _images)


VISION_CASES = {
    "mlp": (_build("mlp", in_features=64, hidden_sizes=[32, 16], out_features=10, dropout=0.1), _images),
    "lenet": (_build("lenet", in_channels=1, num_classes=10, input_size=8), _images),
    "lenet5": (_build("lenet5", in_channels=1, num_classes=10, input_size=8, activation="tanh", pool="avg"), _images),
    "vgg": (_build("vgg", cfg=[4, "M", 8, 8, "M"], in_channels=1, num_classes=10, input_size=8, batch_norm=True,
                   hidden_sizes=(16,)), _images),
    "resnet": _resnet("resnet", depth=14),
    "resnet8": _resnet("resnet8"),
    "resnet20": _resnet("resnet20"),
    "resnet32": _resnet("resnet32"),
    "resnet44": _resnet("resnet44"),
    "resnet56": _resnet("resnet56"),
    "resnet110": _resnet("resnet110"),
}


def _digits(n):
    """The first n scikit-learn digits as (n, 1, 8, 8) float32 in [0, 1] (lamina's digits loader)."""
    pytest.importorskip("sklearn", reason="the real-input checks use scikit-learn's digits")
    from lamina.data.datasets import load_digits
    x, _ = load_digits(as_images=True, as_numpy=True)
    return (lamina.tensor(x[:n].copy()),)


@pytest.mark.parametrize("name", sorted(VISION_CASES))
def test_vision_model_exports_on_random_inputs(name):
    builder, make_inputs = VISION_CASES[name]
    assert_exports(builder(), make_inputs, batch_sizes=(2, 5))


@pytest.mark.parametrize("name", sorted(VISION_CASES))
def test_vision_model_exports_on_real_digits(name):
    model = VISION_CASES[name][0]()
    proto = assert_exports(model, _digits, batch_sizes=(16, 7))
    # the digits are classified the same way by both runtimes (where the top two logits are not a near tie)
    x = _digits(64)[0]
    got = run_onnx(proto, {"input": x.numpy()})[0]
    with lamina.no_grad():
        ref = model(x).numpy()
    top2 = np.sort(ref, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-4
    assert clear.sum() > 32 and (got.argmax(1) == ref.argmax(1))[clear].all()


def test_mlp_takes_flat_features_too():
    model = VISION_CASES["mlp"][0]()
    proto = assert_exports(model, lambda n: (lamina.randn(n, 64),))
    assert not any(nd.op_type == "Flatten" for nd in proto.graph.node)


def test_resnet_graph_has_every_residual_add_and_a_dynamic_batch():
    model = VISION_CASES["resnet8"][0]()
    proto = lonnx.export(model, _images(3))
    ops = [nd.op_type for nd in proto.graph.node]
    assert ops.count("Add") >= 3 and ops.count("Conv") == 1 + 3 * 2 + 2
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    onnx.checker.check_model(proto, full_check=True)


def test_unexportable_layer_inside_a_resnet_is_named_by_its_path():
    model = VISION_CASES["resnet8"][0]()

    class Mystery(nn.Module):
        def forward(self, x):
            return x

    model.layer2[0].bn1 = Mystery()
    with pytest.raises(lonnx.ExportError, match=r"Mystery.*'layer2\.0\.bn1'"):
        lonnx.export(model, _images(2))
