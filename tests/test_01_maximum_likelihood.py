"""Lesson 1's own tests: the seeds' worked numbers, every number the lesson prints, and the
solution's functions against independent oracles (torch autograd and cross_entropy)."""

import math
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from mlcourse.checking import reference

LESSON = "01_maximum_likelihood"
ROOT = Path(__file__).resolve().parents[1]
COIN = np.array([1, 0, 1, 1])  # Heads, Tails, Heads, Heads


def solution(name: str):
    return reference(name, LESSON)


def run_narrative_cell(marker: str) -> dict:
    """Namespace after running the setup cell, the answer cells and the one narrative cell containing `marker`."""
    notebook = nbformat.read(ROOT / "solutions" / LESSON / f"{LESSON}.ipynb", as_version=4)
    graded = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution") or
              c.metadata.get("nbgrader", {}).get("grade_id") == "setup"]
    narrative = [c for c in notebook.cells if c.cell_type == "code" and marker in c.source and "nbgrader" not in c.metadata]
    assert len(narrative) == 1, f"{len(narrative)} narrative cells contain {marker!r}"
    namespace: dict = {"__name__": "__main__"}
    for cell in [*(c for c in graded if c.cell_type == "code"), narrative[0]]:
        exec(cell.source, namespace)
    return namespace


def test_coin_mle_is_three_quarters_and_tops_the_grid():
    assert solution("bernoulli_mle")(COIN) == 0.75  # the seeds' answer
    grid = np.linspace(0.01, 0.99, 99)
    values = [solution("bernoulli_log_likelihood")(COIN, t) for t in grid]
    assert grid[int(np.argmax(values))] == pytest.approx(0.75)
    assert solution("bernoulli_log_likelihood")(COIN, 0.75) == pytest.approx(math.log(0.75**3 * 0.25), abs=1e-12)


def test_underflow_numbers_printed_in_section_1():
    assert np.prod(np.full(1074, 0.5)) > 0 and np.prod(np.full(1075, 0.5)) == 0.0
    assert np.cumprod(np.full(2000, 0.5))[-1] == 0.0
    assert solution("bernoulli_log_likelihood")(np.zeros(2000, dtype=int), 0.5) == pytest.approx(-1386.2944, abs=5e-5)
    assert solution("bernoulli_log_likelihood")(np.zeros(2000, dtype=int), 0.5) == pytest.approx(2000 * math.log(0.5))


def test_gradient_matches_autograd_and_ascent_reaches_the_mle():
    for x, theta in ((COIN, 0.5), (np.array([0, 0, 1, 0, 1]), 0.37)):
        t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        xt = torch.tensor(x, dtype=torch.float64)
        (-(xt * torch.log(t) + (1 - xt) * torch.log(1 - t)).sum()).backward()
        assert solution("log_likelihood_gradient")(x, theta) == pytest.approx(-t.grad.item(), rel=1e-12)
    assert solution("log_likelihood_gradient")(COIN, 0.5) == 4.0
    path = solution("gradient_ascent")(COIN, 0.5, 0.02, 40)
    assert path.shape == (41,) and f"{path[-1]:.6f}" == "0.750000"


def test_variance_bound_matches_simulation():
    rng = np.random.default_rng(0)
    estimates = rng.binomial(100, 0.3, size=200_000) / 100
    assert estimates.var() == pytest.approx(solution("answer_variance_bound"), rel=0.02)


def test_cross_entropy_is_entropy_plus_kl_and_mean_nll():
    p_data = np.array([0.75, 0.25])
    entropy = solution("cross_entropy")(p_data, p_data)
    assert f"{entropy:.4f}" == "0.5623"
    for theta in (0.2, 0.5, 0.75, 0.9):
        q = np.array([theta, 1 - theta])
        ce = solution("cross_entropy")(p_data, q)
        assert ce == pytest.approx(entropy + solution("kl_divergence")(p_data, q), abs=1e-12)
        assert ce == pytest.approx(-solution("bernoulli_log_likelihood")(COIN, theta) / 4, abs=1e-12)
    assert solution("kl_divergence")(p_data, p_data) == 0.0
    assert solution("kl_divergence")(np.array([0.0, 1.0]), np.array([0.5, 0.5])) == pytest.approx(math.log(2))


def test_softmax_regression_nll_matches_torch_cross_entropy():
    rng = np.random.default_rng(0)
    for scale in (1.0, 500.0):
        X, W, y = scale * rng.normal(size=(30, 4)), rng.normal(size=(4, 6)), rng.integers(0, 6, size=30)
        oracle = torch.nn.functional.cross_entropy(torch.tensor(X @ W), torch.tensor(y), reduction="sum").item()
        assert solution("softmax_regression_nll")(W, X, y) == pytest.approx(oracle, rel=1e-10)
    X, y, W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.array([0, 2, 1]), np.array([[2.0, 0, -1], [0, 1, 3]])
    oracle = torch.nn.functional.cross_entropy(torch.tensor(X @ W), torch.tensor(y), reduction="sum").item()
    assert oracle == pytest.approx(2.2016868431708225, abs=1e-12)  # the visible test's worked example


def test_least_squares_line_is_the_gaussian_mle():
    ns = run_narrative_cell("slope_ls, intercept_ls")
    design = np.stack([ns["x_reg"], np.ones_like(ns["x_reg"])], axis=1)
    (slope, intercept), *_ = np.linalg.lstsq(design, ns["y_reg"], rcond=None)
    assert (ns["slope_ls"], ns["intercept_ls"]) == pytest.approx((slope, intercept), abs=1e-10)
    # printed to 3 decimals: the two fits must agree at that precision
    assert f"{ns['slope_ml']:.3f} {ns['intercept_ml']:.3f}" == f"{slope:.3f} {intercept:.3f}"


def test_held_out_likelihood_picks_an_intermediate_degree():
    ns = run_narrative_cell("best_degree =")
    heldout = []
    for degree in range(10):
        fit = np.polynomial.Polynomial.fit(ns["x_train"], ns["y_train"], degree)
        sigma2 = np.mean((ns["y_train"] - fit(ns["x_train"])) ** 2)
        residuals = ns["y_heldout"] - fit(ns["x_heldout"])
        heldout.append(np.mean(-0.5 * residuals**2 / sigma2 - 0.5 * np.log(2 * np.pi * sigma2)))
    assert ns["heldout_ll"] == pytest.approx(heldout, rel=1e-6)
    assert ns["best_degree"] == int(np.argmax(heldout)) and 0 < ns["best_degree"] < 9
    assert np.all(np.diff(ns["train_ll"]) > -1e-9)  # the training likelihood never goes down with the degree


def test_trained_softmax_regression_agrees_with_torch():
    ns = run_narrative_cell("softmax regression")
    assert ns["agree"] is True
    assert ns["history"][-1] < ns["history"][0] == pytest.approx(math.log(3))
