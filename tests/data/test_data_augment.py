"""CropFlip: every output is a padded crop of its input, possibly mirrored; seeded exactly."""

from __future__ import annotations

import torch

from shedding.data import CropFlip


def _matches(out: torch.Tensor, padded: torch.Tensor, h: int, w: int) -> tuple[int, int, bool]:
    """The (row, col, flipped) window of ``padded`` equal to ``out``; raises if none."""
    for oy in range(padded.shape[1] - h + 1):
        for ox in range(padded.shape[2] - w + 1):
            win = padded[:, oy : oy + h, ox : ox + w]
            if torch.equal(win, out):
                return oy, ox, False
            if torch.equal(win.flip(-1), out):
                return oy, ox, True
    raise AssertionError("output is not a (flipped) crop of the padded input")


def test_outputs_are_padded_crops_with_fill():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, 6, 5)
    fill = (-1.5, 2.25)
    aug = CropFlip(pad=2, fill=fill)
    before = x.clone()
    out = aug(x, g)
    assert out.shape == x.shape and torch.equal(x, before)  # input untouched
    padded = torch.empty(64, 2, 10, 9)
    padded[:, 0], padded[:, 1] = fill
    padded[:, :, 2:8, 2:7] = x
    seen = {_matches(out[i], padded[i], 6, 5) for i in range(64)}
    assert {f for _, _, f in seen} == {False, True}
    assert len({(r, c) for r, c, _ in seen}) > 10


def test_same_generator_state_same_batch():
    x = torch.randn(16, 3, 8, 8)
    aug = CropFlip(pad=4, fill=(0.0, 0.1, 0.2))
    a = aug(x, torch.Generator().manual_seed(5))
    b = aug(x, torch.Generator().manual_seed(5))
    c = aug(x, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_offsets_and_flips_are_uniform():
    # As RandomCrop + RandomHorizontalFlip: offsets uniform over 0..2*pad on each axis,
    # flip with probability 1/2, independently.
    n, pad = 900, 1
    x = torch.randn(n, 1, 3, 3)
    out = CropFlip(pad=pad, fill=(0.0,))(x, torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    found = [_matches(out[i], padded[i], 3, 3) for i in range(n)]
    counts = torch.zeros(3, 3)
    for oy, ox, _ in found:
        counts[oy, ox] += 1
    assert ((counts - n / 9).abs() < 30).all(), counts  # 100 expected each, sd about 9
    n_flipped = sum(f for _, _, f in found)
    assert abs(n_flipped - n / 2) < 50  # sd 15


def test_no_pad_no_flip_is_identity():
    x = torch.randn(4, 3, 5, 5)
    assert torch.equal(CropFlip(pad=0, flip=False)(x, torch.Generator()), x)
