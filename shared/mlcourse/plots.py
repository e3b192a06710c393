"""The figures the lessons repeat. Each draws on `ax` (a new figure when None) and returns it.

They only draw what they are given: every number on a figure is computed in the lesson.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes


def _axes(ax: Axes | None) -> Axes:
    return ax if ax is not None else plt.subplots(figsize=(6, 3.5), layout="constrained")[1]


def _same_length(a: Sequence, b: Sequence, names: str) -> None:
    if len(a) != len(b):
        raise ValueError(f"{names} must have the same length, got {len(a)} and {len(b)}")


def log_likelihood_curve(
    params: Sequence[float],
    values: Sequence[float],
    best: float | None = None,
    *,
    xlabel: str = r"$\theta$",
    ylabel: str = r"$\log \Pr_\theta(D)$",
    title: str = "Log-likelihood of the data",
    ax: Axes | None = None,
) -> Axes:
    """Plot values[i] = log-likelihood at params[i] and mark its maximum.

    The marked point is the largest value on the grid; `best` (e.g. the maximum-likelihood
    estimate worked out by hand) adds a dashed vertical line, to compare the two.
    """
    _same_length(params, values, "params and values")
    ax = _axes(ax)
    params, values = np.asarray(params, dtype=float), np.asarray(values, dtype=float)
    top = int(np.nanargmax(values))
    ax.plot(params, values)
    ax.plot(params[top], values[top], "o", label=f"grid maximum at {params[top]:.3g}")
    if best is not None:
        ax.axvline(best, linestyle="--", color="gray", label=f"best = {best:.3g}")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend()
    return ax


def learning_curves(
    curves: Mapping[str, Sequence[float]],
    *,
    steps: Sequence[float] | None = None,
    references: Mapping[str, float] | None = None,
    xlabel: str = "step",
    ylabel: str = "loss (nats per token)",
    title: str = "Learning curves",
    logx: bool = False,
    ax: Axes | None = None,
) -> Axes:
    """One line per named curve (e.g. {"train": [...], "held-out": [...]}) against `steps`
    (0, 1, 2, ... when None), and a dashed horizontal line per reference value (e.g. an entropy
    rate)."""
    if not curves:
        raise ValueError("learning_curves needs at least one curve, e.g. {'train': losses}")
    ax = _axes(ax)
    for name, losses in curves.items():
        xs = range(len(losses)) if steps is None else steps
        _same_length(xs, losses, f"steps and curve {name!r}")
        ax.plot(xs, losses, marker="o" if len(losses) < 30 else None, label=name)
    for name, value in (references or {}).items():
        ax.axhline(value, linestyle="--", color="gray", label=f"{name} = {value:.4g}")
    if logx:
        ax.set_xscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend()
    return ax


def token_log_prob_bars(
    tokens: Sequence[str],
    log_probs: Sequence[float],
    *,
    ylabel: str = r"$\log \Pr(y_t \mid \mathrm{<s>}, y_{<t})$",
    title: str = "Log-probability of each token",
    ax: Axes | None = None,
) -> Axes:
    """A bar per token, as tall as its log-probability (at most 0), labelled with its value.

    A log-probability of -inf (a token the model rules out) is drawn one unit below the lowest
    finite bar, hatched, and labelled -inf.
    """
    _same_length(tokens, log_probs, "tokens and log_probs")
    ax = _axes(ax)
    values = np.asarray(log_probs, dtype=float)
    finite = np.isfinite(values)
    floor = min(values[finite].min(initial=0.0), 0.0) - 1.0
    bars = ax.bar(range(len(values)), np.where(finite, values, floor))
    for bar, ok in zip(bars, finite):
        bar.set_hatch("" if ok else "//")
    ax.bar_label(bars, labels=[f"{v:.2f}" if ok else "-inf" for v, ok in zip(values, finite)])
    ax.set_xticks(range(len(values)), [str(t) for t in tokens])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set(xlabel="token", ylabel=ylabel, title=title)
    return ax
