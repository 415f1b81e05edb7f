"""Tensor-level training augmentation, deterministic given a ``torch.Generator``.

Augmenting whole normalised batches (instead of PIL images in a DataLoader worker) keeps the
in-memory fast path and makes a resumed run bit-exact: the only randomness is drawn from the
generator the loop checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


class CropFlip:
    """Random crop with zero padding plus random horizontal flip (He et al. 2016 CIFAR).

    Equivalent in distribution to torchvision's ``RandomCrop(size, padding=pad)`` followed by
    ``RandomHorizontalFlip()`` applied *before* normalisation: the padding is filled with the
    normalised value of a black pixel, ``-mean / std`` per channel, so padded borders look
    exactly as they would after ``Normalize``.

    Args:
        pad: Padding in pixels on every side (4 for CIFAR).
        fill: Per-channel value of the padding in the normalised space.
        flip: Whether to flip horizontally with probability 1/2.
    """

    def __init__(self, *, pad: int = 4, fill: Sequence[float] = (0.0,), flip: bool = True) -> None:
        self.pad = int(pad)
        self.fill = tuple(float(f) for f in fill)
        self.flip = flip

    def __repr__(self) -> str:
        return f"CropFlip(pad={self.pad}, fill={self.fill}, flip={self.flip})"

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Augments a batch.

        Args:
            x: Images (N, C, H, W), already normalised.
            generator: Source of all randomness (3 draws per example: row, column, flip),
                on any device; the draws are moved to ``x``'s device.

        Returns:
            A new tensor (N, C, H, W); ``x`` is not modified.
        """
        n, c, h, w = x.shape
        p = self.pad
        gdev = generator.device
        # Offsets of the crop window inside the padded (H + 2p, W + 2p) image.
        oy = torch.randint(0, 2 * p + 1, (n,), generator=generator, device=gdev).to(x.device)
        ox = torch.randint(0, 2 * p + 1, (n,), generator=generator, device=gdev).to(x.device)
        if self.flip:
            flip = torch.rand(n, generator=generator, device=gdev).to(x.device) < 0.5
        else:
            flip = torch.zeros(n, dtype=torch.bool, device=x.device)
        fill = torch.tensor(self.fill, dtype=x.dtype, device=x.device)
        if fill.numel() not in (1, c):
            raise ValueError(f"CropFlip fill has {fill.numel()} values for {c} channels")
        padded = fill.expand(c).view(1, c, 1, 1).expand(n, c, h + 2 * p, w + 2 * p).clone()
        padded[:, :, p : p + h, p : p + w] = x
        ar_h = torch.arange(h, device=x.device)
        ar_w = torch.arange(w, device=x.device)
        rows = oy[:, None] + ar_h[None, :]  # (N, H)
        # A flipped crop reads its columns right to left: one gather does crop and flip.
        cols = ox[:, None] + torch.where(flip[:, None], (w - 1 - ar_w)[None, :], ar_w[None, :])
        bi = torch.arange(n, device=x.device)[:, None, None, None]
        ci = torch.arange(c, device=x.device)[None, :, None, None]
        return padded[bi, ci, rows[:, None, :, None], cols[:, None, None, :]]
