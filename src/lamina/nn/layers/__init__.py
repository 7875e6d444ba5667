"""Layers, one file per family (linear, activation, dropout, flatten, ...)."""
from .activation import (ELU, GELU, SELU, Hardtanh, LeakyReLU, LogSoftmax, Mish, ReLU, ReLU6, Sigmoid, SiLU,
                         Softmax, Softplus, Tanh)
from .dropout import Dropout
from .flatten import Flatten, Unflatten
from .linear import Identity, Linear
