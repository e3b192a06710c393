"""Vocabularies: the map between tokens (strings) and ids (integers).

Every sequence in the course is written between the special tokens `<s>` (start) and
`<eos>` (end), and a batch of sequences of different lengths is filled up with `<pad>`:

    <s> y_1 y_2 ... y_n <eos> <pad> <pad>

`<s>` is only ever conditioned on, never predicted; `<eos>` is predicted like any other
token, which is what lets a model give probability to sequences of different lengths.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

PAD, BOS, EOS = "<pad>", "<s>", "<eos>"
SPECIALS = (PAD, BOS, EOS)
# Targets equal to this are skipped by torch.nn.functional.cross_entropy (its default).
IGNORE_INDEX = -100

Level = Literal["char", "word"]


class UnknownTokenError(ValueError):
    """A token that is not in the vocabulary."""


class Vocab:
    """Token <-> id map; ids 0, 1, 2 are `<pad>`, `<s>`, `<eos>`, then the tokens in order.

    `level="char"` splits text into characters, `level="word"` on white space, so that
    `decode(encode(text)) == text` (for word level, text whose words are separated by
    single spaces).
    """

    def __init__(self, tokens: Iterable[str], level: Level = "word") -> None:
        if level not in ("char", "word"):
            raise ValueError(f"level must be 'char' or 'word', got {level!r}")
        self.level: Level = level
        self.itos: list[str] = list(SPECIALS)
        for token in tokens:
            if token not in self.itos:
                self.itos.append(token)
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def from_texts(cls, texts: Iterable[str], level: Level = "word") -> Vocab:
        """The vocabulary of every token in `texts`, sorted so that it does not depend on order."""
        splitter = list if level == "char" else str.split
        return cls(sorted({t for text in texts for t in splitter(text)}), level)

    pad_id = property(lambda self: self.stoi[PAD])
    bos_id = property(lambda self: self.stoi[BOS])
    eos_id = property(lambda self: self.stoi[EOS])

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens, level={self.level!r})"

    def tokenize(self, text: str) -> list[str]:
        """Split `text` into tokens (characters or words); special tokens are not added."""
        return list(text) if self.level == "char" else text.split()

    def id(self, token: str) -> int:
        """The id of `token`, or an error that names it."""
        try:
            return self.stoi[token]
        except KeyError:
            raise UnknownTokenError(
                f"unknown token {token!r}: "
                f"it is not among the {len(self)} tokens of this {self.level}-level vocabulary"
            ) from None

    def ids(self, tokens: Iterable[str]) -> list[int]:
        return [self.id(t) for t in tokens]

    def tokens(self, ids: Iterable[int]) -> list[str]:
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self):
                raise UnknownTokenError(f"unknown token id {i}: ids run from 0 to {len(self) - 1}")
            out.append(self.itos[i])
        return out

    def encode(self, text: str, *, bos: bool = False, eos: bool = False) -> list[int]:
        """Ids of the tokens of `text`, with `<s>` before and `<eos>` after when asked."""
        return [self.bos_id] * bos + self.ids(self.tokenize(text)) + [self.eos_id] * eos

    def decode(self, ids: Iterable[int], *, skip_special: bool = True) -> str:
        """The text of `ids`; `<s>`, `<eos>` and `<pad>` are left out unless
        `skip_special=False`."""
        tokens = [t for t in self.tokens(ids) if not (skip_special and t in SPECIALS)]
        return ("" if self.level == "char" else " ").join(tokens)

    def pad(self, seqs: Sequence[Sequence[int]], length: int | None = None) -> np.ndarray:
        """Stack id sequences into a (B, T) int64 array, filling the end of short ones with
        `<pad>`."""
        longest = max((len(s) for s in seqs), default=0)
        length = longest if length is None else length
        if length < longest:
            raise ValueError(f"length={length} is shorter than the longest sequence "
                             f"({longest} tokens)")
        out = np.full((len(seqs), length), self.pad_id, dtype=np.int64)
        for row, seq in zip(out, seqs):
            row[: len(seq)] = seq
        return out
