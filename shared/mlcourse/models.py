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
        """log Pr(. | prefix) for each prefix of token ids (each starting with `<s>`): shape
        (B, |V|)."""
        ...


def _check_prefixes(vocab: Vocab, prefixes: Sequence[Sequence[int]]) -> None:
    for prefix in prefixes:
        if len(prefix) == 0 or prefix[0] != vocab.bos_id:
            raise ValueError(f"every prefix starts with {BOS} (id {vocab.bos_id}); "
                             f"got {list(prefix)[:8]}")
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
                raise ValueError(f"log Pr({token} | {previous}) = {value} is above 0: "
                                 "not a log-probability")
            self.log_probs[self.vocab.id(previous), self.vocab.id(token)] = value

    def next_log_probs(self, prefixes: Sequence[Sequence[int]]) -> np.ndarray:
        _check_prefixes(self.vocab, prefixes)
        return self.log_probs[[prefix[-1] for prefix in prefixes]]  # (B, V)


class NGramModel:
    """An n-gram model estimated by counting, with add-k smoothing:

        Pr(w | c) = (count(c, w) + k) / (count(c) + k |V'|)

    where c is the n-1 tokens before w and V' is the set of tokens that can be predicted (every
    token but `<s>` and `<pad>`). Each training sequence is counted as
    `<s> ... <s> y_1 ... y_n <eos>` (n-1 `<s>` on the left), on its own: no n-gram spans two
    sequences. k = 0 is the maximum-likelihood estimate.

    A context never seen in training has count(c) = 0: with k > 0 its distribution is uniform over
    V' (the formula gives k / (k |V'|)); with k = 0 it would be 0/0, so `next_log_probs` raises
    `ValueError` naming the context rather than inventing a distribution.

    The counts stay private on purpose: turning counts into probabilities is an exercise (see
    shared/README.md); this model exists so that lessons can fit one on data in a line.
    """

    def __init__(self, n: int, vocab: Vocab, k: float = 0.0) -> None:
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an integer >= 1 (n = 2 is a bigram model), got {n!r}")
        if not k >= 0:
            raise ValueError(f"add-k smoothing needs k >= 0, got k = {k!r}")
        self.n, self.vocab, self.k = n, vocab, float(k)
        self._counts: dict[tuple[int, ...], np.ndarray] = {}  # context -> count of each next id
        self._rows: dict[tuple[int, ...], np.ndarray] = {}  # context -> log Pr(. | context), (V,)
        # count(c) = 0: uniform over V' when k > 0, undefined (0/0) when k = 0
        self._unseen = self._smoothed_log_probs(np.zeros(len(vocab))) if self.k > 0 else None

    @classmethod
    def fit(
        cls, sequences: Sequence[Sequence[str] | str], n: int, k: float = 0.0,
        vocab: Vocab | None = None
    ) -> NGramModel:
        """Count the n-grams of `sequences` (lists of tokens, or texts that `vocab` splits into
        tokens).

        Without `vocab`, the vocabulary is every token of `sequences`, sorted.
        """
        if vocab is None and any(isinstance(seq, str) for seq in sequences):
            raise TypeError("texts need vocab= to say how to split them into tokens; "
                            "or pass lists of tokens")
        token_lists = [vocab.tokenize(seq) if isinstance(seq, str) else list(seq)
                       for seq in sequences]
        vocab = vocab or Vocab(sorted({t for tokens in token_lists for t in tokens}))
        model = cls(n, vocab, k)
        for tokens in token_lists:
            model._count(vocab.ids(tokens))
        model._normalise()
        return model

    def _count(self, ids: list[int]) -> None:
        if {self.vocab.bos_id, self.vocab.eos_id, self.vocab.pad_id} & set(ids):
            raise ValueError("pass sequences without <s>, <eos> or <pad>: "
                             "the model adds <s> and <eos> itself")
        padded = [self.vocab.bos_id] * (self.n - 1) + ids + [self.vocab.eos_id]
        for t in range(self.n - 1, len(padded)):
            context = tuple(padded[t - self.n + 1 : t])
            self._counts.setdefault(context, np.zeros(len(self.vocab)))[padded[t]] += 1

    def _predictable(self) -> np.ndarray:
        """1 for the tokens of V' (all but <s> and <pad>), 0 for the others: (V,)."""
        mask = np.ones(len(self.vocab))
        mask[[self.vocab.bos_id, self.vocab.pad_id]] = 0
        return mask

    def _smoothed_log_probs(self, counts: np.ndarray) -> np.ndarray:
        """log (count(c, w) + k) / (count(c) + k |V'|) for every w in V', -inf outside V': (V,)."""
        predictable = self._predictable()
        probs = (counts + self.k) * predictable / (counts.sum() + self.k * predictable.sum())
        # log 0 = -inf for <s>, <pad> and, when k = 0, unseen n-grams
        with np.errstate(divide="ignore"):
            return np.log(probs)

    def _normalise(self) -> None:
        self._rows = {context: self._smoothed_log_probs(counts)
                      for context, counts in self._counts.items()}

    def _context(self, prefix: Sequence[int]) -> tuple[int, ...]:
        """The last n-1 ids of `<s>^(n-1) + prefix[1:]` (the prefix already starts with one <s>)."""
        padded = [self.vocab.bos_id] * (self.n - 1) + [int(i) for i in prefix[1:]]
        return tuple(padded[len(padded) - self.n + 1 :])

    def next_log_probs(self, prefixes: Sequence[Sequence[int]]) -> np.ndarray:
        """log Pr(. | last n-1 tokens of each prefix): shape (B, |V|); -inf for <s>, <pad> and
        unseen n-grams."""
        _check_prefixes(self.vocab, prefixes)
        rows = []
        for prefix in prefixes:
            context = self._context(prefix)
            row = self._rows.get(context, self._unseen)
            if row is None:
                raise ValueError(
                    f"the context {' '.join(self.vocab.tokens(context))!r} never occurs in the "
                    "training data, so with k = 0 its next-token distribution is 0/0: "
                    "fit with k > 0 (add-k smoothing)"
                )
            rows.append(row)
        return np.stack(rows) if rows else np.zeros((0, len(self.vocab)))  # (B, V)


class OneCallModel:
    """A test device for exercises that ask for every prefix in one call of `next_log_probs`.

    The first call is answered as `model` answers it; every later call gets the uniform
    distribution over the tokens that can be predicted (all but `<s>` and `<pad>`). So an answer
    that asks the model more than once scores its later prefixes under another model, and the
    value it returns shows it. Wrap a fresh model for each call of the answer being checked.
    """

    def __init__(self, model: SequenceModel) -> None:
        self.vocab = model.vocab
        self._model, self._calls = model, []  # one entry per call so far

    def next_log_probs(self, prefixes: Sequence[Sequence[int]]) -> np.ndarray:
        rows = np.asarray(self._model.next_log_probs(prefixes), dtype=float)  # (B, V)
        self._calls.append(len(prefixes))
        first = len(self._calls) == 1
        return rows if first else np.tile(_uniform_log_probs(self.vocab), (len(rows), 1))


def _uniform_log_probs(vocab: Vocab) -> np.ndarray:
    """log of the uniform distribution over every token but <s> and <pad> (-inf for those two):
    (V,)."""
    predictable = np.ones(len(vocab), dtype=bool)
    predictable[[vocab.bos_id, vocab.pad_id]] = False
    return np.where(predictable, -np.log(predictable.sum()), -np.inf)
