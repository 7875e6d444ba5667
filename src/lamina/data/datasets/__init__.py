"""Ready-made datasets. Their optional dependencies are imported only when a loader is called."""
from .cifar import CIFAR10
from .digits import load_digits, load_digits_splits
from .idx import MNIST, FashionMNIST, read_idx, write_idx
from .image_folder import ImageFolder
from .mnist1d import load_mnist1d

__all__ = ["CIFAR10", "FashionMNIST", "ImageFolder", "MNIST", "load_digits", "load_digits_splits", "load_mnist1d",
           "read_idx", "write_idx"]
