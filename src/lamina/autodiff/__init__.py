"""The rest of ``torch.autograd`` on top of lamina's engine (src/lamina/autograd.py).

Importing this package (``lamina/__init__`` does) makes these available as ``lamina.autograd.X``:

* ``Function.apply``: PyTorch-style custom functions, static ``forward(ctx, ...)`` /
  ``backward(ctx, ...)`` (function.py), with ``FunctionCtx`` and ``once_differentiable``;
* ``functional``: jacobian, hessian, vjp, jvp, hvp, vhp (functional.py);
* ``detect_anomaly`` / ``set_detect_anomaly`` (anomaly.py), ``gradcheck`` / ``gradgradcheck``
  (gradcheck.py), ``inference_mode``, ``Variable`` (modes.py).

The engine module keeps its own names (``grad``, ``backward``, ``no_grad``, ...); this package
only adds to it, so ``import lamina.autograd.functional`` works as in PyTorch.
"""
import sys

from .. import autograd as _ag
from . import anomaly, function, functional, modes
from .anomaly import detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled, set_detect_anomaly
from .function import FunctionCtx, once_differentiable
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .modes import Variable, inference_mode, is_inference_mode_enabled

_ag.Function.apply = classmethod(function.apply)  # MyFn.apply(...) for subclasses in PyTorch's style
for _name in ("FunctionCtx", "GradcheckError", "Variable", "detect_anomaly", "functional", "gradcheck",
              "gradgradcheck", "inference_mode", "is_anomaly_check_nan_enabled", "is_anomaly_enabled",
              "is_inference_mode_enabled", "once_differentiable", "set_detect_anomaly"):
    setattr(_ag, _name, globals()[_name])
_ag.function = function  # torch.autograd.function.once_differentiable / FunctionCtx
sys.modules.setdefault(_ag.__name__ + ".functional", functional)
sys.modules.setdefault(_ag.__name__ + ".function", function)

__all__ = ["FunctionCtx", "GradcheckError", "Variable", "anomaly", "detect_anomaly", "function", "functional",
           "gradcheck", "gradgradcheck", "inference_mode", "is_anomaly_check_nan_enabled", "is_anomaly_enabled",
           "is_inference_mode_enabled", "modes", "once_differentiable", "set_detect_anomaly"]
