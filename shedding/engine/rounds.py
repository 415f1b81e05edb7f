"""The prune rounds of a run: start each round (prune it, or resume it from the
checkpoint), then retrain it under the mask, recording and checkpointing every epoch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shedding.config import ExperimentConfig
from shedding.engine.dense import DensePhase
from shedding.engine.network import ModelFactory, Network
from shedding.engine.prune_round import prune_round, reduced_round
from shedding.engine.recording import Recorder
from shedding.engine.resume import ResumeState, RoundHistory
from shedding.engine.runtime import Runtime
from shedding.pruning.rounds import reached
from shedding.retrain import plan_retraining
from shedding.retrain.base import RetrainPlan
from shedding.retrain.optimizer import build_retrain_optimizer
from shedding.train import checkpoint as ckpt
from shedding.train.callbacks import Callback, CallbackList, TrainContext
from shedding.train.loop import train_phase
from shedding.train.progress import ProgressBar


@dataclass
class Rounds:
    """Runs the prune rounds of one run (everything after the dense phase).

    Attributes:
        history: Every round's (s, d) and shedding reference so far; restored from the
            checkpoint on resume, so later rounds are planned exactly as before.
    """

    cfg: ExperimentConfig
    net: Network
    dense: DensePhase
    runtime: Runtime
    writer: Any
    recorder: Recorder
    batches: tuple[Any, Any]
    checkpoint: Path
    new_model: ModelFactory
    progress: bool
    history: RoundHistory

    @property
    def steps_per_epoch(self) -> int:
        return len(self.batches[0])

    def run(self, amounts: Sequence[float], state: ResumeState | None, test_acc: float) -> float:
        """Every round from where ``state`` stopped (all of them without a state).

        Returns:
            The test accuracy after the last round retrained (``test_acc`` if none did).
        """
        offset = 0.0 if self.net.reshaped else float(self.cfg.train.epochs)
        for k, amount in enumerate(amounts, start=1):
            if state is not None and state.finished(k):
                offset += self.replan(k).epochs
                continue
            plan, ctx = (
                self.resume(k, state) if state is not None else self.prune(k, amount, offset)
            )
            self.retrain(plan, ctx, offset, fresh=state is None)
            state = None
            test_acc = ctx.metrics.get("test_acc", test_acc)
            offset += plan.epochs
            masks = self.net.masks
            if (
                self.cfg.prune.harvest
                and masks is not None
                and reached(masks, self.cfg.prune.sparsity)
            ):
                break  # harvesting reached the target early: the remaining rounds are not needed
        return test_acc

    def replan(self, k: int) -> RetrainPlan:
        """Round ``k``'s plan again, from the inputs it was planned with."""
        s_k, d_k = self.history.plan_inputs[k - 1]
        return plan_retraining(
            self.cfg, steps_per_epoch=self.steps_per_epoch, round_fraction=s_k, norm_ratio=d_k
        )

    def resume(self, k: int, state: ResumeState) -> tuple[RetrainPlan, TrainContext]:
        """Round ``k`` as the checkpoint left it: weights, mask, optimizer, epoch, LR."""
        plan, model = self.replan(k), self.net.model
        model.load_state_dict(state.model)
        if self.net.masks is not None:
            self.net.masks.load_state_dict(state.masks or {})
        optimizer = build_retrain_optimizer(model, self.cfg, lr=plan.start_lr)
        optimizer.load_state_dict(state.optimizer)
        ctx = TrainContext(
            model, optimizer, "retrain", k, plan.epochs, self.steps_per_epoch,
            epoch=state.epoch, step=state.step, lr=state.lr,
        )  # fmt: skip
        return plan, ctx

    def prune(self, k: int, amount: float, offset: float) -> tuple[RetrainPlan, TrainContext]:
        """Prunes round ``k`` (records the event and the reference) and plans its retraining."""
        common = dict(
            model=self.net.model, writer=self.writer, steps_per_epoch=self.steps_per_epoch,
            offset=offset,
        )  # fmt: skip
        if self.net.masks is None:
            start = reduced_round(self.cfg, k, amount, **common)
        else:
            start = prune_round(
                self.cfg, k, amount, masks=self.net.masks, dense=self.dense,
                info=self.runtime.info, new_model=self.new_model,
                reference=self.history.last_reference(), **common,
            )  # fmt: skip
        self.history.plan_inputs.append((start.amount, start.norm_ratio))
        self.history.references.append(start.reference)
        ctx = TrainContext(
            self.net.model, start.optimizer, "retrain", k, start.plan.epochs,
            self.steps_per_epoch, lr=start.plan.lr(0),
        )  # fmt: skip
        return start.plan, ctx

    def retrain(self, plan: RetrainPlan, ctx: TrainContext, offset: float, *, fresh: bool) -> None:
        """Trains one round from ``ctx`` to its end; a fresh round first records its start."""
        rt, recorder = self.runtime, self.recorder
        recorder.epoch_offset = offset
        saver = ckpt.EpochCheckpoint(
            self.checkpoint,
            self.net.masks,
            self.writer,
            self.history.as_extra(),
            every_s=self.cfg.record.checkpoint_every_s,
        )
        if fresh:
            if self.cfg.record.at_prune and self.writer is not None:
                recorder.snapshot(ctx, epoch=0.0)
            if rt.info.is_main:
                saver.save(ctx)
        callbacks: list[Callback] = [
            recorder,
            ProgressBar(enabled=self.progress and rt.info.is_main),
        ]
        if rt.info.is_main:
            callbacks.append(saver)
        train_phase(
            ctx,
            forward_model=rt.forward_model(self.net.model),
            train_batches=self.batches[0],
            test_batches=self.batches[1],
            lr_fn=plan.lr,
            callback=CallbackList(callbacks),
            device=rt.device,
            data_key=ctx.round + 1000 * self.cfg.retrain.data_order,
            masks=self.net.masks,
            start_epoch=ctx.epoch,
            eval_every=self.cfg.train.eval_every,
            dist_info=rt.info,
        )
