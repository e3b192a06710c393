"""Plots: each returns the Axes it drew on, with labelled axes and the data it was given."""

import matplotlib

matplotlib.use("Agg")  # no display in tests

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes

from mlcourse import plots


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def assert_labelled(ax):
    assert isinstance(ax, Axes)
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


def test_log_likelihood_curve_marks_the_grid_maximum():
    theta = np.linspace(0.05, 0.95, 19)
    values = 3 * np.log(theta) + np.log(1 - theta)  # H, T, H, H: maximum at 3/4
    ax = plots.log_likelihood_curve(theta, values, best=0.75)
    assert_labelled(ax)
    curve, marker = ax.lines[:2]
    np.testing.assert_array_equal(curve.get_ydata(), values)
    assert marker.get_xdata()[0] == pytest.approx(0.75) and marker.get_ydata()[0] == values.max()
    assert ax.lines[2].get_xdata()[0] == 0.75  # the dashed line at `best`


def test_learning_curves_one_line_per_curve_and_reference():
    ax = plots.learning_curves({"train": [3.0, 2.0, 1.5], "held-out": [3.1, 2.4, 2.2]},
                               steps=[10, 100, 1000], references={"entropy rate": 1.17}, logx=True)
    assert_labelled(ax)
    assert [line.get_label() for line in ax.lines] == ["train", "held-out", "entropy rate = 1.17"]
    np.testing.assert_array_equal(ax.lines[1].get_xdata(), [10, 100, 1000])
    assert ax.get_xscale() == "log"
    with pytest.raises(ValueError, match="same length"):
        plots.learning_curves({"train": [1.0, 2.0]}, steps=[1])
    with pytest.raises(ValueError, match="at least one curve"):
        plots.learning_curves({})


def test_token_log_prob_bars_heights_and_labels():
    fig, given = plt.subplots()
    ax = plots.token_log_prob_bars(["A", "B", "<eos>"], [-0.5, -np.inf, -2.0], ax=given)
    assert ax is given
    assert_labelled(ax)
    heights = [bar.get_height() for bar in ax.patches]
    assert heights == [-0.5, -3.0, -2.0]  # -inf drawn one below the lowest finite bar
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A", "B", "<eos>"]
    assert [t.get_text() for t in ax.texts] == ["-0.50", "-inf", "-2.00"]
    with pytest.raises(ValueError, match="same length"):
        plots.token_log_prob_bars(["A"], [-0.5, -1.0])
