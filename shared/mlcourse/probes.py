"""Which tokens a loss scores, read from the loss itself (issue 22's sensitivity probes, for losses
that add up log-probabilities of tokens).

A `FixedLM` predicts one distribution at every position, whatever it reads, so a loss
`-sum log Pr(target)` over it is `sum_w c_w (-log Pr(w))`, `c_w` the number of scored targets
that are token `w`. Doubling one token's probability, with the mass taken from a reserve token
that no data hold, moves no other token's probability: the loss then falls by exactly
`c_w log 2`. `expect_scored` reads every `c_w` so, and names a wrong one by the part of the
sequence the token belongs to ("`<eos>` is not scored"), where a loss value alone could be any
three tokens' sum.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from mlcourse.checking import CheckFailure, as_array
from mlcourse.vocab import Vocab

RESERVE_LOGIT = 4.0  # the reserve holds about half the mass: any token's probability can double


class FixedLM(nn.Module):
    """A language model whose prediction is softmax(`logits`) at every position; `logits` is a
    parameter, so a loss over it has gradients. Random logits in [-1, 0) (from `seed`) give every
    token its own probability, the `reserve` token (by default the last id) most of the rest."""

    def __init__(self, vocab: Vocab, logits: Any = None, *, seed: int = 0,
                 reserve: int | None = None) -> None:
        super().__init__()
        self.vocab = vocab
        self.reserve = len(vocab) - 1 if reserve is None else reserve
        if logits is None:
            logits = torch.rand(len(vocab), generator=torch.Generator().manual_seed(seed)) - 1
            logits[self.reserve] = RESERVE_LOGIT
        self.logits = nn.Parameter(torch.as_tensor(logits, dtype=torch.float32).clone())

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V) for token ids (B, T): the same row at every position."""
        return self.logits + torch.zeros(*ids.shape, 1)  # a new tensor, not a view of the parameter

    def log_probs(self) -> np.ndarray:
        """log Pr(w) for every token w, in float64."""
        return torch.log_softmax(self.logits.detach().double(), 0).numpy()

    def doubled(self, token: int) -> FixedLM:
        """The same model with Pr(`token`) doubled, the mass taken from the reserve alone."""
        z = self.logits.detach().double().clone()
        z[self.reserve] = torch.log(z[self.reserve].exp() - z[token].exp())
        z[token] += math.log(2)
        return FixedLM(self.vocab, z, reserve=self.reserve)


def scored_counts(loss, model: FixedLM, pairs: Any,
                  tokens: Sequence[int]) -> dict[int, float] | None:
    """{w: how many scored targets are token w} for `loss(model, pairs)`, read from how the loss
    falls when Pr(w) doubles; None when the loss cannot be read (it raises, or is not a number)."""
    def value(m: FixedLM) -> float | None:
        try:
            array = as_array(loss(m, pairs))
        except Exception:  # noqa: BLE001 - the value check reports a loss that raises
            return None
        return float(array) if array is not None and array.ndim == 0 else None

    base = value(model)
    if base is None or not math.isfinite(base):
        return None
    counts = {}
    for token in tokens:
        after = value(model.doubled(token))
        if after is None:
            return None
        counts[token] = (base - after) / math.log(2)
    return counts


def token_roles(pairs: Any, vocab: Vocab) -> dict[int, str]:
    """A name for every token of `pairs` ((prompt ids, response ids) each) and for `<s>`, `<eos>`
    and `<pad>`: the part of the sequence it is in, e.g. "`<eos>`", "the last prompt token of pair
    0 (`tree`)"."""
    def name(w: int) -> str:
        return vocab.tokens([w])[0]

    roles: dict[int, list[str]] = {}
    for b, (prompt, words) in enumerate(pairs):
        for part, ids in (("prompt", prompt), ("response", words)):
            for t, w in enumerate(ids):
                which = ("the only" if len(ids) == 1 else "the first" if t == 0
                         else "the last" if t == len(ids) - 1 else "a")
                roles.setdefault(int(w), []).append(f"{which} {part} token of pair {b}")
    out = {w: f"{' and '.join(places)} (`{name(w)}`)" for w, places in roles.items()}
    out.update({vocab.bos_id: "`<s>`", vocab.eos_id: "`<eos>`", vocab.pad_id: "`<pad>`"})
    return out


def _integral(counts: Mapping[int, float]) -> bool:
    return all(abs(c - round(c)) < 0.01 for c in counts.values())


def _describe(got: Mapping[int, float], want: Mapping[int, float],
              roles: Mapping[int, str], limit: int = 3) -> str:
    """The tokens scored too often or too rarely, by their part of the sequence, at most
    `limit`."""
    lines = []
    for w in sorted(got, key=lambda w: (want.get(w, 0) > 0, w)):  # the intruders first
        g, c = round(got[w]), round(want.get(w, 0))
        if g == c:
            continue
        name = roles.get(w, f"token id {w}")
        if c == 0:
            lines.append(f"{name} is scored, but it is not a target")
        elif g == 0:
            lines.append(f"{name} is not scored, but it is a target")
        elif g < 0:
            lines.append(f"{name} makes the loss smaller: its log-probability is added")
        else:
            times = "once" if g == 1 else "twice" if g == 2 else f"{g} times"
            lines.append(f"{name} is scored {times}, but it is a target {c} time{'s' * (c > 1)}")
    more = f" (and {len(lines) - limit} more)" if len(lines) > limit else ""
    return "; ".join(lines[:limit]) + more


def expect_scored(loss, model: FixedLM, pairs: Any, targets: Sequence[int], what: str, *,
                  misconceptions: Mapping[str, Sequence[int]] | None = None) -> None:
    """Pass when `loss(model, pairs)` scores exactly the tokens `targets` (a list of ids, repeats
    counted), up to one factor for all of them (a mean or a sign is left to the value check);
    with other tokens, a flipped sign or a mean is said along with them.

    `misconceptions` map an explanation to the tokens a slip scores instead; a failure that
    matches none names the tokens scored wrongly by their part of the sequence (`token_roles`).
    Only counts are compared, never a loss value, so the message holds no expected value."""
    roles = token_roles(pairs, model.vocab)
    slips = {text: Counter(int(w) for w in ids) for text, ids in (misconceptions or {}).items()}
    want = Counter(int(w) for w in targets)
    tokens = sorted({*roles, *want, *(w for c in slips.values() for w in c)} - {model.reserve})
    got = scored_counts(loss, model, pairs, tokens)
    if got is None:
        return
    want_counts = {w: float(want.get(w, 0)) for w in tokens}
    scale = sum(got.values()) / max(sum(want_counts.values()), 1)
    if all(abs(got[w] - scale * want_counts[w]) < 0.01 * max(1.0, abs(scale)) for w in tokens):
        return  # the right tokens, each weighted alike
    counts, notes = dict(got), []  # notes: how the loss adds its tokens up, when not as a sum
    if max(counts.values()) < 0.01 < -min(counts.values()):
        counts, notes = {w: -c for w, c in counts.items()}, ["the sign is flipped"]
    if not _integral(counts):
        if abs(sum(counts.values()) - 1) > 0.01 or min(counts.values()) < -0.01:
            return  # weights that are no counts: the value check says what it can
        # a mean: which tokens it scores is known, how often each is not
        counts = {w: float(c > 0.01) for w, c in counts.items()}
        want_counts = {w: float(c > 0) for w, c in want_counts.items()}
        notes.append("a mean over the scored tokens, where their sum belongs")
    mistake = None if notes else next((text for text, ids in slips.items()
                                       if all(round(counts[w]) == ids.get(w, 0) for w in tokens)),
                                      None)
    found = "" if mistake else "; ".join(
        [*notes, *filter(None, [_describe(counts, want_counts, roles)])])
    raise CheckFailure(what, None, None, "the tokens your loss scores are not the targets",
                       mistake, difference=found, public=True)


# what an error of the student's own code usually means, where the course can say it better
MEANINGS = {
    "'NoneType'": "a None where a value belongs: a `.grad` that no backward() filled, or a "
    "function or method that returns nothing?",
}


def call_on(case: str, function, *args, **kwargs) -> Any:
    """`function(*args, **kwargs)`, where an error raised by the student's code becomes a failed
    check that names the input it fails on (`case`, one the exercise's text allows, such as
    "reduction='sum'"). An error of the grader's own (a time limit, a kernel that died) propagates
    unchanged."""
    try:
        return function(*args, **kwargs)
    except CheckFailure:
        raise
    except Exception as error:
        if getattr(getattr(error, "error", None), "kind", "raised") != "raised":
            raise
        # the grader's error already says which call raised what
        text = str(error) if hasattr(error, "error") else f"{type(error).__name__}: {error}"
        text = text.splitlines()[0][:300]
        meaning = next((m for pattern, m in MEANINGS.items() if pattern in text), "")
        raise CheckFailure(f"the call on {case}", None, None, text,
                           difference=f"your function fails on {case}, an input the exercise "
                           "allows" + (f": {meaning}" if meaning else ""),
                           public=True) from None
