"""Vocabulary: encode/decode round trips at char and word level, and errors that name the
problem."""

import random

import numpy as np
import pytest

from mlcourse.vocab import BOS, EOS, PAD, SPECIALS, UnknownTokenError, Vocab


def random_texts(alphabet: str, n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(n)]


def test_specials_have_fixed_ids():
    vocab = Vocab(["b", "a"])
    assert vocab.itos == [PAD, BOS, EOS, "b", "a"]
    assert (vocab.pad_id, vocab.bos_id, vocab.eos_id) == (0, 1, 2)


def test_char_round_trip_on_random_strings():
    texts = random_texts("abc xyz.", 200, seed=0)
    vocab = Vocab.from_texts(texts, level="char")
    for text in texts:
        ids = vocab.encode(text, bos=True, eos=True)
        assert ids[0] == vocab.bos_id and ids[-1] == vocab.eos_id and len(ids) == len(text) + 2
        assert vocab.decode(ids) == text


def test_word_round_trip_on_random_sentences():
    rng = random.Random(1)
    words = ["the", "cat", "sat", "on", "a", "mat", "Paris", "is"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 9))) for _ in range(200)]
    vocab = Vocab.from_texts(texts)
    for text in texts:
        assert vocab.decode(vocab.encode(text)) == text
        assert vocab.tokens(vocab.encode(text)) == text.split()


def test_specials_round_trip_when_kept():
    vocab = Vocab(["x", "y"])
    ids = [vocab.bos_id, vocab.id("x"), vocab.id("y"), vocab.eos_id, vocab.pad_id]
    assert vocab.decode(ids, skip_special=False) == "<s> x y <eos> <pad>"
    assert vocab.decode(ids) == "x y"
    assert vocab.ids(SPECIALS) == [0, 1, 2]


def test_unknown_token_and_id_are_named():
    vocab = Vocab(["x"], level="char")
    with pytest.raises(UnknownTokenError, match="'q'"):
        vocab.encode("xq")
    with pytest.raises(UnknownTokenError, match="id 7"):
        vocab.decode([3, 7])
    with pytest.raises(UnknownTokenError, match="id -1"):
        vocab.tokens([-1])
    with pytest.raises(ValueError, match="level"):
        Vocab(["x"], level="byte")


def test_pad_fills_with_pad_id_and_rejects_short_length():
    vocab = Vocab(["x"])
    batch = vocab.pad([[1, 3], [1, 3, 3, 2]])
    np.testing.assert_array_equal(batch, [[1, 3, 0, 0], [1, 3, 3, 2]])
    assert batch.dtype == np.int64
    with pytest.raises(ValueError, match="shorter than the longest"):
        vocab.pad([[1, 3, 3]], length=2)


@pytest.mark.parametrize("level", ["char", "word"])
def test_ids_tokens_round_trip_over_every_id(level):
    vocab = Vocab(list("xyz") if level == "char" else ["the", "cat", "sat"], level=level)
    rng = random.Random(2)
    for _ in range(100):
        ids = [rng.randrange(len(vocab)) for _ in range(rng.randint(0, 10))]  # specials included
        assert vocab.ids(vocab.tokens(ids)) == ids
    assert vocab.decode(vocab.ids([BOS, "x" if level == "char" else "cat", EOS, PAD]),
                        skip_special=False) == (
        "<s>x<eos><pad>" if level == "char" else "<s> cat <eos> <pad>"
    )
