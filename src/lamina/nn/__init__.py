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
from .layers.conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .layers.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d,
                             AdaptiveMaxPool2d, AdaptiveMaxPool3d, AvgPool1d, AvgPool2d, AvgPool3d, FractionalMaxPool2d,
                             FractionalMaxPool3d, GlobalAvgPool2d, LPPool1d, LPPool2d, LPPool3d, MaxPool1d, MaxPool2d,
                             MaxPool3d, MaxUnpool1d, MaxUnpool2d, MaxUnpool3d, Upsample, UpsamplingBilinear2d,
                             UpsamplingNearest2d)
from .layers.fold import Fold, Unfold
from .layers.padding import (CircularPad1d, CircularPad2d, CircularPad3d, ConstantPad1d, ConstantPad2d, ConstantPad3d,
                             ReflectionPad1d, ReflectionPad2d, ReflectionPad3d, ReplicationPad1d, ReplicationPad2d,
                             ReplicationPad3d, ZeroPad1d, ZeroPad2d, ZeroPad3d)
from .layers.pixel_shuffle import ChannelShuffle, PixelShuffle, PixelUnshuffle
from .layers.embedding import Embedding
from .layers.activation import (CELU, GLU, Hardshrink, Hardsigmoid, Hardswish, LogSigmoid, PReLU, RReLU, Softmax2d,
                                Softmin, Softshrink, Softsign, Tanhshrink, Threshold)
from .layers.adaptive import AdaptiveLogSoftmaxWithLoss
from .layers.bilinear import Bilinear
from .layers.dropout import AlphaDropout, FeatureAlphaDropout
from .layers.embedding_bag import EmbeddingBag
from .layers.lazy import (LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, LazyConv1d, LazyConv2d, LazyConv3d,
                          LazyConvTranspose1d, LazyConvTranspose2d, LazyConvTranspose3d, LazyInstanceNorm1d,
                          LazyInstanceNorm2d, LazyInstanceNorm3d, LazyLinear, LazyModuleMixin, UninitializedBuffer,
                          UninitializedParameter)
from .layers.normalization import LocalResponseNorm, RMSNorm
from .containers import ParameterDict, ParameterList
from .losses import (CosineEmbeddingLoss, CTCLoss, GaussianNLLLoss, HingeEmbeddingLoss, MarginRankingLoss,
                     MultiLabelMarginLoss, MultiLabelSoftMarginLoss, MultiMarginLoss, NLLLoss2d, PairwiseDistance,
                     PoissonNLLLoss, SoftMarginLoss, TripletMarginLoss, TripletMarginWithDistanceLoss)
from .layers.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .layers.normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, Dropout1d, Dropout2d, Dropout3d, GroupNorm,
                                   InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, LayerNorm)
from .layers.positional import LearnedPositionalEmbedding, SinusoidalPositionalEncoding
from .layers.transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,
                                 TransformerEncoderLayer, generate_square_subsequent_mask)
from .module import Buffer, Module, RemovableHandle
from .parallel import DataParallel
from .parameter import Parameter

__all__ = [
    "Module", "Buffer", "Parameter", "RemovableHandle", "DataParallel", "Sequential", "ModuleList", "ModuleDict", "Identity",
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
__all__ += [
    "PReLU", "RReLU", "GLU", "Hardswish", "Hardsigmoid", "Hardshrink", "Softshrink", "Threshold", "CELU", "LogSigmoid",
    "Softsign", "Tanhshrink", "Softmin", "Softmax2d", "RMSNorm", "LocalResponseNorm", "EmbeddingBag", "Bilinear",
    "AlphaDropout", "FeatureAlphaDropout", "ParameterList", "ParameterDict", "LazyModuleMixin",
    "UninitializedParameter", "UninitializedBuffer", "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d",
    "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
    "LazyBatchNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d",
    "CTCLoss", "GaussianNLLLoss", "PoissonNLLLoss", "MarginRankingLoss", "HingeEmbeddingLoss", "CosineEmbeddingLoss",
    "TripletMarginLoss", "TripletMarginWithDistanceLoss", "MultiMarginLoss", "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss", "SoftMarginLoss", "PairwiseDistance", "NLLLoss2d", "AdaptiveLogSoftmaxWithLoss",
]
__all__ += [  # vision layers
    "Conv3d", "ConvTranspose3d", "MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d", "AdaptiveMaxPool3d", "LPPool1d",
    "LPPool2d", "LPPool3d", "FractionalMaxPool2d", "FractionalMaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ReflectionPad1d",
    "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
    "CircularPad2d", "CircularPad3d", "PixelShuffle", "PixelUnshuffle", "ChannelShuffle", "Fold", "Unfold",
]
from .contrastive import NTXentLoss, nt_xent_loss  # noqa: E402
from .layers.spiking import LIF, Leaky  # noqa: E402
__all__ += ["NTXentLoss", "nt_xent_loss", "LIF", "Leaky"]  # contrastive and spiking
