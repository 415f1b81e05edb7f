"""ImageNet-style folder trees: ``<dir>/train/<class>/*.jpg`` and ``<dir>/val/<class>/*.jpg``.

The tree is ``<root>/datasets/imagefolder/`` unless ``SHEDDING_IMAGEFOLDER`` names another
directory. Images are decoded on the fly by ``torchvision.datasets.ImageFolder`` with the
standard ImageNet transforms (training: ``RandomResizedCrop(224)`` + horizontal flip;
evaluation: ``Resize(256)`` + ``CenterCrop(224)``; both normalised with the ImageNet
statistics), so the bundle has no in-memory tensors and the loop uses a DataLoader.
"""

from __future__ import annotations

import os
from pathlib import Path

from shedding.config import DataConfig
from shedding.data.base import DATASETS, DatasetBundle
from shedding.errors import DataError
from shedding.paths import datasets_dir

#: Environment variable naming an image-folder tree outside the data root.
IMAGEFOLDER_ENV = "SHEDDING_IMAGEFOLDER"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagefolder_dir(root: Path) -> Path:
    """``$SHEDDING_IMAGEFOLDER`` if set, else ``<root>/datasets/imagefolder``."""
    env = os.environ.get(IMAGEFOLDER_ENV, "")
    return Path(env).expanduser().resolve() if env else (datasets_dir(root) / "imagefolder")


def imagenet_transforms(*, train: bool, augment: bool = True):
    """The standard ImageNet preprocessing (torchvision reference recipe)."""
    from torchvision import transforms as T

    norm = T.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    if train and augment:
        steps = [T.RandomResizedCrop(224), T.RandomHorizontalFlip()]
    else:
        steps = [T.Resize(256), T.CenterCrop(224)]
    return T.Compose([*steps, T.ToTensor(), norm])


@DATASETS.register("imagefolder")
def load_imagefolder(cfg: DataConfig, *, root: Path, seed: int = 0) -> DatasetBundle:
    """An ImageNet-style tree; ``cfg.augment`` off uses the evaluation transform for training."""
    from torchvision.datasets import ImageFolder

    tree = imagefolder_dir(Path(root))
    splits = {}
    for split in ("train", "val"):
        folder = tree / split
        if not folder.is_dir():
            raise DataError(
                f"data set 'imagefolder' not found: looked for {folder} (one sub-folder of "
                f"images per class). Put an ImageNet-style tree with train/ and val/ at {tree}, "
                f"or set {IMAGEFOLDER_ENV} to the folder that holds train/ and val/."
            )
        try:
            splits[split] = ImageFolder(
                str(folder),
                transform=imagenet_transforms(train=split == "train", augment=cfg.augment),
            )
        except (FileNotFoundError, OSError) as e:
            raise DataError(
                f"data set 'imagefolder' in {folder} is unusable: {e}; it needs one sub-folder "
                "per class holding image files (.jpg, .png, ...)"
            ) from None
    train, val = splits["train"], splits["val"]
    if train.classes != val.classes:
        only_t = sorted(set(train.classes) - set(val.classes))[:5]
        only_v = sorted(set(val.classes) - set(train.classes))[:5]
        raise DataError(
            f"data set 'imagefolder' at {tree}: train/ and val/ have different classes "
            f"(only in train: {only_t}, only in val: {only_v}); both need the same class folders"
        )
    return DatasetBundle(
        name="imagefolder",
        train=train,
        test=val,
        num_classes=len(train.classes),
        input_shape=(3, 224, 224),
        train_tensors=None,
        test_tensors=None,
        augment=None,  # augmentation lives in the per-image transform
        meta={
            "source": str(tree),
            "normalisation": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
            "augment": "RandomResizedCrop(224) + flip" if cfg.augment else "none",
            "classes": len(train.classes),
        },
    )
