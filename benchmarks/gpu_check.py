"""The GPU path in one script, sized for a 10-minute run on one GPU.

Three parts, each printed as it ends (the figures go into docs/benchmarks.md):

1. **Throughput**: ResNet-50 on ImageNet-shaped synthetic batches (3×224×224, 1000
   classes), the engine's training loop (``shedding.train.loop.train_phase``) against a
   minimal hand-written loop doing the same work (same model, data, SGD, bf16 autocast,
   one evaluation pass per epoch), interleaved A B B A; target engine / hand-written ≥ 0.95.
2. **Recording overhead**: the same engine loop with the run-file recorder at one snapshot
   per epoch (``record.mode = "full"``: every one of ResNet-50's 25.5 M weights) against no
   recording, interleaved; target ≤ 2%.
3. **MNIST-1D at width 4 with 100 k generated samples**: the quick study's grid (GMP and
   random at 5%, a mild and a shedding retraining regime, seeds 0-2, with controls) as a
   sweep on the GPU; its wall time and its comparison table, to set beside the CPU study's.

    python benchmarks/gpu_check.py                 # all three, on cuda
    python benchmarks/gpu_check.py --parts 1,2     # some of them
    python benchmarks/gpu_check.py --smoke         # tiny sizes on the CPU: checks the script

Nothing here is needed to use the toolkit; it only measures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torchvision

from shedding.engine.recording import Recorder, layer_specs
from shedding.pruning.prunable import bn_after
from shedding.train.batches import TensorBatches
from shedding.train.callbacks import Callback, CallbackList, TrainContext
from shedding.train.loop import train_phase

REPO = Path(__file__).resolve().parents[1]


def autocast(device: torch.device) -> Any:
    """bf16 autocast on CUDA, as the engine's loop does; nothing on the CPU."""
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def synthetic(n: int, size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """ImageNet-shaped inputs and labels, on ``device`` (the data path is not measured)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, size, size, generator=g)
    y = torch.randint(0, 1000, (n,), generator=g)
    return x.to(device), y.to(device)


def resnet50(device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet50(num_classes=1000).to(device)


def sgd(model: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)


def hand_written(model, batches, test, device, epochs: int) -> None:
    opt = sgd(model)
    for e in range(epochs):
        model.train()
        for x, y in batches.epoch(0, e):
            with autocast(device):
                loss = F.cross_entropy(model(x).float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad(), autocast(device):
            for x, y in test.epoch(0, 0):
                (model(x).argmax(1) == y).sum().item()


def engine(model, batches, test, device, epochs: int, callback: Callback | None = None) -> None:
    ctx = TrainContext(model, sgd(model), "dense", 0, epochs, len(batches))
    train_phase(
        ctx,
        forward_model=model,
        train_batches=batches,
        test_batches=test,
        lr_fn=lambda step: 0.1,
        callback=callback or CallbackList([]),
        device=device,
        data_key=0,
    )


def timed(fn: Any, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def interleaved(runs: dict[str, Any], repeats: int, device: torch.device) -> dict[str, float]:
    """Median seconds of each entry, run A B B A ... so drift hits all alike."""
    times: dict[str, list[float]] = {k: [] for k in runs}
    for rep in range(repeats):
        for name in list(runs) if rep % 2 == 0 else list(runs)[::-1]:
            times[name].append(timed(runs[name], device))
    return {k: statistics.median(v) for k, v in times.items()}


def recorder_for(model: torch.nn.Module, path: Path, size: int, device: torch.device) -> Recorder:
    from tracking import RunWriter

    layers = {
        n: m for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)
    }
    probe = torch.zeros(2, 3, size, size, device=device)
    bn_names = bn_after(model, list(layers), example_input=probe)
    writer = RunWriter(path, layers=layer_specs(layers, bn_names), config={}, overwrite=True)
    modules = dict(model.named_modules())
    return Recorder(writer, layers, bn={n: modules[b] for n, b in bn_names.items()})


def warmed_up(args: argparse.Namespace, device: torch.device) -> tuple[Any, Any, Any]:
    """ResNet-50 and its synthetic train / test batches, after one epoch of warm-up
    (cuDNN autotuning, the allocator's pools)."""
    x, y = synthetic(args.batch * args.steps, args.size, device)
    xt, yt = synthetic(args.batch * 2, args.size, device)
    batches = TensorBatches(x, y, args.batch, seed=0)
    test = TensorBatches(xt, yt, args.batch, shuffle=False)
    model = resnet50(device)
    engine(model, batches, test, device, 1)
    return model, batches, test


def part_throughput(args: argparse.Namespace, device: torch.device) -> None:
    model, batches, test = warmed_up(args, device)
    med = interleaved(
        {
            "hand-written": lambda: hand_written(model, batches, test, device, args.epochs),
            "engine": lambda: engine(model, batches, test, device, args.epochs),
        },
        args.repeats,
        device,
    )
    n = args.epochs * args.batch * args.steps
    hw, en = n / med["hand-written"], n / med["engine"]
    print(f"[1] ResNet-50 {args.size}px batch {args.batch}, {args.steps} steps/epoch:")
    print(f"    hand-written {hw:8.1f} img/s   engine {en:8.1f} img/s   ratio {en / hw:.3f}")


def part_recording(args: argparse.Namespace, device: torch.device) -> None:
    model, batches, test = warmed_up(args, device)
    with tempfile.TemporaryDirectory() as tmp:
        rec = recorder_for(model, Path(tmp) / "run.h5", args.size, device)
        med = interleaved(
            {
                "no recording": lambda: engine(model, batches, test, device, args.epochs),
                "one snapshot / epoch": lambda: engine(
                    model, batches, test, device, args.epochs, CallbackList([rec])
                ),
            },
            args.repeats,
            device,
        )
        rec.writer.close(status="complete")
    ratio = med["one snapshot / epoch"] / med["no recording"]
    print(f"[2] recording, full mode, one snapshot per {args.steps}-step epoch:")
    print(
        f"    no recording {med['no recording']:.2f} s   recording "
        f"{med['one snapshot / epoch']:.2f} s   overhead {100 * (ratio - 1):+.2f}%"
    )


def part_mnist1d(args: argparse.Namespace, device: torch.device) -> None:
    quick = (REPO / "shedding" / "studies" / "quick.toml").read_text()
    sets = {"model.width": args.width, "data.num_train": args.num_train, "device": device.type}
    if args.smoke:
        sets |= {"train.epochs": 2, "train.milestones": [1], "retrain.epochs": 1}
    sweep = with_set(quick, sets)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "quick-gpu.toml"
        path.write_text(sweep)
        runs = Path(tmp) / "runs"
        sh = [sys.executable, "-m", "shedding"]
        cmd = [*sh, "sweep", str(path), "--jobs", str(args.jobs), "--quiet"]
        cmd += ["--data-root", tmp, "--runs-dir", str(runs)]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, cwd=REPO, timeout=args.mnist1d_timeout, check=False)
        wall = time.perf_counter() - t0
        print(f"[3] MNIST-1D width {args.width}, {args.num_train} examples, {args.jobs} jobs:")
        print(f"    sweep exit {done.returncode}, wall {wall:.0f} s")
        by = "retrain.optimizer,prune.method"
        subprocess.run([*sh, "compare", str(runs), "--by", by], cwd=REPO, check=False)


def with_set(sweep: str, values: dict[str, Any]) -> str:
    """The sweep file's text with ``values`` in its [set] table (replacing those keys)."""
    lines = [ln for ln in sweep.splitlines() if ln.split(" = ")[0].strip('"') not in values]
    new = [f'"{k}" = {json.dumps(v)}' for k, v in values.items()]
    at = lines.index("[set]") + 1
    return "\n".join(lines[:at] + new + lines[at:]) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--parts", default="1,2,3")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--steps", type=int, default=40, help="steps per epoch")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--width", type=float, default=4)
    ap.add_argument("--num-train", type=int, default=100_000)
    ap.add_argument("--jobs", type=int, default=6)
    ap.add_argument("--mnist1d-timeout", type=float, default=300)
    args = ap.parse_args()
    if args.smoke:
        args.batch, args.size, args.steps, args.epochs, args.repeats = 2, 32, 2, 1, 2
        args.width, args.num_train, args.jobs = 0.25, 400, 1
    device = torch.device("cpu" if args.smoke or not torch.cuda.is_available() else "cuda")
    torch.backends.cudnn.benchmark = device.type == "cuda"
    gpu = torch.cuda.get_device_name(0) if device.type == "cuda" else "none"
    print(f"device {device} ({gpu}), torch {torch.__version__}, cpus {os.cpu_count()}")
    parts = {"1": part_throughput, "2": part_recording, "3": part_mnist1d}
    for p in args.parts.split(","):
        t0 = time.perf_counter()
        parts[p.strip()](args, device)
        print(f"    ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
