"""Lesson 2's own tests: the seeds' worked numbers, and every number the lesson prints, checked
against independent computations (the Markov source's exact log-probabilities, the library's
counted n-gram model, Monte Carlo estimates)."""

import math

import numpy as np
import pytest

from mlcourse import EOS
from mlcourse.checking import reference
from mlcourse.models import NGramModel, TableModel
from mlcourse.sources import MarkovSource

LESSON = "02_sequence_likelihood"
TABLE = {("<s>", "A"): -0.5, ("<s>", "B"): -1.5, ("A", "B"): -0.2, ("A", "<eos>"): -2.0, ("B", "A"): -1.0, ("B", "<eos>"): -0.1}
DATASET = [["A", "B", EOS], ["B", "A", EOS]]


def solution(name: str):
    return reference(name, LESSON)


def test_seed_worked_example():
    table = TableModel(TABLE)
    assert solution("sequence_log_likelihood")(table, DATASET[0]) == pytest.approx(-0.8, abs=1e-12)
    assert solution("sequence_log_likelihood")(table, DATASET[1]) == pytest.approx(-4.5, abs=1e-12)
    assert solution("dataset_log_likelihood")(table, DATASET) == pytest.approx(-5.3, abs=1e-12)
    assert solution("sequential_log_likelihood")(table, DATASET) == pytest.approx(-5.3, abs=1e-12)
    assert f"{solution('perplexity')(table, DATASET):.3f}" == "2.419"
    assert solution("answer_objective_change") == 2.5


def test_sequence_log_likelihood_is_the_markov_chains_exact_log_probability():
    source = MarkovSource.random(5, seed=3)
    for tokens in source.sample(20, rng=0):
        assert solution("sequence_log_likelihood")(source, tokens + [EOS]) == pytest.approx(source.log_prob(tokens), abs=1e-10)


def test_sequence_log_likelihood_rejects_sequences_without_eos_or_with_bos():
    table = TableModel(TABLE)
    for bad in (["A", "B"], ["<s>", "A", EOS], []):
        with pytest.raises(ValueError, match="<eos>"):
            solution("sequence_log_likelihood")(table, bad)


def test_counting_matches_the_library_ngram_model():
    source = MarkovSource.random(4, seed=5)
    train = source.sample(200, rng=1)
    probs = solution("conditional_probabilities")(solution("bigram_counts")([t + [EOS] for t in train], source.vocab))
    model = NGramModel.fit(train, n=2, vocab=source.vocab)
    bos = source.vocab.bos_id
    contexts = [bos] + source.vocab.ids(source.tokens)
    rows = np.exp(model.next_log_probs([[bos]] + [[bos, c] for c in contexts[1:]]))
    assert rows == pytest.approx(probs[contexts], abs=1e-12)
    assert probs.sum(axis=1)[contexts] == pytest.approx(np.ones(len(contexts)))


def test_printed_numbers_of_sections_1_to_3(narrative):
    ns, source = narrative, narrative["source"]
    assert ns["vocab"].itos == ["<pad>", "<s>", "<eos>", "A", "B"]
    exact = np.array([source.log_prob(tokens[:-1]) for tokens in ns["samples"]])
    assert ns["log_liks"] == pytest.approx(exact, abs=1e-9)
    longest = np.argsort(-np.array([len(t) for t in ns["samples"]]), kind="stable")[:100]
    assert ns["share"] == pytest.approx(exact[longest].sum() / exact.sum(), rel=1e-9)
    assert ns["share"] > 0.2  # the longest tenth weighs far more than a tenth
    n_tokens = sum(len(t) for t in ns["samples"])
    assert ns["perplexity"](source, ns["samples"]) == pytest.approx(math.exp(-exact.sum() / n_tokens), rel=1e-9)
    assert ns["perplexity"](source, ns["samples"]) == pytest.approx(math.exp(source.entropy_rate()), rel=0.03)


def test_printed_numbers_of_sections_4_and_5(narrative):
    ns = narrative
    assert np.abs(ns["library"] - ns["counted"][ns["contexts"]]).max() < 1e-12
    n_pairs = sum(len(t) for t in ns["train_eos"])
    counted_nll = -solution("dataset_log_likelihood")(ns["bigram"], ns["train_eos"]) / n_pairs
    assert ns["counted_nll"] == pytest.approx(counted_nll, rel=1e-9)
    assert 0 < ns["history"][-1] - counted_nll < 0.005  # gradient training approaches the MLE from above
    assert ns["gap"] < 0.005
    assert solution("sequential_log_likelihood")(ns["bigram"], ns["train_eos"]) == pytest.approx(-counted_nll * n_pairs)


def test_printed_numbers_of_section_6(narrative):
    ns, source = narrative, narrative["source"]
    assert f"{ns['entropy_rate']:.4f}" == "1.1708"
    source_nll = -sum(source.log_prob(t[:-1]) for t in ns["heldout"]) / ns["n_heldout"]
    assert ns["heldout_nll"][-1] == pytest.approx(source_nll, abs=0.003)
    assert min(ns["heldout_nll"]) > source_nll - 0.003  # no fitted model beats the truth by more than noise
    kl = np.array(ns["kl_per_token"])
    assert np.all(kl > 0) and kl[-1] < 1e-3 < kl[0]


def test_exact_kl_formula_of_section_6_matches_monte_carlo():
    """The lesson computes KL(p_data || p_model) per token from the source's expected visits; a
    Monte Carlo average of log p_data(y) - log p_model(y) over many sequences must agree."""
    source = MarkovSource.example()
    model = NGramModel.fit(source.sample(30, rng=4), n=2, k=0.01, vocab=source.vocab)
    bos = source.vocab.bos_id
    prefixes = [[bos]] + [[bos, c] for c in source.vocab.ids(source.tokens)]
    log_p, log_q = source.next_log_probs(prefixes), model.next_log_probs(prefixes)
    support = np.isfinite(log_p)
    terms = np.zeros_like(log_p)
    terms[support] = np.exp(log_p[support]) * (log_p[support] - log_q[support])
    visits = np.concatenate([[1.0], source.expected_visits()])
    exact = visits @ terms.sum(axis=1) / (1 + visits[1:].sum())

    sample = source.sample(4000, rng=5)
    log_ratio = np.array([source.log_prob(t) - solution("sequence_log_likelihood")(model, t + [EOS]) for t in sample])
    mean_tokens = np.mean([len(t) + 1 for t in sample])
    standard_error = log_ratio.std() / math.sqrt(len(sample)) / mean_tokens
    assert abs(log_ratio.mean() / mean_tokens - exact) < 4 * standard_error
