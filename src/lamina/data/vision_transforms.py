"""Image transforms on whole batches: preprocessing and random augmentation (torchvision names).

Every transform takes a batch ``(N, C, H, W)`` or a single image ``(C, H, W)`` (a lamina Tensor
or an array) and returns the same kind and layout. Random transforms draw different
parameters for each sample of a batch, all at once (no Python loop over samples or pixels),
from their ``generator=`` (a :class:`lamina.Generator`) or the default generator, so
``lamina.manual_seed(s)`` repeats them. ``t.get_params(x)`` draws the parameters for ``x`` and
``t.apply(x, params)`` applies them: ``t(x) == t.apply(x, t.get_params(x))``.

Augmentation belongs to the training data only; validation and test data get the
deterministic preprocessing alone:

    augment = Compose([RandomCrop(28, padding=2), RandomHorizontalFlip(), Normalize([0.1307], [0.3081])])
    train_loader = AugmentedLoader(DataLoader(train_ds, 128, shuffle=True), augment)
    val_loader = AugmentedLoader(DataLoader(val_ds, 512), Normalize([0.1307], [0.3081]))

(``TransformDataset(train_ds, augment)`` does the same at the dataset level and keeps the
DataLoader's fast path: batches are fetched with one fancy index, then transformed at once.)
"""
from .augment import (GaussianNoise, RandomAffine, RandomCrop, RandomErasing, RandomHorizontalFlip,  # noqa: F401
                      RandomTransform, RandomVerticalFlip, affine_inverse_matrices)
from .image_transforms import CenterCrop, ConvertImageDtype, Normalize, ToTensor  # noqa: F401
from .transform_dataset import AugmentedLoader, TransformDataset  # noqa: F401

__all__ = ["AugmentedLoader", "CenterCrop", "ConvertImageDtype", "GaussianNoise", "Normalize", "RandomAffine",
           "RandomCrop", "RandomErasing", "RandomHorizontalFlip", "RandomTransform", "RandomVerticalFlip",
           "ToTensor", "TransformDataset", "affine_inverse_matrices"]
