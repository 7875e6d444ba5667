"""ONNX converters, one file per family; importing this package registers them all."""
from . import containers  # noqa: F401
from . import linear_conv  # noqa: F401
from . import activations  # noqa: F401
from . import pool_norm  # noqa: F401
from . import recurrent  # noqa: F401
from . import attention  # noqa: F401
from . import zoo_vision  # noqa: F401
from . import zoo_text  # noqa: F401
from . import zoo_generative  # noqa: F401
from . import quantized  # noqa: F401
