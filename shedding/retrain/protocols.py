"""The retraining protocols (docs/definitions.md), one registry entry each.

Notation: dense training runs T epochs with schedule η; R is the retraining length; a
schedule step τ counts retraining steps from 0; W is the warm-up length
(``warmup_fraction · R`` epochs, in steps) and η_max is ``retrain.max_lr``, else ``retrain.lr``,
else ``train.lr``. With ``retrain.lr`` set, η below is the dense schedule rescaled to peak
``retrain.lr`` (same shape, other height).

=========  =========  ==========================================================
protocol   init       LR at retraining step τ
=========  =========  ==========================================================
ft         final      constant η at the last dense step or ``retrain.ft_lr``
wr         rewind     η(e + τ): replays the schedule from the rewind epoch e
                      (default e = T − R, i.e. η(T − R + τ))
lrr        final      η(T − R + τ); R = T retrains with the whole schedule
llr        final      linear warm-up to η_max over W, then linear to 0 at R
allr       final      as llr with peak η₀ = clip(η_max·d/√s, [min(R/T,1)·η_max, η_max])
slr        final      warm-up to η_max over W, then the dense schedule (without its own
                      warm-up, scaled to peak η_max) compressed into the remaining steps
clr        final      warm-up to η_max over W, then cosine to 0 at R
scratch    reinit     the dense schedule, T epochs (same mask, fresh weights); with
                      ``retrain.scratch_epochs`` = E, the same schedule stretched to E
reduced    reduced    the dense schedule, T (or E) epochs (smaller dense net, no mask)
=========  =========  ==========================================================
"""

from __future__ import annotations

from shedding.retrain.adaptive import allr_start_lr
from shedding.retrain.base import RetrainContext, RetrainPlan, protocol
from shedding.train.schedules import Compressed, Constant, Cosine, Linear, Shifted, Warmup


def _steps(ctx: RetrainContext) -> int:
    return ctx.epochs * ctx.steps_per_epoch


@protocol("ft", init="final")
def ft(ctx: RetrainContext) -> RetrainPlan:
    """Fine-tuning: m⊙θ_T at the constant final LR (``retrain.ft_lr`` overrides).

    The final LR is the one of the last dense step, the LR the dense weights were last
    trained with: under a step schedule the same as at the start of the last epoch, under
    a cosine schedule the small value it ends on.
    """
    lr = ctx.cfg.retrain.ft_lr
    if lr is None:
        lr = ctx.dense_lr(ctx.dense_epochs * ctx.steps_per_epoch - 1)
    return RetrainPlan("ft", ctx.epochs, "final", None, Constant(lr), lr)


@protocol("wr", init="rewind")
def wr(ctx: RetrainContext) -> RetrainPlan:
    """Weight rewinding: m⊙θ_e with the schedule replayed from epoch e (fresh optimizer)."""
    e = ctx.rewind_epoch
    if e is None:  # plan_retraining always resolves it for wr
        raise ValueError("wr needs ctx.rewind_epoch")
    lr = Shifted(ctx.dense_lr, e * ctx.steps_per_epoch)
    return RetrainPlan("wr", ctx.epochs, "rewind", e, lr, lr(0))


@protocol("lrr", init="final")
def lrr(ctx: RetrainContext) -> RetrainPlan:
    """Learning-rate rewinding: m⊙θ_T with η(T − R + τ)."""
    lr = Shifted(ctx.dense_lr, (ctx.dense_epochs - ctx.epochs) * ctx.steps_per_epoch)
    return RetrainPlan("lrr", ctx.epochs, "final", None, lr, lr(0))


def _linear(ctx: RetrainContext, peak: float, name: str) -> RetrainPlan:
    w = ctx.warmup_steps
    lr = Warmup(Linear(peak, _steps(ctx), w), w)
    return RetrainPlan(name, ctx.epochs, "final", None, lr, peak, w)


@protocol("llr", init="final")
def llr(ctx: RetrainContext) -> RetrainPlan:
    """Linear LR retraining: warm-up to η_max, then linear decay to 0 (Zimmer et al.)."""
    return _linear(ctx, ctx.max_lr, "llr")


@protocol("allr", init="final")
def allr(ctx: RetrainContext) -> RetrainPlan:
    """Adaptive LLR: LLR with the peak η₀ chosen from d and s (Zimmer et al.)."""
    peak = allr_start_lr(
        max_lr=ctx.max_lr,
        norm_ratio=ctx.norm_ratio,
        round_fraction=ctx.round_fraction,
        epochs=ctx.epochs,
        dense_epochs=ctx.dense_epochs,
    )
    return _linear(ctx, peak, "allr")


@protocol("slr", init="final")
def slr(ctx: RetrainContext) -> RetrainPlan:
    """Scaled LR restarting (Le & Hua): warm-up, then the dense schedule compressed."""
    w, total = ctx.warmup_steps, _steps(ctx)
    scale = ctx.max_lr / ctx.ref_lr
    compressed = Compressed(
        ctx.core_lr, w, max(total - w, 1), ctx.dense_epochs * ctx.steps_per_epoch, scale
    )
    return RetrainPlan("slr", ctx.epochs, "final", None, Warmup(compressed, w), ctx.max_lr, w)


@protocol("clr", init="final")
def clr(ctx: RetrainContext) -> RetrainPlan:
    """Cyclic LR restarting (Le & Hua): one cycle, warm-up then cosine to 0."""
    w = ctx.warmup_steps
    lr = Warmup(Cosine(ctx.max_lr, _steps(ctx), w), w)
    return RetrainPlan("clr", ctx.epochs, "final", None, lr, ctx.max_lr, w)


def _from_scratch(ctx: RetrainContext, name: str, init: str) -> RetrainPlan:
    """The dense schedule over ``ctx.epochs`` (T, or ``retrain.scratch_epochs`` stretched)."""
    spe = ctx.steps_per_epoch
    lr = ctx.dense_lr
    warmup = round(ctx.cfg.train.warmup_epochs * spe)
    if ctx.epochs != ctx.dense_epochs:  # an equal epoch budget: the same schedule, stretched
        lr = Compressed(ctx.dense_lr, 0, ctx.epochs * spe, ctx.dense_epochs * spe)
        warmup = warmup * ctx.epochs // ctx.dense_epochs
    return RetrainPlan(name, ctx.epochs, init, None, lr, ctx.ref_lr, warmup)


@protocol("scratch", init="reinit", has_control=False, full_length=True, oneshot_only=True)
def scratch(ctx: RetrainContext) -> RetrainPlan:
    """The pruned architecture (mask) re-initialised and trained with the dense schedule."""
    return _from_scratch(ctx, "scratch", "reinit")


@protocol(
    "reduced",
    init="reduced",
    has_control=False,
    full_length=True,
    changes_architecture=True,
    oneshot_only=True,
)
def reduced(ctx: RetrainContext) -> RetrainPlan:
    """A dense net of matched parameter count (Crowley) trained from scratch, T epochs."""
    return _from_scratch(ctx, "reduced", "reduced")
