"""lamina.data: datasets, samplers, the DataLoader, splits and transforms (``torch.utils.data`` API).

    from lamina.data import DataLoader, TensorDataset, random_split
    loader = DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True)
    for xb, yb in loader: ...
"""
from . import datasets, transforms
from .dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset
from .loader import DataLoader, default_collate, default_convert
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                      WeightedRandomSampler)
from .split import random_split, train_val_test_split

__all__ = ["BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset", "RandomSampler", "Sampler",
           "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler",
           "datasets", "default_collate", "default_convert", "random_split", "train_val_test_split", "transforms"]
