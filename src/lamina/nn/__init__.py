"""lamina.nn: modules, parameters, layers, losses, initialisation and the functional API.

    from lamina import nn
    import lamina.nn.functional as F
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    loss = nn.CrossEntropyLoss()(model(x), y)
"""
from . import functional, init, utils
from .containers import ModuleDict, ModuleList, Sequential
from .layers import (ELU, GELU, SELU, Dropout, Flatten, Hardtanh, Identity, LeakyReLU, Linear, LogSoftmax, Mish,
                     ReLU, ReLU6, Sigmoid, SiLU, Softmax, Softplus, Tanh, Unflatten)
from .losses import (BCELoss, BCEWithLogitsLoss, CosineSimilarity, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss,
                     MSELoss, NLLLoss, SmoothL1Loss)
from .layers.attention import MultiheadAttention
from .layers.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .layers.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, AvgPool1d,
                             AvgPool2d, GlobalAvgPool2d, MaxPool1d, MaxPool2d, Upsample, UpsamplingBilinear2d,
                             UpsamplingNearest2d)
from .layers.embedding import Embedding
from .layers.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .layers.normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, Dropout1d, Dropout2d, Dropout3d, GroupNorm,
                                   InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, LayerNorm)
from .layers.positional import LearnedPositionalEmbedding, SinusoidalPositionalEncoding
from .layers.transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,
                                 TransformerEncoderLayer, generate_square_subsequent_mask)
from .module import Module, RemovableHandle
from .parameter import Parameter

__all__ = [
    "Module", "Parameter", "RemovableHandle", "Sequential", "ModuleList", "ModuleDict", "Identity",
    "Linear", "Flatten", "Unflatten", "Dropout",
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh", "Softplus", "Hardtanh",
    "Softmax", "LogSoftmax",
    "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss",
    "KLDivLoss", "CosineSimilarity",
    "functional", "init", "utils",
    "MultiheadAttention", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "Dropout1d", "Dropout2d", "Dropout3d",
    "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LayerNorm", "LearnedPositionalEmbedding",
    "SinusoidalPositionalEncoding", "Transformer", "TransformerDecoder", "TransformerDecoderLayer",
    "TransformerEncoder", "TransformerEncoderLayer", "generate_square_subsequent_mask",
    "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AvgPool1d", "AvgPool2d", "GlobalAvgPool2d", "MaxPool1d", "MaxPool2d",
    "Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d",
    "Embedding", "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell",
]
