"""Sequence models, all behind one interface: the next-token distribution given a prefix.

A language model with parameters theta defines, for every prefix `<s> y_1 ... y_{t-1}`,
a distribution over the next token, Pr_theta(y_t | <s>, y_<t). `next_log_probs` returns these
as log-probabilities for a batch of prefixes, one row of length |V| per prefix. How a sequence's
log-probability follows from them is for the lessons (and their exercises), not for this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from mlcourse.vocab import BOS, Vocab


@runtime_checkable
class SequenceModel(Protocol):
    """What every model of the course offers."""

    vocab: Vocab

    def next_log_probs(self, prefixes: Sequence[Sequence[int]]) -> np.ndarray:
        """log Pr(. | prefix) for each prefix of token ids (each starting with `<s>`): shape (B, |V|)."""
        ...


def _check_prefixes(vocab: Vocab, prefixes: Sequence[Sequence[int]]) -> None:
    for prefix in prefixes:
        if len(prefix) == 0 or prefix[0] != vocab.bos_id:
            raise ValueError(f"every prefix starts with {BOS} (id {vocab.bos_id}); got {list(prefix)[:8]}")
        vocab.tokens(prefix)  # names any id outside the vocabulary


class TableModel:
    """A bigram model given by an explicit table of log Pr(token | previous token).

    `table[(previous, token)] = log-probability`, e.g. `{("<s>", "A"): -0.5, ("A", "<eos>"): -2.0}`.
    Entries that are not listed have probability 0 (log-probability -inf). Rows need not sum to 1:
    a worked example may list only the entries it uses.
    """

    def __init__(self, table: Mapping[tuple[str, str], float], vocab: Vocab | None = None) -> None:
        self.vocab = vocab or Vocab(sorted({t for pair in table for t in pair} - {BOS}))
        self.log_probs = np.full((len(self.vocab), len(self.vocab)), -np.inf)  # (previous, next)
        for (previous, token), value in table.items():
            if value > 0:
                raise ValueError(f"log Pr({token} | {previous}) = {value} is above 0: not a log-probability")
            self.log_probs[self.vocab.id(previous), self.vocab.id(token)] = value

    def next_log_probs(self, prefixes: Sequence[Sequence[int]]) -> np.ndarray:
        _check_prefixes(self.vocab, prefixes)
        return self.log_probs[[prefix[-1] for prefix in prefixes]]  # (B, V)
