import torch

from shedding.train.batches import TensorBatches


def test_epoch_order_is_a_pure_function_of_seed_key_epoch():
    x, y = torch.arange(100).float()[:, None], torch.arange(100)
    b = TensorBatches(x, y, 16, seed=3)
    first = [yb.tolist() for _, yb in b.epoch(1, 4)]
    again = [yb.tolist() for _, yb in TensorBatches(x, y, 16, seed=3).epoch(1, 4)]
    other = [yb.tolist() for _, yb in b.epoch(1, 5)]
    assert first == again and first != other
    assert sorted(i for b in first for i in b) == list(range(100)) and len(b) == 7


def test_ranks_partition_each_batch():
    x, y = torch.arange(64).float()[:, None], torch.arange(64)
    full = [yb.tolist() for _, yb in TensorBatches(x, y, 8, seed=0).epoch(0, 0)]
    r0 = [yb.tolist() for _, yb in TensorBatches(x, y, 8, seed=0, rank=0, world=2).epoch(0, 0)]
    r1 = [yb.tolist() for _, yb in TensorBatches(x, y, 8, seed=0, rank=1, world=2).epoch(0, 0)]
    for f, a, b in zip(full, r0, r1, strict=True):
        assert sorted(a + b) == sorted(f) and not set(a) & set(b)
