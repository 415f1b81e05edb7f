"""Mask-enforcement overhead on a training step, dense vs masked, side by side in one run.

The model is the default ``resnet1d`` on MNIST-1D-shaped batches (1 x 40, batch 128), one
SGD step with momentum and weight decay. The two arms start from the same GMP-pruned
weights, each with its own copy of the model and optimizer (sharing one optimizer would
let the dense arm fill the masked arm's momentum at pruned entries, which then decays into
slow denormals: an artefact real masked training never sees, as its state there is 0).
The only difference is the enforcement (``mask_grads_`` before the step, ``apply_`` after
it); blocks of steps alternate between the arms and the per-step medians are compared.
Both wall time and process CPU time are reported: on a shared machine the CPU time ratio
is the robust one (other processes inflate wall time, not our CPU seconds).
Target: masked / dense <= 1.05.

Run: ``python benchmarks/bench_mask_overhead.py [--reps 15] [--steps 20] [--threads N]
[--device cpu|cuda] [--sparsity 0.5]``
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from shedding.config import ModelConfig, PruneConfig, TrainConfig
from shedding.pruning import MaskSet, prunable_layers, prune
from shedding.train.optim import build_optimizer


def build(device: torch.device) -> nn.Module:
    try:
        from shedding.models import build_model

        model = build_model(ModelConfig(name="resnet1d"), num_classes=10, input_shape=(1, 40))
    except ImportError:  # models package not there: an inline resnet-ish 1-D conv net
        model = nn.Sequential(
            nn.Conv1d(1, 32, 5, padding=2, bias=False), nn.BatchNorm1d(32), nn.ReLU(),
            *[m for c_in, c in ((32, 32), (32, 64), (64, 128)) for m in (
                nn.Conv1d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm1d(c), nn.ReLU(),
                nn.Conv1d(c, c, 3, padding=1, bias=False), nn.BatchNorm1d(c), nn.ReLU())],
            nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(128, 10),
        )  # fmt: skip
    return model.to(device)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--steps", type=int, default=20, help="steps per timed block")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sparsity", type=float, default=0.5)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    train = TrainConfig(lr=0.01, momentum=0.9, weight_decay=5e-4)
    model = build(device)
    cfg = PruneConfig(sparsity=args.sparsity)
    masks = MaskSet(model, list(prunable_layers(model, cfg)))
    new = prune(
        "gmp",
        masks.weights(),
        masks.masks,
        amount=args.sparsity,
        cfg=cfg,
        generator=torch.Generator().manual_seed(0),
    )
    masks.update_(new)
    masks.apply_()
    dense_model = copy.deepcopy(model)
    arms = {
        False: (dense_model, build_optimizer(dense_model, train)),
        True: (model, build_optimizer(model, train)),
    }
    x = torch.randn(128, 1, 40, device=device)
    y = torch.randint(0, 10, (128,), device=device)

    def block(*, masked: bool) -> tuple[float, float]:
        sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        model, opt = arms[masked]
        for _ in range(args.steps):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            if masked:
                masks.mask_grads_()
            opt.step()
            if masked:
                masks.apply_()
        sync(device)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        return wall / args.steps, cpu / args.steps

    def ops_only() -> float:
        sync(device)
        t0 = time.perf_counter()
        for _ in range(args.steps):
            masks.mask_grads_()
            masks.apply_()
        sync(device)
        return (time.perf_counter() - t0) / args.steps

    for masked in (False, True, False, True):  # warm-up
        block(masked=masked)
    dense, masked, ops = [], [], []
    for rep in range(args.reps):
        order = (False, True) if rep % 2 == 0 else (True, False)  # alternate who goes first
        for m in order:
            (masked if m else dense).append(block(masked=m))
        ops.append(ops_only())
    med = statistics.median
    d, m = med(t[0] for t in dense), med(t[0] for t in masked)
    dc, mc = med(t[1] for t in dense), med(t[1] for t in masked)
    o = med(ops)
    print(
        f"device={device} threads={torch.get_num_threads()} prunable weights="
        f"{masks.n_total()} sparsity={masks.sparsity():.3f} reps={args.reps} "
        f"steps/block={args.steps}"
    )
    print(f"dense step   median wall {d * 1e3:8.3f} ms   cpu {dc * 1e3:8.3f} ms")
    print(f"masked step  median wall {m * 1e3:8.3f} ms   cpu {mc * 1e3:8.3f} ms")
    print(f"mask ops     median wall {o * 1e3:8.3f} ms   (mask_grads_ + apply_ alone)")
    print(
        f"ratio masked/dense: wall {m / d:.4f}  cpu {mc / dc:.4f}  ops/dense {o / d:.4f}"
        "  (target <= 1.05)"
    )


if __name__ == "__main__":
    main()
