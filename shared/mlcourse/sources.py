"""A Markov source: sequences drawn from a distribution we know exactly.

Real text has an unknown distribution p_data, so we can only ever estimate how far a model is
from it. A first-order Markov chain that stops at `<eos>` is a p_data we can write down:

    Pr(y_1 ... y_n <eos>) = Pr(y_1 | <s>) Pr(y_2 | y_1) ... Pr(y_n | y_{n-1}) Pr(<eos> | y_n)

so the lessons can compare a model trained by maximum likelihood on samples with the truth:
its held-out negative log-likelihood per token against the source's entropy rate (the lowest
possible), and KL(p_data || p_model) = E_data[log p_data(seq) - log p_model(seq)] against 0.

`log_prob` below evaluates this product for the *known* chain from its matrices. It is not the
exercise "sum the log-probabilities a model gives the tokens of a sequence": that exercise works
on any `SequenceModel` through `next_log_probs`, which this class does not use; `log_prob` is the
data distribution the lessons measure models against. All logs are natural logs (nats).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mlcourse.models import _check_prefixes
from mlcourse.vocab import BOS, EOS, PAD, Vocab


class MarkovSource:
    """A first-order Markov chain over `tokens` in which `<eos>` ends the sequence.

    `start[j]` = Pr(y_1 = j | <s>) and `transition[i, j]` = Pr(y_t = j | y_{t-1} = i), where the
    columns are the tokens in order followed by `<eos>`: `start` has shape (m + 1,) and
    `transition` shape (m, m + 1) for m tokens. Every token must be able to reach `<eos>`.
    """

    def __init__(self, tokens: Sequence[str], start: Sequence[float],
                 transition: Sequence[Sequence[float]]) -> None:
        tokens = list(tokens)
        if {BOS, EOS, PAD} & set(tokens) or len(set(tokens)) != len(tokens) or not tokens:
            raise ValueError("tokens must be distinct, non-empty and not special tokens; "
                             f"got {tokens}")
        m = len(tokens)
        self.tokens, self.columns = tokens, [*tokens, EOS]
        self.start = _distribution(start, (m + 1,), "start")  # (m+1,)
        self.transition = _distribution(transition, (m, m + 1), "transition")  # (m, m+1)
        if np.max(np.abs(np.linalg.eigvals(self.transition[:, :m]))) >= 1 - 1e-12:
            raise ValueError("some tokens can never reach <eos>: sequences would go on for ever")
        self.vocab = Vocab(tokens)
        self._first_id = self.vocab.id(tokens[0])  # the tokens' ids are consecutive, in order
        with np.errstate(divide="ignore"):  # log 0 = -inf for impossible steps
            self._log_start, self._log_transition = np.log(self.start), np.log(self.transition)

    @classmethod
    def example(cls) -> MarkovSource:
        """The course's default source: three tokens, about 6.1 tokens before <eos> on average."""
        return cls(
            ["A", "B", "C"],
            start=[0.5, 0.3, 0.2, 0.0],
            transition=[
                [0.1, 0.6, 0.2, 0.1],  # after A
                [0.3, 0.1, 0.4, 0.2],  # after B
                [0.5, 0.2, 0.1, 0.2],  # after C
            ],
        )

    @classmethod
    def random(cls, n_tokens: int, seed: int, mean_length: float = 8.0,
               concentration: float = 0.5) -> MarkovSource:
        """A random source: each row ends with probability 1/mean_length, the rest drawn from
        Dirichlet(concentration), so sequences have on average `mean_length` tokens before
        `<eos>`."""
        if n_tokens < 1 or mean_length < 1:
            raise ValueError("need n_tokens >= 1 and mean_length >= 1, "
                             f"got {n_tokens} and {mean_length}")
        rng = np.random.default_rng(seed)
        p_end = 1.0 / mean_length
        rows = (1 - p_end) * rng.dirichlet(np.full(n_tokens, concentration),
                                           size=n_tokens)  # (m, m)
        transition = np.hstack([rows, np.full((n_tokens, 1), p_end)])  # (m, m+1)
        start = np.append(rng.dirichlet(np.full(n_tokens, concentration)), 0.0)  # (m+1,)
        return cls([f"t{i}" for i in range(n_tokens)], start, transition)

    def sample(self, n: int, rng: np.random.Generator | int) -> list[list[str]]:
        """n sequences drawn from the source, as lists of tokens without `<s>` and `<eos>`."""
        rng = np.random.default_rng(rng)
        m = len(self.tokens)
        # (1+m, m+1); row 0 is <s>
        cumulative = np.cumsum(np.vstack([self.start, self.transition]), axis=1)
        state = np.zeros(n, dtype=np.int64)  # row of `cumulative` each sequence is in
        alive = np.ones(n, dtype=bool)
        steps = []
        while alive.any():
            u = rng.random(n)
            # inverse CDF; m is <eos>
            nxt = np.minimum((cumulative[state] < u[:, None]).sum(axis=1), m)
            nxt[~alive] = m
            steps.append(nxt)
            alive &= nxt != m
            # finished sequences keep drawing from row 0, ignored
            state = np.where(alive, nxt + 1, 0)
        drawn = np.stack(steps, axis=1)  # (n, longest + 1)
        return [[self.tokens[j] for j in row[: np.argmax(row == m)]] for row in drawn]

    def log_prob(self, sequence: Sequence[str] | str) -> float:
        """log p_data(y_1 ... y_n <eos>) for the tokens y_1 ... y_n (a list, or a text such as
        "A B C"; without `<s>` and `<eos>`)."""
        sequence = self.vocab.tokenize(sequence) if isinstance(sequence, str) else list(sequence)
        if BOS in sequence or EOS in sequence or PAD in sequence:
            raise ValueError(f"pass the tokens without {BOS}, {EOS} or {PAD}: "
                             f"the source adds them; got {sequence}")
        states = [self.vocab.id(t) - self._first_id for t in sequence]  # row/column of each token
        if not states:
            return float(self._log_start[-1])
        steps = self._log_transition[states[:-1], states[1:]]
        return float(self._log_start[states[0]] + steps.sum()
                     + self._log_transition[states[-1], -1])

    def next_log_probs(self, prefixes: Sequence[Sequence[int]]) -> np.ndarray:
        """log Pr(. | prefix) under the source (a `SequenceModel`, the true one): shape (B, |V|)."""
        _check_prefixes(self.vocab, prefixes)
        columns = [*range(self._first_id, self._first_id + len(self.tokens)), self.vocab.eos_id]
        out = np.full((len(prefixes), len(self.vocab)), -np.inf)  # (B, V)
        for row, prefix in zip(out, prefixes):
            last = int(prefix[-1])
            if last == self.vocab.bos_id:
                row[columns] = self._log_start
            elif last in (self.vocab.eos_id, self.vocab.pad_id):
                raise ValueError(f"nothing follows {self.vocab.tokens([last])[0]}: "
                                 "the sequence has ended")
            else:
                row[columns] = self._log_transition[last - self._first_id]
        return out

    def expected_visits(self) -> np.ndarray:
        """E[number of times each token occurs in a sequence] = s (I - Q)^-1: shape (m,).

        s = start without its <eos> entry and Q = the token-to-token block of `transition`;
        s Q^(t-1) is the distribution of y_t, and (I - Q)^-1 = I + Q + Q^2 + ... sums over t.
        """
        m = len(self.tokens)
        fundamental = np.linalg.inv(np.eye(m) - self.transition[:, :m])  # (m, m)
        return self.start[:m] @ fundamental

    def entropy_rate(self) -> float:
        """H = E[-log p_data(seq)] / E[number of predicted tokens], in nats per token.

        E[-log p_data(seq)] = H(start) + sum_i visits_i H(transition[i]); the predicted tokens are
        y_1 ... y_n and `<eos>`, so their expected number is 1 + sum_i visits_i.
        """
        visits = self.expected_visits()  # (m,)
        row_entropies = np.array([_entropy(row) for row in self.transition])  # (m,)
        return (_entropy(self.start) + visits @ row_entropies) / (1 + visits.sum())


def _distribution(values: Sequence, shape: tuple[int, ...], name: str) -> np.ndarray:
    """`values` as an array of probability rows, or an error saying what is wrong with it."""
    array = np.asarray(values, dtype=np.float64)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (columns: the tokens, then <eos>), "
                         f"got {array.shape}")
    if (array < 0).any() or not np.allclose(array.sum(axis=-1), 1.0, atol=1e-9):
        raise ValueError(f"every row of {name} must be non-negative and sum to 1; "
                         f"row sums are {array.sum(axis=-1)}")
    return array


def _entropy(p: np.ndarray) -> float:
    """H(p) = -sum_j p_j log p_j, with 0 log 0 = 0."""
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())
