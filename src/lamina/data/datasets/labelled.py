"""LabelledImages: the sample access shared by the image datasets (MNIST, CIFAR-10)."""
from __future__ import annotations

from ...tensor import Tensor
from ..dataset import TensorDataset


class LabelledImages(TensorDataset):
    """A TensorDataset of (images, labels) with optional ``transform`` / ``target_transform``.

    Subclasses set ``self.transform`` and ``self.target_transform``; single samples and whole
    batches (the DataLoader's fast path) go through the same transforms.
    """

    transform = None
    target_transform = None

    @property
    def data(self) -> Tensor:
        return self.tensors[0]

    @property
    def targets(self) -> Tensor:
        return self.tensors[1]

    def _transformed(self, x, y):
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    def __getitem__(self, index):
        return self._transformed(*super().__getitem__(index))

    def get_batch(self, indices) -> list:
        return list(self._transformed(*super().get_batch(indices)))
