"""Every pruner: exact counts, subsets of the old mask, the right weights, clear errors."""

from __future__ import annotations

import math

import pytest
import torch
from pruning_models import MODELS, build

from shedding.config import PruneConfig
from shedding.errors import ConfigError
from shedding.pruning import (
    PRUNERS,
    amount_to_reach,
    gmp_threshold,
    prunable_layers,
    prune,
    round_amounts,
    round_targets,
)
from shedding.pruning.magnitude import gmp_layer_counts

CFG = PruneConfig()
#: pruners whose count is in weights (l1_filter counts filters, nm follows its pattern)
WEIGHT_PRUNERS = ["gmp", "layerwise", "random", "random_layerwise", "random_matched"]
PER_LAYER = {"layerwise", "random_layerwise"}


def setup(model_name: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    model = build(model_name)
    layers = prunable_layers(model, CFG)
    weights = {n: m.weight.detach().clone() for n, m in layers.items()}
    masks = {n: torch.ones_like(w, dtype=torch.bool) for n, w in weights.items()}
    return weights, masks


def run(method: str, weights, masks, amount: float, seed: int = 0, cfg: PruneConfig = CFG):
    gen = torch.Generator().manual_seed(seed)
    return prune(method, weights, masks, amount=amount, cfg=cfg, generator=gen)


def kept(masks) -> int:
    return sum(int(m.sum()) for m in masks.values())


def test_registry_has_every_method_of_science_md():
    assert set(PRUNERS.names()) == {*WEIGHT_PRUNERS, "l1_filter", "nm"}


@pytest.mark.parametrize("method", WEIGHT_PRUNERS)
@pytest.mark.parametrize("model_name", sorted(MODELS))
@pytest.mark.parametrize("amount", [0.1, 0.37, 0.5, 0.9, 0.99])
def test_weight_pruners_hit_the_count_within_one_weight(method, model_name, amount):
    weights, masks = setup(model_name)
    # start from an already-sparse mask so "fraction of the kept weights" is tested too
    masks = run("random", weights, masks, 0.25, seed=5)
    before = kept(masks)
    new = run(method, weights, masks, amount)
    removed = before - kept(new)
    assert abs(removed - amount * before) <= 0.5 + 1e-9  # exact: round(amount·kept)
    for name in masks:
        assert not bool((new[name] & ~masks[name]).any()), "a pruned weight revived"
        assert new[name].dtype == torch.bool and new[name].shape == masks[name].shape
        if method in PER_LAYER:
            layer_removed = int(masks[name].sum() - new[name].sum())
            assert abs(layer_removed - amount * int(masks[name].sum())) < 1.0 + 1e-9


@pytest.mark.parametrize("method", sorted(PRUNERS.names()))
def test_amount_zero_prunes_nothing(method):
    weights, masks = setup("mlp")
    new = run(method, weights, masks, 0.0)
    assert all(torch.equal(new[n], masks[n]) for n in masks)
    assert all(new[n] is not masks[n] for n in masks)


@pytest.mark.parametrize("method", sorted(set(PRUNERS.names()) - {"nm"}))
@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_iterative_rounds_never_revive_and_land_on_the_target(method, model_name):
    weights, masks = setup(model_name)
    cfg = PruneConfig(sparsity=0.8, mode="iterative", rate=0.2)
    total = sum(m.numel() for m in masks.values())
    for k, target in enumerate(round_targets(cfg)):
        # the weights change between rounds, as they do during retraining
        weights = {n: w + 0.01 * torch.randn_like(w) for n, w in weights.items()}
        amount = amount_to_reach(masks, target) if method != "l1_filter" else round_amounts(cfg)[k]
        new = run(method, weights, masks, amount, seed=k)
        for n in masks:
            assert not bool((new[n] & ~masks[n]).any()), f"round {k}: {n} revived"
        masks = new
    if method != "l1_filter":
        assert abs((total - kept(masks)) - 0.8 * total) <= 1.0


@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_gmp_removes_exactly_the_smallest_kept_magnitudes(model_name):
    weights, masks = setup(model_name)
    masks = run("random", weights, masks, 0.3, seed=1)
    # pruned entries carry huge raw values: they must not count as "kept and large"
    weights = {n: torch.where(masks[n], w, torch.full_like(w, 1e6)) for n, w in weights.items()}
    new = run("gmp", weights, masks, 0.5)
    removed = torch.cat([weights[n][masks[n] & ~new[n]].abs() for n in masks])
    survived = torch.cat([weights[n][new[n]].abs() for n in masks])
    assert removed.max() <= survived.min()
    tau = gmp_threshold(weights, masks, amount=0.5)
    assert tau == pytest.approx(float(removed.max()))
    assert gmp_threshold(weights, masks, amount=0.0) == 0.0


def test_layerwise_removes_the_smallest_of_each_layer():
    weights, masks = setup("conv")
    new = run("layerwise", weights, masks, 0.4)
    for n in masks:
        gone, stay = weights[n][~new[n]].abs(), weights[n][new[n]].abs()
        assert gone.max() <= stay.min()


def test_ties_are_broken_deterministically_and_counts_stay_exact():
    weights, masks = setup("mlp")
    flat = {n: torch.ones_like(w) for n, w in weights.items()}  # every magnitude equal
    a = run("gmp", flat, masks, 0.5)
    b = run("gmp", flat, masks, 0.5)
    assert all(torch.equal(a[n], b[n]) for n in masks)
    assert kept(masks) - kept(a) == round(0.5 * kept(masks))


@pytest.mark.parametrize("method", ["random", "random_layerwise", "random_matched"])
def test_random_pruners_follow_the_generator(method):
    weights, masks = setup("conv")
    a, b, c = (run(method, weights, masks, 0.5, seed=s) for s in (3, 3, 4))
    assert all(torch.equal(a[n], b[n]) for n in masks)
    assert not all(torch.equal(a[n], c[n]) for n in masks)


def test_random_matched_uses_gmp_per_layer_counts():
    weights, masks = setup("conv")
    # make layers differ in scale so GMP's per-layer sparsities differ a lot
    weights = {n: w * (i + 1) ** 2 for i, (n, w) in enumerate(weights.items())}
    want = gmp_layer_counts(weights, masks, amount=0.6)
    assert len(set(c / masks[n].numel() for n, c in want.items())) > 1
    new = run("random_matched", weights, masks, 0.6, seed=9)
    got = {n: int(masks[n].sum() - new[n].sum()) for n in masks}
    assert got == want
    gmp = run("gmp", weights, masks, 0.6)
    assert not all(torch.equal(new[n], gmp[n]) for n in masks)


@pytest.mark.parametrize("amount", [0.25, 0.5, 0.7])
@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_l1_filter_removes_whole_filters_with_smallest_l1(model_name, amount):
    weights, masks = setup(model_name)
    new = run("l1_filter", weights, masks, amount)
    for n, m in new.items():
        rows = m.reshape(m.shape[0], -1)
        assert bool((rows.all(1) | ~rows.any(1)).all()), "a filter was pruned partly"
        gone = ~rows.any(1)
        n_filters = rows.shape[0]
        assert int(gone.sum()) == min(math.floor(amount * n_filters + 0.5), n_filters - 1)
        norms = weights[n].reshape(n_filters, -1).abs().sum(1)
        assert norms[gone].max() <= norms[~gone].min()


def test_l1_filter_counts_only_remaining_filters_and_keeps_one():
    weights, masks = setup("mlp")
    first = run("l1_filter", weights, masks, 0.5)
    second = run("l1_filter", weights, first, 0.5)
    for n in masks:
        left1 = int(first[n].reshape(first[n].shape[0], -1).any(1).sum())
        left2 = int(second[n].reshape(second[n].shape[0], -1).any(1).sum())
        assert left2 == left1 - math.floor(0.5 * left1 + 0.5)
    almost_all = run("l1_filter", weights, masks, 0.999)
    assert all(int(m.reshape(m.shape[0], -1).any(1).sum()) == 1 for m in almost_all.values())


@pytest.mark.parametrize("n,m", [(2, 4), (1, 4), (3, 4), (1, 2)])
@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_nm_keeps_the_n_largest_of_every_group(model_name, n, m):
    weights, masks = setup(model_name)
    cfg = PruneConfig(method="nm", n=n, m=m, sparsity=1 - n / m)
    new = run("nm", weights, masks, 1 - n / m, cfg=cfg)
    for name, mask in new.items():
        w = weights[name]
        groups = mask.movedim(1, -1).reshape(-1, m)  # m consecutive input channels
        wg = w.movedim(1, -1).reshape(-1, m).abs()
        assert bool((groups.sum(1) == n).all())
        assert bool(
            (
                wg.masked_fill(~groups, float("inf")).min(1).values
                >= wg.masked_fill(groups, -1.0).max(1).values
            ).all()
        )
    assert kept(new) == round(kept(masks) * n / m)


def test_nm_never_revives_and_respects_an_existing_mask():
    weights, masks = setup("mlp")
    sparse = run("random", weights, masks, 0.6, seed=2)
    cfg = PruneConfig(method="nm", sparsity=0.5)
    new = run("nm", weights, sparse, 0.5, cfg=cfg)
    for name in masks:
        assert not bool((new[name] & ~sparse[name]).any())
        assert bool((new[name].movedim(1, -1).reshape(-1, 4).sum(1) <= 2).all())


def test_nm_names_the_layer_whose_input_does_not_divide():
    weights, masks = setup("mlp")
    weights["odd"] = torch.randn(4, 6)
    masks["odd"] = torch.ones(4, 6, dtype=torch.bool)
    with pytest.raises(ConfigError, match=r"'odd'.*\(4, 6\).*not divisible by 4"):
        run("nm", weights, masks, 0.5, cfg=PruneConfig(method="nm"))
    with pytest.raises(ConfigError, match="0 < n < m"):
        run("nm", weights, masks, 0.5, cfg=PruneConfig(method="nm", n=4, m=4))


def test_bad_inputs_raise_clear_errors():
    weights, masks = setup("mlp")
    with pytest.raises(ConfigError, match=r"unknown pruner 'magnitude'; valid choices: gmp"):
        run("magnitude", weights, masks, 0.5)
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ConfigError, match=rf"prune amount {bad} must be in \[0, 1\)"):
            run("gmp", weights, masks, bad)
    with pytest.raises(ValueError, match="different layers"):
        run("gmp", {}, masks, 0.5)
    bad_shape = dict(weights)
    first = next(iter(bad_shape))
    bad_shape[first] = bad_shape[first].T
    with pytest.raises(ValueError, match="weight shape"):
        run("gmp", bad_shape, masks, 0.5)
