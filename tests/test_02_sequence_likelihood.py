"""Lesson 2's own tests: the seeds' worked numbers, and every number the lesson prints, checked
against independent computations (the Markov source's exact log-probabilities, the library's
counted n-gram model, Monte Carlo estimates)."""

import math

import numpy as np
import pytest

from mlcourse import EOS
from mlcourse.checking import reference
from mlcourse.models import NGramModel, OneCallModel, TableModel
from mlcourse.sources import MarkovSource

LESSON = "02_sequence_likelihood"
TABLE = {("<s>", "A"): -0.5, ("<s>", "B"): -1.5, ("A", "B"): -0.2, ("A", "<eos>"): -2.0,
         ("B", "A"): -1.0, ("B", "<eos>"): -0.1}
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


def test_seed_table_rows_are_illustrative_and_the_completion_the_text_gives():
    """Section 1: the rows sum to 0.83, 0.95 and 1.27; 0.17 and 0.05 complete the first two."""
    probs = np.exp(np.array([[-0.5, -1.5, -np.inf], [-np.inf, -0.2, -2.0], [-1.0, -np.inf, -0.1]]))
    assert [f"{total:.2f}" for total in probs.sum(axis=1)] == ["0.83", "0.95", "1.27"]
    assert f"{1 - probs[0].sum():.2f}" == "0.17" and f"{1 - probs[1].sum():.2f}" == "0.05"
    completed = probs + [[0, 0, 1 - probs[0].sum()], [1 - probs[1].sum(), 0, 0], [0, 0, 0]]
    check = solution("rows_are_distributions")
    assert list(check(probs)) == [False] * 3 and list(check(completed)) == [True, True, False]
    made_up = np.array([[0.6, 0.3, 0.1], [0.4, 0.7, -0.1], [0, 0.5, 0.5]])
    assert list(check(made_up)) == [True, False, True]
    assert made_up[0].sum() != 1  # the rounding the exercise warns about (== 1 would say False)


def test_one_call_model_shows_an_answer_that_asks_once_per_sequence():
    """Section 5's printed numbers: -5.3 with one call, -0.8 + 3 log(1/3) with a call per
    sequence."""
    table = TableModel(TABLE)
    assert solution("sequential_log_likelihood")(OneCallModel(table), DATASET) == pytest.approx(
        -5.3)
    per_sequence = solution("dataset_log_likelihood")(OneCallModel(table), DATASET)
    assert (per_sequence == pytest.approx(-0.8 + 3 * math.log(1 / 3))
            and f"{per_sequence:.4f}" == "-4.0958")


def test_sequence_log_likelihood_is_the_markov_chains_exact_log_probability():
    source = MarkovSource.random(5, seed=3)
    for tokens in source.sample(20, rng=0):
        got = solution("sequence_log_likelihood")(source, tokens + [EOS])
        assert got == pytest.approx(source.log_prob(tokens), abs=1e-10)


def test_sequence_log_likelihood_rejects_sequences_without_eos_or_with_bos():
    table = TableModel(TABLE)
    for bad in (["A", "B"], ["<s>", "A", EOS], []):
        with pytest.raises(ValueError, match="<eos>"):
            solution("sequence_log_likelihood")(table, bad)


def test_counting_matches_the_library_ngram_model():
    source = MarkovSource.random(4, seed=5)
    train = source.sample(200, rng=1)
    probs = solution("conditional_probabilities")(
        solution("bigram_counts")([t + [EOS] for t in train], source.vocab))
    model = NGramModel.fit(train, n=2, vocab=source.vocab)
    bos = source.vocab.bos_id
    contexts = [bos] + source.vocab.ids(source.tokens)
    rows = np.exp(model.next_log_probs([[bos]] + [[bos, c] for c in contexts[1:]]))
    assert rows == pytest.approx(probs[contexts], abs=1e-12)
    assert probs.sum(axis=1)[contexts] == pytest.approx(np.ones(len(contexts)))


def test_printed_numbers_of_sections_1_to_3(narrative):
    ns, source = narrative, narrative["source"]
    assert ns["vocab"].itos == ["<pad>", "<s>", "<eos>", "A", "B"]
    assert [f"{total:.2f}" for total in ns["row_sums"]] == ["0.83", "0.95", "1.27"]
    exact = np.array([source.log_prob(tokens[:-1]) for tokens in ns["samples"]])
    assert ns["log_liks"] == pytest.approx(exact, abs=1e-9)
    longest = np.argsort(-np.array([len(t) for t in ns["samples"]]), kind="stable")[:100]
    assert ns["share"] == pytest.approx(exact[longest].sum() / exact.sum(), rel=1e-9)
    assert ns["share"] > 0.2  # the longest tenth weighs far more than a tenth
    n_tokens = sum(len(t) for t in ns["samples"])
    assert ns["perplexity"](source, ns["samples"]) == pytest.approx(
        math.exp(-exact.sum() / n_tokens), rel=1e-9)
    assert ns["perplexity"](source, ns["samples"]) == pytest.approx(
        math.exp(source.entropy_rate()), rel=0.03)


def test_counting_is_the_maximum_the_lagrange_argument_finds(narrative):
    """Section 4: at the counted probabilities c(v, w) / p(w | v) is the same for every seen w
    (the multiplier, the row total); 1000 random moves inside the simplex all lower the
    log-likelihood, whose value is the counted bigram model's log-likelihood of the data."""
    ns = narrative
    c, p = ns["c"], ns["p"]
    seen = c > 0
    multipliers = np.where(seen, c / np.where(seen, p, 1), np.nan)
    assert np.allclose(np.nanmax(multipliers, axis=1), c.sum(axis=1))
    assert np.allclose(np.nanmin(multipliers, axis=1), c.sum(axis=1))
    assert np.allclose(p.sum(axis=1), 1)
    assert ns["best"] == pytest.approx(
        solution("dataset_log_likelihood")(ns["bigram"], ns["train_eos"]), rel=1e-12)
    drops = np.asarray(ns["drops"])
    assert drops.shape == (1000,) and np.sum(drops > 0) == 1000 and drops.min() > 0.01
    moved = (1 - ns["mix"]) * p + ns["mix"] * ns["elsewhere"]
    assert np.allclose(moved.sum(axis=2), 1) and (moved > 0).all()  # still in the simplex
    recomputed = ns["best"] - np.einsum("vw,kvw->k", c, np.log(moved))
    assert recomputed == pytest.approx(drops, rel=1e-9)


def test_printed_numbers_of_sections_4_and_5(narrative):
    ns = narrative
    assert ns["one_call"] == pytest.approx(-5.3) and f"{ns['per_sequence_calls']:.4f}" == "-4.0958"
    assert np.abs(ns["library"] - ns["counted"][ns["contexts"]]).max() < 1e-12
    n_pairs = sum(len(t) for t in ns["train_eos"])
    counted_nll = -solution("dataset_log_likelihood")(ns["bigram"], ns["train_eos"]) / n_pairs
    assert ns["counted_nll"] == pytest.approx(counted_nll, rel=1e-9)
    # gradient training approaches the MLE from above
    assert 0 < ns["history"][-1] - counted_nll < 0.005
    assert ns["gap"] < 0.005
    assert solution("sequential_log_likelihood")(ns["bigram"], ns["train_eos"]) == pytest.approx(
        -counted_nll * n_pairs)


def test_printed_numbers_of_section_6(narrative):
    ns, source = narrative, narrative["source"]
    assert f"{ns['entropy_rate']:.4f}" == "1.1708"
    source_nll = -sum(source.log_prob(t[:-1]) for t in ns["heldout"]) / ns["n_heldout"]
    assert ns["source_nll"] == pytest.approx(source_nll, rel=1e-9)
    # the finite held-out set's noise, drawn as its own line
    assert ns["source_nll"] > ns["entropy_rate"]
    assert ns["heldout_nll"][-1] == pytest.approx(source_nll, abs=0.003)
    # no fitted model beats the truth by more than noise
    assert min(ns["heldout_nll"]) > source_nll - 0.003
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
    log_ratio = np.array([source.log_prob(t) - solution("sequence_log_likelihood")(model, t + [EOS])
                          for t in sample])
    mean_tokens = np.mean([len(t) + 1 for t in sample])
    standard_error = log_ratio.std() / math.sqrt(len(sample)) / mean_tokens
    assert abs(log_ratio.mean() / mean_tokens - exact) < 4 * standard_error


WRONG_HELPERS = {  # a slip in an exercise whose function a later one calls
    "sequence_log_likelihood": "def sequence_log_likelihood(model, tokens):  # no <eos>\n"
    "    ids = [model.vocab.bos_id] + model.vocab.ids(tokens)\n"
    "    rows = model.next_log_probs([ids[:t] for t in range(1, len(ids) - 1)])\n"
    "    return float(rows[np.arange(len(ids) - 2), ids[1:-1]].sum())\n",
    "dataset_log_likelihood": "def dataset_log_likelihood(model, dataset):  # a mean\n"
    "    return float(np.mean([sequence_log_likelihood(model, y) for y in dataset]))\n",
}


@pytest.mark.parametrize("helper", sorted(WRONG_HELPERS))
def test_a_wrong_helper_costs_only_its_own_exercise(helper, graded_run, capsys):
    """Error carried forward: dataset_log_likelihood and perplexity, which call the student's
    earlier functions, are graded against what they should return with those functions, and
    pass with a note."""
    outcomes = graded_run(LESSON, {helper: WRONG_HELPERS[helper]})
    assert {test for test, error in outcomes.items() if error is not None} == {f"test_{helper}"}
    assert "which is not right yet" in capsys.readouterr().out


def test_a_wrong_perplexity_still_fails_with_a_wrong_helper(graded_run):
    no_exp = ("def perplexity(model, dataset):\n"
              "    return -dataset_log_likelihood(model, dataset) / sum(map(len, dataset))\n")
    outcomes = graded_run(LESSON, {"dataset_log_likelihood": WRONG_HELPERS[
        "dataset_log_likelihood"], "perplexity": no_exp})
    assert outcomes["test_perplexity"] is not None
