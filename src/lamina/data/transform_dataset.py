"""Applying transforms to training data: ``TransformDataset`` (per dataset, keeping the
DataLoader's batch fast path) and ``AugmentedLoader`` (per loader)."""
from __future__ import annotations

from .dataset import Dataset, batch_fetcher

__all__ = ["AugmentedLoader", "TransformDataset"]


def _transform_first(batch, transform, target_transform):
    if not isinstance(batch, (list, tuple)):  # a bare input without targets
        return batch if transform is None else transform(batch)
    batch = list(batch)
    if transform is not None:
        batch[0] = transform(batch[0])
    if target_transform is not None and len(batch) > 1:
        batch[1] = target_transform(batch[1])
    return batch


class TransformDataset(Dataset):
    """``dataset`` with ``transform`` applied to the input (first element) of each sample.

    ``target_transform`` applies to the second element. When ``dataset`` is array-backed (a
    TensorDataset, MNIST, CIFAR10, ...) the DataLoader fetches whole batches and the
    transform runs once per batch (lamina's transforms take batches); ``batched=False``
    forces one call per sample, for transforms that only take single samples.

    >>> train = TransformDataset(train_ds, Compose([RandomCrop(28, padding=2), RandomHorizontalFlip()]))
    """

    def __init__(self, dataset, transform=None, target_transform=None, batched: bool = True):
        self.dataset, self.transform, self.target_transform = dataset, transform, target_transform
        fetch = batch_fetcher(dataset) if batched else None
        if fetch is not None:
            self.get_batch = lambda indices: _transform_first(fetch(indices), self.transform, self.target_transform)

    def __getitem__(self, index):
        sample = _transform_first(self.dataset[index], self.transform, self.target_transform)
        return tuple(sample) if isinstance(sample, list) else sample

    def __len__(self) -> int:
        return len(self.dataset)

    def __repr__(self):
        return f"TransformDataset({self.dataset!r}, transform={self.transform!r})"


class AugmentedLoader:
    """Wrap a DataLoader: each batch's first element goes through ``transform`` (a batched transform).

    Everything else (``len``, ``dataset``, ``batch_size``, ``state_dict`` for resuming) is the
    wrapped loader's. Wrap the training loader only; evaluate on the plain one.

    >>> train_loader = AugmentedLoader(DataLoader(train_ds, 64, shuffle=True), RandomHorizontalFlip())
    """

    def __init__(self, loader, transform, target_transform=None):
        self.loader, self.transform, self.target_transform = loader, transform, target_transform

    def __iter__(self):
        for batch in self.loader:
            yield _transform_first(batch, self.transform, self.target_transform)

    def __len__(self) -> int:
        return len(self.loader)

    def __getattr__(self, name):
        if name == "loader":  # not yet set (e.g. during unpickling): avoid infinite recursion
            raise AttributeError(name)
        return getattr(self.loader, name)

    def __repr__(self):
        return f"AugmentedLoader({self.loader!r}, transform={self.transform!r})"
