"""Sequence models: the seeds' table model, and n-gram estimates checked against counts made by
hand."""

from collections import Counter

import numpy as np
import pytest

from mlcourse.models import NGramModel, SequenceModel, TableModel
from mlcourse.vocab import UnknownTokenError, Vocab

SEED_TABLE = {
    ("<s>", "A"): -0.5, ("<s>", "B"): -1.5, ("A", "B"): -0.2,
    ("B", "A"): -1.0, ("A", "<eos>"): -2.0, ("B", "<eos>"): -0.1,
}
CORPUS = [["a", "b", "a"], ["b", "b"], ["a"]]  # tiny, made by hand


def test_table_model_gives_the_seed_log_probs():
    model = TableModel(SEED_TABLE)
    assert isinstance(model, SequenceModel)
    for (previous, token), value in SEED_TABLE.items():
        prefix = [model.vocab.bos_id] + ([] if previous == "<s>" else [model.vocab.id(previous)])
        assert model.next_log_probs([prefix])[0, model.vocab.id(token)] == value
    row_a = model.next_log_probs([[model.vocab.bos_id, model.vocab.id("A")]])[0]
    assert np.isneginf(row_a[model.vocab.id("A")]) and np.isneginf(row_a[model.vocab.pad_id])
    assert np.isfinite(row_a).sum() == 2  # only Pr(B | A) and Pr(<eos> | A) are listed


def test_table_model_rejects_bad_input():
    with pytest.raises(ValueError, match="above 0"):
        TableModel({("<s>", "A"): 0.3})
    model = TableModel(SEED_TABLE)
    with pytest.raises(ValueError, match="starts with <s>"):
        model.next_log_probs([[model.vocab.id("A")]])
    with pytest.raises(UnknownTokenError, match="id 99"):
        model.next_log_probs([[model.vocab.bos_id, 99]])


def hand_counts(n: int) -> Counter:
    """n-gram counts of CORPUS, each sequence padded on its own."""
    grams = Counter()
    for seq in CORPUS:
        padded = ["<s>"] * (n - 1) + seq + ["<eos>"]
        grams.update(tuple(padded[i : i + n]) for i in range(len(padded) - n + 1))
    return grams


def prefix_of(vocab: Vocab, tokens: list[str]) -> list[int]:
    return [vocab.bos_id] + vocab.ids(tokens)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_mle_equals_normalised_counts(n):
    model = NGramModel.fit(CORPUS, n=n)
    grams = hand_counts(n)
    for gram, count in grams.items():
        context = gram[:-1]
        total = sum(c for g, c in grams.items() if g[:-1] == context)
        tokens = [t for t in context if t != "<s>"]
        got = model.next_log_probs([prefix_of(model.vocab, tokens)])[0, model.vocab.id(gram[-1])]
        assert got == pytest.approx(np.log(count / total), abs=1e-12)


def test_bigram_values_by_hand():
    model = NGramModel.fit(CORPUS, n=2)
    vocab = model.vocab  # <pad> <s> <eos> a b
    probs = np.exp(model.next_log_probs([prefix_of(vocab, []), prefix_of(vocab, ["a"]),
                                         prefix_of(vocab, ["b"])]))
    # after <s>: a twice, b once; after a: b once, <eos> twice; after b: a, b, <eos> once each
    np.testing.assert_allclose(probs, [[0, 0, 0, 2 / 3, 1 / 3], [0, 0, 2 / 3, 0, 1 / 3],
                                       [0, 0, 1 / 3, 1 / 3, 1 / 3]])


def test_no_counts_across_sequence_boundaries():
    # joined, the corpus would contain "a <eos> b" and "a b"; apart, nothing ever follows <eos>
    model = NGramModel.fit([["a"], ["b"]], n=3, k=0.0)
    vocab = model.vocab
    with pytest.raises(ValueError, match="never occurs"):
        model.next_log_probs([prefix_of(vocab, ["a", "b"])])
    after_a = np.exp(model.next_log_probs([prefix_of(vocab, ["a"])])[0])
    assert after_a[vocab.eos_id] == 1.0


def test_add_k_smoothing_formula_and_unseen_context():
    k = 0.5
    model = NGramModel.fit(CORPUS, n=2, k=k)
    vocab = model.vocab
    predictable = 3  # V' = {<eos>, a, b}
    after_a = np.exp(model.next_log_probs([prefix_of(vocab, ["a"])])[0])
    denominator = 3 + k * predictable  # "a" is followed 3 times: by <eos> twice, by b once
    np.testing.assert_allclose(after_a[[vocab.eos_id, vocab.id("a"), vocab.id("b")]],
                               [(2 + k) / denominator, k / denominator, (1 + k) / denominator])
    assert after_a[vocab.bos_id] == 0 and after_a[vocab.pad_id] == 0
    # nothing ever follows <eos>
    unseen = np.exp(model.next_log_probs([[vocab.bos_id, vocab.eos_id]])[0])
    np.testing.assert_allclose(unseen, [0, 0, 1 / 3, 1 / 3, 1 / 3])


@pytest.mark.parametrize("n,k", [(1, 0.0), (2, 0.0), (2, 1.0), (3, 0.1)])
def test_rows_sum_to_one(n, k):
    model = NGramModel.fit(CORPUS, n=n, k=k)
    prefixes = [prefix_of(model.vocab, seq[:t]) for seq in CORPUS for t in range(len(seq) + 1)]
    np.testing.assert_allclose(np.exp(model.next_log_probs(prefixes)).sum(axis=1), 1.0, atol=1e-12)


def test_fit_accepts_texts_with_a_vocab_and_checks_arguments():
    vocab = Vocab(["a", "b"], level="char")
    from_text = NGramModel.fit(["aba", "bb", "a"], n=2, vocab=vocab)
    from_lists = NGramModel.fit(CORPUS, n=2, vocab=vocab)
    prefixes = [[vocab.bos_id], prefix_of(vocab, ["b"])]
    np.testing.assert_array_equal(from_text.next_log_probs(prefixes),
                                  from_lists.next_log_probs(prefixes))
    with pytest.raises(TypeError, match="vocab="):
        NGramModel.fit(["aba"], n=2)
    with pytest.raises(ValueError, match="n must be"):
        NGramModel.fit(CORPUS, n=0)
    with pytest.raises(ValueError, match="k >= 0"):
        NGramModel.fit(CORPUS, n=2, k=-1)
    with pytest.raises(ValueError, match="without <s>"):
        NGramModel.fit([["a", "<eos>"]], n=2)
    with pytest.raises(UnknownTokenError, match="'c'"):
        NGramModel.fit([["a", "c"]], n=2, vocab=vocab)


def test_unfitted_model_follows_the_formula_with_zero_counts():
    vocab = Vocab(["a", "b"])
    smoothed = NGramModel(2, vocab, k=1.0).next_log_probs([[vocab.bos_id]])
    np.testing.assert_allclose(np.exp(smoothed), [[0, 0, 1 / 3, 1 / 3, 1 / 3]])
    with pytest.raises(ValueError, match="'<s>' never occurs"):
        NGramModel(2, vocab).next_log_probs([[vocab.bos_id]])


def test_one_call_model_answers_its_first_call_only():
    from mlcourse.models import OneCallModel

    table = TableModel(SEED_TABLE)
    model = OneCallModel(table)
    assert isinstance(model, SequenceModel) and model.vocab is table.vocab
    bos, a = table.vocab.bos_id, table.vocab.id("A")
    first = model.next_log_probs([[bos], [bos, a]])
    assert np.array_equal(first, table.next_log_probs([[bos], [bos, a]]))
    later = model.next_log_probs([[bos, a]])  # three predictable tokens: A, B, <eos>
    assert later.shape == (1, len(table.vocab)) and np.allclose(np.exp(later).sum(), 1)
    assert (later[0, a] == pytest.approx(-np.log(3))
            and np.isneginf(later[0, [bos, table.vocab.pad_id]]).all())
    with pytest.raises(ValueError, match="starts with"):
        # prefixes are checked as the wrapped model checks them
        OneCallModel(table).next_log_probs([[a]])


def test_one_call_model_travels_as_a_pickle_with_its_count():
    import pickle

    from mlcourse.models import OneCallModel

    table = TableModel(SEED_TABLE)
    bos = table.vocab.bos_id
    fresh = pickle.loads(pickle.dumps(OneCallModel(table)))  # how the grader sends it to a kernel
    assert np.array_equal(fresh.next_log_probs([[bos]]), table.next_log_probs([[bos]]))
    assert not np.array_equal(fresh.next_log_probs([[bos]]), table.next_log_probs([[bos]]))
