"""Markov source: samples follow its matrices, its probabilities sum to 1, its entropy rate is
exact."""

import itertools
from pathlib import Path

import numpy as np
import pytest

from mlcourse.models import NGramModel, SequenceModel
from mlcourse.sources import MarkovSource
from mlcourse.vocab import UnknownTokenError


def test_sampled_frequencies_match_the_matrices():
    source = MarkovSource.example()
    m = len(source.tokens)
    # row 0: after <s>; row i: after token i-1; last column: <eos>
    counts = np.zeros((m + 1, m + 1))
    for seq in source.sample(50_000, np.random.default_rng(0)):
        states = [source.tokens.index(t) for t in seq]
        for previous, nxt in zip([-1, *states], [*states, m]):
            counts[previous + 1, nxt] += 1
    frequencies = counts / counts.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(frequencies, np.vstack([source.start, source.transition]), atol=0.01)


def test_sampling_is_seeded():
    source = MarkovSource.example()
    assert source.sample(20, 3) == source.sample(20, np.random.default_rng(3))
    assert source.sample(20, 3) != source.sample(20, 4)


def test_probabilities_of_short_sequences_plus_the_tail_sum_to_one():
    source = MarkovSource.example()
    L = 7
    short = [seq for n in range(L + 1)
             for seq in itertools.product(source.tokens, repeat=n)]  # 3280 sequences
    total = sum(np.exp(source.log_prob(seq)) for seq in short)
    s, Q = source.start[:-1], source.transition[:, :-1]
    longer = s @ np.linalg.matrix_power(Q, L) @ np.ones(len(s))  # Pr(more than L tokens)
    assert longer > 0.1  # the tail is not negligible, so the sum alone would not reach 1
    assert total + longer == pytest.approx(1.0, abs=1e-12)


def test_log_prob_by_hand():
    source = MarkovSource.example()
    # Pr(A) Pr(B | A) Pr(<eos> | B) = 0.5 * 0.6 * 0.2
    assert source.log_prob(["A", "B"]) == pytest.approx(np.log(0.5 * 0.6 * 0.2), abs=1e-14)
    assert source.log_prob("A B") == source.log_prob(["A", "B"])
    assert source.log_prob([]) == -np.inf  # start puts no mass on <eos>: no empty sequences
    with pytest.raises(ValueError, match="without <s>"):
        source.log_prob(["A", "<eos>"])
    with pytest.raises(UnknownTokenError, match="'D'"):
        source.log_prob(["A", "D"])


def test_next_log_probs_is_the_chain_rule_of_log_prob():
    source = MarkovSource.example()
    assert isinstance(source, SequenceModel)
    vocab = source.vocab
    for seq in source.sample(50, 1):
        ids = vocab.encode(" ".join(seq), bos=True, eos=True)
        rows = source.next_log_probs([ids[:t] for t in range(1, len(ids))])  # (T, V)
        assert rows[np.arange(len(rows)), ids[1:]].sum() == pytest.approx(source.log_prob(seq),
                                                                          abs=1e-12)
    with pytest.raises(ValueError, match="has ended"):
        source.next_log_probs([[vocab.bos_id, vocab.eos_id]])


def test_entropy_rate_matches_monte_carlo():
    source = MarkovSource.example()
    samples = source.sample(50_000, 7)
    nll = -sum(source.log_prob(seq) for seq in samples)
    predicted = sum(len(seq) + 1 for seq in samples)  # every token and the <eos>
    assert source.entropy_rate() == pytest.approx(nll / predicted, abs=0.01)
    assert source.expected_visits().sum() == pytest.approx(predicted / len(samples) - 1, abs=0.05)


def test_entropy_rate_of_a_geometric_source():
    # one token that continues with probability 1 - p: H = H_b(p) per visit, 1/p visits,
    # 1 + 1/p predictions
    p = 0.25
    source = MarkovSource(["x"], start=[1.0, 0.0], transition=[[1 - p, p]])
    binary_entropy = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    assert source.entropy_rate() == pytest.approx(binary_entropy / p / (1 + 1 / p), abs=1e-12)


def test_random_source_has_the_asked_mean_length():
    source = MarkovSource.random(5, seed=0, mean_length=8.0)
    assert source.tokens == ["t0", "t1", "t2", "t3", "t4"]
    assert source.expected_visits().sum() == pytest.approx(8.0, abs=1e-9)
    np.testing.assert_allclose(source.transition.sum(axis=1), 1.0)
    np.testing.assert_array_equal(source.transition, MarkovSource.random(5, seed=0).transition)


def test_bad_sources_are_refused():
    with pytest.raises(ValueError, match="shape"):
        MarkovSource(["x"], start=[1.0], transition=[[0.5, 0.5]])
    with pytest.raises(ValueError, match="sum to 1"):
        MarkovSource(["x"], start=[1.0, 0.0], transition=[[0.5, 0.6]])
    with pytest.raises(ValueError, match="never reach <eos>"):
        MarkovSource(["x", "y"], start=[1.0, 0.0, 0.0],
                     transition=[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="special"):
        MarkovSource(["<eos>"], start=[1.0, 0.0], transition=[[0.5, 0.5]])


def kl_per_sequence(source: MarkovSource, model) -> float:
    """KL(p_data || p_model) over whole sequences, for a bigram model: the expected number of
    visits to each context times the KL divergence of the next-token distributions there."""
    vocab = source.vocab
    contexts = [[vocab.bos_id]] + [[vocab.bos_id, vocab.id(t)] for t in source.tokens]
    model_log_probs = model.next_log_probs(contexts)[:, vocab.ids(source.columns)]  # (1 + m, m + 1)
    p = np.vstack([source.start, source.transition])  # (1 + m, m + 1)
    terms = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1)) - model_log_probs), 0.0)
    return float(np.concatenate([[1.0], source.expected_visits()]) @ terms.sum(axis=1))


def target_log_probs(model, sequences: list[list[str]]) -> np.ndarray:
    """log Pr(y_t | <s>, y_<t) of every predicted token (<eos> included) of `sequences`."""
    vocab = model.vocab
    ids = [vocab.encode(" ".join(seq), bos=True, eos=True) for seq in sequences]
    prefixes = [seq[:t] for seq in ids for t in range(1, len(seq))]
    targets = [seq[t] for seq in ids for t in range(1, len(seq))]
    return model.next_log_probs(prefixes)[np.arange(len(targets)), targets]


def test_counted_bigram_approaches_the_source_as_data_grows():
    source = MarkovSource.example()
    held_out = source.sample(5000, 123)
    kls, nlls = [], []
    for n in (30, 300, 3000, 30000):
        model = NGramModel.fit(source.sample(n, 0), n=2, k=0.01, vocab=source.vocab)
        kls.append(kl_per_sequence(source, model))
        nlls.append(-target_log_probs(model, held_out).mean())
    assert kls == sorted(kls, reverse=True) and kls[-1] < 1e-3 and kls[0] > 0.05
    # the source itself, on the same held-out data
    true_nll = -target_log_probs(source, held_out).mean()
    assert true_nll == pytest.approx(source.entropy_rate(), abs=0.01)
    assert nlls[0] - true_nll > 0.01 and nlls[-1] == pytest.approx(true_nll, abs=1e-3)


def test_expected_visits_equal_the_series_they_sum():
    source = MarkovSource.random(4, seed=2, mean_length=5.0)
    s, Q = source.start[:-1], source.transition[:, :-1]
    # Pr(y_{t+1} = each token), summed
    series = sum(s @ np.linalg.matrix_power(Q, t) for t in range(400))
    np.testing.assert_allclose(source.expected_visits(), series, atol=1e-12)


def test_readme_quotes_the_example_source():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    source = MarkovSource.example()
    assert f"about {source.expected_visits().sum():.1f} tokens per sequence" in readme
    assert f"entropy rate {source.entropy_rate():.4f} nats" in readme
