"""Figure builders: small arrays in, the expected traces out (no files, no Dash)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from shedding import figures as F

WEBGL = {"scattergl", "heatmapgl", "pointcloud", "scatter3d", "surface", "mesh3d"}


def _types(fig: go.Figure) -> set[str]:
    return {t.type for t in fig.data}


def test_empty_figure_shows_the_message():
    fig = F.empty_figure("no snapshots yet")
    assert fig.layout.annotations[0].text == "no snapshots yet"
    assert not fig.data


def test_metrics_figure_rows_and_prune_lines():
    m = {
        "epoch": np.arange(1.0, 5.0),
        "train_acc": np.array([0.5, 0.6, 0.7, 0.8]),
        "test_acc": np.array([0.4, 0.5, 0.6, 0.7]),
        "test_loss": np.array([1.0, 0.9, 0.8, 0.7]),
        "lr": np.array([0.1, 0.1, 0.01, 0.01]),
        "train_loss": np.array([1.0]),  # wrong length: left out, not an error
    }
    fig = F.metrics_figure(m, prune_epochs=[2.0, 3.0])
    assert [t.name for t in fig.data] == [
        "train accuracy",
        "test accuracy",
        "test loss",
        "learning rate",
    ]
    assert fig.layout.yaxis3.type == "log"
    # the loss axis leaves out the first epoch's loss (1.0): 0.9 and below stay readable
    assert tuple(fig.layout.yaxis2.range) == pytest.approx((0.0, 0.9 * 1.08))
    vlines = [s for s in fig.layout.shapes if s.x0 == s.x1]
    assert sorted(s.x0 for s in vlines) == [2.0, 3.0] and {s.yref for s in vlines} == {"paper"}
    assert (
        F.metrics_figure({"epoch": np.array([])}).layout.annotations[0].text
        == "no metrics logged yet"
    )


def test_shed_figure_band_only_for_groups():
    x = np.arange(4.0)
    one = F.Curve("run", x, np.array([0, 0.1, 0.2, 0.3]))
    grp = F.Curve(
        "group", x, np.full(4, 0.2), lo=np.full(4, 0.1), hi=np.full(4, 0.3), n=3, dash="dash"
    )
    fig = F.shed_figure([one, grp], title="t", prune_epochs=[1.0])
    names = [t.name for t in fig.data]
    assert names == ["run", None, "group (n=3)"]  # the band is an unnamed filled trace
    band = fig.data[1]
    assert band.fill == "toself" and list(band.y) == [0.3] * 4 + [0.1] * 4
    assert fig.data[2].line.dash == "dash"
    assert fig.layout.yaxis.tickformat == "~%"  # as many decimals as the ticks need
    assert F.shed_figure([], title="t").layout.annotations[0].text == "nothing to show"


def test_hist_heatmap_normalises_each_snapshot_and_crops_empty_bins():
    edges = np.concatenate([[0.0], np.logspace(-8, 1, 10)])  # 10 bins: zero bin + 9 log bins
    hist = np.zeros((3, 10), np.int64)
    hist[:, 5] = [10, 5, 0]
    hist[:, 6] = [10, 15, 4]
    fig = F.hist_heatmap(hist, edges, threshold=np.array([1e-3, 1e-3, np.nan]), prune_epochs=[1.0])
    hm = fig.data[0]
    z = np.asarray(hm.z, float)  # (bins kept, S)
    assert z.shape[1] == 3
    # shares per snapshot: 0.5/0.5, 0.25/0.75, 0/1 (log10; empty cells NaN)
    col = 10 ** np.nan_to_num(z, nan=-np.inf)
    np.testing.assert_allclose(col.sum(axis=0), 1.0)
    assert len(hm.y) < 10  # bins with no weight in any snapshot are cropped
    assert fig.data[1].name == "shed threshold"
    np.testing.assert_allclose(fig.data[1].y[:2], [-3, -3])
    assert F.hist_heatmap(np.zeros((0, 10)), edges).layout.annotations[0].text == "no snapshots yet"


def test_flow_figure_revived_drawn_below_zero():
    fig = F.flow_figure(np.arange(3.0), np.array([0, 5, 2]), np.array([0, 1, 3]))
    shed, rev = fig.data
    assert list(shed.y) == [0, 5, 2] and list(rev.y) == [0, -1, -3]
    assert fig.layout.barmode == "relative"


def test_channel_map_is_channel_by_snapshot():
    frac = np.array([[0.0, 0.5, np.nan], [0.1, 1.0, np.nan]])  # (S=2, C=3)
    fig = F.channel_map(frac)
    z = np.asarray(fig.data[0].z, float)
    assert z.shape == (3, 2) and z[1, 1] == 1.0 and np.isnan(z[2]).all()
    assert (fig.data[0].zmin, fig.data[0].zmax) == (0, 1)


def test_trajectories_one_trace_per_fate_and_gaps_for_pruned():
    values = np.array([[1.0, -2.0, 0.5], [0.5, 0.0, 0.001], [0.25, 0.0, 0.3]])  # (S=3, K=3)
    fig = F.trajectories_figure(
        np.arange(3.0), values, ["kept", "pruned", "revived"], threshold=np.full(3, 0.01)
    )
    names = [t.name for t in fig.data]
    assert names == ["kept (1)", "revived (1)", "pruned (1)", "shed threshold"]
    pruned = fig.data[2]
    assert pruned.line.color == F.FATE_COLORS["pruned"]
    assert np.isnan(np.asarray(pruned.y, float)[1:3]).all()  # |w| = 0 leaves the log axis
    assert fig.layout.yaxis.type == "log"


def test_overlap_figure_annotated_symmetric():
    m = np.array([[1.0, 0.25], [0.25, 1.0]])
    fig = F.overlap_figure(["a", "b"], m)
    assert list(fig.data[0].x) == ["a", "b"] and fig.data[0].texttemplate == "%{z:.3f}"
    assert F.overlap_figure([], np.zeros((0, 0))).layout.annotations[0].text


@pytest.mark.parametrize(
    "fig",
    [
        F.metrics_figure({"epoch": np.arange(3.0), "test_acc": np.ones(3)}),
        F.shed_figure([F.Curve("a", np.arange(3.0), np.zeros(3))], title=""),
        F.hist_heatmap(np.ones((2, 4)), np.array([0.0, 1e-3, 1e-2, 1e-1, 1.0])),
        F.flow_figure(np.arange(2.0), np.ones(2), np.ones(2)),
        F.channel_map(np.zeros((2, 2))),
        F.trajectories_figure(np.arange(2.0), np.ones((2, 2)), ["kept", "shed"]),
        F.overlap_figure(["a"], np.ones((1, 1))),
    ],
)
def test_no_webgl_traces(fig):
    assert not _types(fig) & WEBGL


def test_time_axis_keeps_one_slot_per_snapshot():
    x = F.time_axis(np.array([1.0, 2.0, 3.0, 3.0, 4.0]))  # 3.0 twice: before/after a prune
    assert np.all(np.diff(x) > 0) and x[3] == pytest.approx(3.001)


def test_layer_figures_share_the_epoch_axis_and_mark_the_prunes():
    epoch = np.array([1.0, 2.0, 2.0, 3.0])
    hist = np.ones((4, 10), np.int64)
    edges = np.concatenate([[0.0], np.logspace(-8, 1, 10)])
    figs = [
        F.hist_heatmap(hist, edges, epoch=epoch, prune_epochs=[2.0]),
        F.flow_figure(epoch, np.ones(4), np.ones(4), prune_epochs=[2.0]),
        F.channel_map(np.zeros((4, 3)), epoch=epoch, prune_epochs=[2.0]),
        F.trajectories_figure(epoch, np.ones((4, 2)), ["kept", "shed"], prune_epochs=[2.0]),
    ]
    for fig in figs:
        assert fig.layout.xaxis.title.text == "epoch"
        assert [s.x0 for s in fig.layout.shapes] == [2.0]
        assert max(np.nanmax(np.asarray(t.x, float)) for t in fig.data) < 3.01


def test_palette_is_okabe_ito():
    okabe_ito = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"}
    assert set(F.PALETTE) >= okabe_ito and set(F.FATE_COLORS.values()) - {"#999999"} <= okabe_ito
