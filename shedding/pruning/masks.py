"""Pruning masks that hold: pruned weights stay exactly 0.0 for the whole retraining.

As docs/definitions.md explains: under SGD with momentum and weight decay (and Adam,
AdamW) three things together keep a pruned weight at zero:

1. at prune time, zero the optimizer state of pruned entries
   (:meth:`MaskSet.zero_optimizer_state_`) — otherwise a momentum buffer or Adam moment
   keeps pushing the weight;
2. before every ``optimizer.step()``, multiply gradients by the mask
   (:meth:`MaskSet.mask_grads_`) — otherwise the gradient refills the state;
3. multiply weights by the mask at prune time and after every step
   (:meth:`MaskSet.apply_`) — otherwise the pruned values are never removed, and any
   write that bypasses 1-2 (a rewound checkpoint, a re-initialisation) survives.

With all three in place each pruned entry sees a zero gradient, a zero weight-decay term
(its weight is 0) and zero state, so SGD, Adam (L2) and AdamW leave it exactly 0.0.

The per-step calls run ``torch._foreach_mul_`` over float copies of the masks made once
per prune event, and skip layers with nothing pruned (a control run pays nothing).

Prune-time sequence::

    masks.update_(new_masks)           # subset of the old masks, checked
    masks.enforce_(optimizer)          # apply_() + zero_optimizer_state_(optimizer)
    ...each step: loss.backward(); masks.mask_grads_(); opt.step(); masks.apply_()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from shedding.errors import CheckpointError


class MaskSet:
    """Boolean keep-masks (True = kept) for the ``weight`` of each named layer.

    Args:
        model: The network whose layers are masked (build the MaskSet after moving the
            model to its device, or call :meth:`to`).
        layer_names: Prunable layer names (keys of ``prunable_layers``), in order.

    Attributes:
        masks: Layer name -> bool tensor of the weight's shape. Read-only by contract:
            change it through :meth:`update_` so the float copies stay in sync.
        layer_names: The masked layers, in order.
    """

    def __init__(self, model: nn.Module, layer_names: Sequence[str]) -> None:
        self.layer_names = list(layer_names)
        self.params: dict[str, torch.Tensor] = {}
        for name in self.layer_names:
            weight = getattr(model.get_submodule(name), "weight", None)
            if not isinstance(weight, torch.Tensor):
                raise ValueError(f"layer {name!r} has no weight tensor to mask")
            self.params[name] = weight
        self.masks: dict[str, torch.Tensor] = {
            n: torch.ones_like(p, dtype=torch.bool) for n, p in self.params.items()
        }
        self._refresh()

    @classmethod
    def from_masks(cls, model: nn.Module, masks: Mapping[str, torch.Tensor]) -> MaskSet:
        """A MaskSet over ``model`` holding copies of ``masks`` (scratch: same mask, new
        weights). Weights are not touched: call :meth:`apply_` after."""
        out = cls(model, list(masks))
        out.update_(masks)
        return out

    # -- bookkeeping -------------------------------------------------------------------
    def _refresh(self) -> None:
        # Only layers with something pruned take part in the per-step ops; their float
        # masks (weight dtype and device) are made here, once per prune event.
        active = [n for n in self.layer_names if not bool(self.masks[n].all())]
        self._weights = [self.params[n] for n in active]
        self._float_masks = [self.masks[n].to(self.params[n].dtype) for n in active]

    def to(self, device: torch.device | str) -> MaskSet:
        """Moves the masks to ``device`` (after the model moved); returns self."""
        self.masks = {n: m.to(device) for n, m in self.masks.items()}
        self._refresh()
        return self

    def update_(self, new_masks: Mapping[str, torch.Tensor]) -> None:
        """Replaces masks of the given layers; each new mask must be a subset of the old.

        Raises:
            ValueError: Unknown layer, wrong shape, or a new mask that keeps a weight the
                old one had pruned (pruned weights never revive).
        """
        staged: dict[str, torch.Tensor] = {}
        for name, new in new_masks.items():
            if name not in self.masks:
                raise ValueError(f"no masked layer {name!r}; layers: {self.layer_names}")
            old = self.masks[name]
            new = new.to(device=old.device, dtype=torch.bool)
            if new.shape != old.shape:
                raise ValueError(
                    f"mask for {name!r} has shape {tuple(new.shape)}, weight has {tuple(old.shape)}"
                )
            revived = int((new & ~old).sum())
            if revived:
                raise ValueError(
                    f"new mask for {name!r} revives {revived} pruned weight(s); masks may "
                    "only shrink"
                )
            staged[name] = new.clone()
        self.masks.update(staged)
        self._refresh()

    # -- the three-part enforcement ----------------------------------------------------
    @torch.no_grad()
    def apply_(self) -> None:
        """weights *= mask (in place; after every optimizer step and at prune time)."""
        if self._weights:
            torch._foreach_mul_(self._weights, self._float_masks)

    @torch.no_grad()
    def mask_grads_(self) -> None:
        """grads *= mask (in place; after ``backward()``, before ``optimizer.step()``)."""
        pairs = [
            (p.grad, m)
            for p, m in zip(self._weights, self._float_masks, strict=True)
            if p.grad is not None
        ]
        if pairs:
            grads, fmasks = zip(*pairs, strict=True)
            torch._foreach_mul_(list(grads), list(fmasks))

    @torch.no_grad()
    def zero_optimizer_state_(self, optimizer: torch.optim.Optimizer) -> None:
        """Zeroes every per-element state tensor of pruned entries (momentum_buffer,
        exp_avg, exp_avg_sq, max_exp_avg_sq, and any other state of the weight's shape).

        A fresh optimizer has no state yet: nothing to do, and its first moments are built
        from masked gradients, so they start at 0 for pruned entries.
        """
        for name in self.layer_names:
            p, mask = self.params[name], self.masks[name]
            for value in optimizer.state.get(p, {}).values():
                if isinstance(value, torch.Tensor) and value.shape == p.shape:
                    value.masked_fill_(~mask, 0.0)  # exact zero even for inf/nan state

    def enforce_(self, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Prune-time enforcement: :meth:`apply_` and, given one, zero ``optimizer``'s state."""
        self.apply_()
        if optimizer is not None:
            self.zero_optimizer_state_(optimizer)

    # -- views -------------------------------------------------------------------------
    @torch.no_grad()
    def effective_weights(self) -> dict[str, torch.Tensor]:
        """Layer name -> detached ``weight * mask`` (a new tensor, never the raw param)."""
        return {n: self.params[n].detach() * self.masks[n] for n in self.layer_names}

    def weights(self) -> dict[str, torch.Tensor]:
        """Layer name -> the detached weight tensor itself (no copy; pruner input)."""
        return {n: self.params[n].detach() for n in self.layer_names}

    def counts(self) -> dict[str, dict[str, int]]:
        """Layer name -> ``{"kept", "pruned", "total"}`` weight counts."""
        out: dict[str, dict[str, int]] = {}
        for n, m in self.masks.items():
            kept, total = int(m.sum()), m.numel()
            out[n] = {"kept": kept, "pruned": total - kept, "total": total}
        return out

    def n_kept(self) -> int:
        """Kept prunable weights over all layers."""
        return sum(int(m.sum()) for m in self.masks.values())

    def n_total(self) -> int:
        """Prunable weights over all layers."""
        return sum(m.numel() for m in self.masks.values())

    def sparsity(self) -> float:
        """Fraction of prunable weights pruned, over all layers."""
        total = self.n_total()
        return 1.0 - self.n_kept() / total if total else 0.0

    # -- persistence -------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"layers": [...], "masks": {name: bool CPU tensor}}``."""
        return {
            "layers": list(self.layer_names),
            "masks": {n: m.detach().cpu().clone() for n, m in self.masks.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restores masks saved by :meth:`state_dict` (no subset check: a resume).

        Raises:
            CheckpointError: The saved layers or shapes differ from this model's.
        """
        layers = list(state.get("layers", []))
        if layers != self.layer_names:
            raise CheckpointError(
                f"saved masks are for layers {layers}, this model's prunable layers are "
                f"{self.layer_names}; resume with the same model and prune config"
            )
        for name in layers:
            mask = state["masks"][name]
            if tuple(mask.shape) != tuple(self.masks[name].shape):
                raise CheckpointError(
                    f"saved mask for {name!r} has shape {tuple(mask.shape)}, the weight "
                    f"has {tuple(self.masks[name].shape)}"
                )
        self.masks = {
            n: state["masks"][n].to(device=self.masks[n].device, dtype=torch.bool).clone()
            for n in layers
        }
        self._refresh()
