"""Every layer lamina.nn exports has an ONNX converter, except the ones set aside here with a reason."""
import inspect

import pytest

from export_util import lonnx

import lamina
import lamina.nn as nn
import lamina.onnx.converters  # noqa: F401  (registers every converter)

_LOSS = "a training-only loss: it compares outputs with targets and is not part of an inference graph"

SET_ASIDE = {
    "NTXentLoss": "a training loss (contrastive): nothing to serve",
    "Module": "the abstract base class: a user module is exported through its children or its onnx_export",
    "ModuleList": "a container that is not callable: its parent's converter calls the children",
    "ModuleDict": "a container that is not callable: its parent's converter calls the children",
    "ParameterList": "holds parameters only, not callable",
    "ParameterDict": "holds parameters only, not callable",
    "DataParallel": "a multi-device training wrapper: export the wrapped .module",
    "AdaptiveLogSoftmaxWithLoss": "its forward takes the targets and returns (target log-probabilities, loss)",
    **{name: _LOSS for name in (
        "BCELoss", "BCEWithLogitsLoss", "CTCLoss", "CosineEmbeddingLoss", "CrossEntropyLoss", "GaussianNLLLoss",
        "HingeEmbeddingLoss", "HuberLoss", "KLDivLoss", "L1Loss", "MSELoss", "MarginRankingLoss",
        "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss", "NLLLoss", "NLLLoss2d",
        "PoissonNLLLoss", "SmoothL1Loss", "SoftMarginLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss")},
}


def _module_classes():
    return sorted((name, obj) for name, obj in vars(nn).items()
                  if inspect.isclass(obj) and issubclass(obj, nn.Module))


def _has_converter(cls) -> bool:
    registered = set(lonnx.registered_modules())
    return callable(getattr(cls, "onnx_export", None)) or any(c in registered for c in cls.__mro__)


def test_the_base_module_has_no_catch_all_converter():
    """A converter on nn.Module itself would make every coverage check below pass vacuously."""
    assert nn.Module not in lonnx.registered_modules()
    assert not hasattr(nn.Module, "onnx_export")


def test_every_layer_has_a_converter():
    missing = [name for name, cls in _module_classes() if name not in SET_ASIDE and not _has_converter(cls)]
    assert not missing, f"layers of lamina.nn without an ONNX converter: {missing}"


def test_set_aside_names_exist_and_really_have_no_converter():
    names = dict(_module_classes())
    assert not set(SET_ASIDE) - set(names), "SET_ASIDE names a class lamina.nn does not export"
    stale = [n for n in SET_ASIDE if n != "Module" and _has_converter(names[n])]
    assert not stale, f"these now have converters; drop them from SET_ASIDE: {stale}"
    assert all(reason.strip() for reason in SET_ASIDE.values())


@pytest.mark.parametrize("module", [nn.ReLU(), nn.PReLU(4), nn.GELU("tanh"), nn.MaxPool2d(2), nn.AvgPool3d(2),
                                    nn.AdaptiveAvgPool1d(3), nn.BatchNorm2d(3), nn.LazyBatchNorm1d(),
                                    nn.LazyInstanceNorm3d(), nn.LayerNorm(4), nn.GroupNorm(2, 4), nn.RMSNorm(4),
                                    nn.LocalResponseNorm(3), nn.FractionalMaxPool2d(2, output_size=3)],
                         ids=lambda m: type(m).__name__)
def test_converter_for_instances(module):
    """converter_for finds a converter for an instance, lazy (not yet materialised) ones included."""
    assert lonnx.converter_for(module) is not None


def test_a_module_without_converter_is_named_in_the_error():
    class Custom(nn.Module):
        def forward(self, x):
            return x + 1

    with pytest.raises(lonnx.ExportError, match=r"Custom.*'1'"):
        lonnx.export(nn.Sequential(nn.ReLU(), Custom()), lamina.randn(2, 3))
