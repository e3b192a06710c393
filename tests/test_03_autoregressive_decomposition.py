"""Lesson 03: the numbers the lesson prints, recomputed from the solution's functions and checked
against the seeds' values or an independent computation (timings are plotted, never asserted)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mlcourse import IGNORE_INDEX, Vocab
from mlcourse.checking import reference
from mlcourse.models import TableModel
from mlcourse.transformer import TransformerLM, load_pretrained
from mlcourse.world import World

LESSON = "03_autoregressive_decomposition"


def solution(name):
    return reference(name, LESSON)


@pytest.fixture(scope="module")
def example():
    """The running example: ids, logits and targets of `<s> deep learning <eos>` / `<s> learning <eos> <pad>`."""
    vocab = Vocab(["deep", "learning"])
    ids = torch.from_numpy(vocab.pad([vocab.encode("deep learning", bos=True, eos=True),
                                      vocab.encode("learning", bos=True, eos=True)]))
    probs = torch.tensor([[[.05, .05, .1, .5, .3], [.05, .05, .2, .1, .6], [.05, .05, .8, .05, .05]],
                          [[.05, .05, .1, .5, .3], [.05, .05, .7, .1, .1], [.2, .2, .2, .2, .2]]])
    return ids, torch.log(probs) + 2.0, solution("next_token_targets")(ids, vocab.pad_id)


def city_pairs(vocab, world):
    ids = torch.from_numpy(vocab.pad([vocab.encode(f"{f.subject} lives in {f.value} .", bos=True, eos=True)
                                      for f in world.facts if f.relation == "city"]))
    targets = solution("next_token_targets")(ids, vocab.pad_id)
    targets[:, :3] = IGNORE_INDEX
    return ids, targets


def test_seed_example_is_minus_1_1():
    assert solution("log_prob_deep_learning") == pytest.approx(-1.1)


def test_running_example_matches_the_round_probabilities(example):
    ids, logits, targets = example
    assert targets.tolist() == [[3, 4, 2], [4, 2, IGNORE_INDEX]]
    totals = solution("sequence_log_likelihoods")(logits, targets)
    assert totals.tolist() == pytest.approx([math.log(.5 * .6 * .8), math.log(.3 * .7)], abs=1e-5)
    assert [round(float(t), 3) for t in totals] == [-1.427, -1.561]  # the figure's titles


def test_summed_cross_entropy_is_minus_the_log_likelihood(example):
    _, logits, targets = example
    nll = solution("negative_log_likelihood")(logits, targets)
    assert float(nll) == pytest.approx(-math.log(.5 * .6 * .8 * .3 * .7), abs=1e-5)  # printed 2.9878
    assert f"{float(nll):.4f}" == "2.9878"
    mean = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
    assert float(mean) == pytest.approx(float(nll) / 5, abs=1e-6) and f"{float(mean):.4f}" == "0.5976"


def test_one_pass_equals_one_pass_per_token():
    model = load_pretrained()
    vocab = model.vocab
    rng = np.random.default_rng(0)
    for n in (2, 16, 64):
        seq = torch.tensor([[vocab.bos_id, *rng.integers(3, len(vocab), n).tolist()]])
        with torch.no_grad():
            one_pass = solution("token_log_probs")(model(seq[:, :-1]), solution("next_token_targets")(seq, vocab.pad_id))[0]
        per_token = [model.next_log_probs([seq[0, :t].tolist()])[0, seq[0, t]] for t in range(1, n + 1)]
        assert np.abs(one_pass.double().numpy() - per_token).max() < 1e-5  # the notebook prints a bound of this size


def test_conditional_log_likelihood_of_zorbin_counts_only_the_response():
    model = load_pretrained()
    vocab = model.vocab
    seq = torch.tensor([vocab.encode("zorbin lives in zarn .", bos=True, eos=True)])
    targets = solution("next_token_targets")(seq, vocab.pad_id)
    targets[:, :3] = IGNORE_INDEX
    with torch.no_grad():
        got = float(solution("sequence_log_likelihoods")(model(seq[:, :-1]), targets)[0])
    prefix = vocab.encode("zorbin lives in", bos=True)
    want = sum(model.next_log_probs([prefix + vocab.encode(" ".join(["zarn", "."][:k]))])[0, token]
               for k, token in enumerate(vocab.encode("zarn .", eos=True)))
    assert got == pytest.approx(want, abs=1e-4) and -0.1 < got < 0


def test_products_underflow_and_log_softmax_does_not():
    assert math.prod([0.1] * 400) == 0.0 and round(400 * math.log(0.1), 2) == -921.03
    gaps = torch.arange(0, 151, dtype=torch.float32)
    z = torch.stack([torch.zeros_like(gaps), -gaps], dim=1)
    naive = torch.log(torch.softmax(z, dim=-1))[:, 1]
    assert int(gaps[torch.isinf(naive)][0]) == 104 and torch.isinf(naive[104:]).all()
    assert float(solution("stable_log_softmax")(z)[-1, 1]) == pytest.approx(-150.0)


def test_pretrained_beats_random_weights_on_the_city_facts():
    model, world = load_pretrained(), World(seed=0)
    ids, targets = city_pairs(model.vocab, world)
    torch.manual_seed(0)
    untrained = TransformerLM(model.vocab, model.config).eval()
    with torch.no_grad():
        trained_total = float(solution("sequence_log_likelihoods")(model(ids[:, :-1]), targets).sum())
        random_total = float(solution("sequence_log_likelihoods")(untrained(ids[:, :-1]), targets).sum())
    # an untrained model is close to uniform over the vocabulary on each of the 3 scored tokens
    assert random_total == pytest.approx(-40 * 3 * math.log(len(model.vocab)), rel=0.05)
    assert -1.0 < trained_total < 0 and trained_total > random_total


def test_greedy_completes_every_city_fact():
    model, world = load_pretrained(), World(seed=0)
    greedy = solution("greedy_decode")
    for fact in (f for f in world.facts if f.relation == "city"):
        out = greedy(model, model.vocab.encode(f"{fact.subject} lives in", bos=True), 4)
        assert model.vocab.decode(out) == f"{fact.value} ."


def test_greedy_is_not_the_most_probable_sequence():
    table = TableModel({("<s>", "A"): math.log(0.6), ("<s>", "B"): math.log(0.4), ("A", "<eos>"): math.log(0.5),
                        ("A", "B"): math.log(0.5), ("B", "<eos>"): math.log(0.9), ("B", "A"): math.log(0.1)})
    out = solution("greedy_decode")(table, [table.vocab.bos_id], 5)
    assert table.vocab.tokens(out) == ["A", "<eos>"]
    assert np.exp(table.log_probs[table.vocab.bos_id, out[0]] + table.log_probs[out[0], out[1]]) == pytest.approx(0.30)
    b, eos = table.vocab.ids(["B", "<eos>"])
    assert np.exp(table.log_probs[table.vocab.bos_id, b] + table.log_probs[b, eos]) == pytest.approx(0.36)


def test_several_cities_share_a_prompt_and_the_model_spreads_its_probability():
    model, world = load_pretrained(), World(seed=0)
    for country in ("lorania", "mesk", "brevonia"):
        prefix = f"{country} has a city called"
        followers = [s.split()[5] for s in world.statements_train if s.startswith(prefix + " ")]
        p = np.exp(model.next_log_probs([model.vocab.encode(prefix, bos=True)])[0][model.vocab.ids(sorted(set(followers)))])
        assert len(set(followers)) >= 2 and p.max() < 0.6 and p.sum() > 0.9
        greedy = solution("greedy_decode")(model, model.vocab.encode(prefix, bos=True), 3)
        assert model.vocab.decode(greedy) == f"{sorted(set(followers))[int(p.argmax())]} ."
