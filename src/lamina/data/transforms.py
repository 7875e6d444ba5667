"""Transforms: callables applied to samples or whole batches (Tensors or NumPy arrays).

    scaler = Standardize().fit(train_x)          # statistics from the training data only
    pipeline = Compose([scaler, Lambda(lambda x: x.reshape(-1, 1, 8, 8))])
    xb = pipeline(xb)

This module gathers every transform (torchvision's names for the image ones); each family lives
in its own module: ``transform_base`` (Transform, Compose, Lambda), ``standardize``,
``image_transforms`` (deterministic preprocessing), ``augment`` (random augmentation) and
``transform_dataset`` (applying them to training data).
"""
from .augment import (GaussianNoise, RandomAffine, RandomCrop, RandomErasing, RandomHorizontalFlip,  # noqa: F401
                      RandomTransform, RandomVerticalFlip)
from .image_transforms import CenterCrop, ConvertImageDtype, Normalize, ToTensor  # noqa: F401
from .standardize import Standardize  # noqa: F401
from .transform_base import Compose, Lambda, Transform  # noqa: F401
from .transform_dataset import AugmentedLoader, TransformDataset  # noqa: F401

__all__ = ["AugmentedLoader", "CenterCrop", "Compose", "ConvertImageDtype", "GaussianNoise", "Lambda", "Normalize",
           "RandomAffine", "RandomCrop", "RandomErasing", "RandomHorizontalFlip", "RandomTransform",
           "RandomVerticalFlip", "Standardize", "ToTensor", "Transform", "TransformDataset"]
