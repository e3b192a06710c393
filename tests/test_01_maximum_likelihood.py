"""Lesson 1's own tests: the seeds' worked numbers, every number the lesson prints (read from the
narrative's namespace), the claims its text makes, and the solution's functions against
independent oracles (torch autograd and cross_entropy, sampling)."""

import math

import numpy as np
import pytest
import torch

from mlcourse.checking import reference
from mlcourse.lessons import read_lesson

from .conftest import solution_path

LESSON = "01_maximum_likelihood"
COIN = np.array([1, 0, 1, 1])  # Heads, Tails, Heads, Heads


def solution(name: str):
    return reference(name, LESSON)


def markdown() -> str:
    cells = read_lesson(solution_path(LESSON)).cells
    return "\n\n".join(c.source for c in cells if c.cell_type == "markdown")


def test_coin_mle_is_three_quarters_and_tops_the_grid(narrative):
    assert solution("bernoulli_mle")(COIN) == 0.75  # the seeds' answer
    assert narrative["grid"][int(np.argmax(narrative["log_liks"]))] == pytest.approx(0.75)
    assert solution("bernoulli_log_likelihood")(COIN, 0.75) == pytest.approx(
        math.log(0.75**3 * 0.25), abs=1e-12)


def test_the_three_objectives_of_exercise_3_share_their_optimum():
    grid = np.linspace(0.01, 0.99, 99)
    log_lik = np.array([solution("bernoulli_log_likelihood")(COIN, t) for t in grid])
    assert (grid[np.argmax(log_lik)] == grid[np.argmin(-log_lik / 4)]
            == grid[np.argmax(np.exp(log_lik))])
    assert solution("answer_same_maximiser") == "a"


def test_underflow_numbers_printed_in_section_1(narrative):
    assert narrative["first_zero"] == 1075 and "$k = 1075$" in markdown()
    # "about 5 x 10^-324"
    assert np.nextafter(0.0, 1.0) == 2.0**-1074 and f"{2.0**-1074:.0e}" == "5e-324"
    assert narrative["running_product"][-1] == 0.0 and narrative["running_product"][1073] > 0
    assert f"{narrative['running_log_sum'][-1]:.4f}" == "-1386.2944"
    assert solution("bernoulli_log_likelihood")(np.zeros(2000, dtype=int), 0.5) == pytest.approx(
        2000 * math.log(0.5))


def test_gradient_matches_autograd_and_ascent_reaches_the_mle(narrative):
    for x, theta in ((COIN, 0.5), (COIN, 0.6), (np.array([0, 0, 1, 0, 1]), 0.37)):
        t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        xt = torch.tensor(x, dtype=torch.float64)
        (-(xt * torch.log(t) + (1 - xt) * torch.log(1 - t)).sum()).backward()
        assert solution("log_likelihood_gradient")(x, theta) == pytest.approx(-t.grad.item(),
                                                                              rel=1e-12)
    assert (narrative["theta"].grad.item() == -4.0
            and solution("log_likelihood_gradient")(COIN, 0.5) == 4.0)
    assert f"{narrative['path'][-1]:.6f}" == "0.750000" and len(narrative["path"]) == 41
    # the visible test's worked path: theta_2 = 0.58 + 0.02 * gradient(0.58)
    path = solution("gradient_ascent")(COIN, 0.5, 0.02, 100)
    assert path[2] == pytest.approx(0.58 + 0.02 * (3 / 0.58 - 1 / 0.42), rel=1e-12)
    assert path[-1] == pytest.approx(0.75, abs=1e-6)


def test_variance_bound_matches_simulation_and_the_written_answer(narrative):
    rng = np.random.default_rng(0)
    estimates = rng.binomial(100, 0.3, size=200_000) / 100
    assert estimates.var() == pytest.approx(solution("answer_variance_bound"), rel=0.02)
    simulated = narrative["estimates"].var(axis=0)
    assert simulated == pytest.approx(narrative["bound"], rel=0.1)  # "variance at the bound"
    # the model answer: a fair coin's MLE from 4 flips has variance 0.0625 (sd 0.25); from 4000,
    # two standard deviations are under two hundredths
    assert 0.25 / 4 == 0.0625 and math.sqrt(0.25 / 4) == 0.25 and 2 * math.sqrt(0.25 / 4000) < 0.02


def test_cross_entropy_is_entropy_plus_kl_and_mean_nll(narrative):
    p_data = np.array([0.75, 0.25])
    entropy = solution("cross_entropy")(p_data, p_data)
    assert f"{entropy:.4f}" == f"{narrative['entropy']:.4f}" == "0.5623"
    assert narrative["same"]
    for theta in (0.2, 0.5, 0.75, 0.9):
        q = np.array([theta, 1 - theta])
        ce = solution("cross_entropy")(p_data, q)
        assert ce == pytest.approx(entropy + solution("kl_divergence")(p_data, q), abs=1e-12)
        assert ce == pytest.approx(-solution("bernoulli_log_likelihood")(COIN, theta) / 4,
                                   abs=1e-12)
    assert solution("kl_divergence")(p_data, p_data) == 0.0
    assert solution("kl_divergence")(np.array([0.0, 1.0]), np.array([0.5, 0.5])) == pytest.approx(
        math.log(2))


def test_forward_kl_covers_both_modes_and_reverse_kl_picks_one(narrative):
    xs, p_modes = narrative["xs"], narrative["p_modes"]
    mean = float(np.sum(xs * p_modes))
    variance = float(np.sum((xs - mean) ** 2 * p_modes))
    # the maximum-likelihood Gaussian matches the mean and variance: on the grid, and for samples
    assert (mean, variance) == pytest.approx((-0.8, 3.61), abs=1e-9)
    # exercise 9's mixture, 0.6 N(-1, 0.5^2) + 0.4 N(3, 0.5^2): the same on the grid and by sampling
    gaussian = narrative["gaussian"]
    other = 0.6 * gaussian(-1, 0.5) + 0.4 * gaussian(3, 0.5)
    other_mean = float(np.sum(xs * other))
    other_variance = float(np.sum((xs - other_mean) ** 2 * other))
    assert solution("answer_fitted_variance") == pytest.approx(other_variance, abs=1e-6)
    assert solution("answer_fitted_variance") == pytest.approx(4.09, abs=1e-12)
    rng = np.random.default_rng(0)
    mode = rng.random(400_000) < 0.7
    sample = np.where(mode, rng.normal(-2, 0.5, mode.size), rng.normal(2, 0.5, mode.size))
    assert (sample.mean(), sample.var()) == pytest.approx((-0.8, 3.61), abs=0.02)
    # the grid search finds that fit (printed: mu = -0.80, sigma^2 = 3.61), the reverse KL one mode
    assert narrative["forward"] == pytest.approx((-0.8, 1.9), abs=1e-9)
    assert narrative["reverse"] == pytest.approx((-2.0, 0.5), abs=1e-9)
    assert (f"{narrative['forward_kl']:.3f}" == "0.721"
            and f"{narrative['reverse_kl']:.3f}" == "0.357")
    # "about log(1 / 0.7)"
    assert narrative["reverse_kl"] == pytest.approx(math.log(1 / 0.7), abs=1e-3)
    # self-check 4: much of the fit's mass lies in the valley between the modes, where the data
    # have little
    valley = np.abs(xs) <= 0.5
    assert gaussian(*narrative["forward"])[valley].sum() > 100 * p_modes[valley].sum()


def test_softmax_regression_nll_matches_torch_cross_entropy():
    rng = np.random.default_rng(0)
    for scale in (1.0, 500.0):
        X, W, y = (scale * rng.normal(size=(30, 4)), rng.normal(size=(4, 6)),
                   rng.integers(0, 6, size=30))
        oracle = torch.nn.functional.cross_entropy(torch.tensor(X @ W), torch.tensor(y),
                                                   reduction="sum").item()
        assert solution("softmax_regression_nll")(W, X, y) == pytest.approx(oracle, rel=1e-10)
    X, y, W = (np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.array([0, 2, 1]),
               np.array([[2.0, 0, -1], [0, 1, 3]]))
    logits = torch.tensor(X @ W)
    oracle = torch.nn.functional.cross_entropy(logits, torch.tensor(y), reduction="sum").item()
    # the visible test's worked example
    assert oracle == pytest.approx(2.2016868431708225, abs=1e-12)
    by_column = -torch.log_softmax(logits, dim=0)[np.arange(3), y].sum().item()
    assert by_column == pytest.approx(1.9471811210052352, abs=1e-12)  # its wrong-axis misconception


def test_least_squares_line_is_the_gaussian_mle(narrative):
    design = np.stack([narrative["x_reg"], np.ones_like(narrative["x_reg"])], axis=1)
    (slope, intercept), *_ = np.linalg.lstsq(design, narrative["y_reg"], rcond=None)
    assert (narrative["slope_ls"], narrative["intercept_ls"]) == pytest.approx((slope, intercept),
                                                                               abs=1e-10)
    # printed to 3 decimals: the two fits must agree at that precision
    assert (f"{narrative['slope_ml']:.3f} {narrative['intercept_ml']:.3f}"
            == f"{slope:.3f} {intercept:.3f}")


def test_held_out_likelihood_and_the_table_of_exercise_12(narrative):
    heldout = []
    for degree in range(10):
        fit = np.polynomial.Polynomial.fit(narrative["x_train"], narrative["y_train"], degree)
        sigma2 = np.mean((narrative["y_train"] - fit(narrative["x_train"])) ** 2)
        residuals = narrative["y_heldout"] - fit(narrative["x_heldout"])
        heldout.append(np.mean(-0.5 * residuals**2 / sigma2 - 0.5 * np.log(2 * np.pi * sigma2)))
    train = narrative["train_ll"]
    assert narrative["heldout_ll"] == pytest.approx(heldout, rel=1e-6)
    assert narrative["best_degree"] == int(np.argmax(heldout)) == 3  # option b
    # option a; never goes down
    assert int(np.argmax(train)) == 9 and np.all(np.diff(train) > -1e-9)
    assert max(train) > 0  # log-densities above 0: densities above 1 (option d's premise)

    def shown(value):
        return f"{value:+.2f}".replace("-", "−")

    for degree in (1, 3, 9):
        row = f"| {degree} | {shown(train[degree])} | {shown(heldout[degree])} |"
        assert row in markdown(), row



WRONG_GRADIENTS = [  # a slip in Exercise 4, whose function Exercise 5 calls
    "def log_likelihood_gradient(x, theta):  # the mean over flips, not the sum\n"
    "    x = np.asarray(x)\n"
    "    return float(np.mean(x / theta - (1 - x) / (1 - theta)))\n",
    "def log_likelihood_gradient(x, theta):  # the chain rule's minus sign lost\n"
    "    x = np.asarray(x)\n"
    "    return float(np.sum(x / theta + (1 - x) / (1 - theta)))\n",
]


@pytest.mark.parametrize("helper", WRONG_GRADIENTS)
def test_a_wrong_gradient_costs_only_its_own_exercise(helper, graded_run, capsys):
    """Error carried forward: gradient_ascent, which calls the student's gradient, is graded
    against what it should return with that gradient, and passes with a note."""
    outcomes = graded_run(LESSON, {"log_likelihood_gradient": helper})
    assert {test for test, error in outcomes.items() if error is not None} == {
        "test_log_likelihood_gradient"}
    assert "right given your `log_likelihood_gradient` (Exercise 4)" in capsys.readouterr().out


def test_a_wrong_ascent_still_fails_with_a_wrong_gradient(graded_run):
    downhill = ("def gradient_ascent(x, theta, lr, steps):\n    path = [theta]\n"
                "    for _ in range(steps):\n"
                "        theta = theta - lr * log_likelihood_gradient(x, theta)\n"
                "        path.append(theta)\n    return np.array(path)\n")
    outcomes = graded_run(LESSON, {"log_likelihood_gradient": WRONG_GRADIENTS[0],
                                   "gradient_ascent": downhill})
    assert outcomes["test_gradient_ascent"] is not None
