"""Lesson 5's own tests: the seeds' worked numbers, every number the lesson prints, and the claims its
text makes about the fine-tuning experiment, checked against independent computations."""

import math

import numpy as np
import pytest
import torch

from mlcourse.checking import reference
from mlcourse.transformer import TransformerConfig, TransformerLM
from mlcourse.vocab import Vocab
from mlcourse.world import World

LESSON = "05_finetuning_as_mle"


def solution(name: str):
    return reference(name, LESSON)


def test_new_york_worked_example_from_the_seeds():
    probs = {"A": np.array([[0.6, 0.05, 0.05, 0.3], [0.02, 0.8, 0.15, 0.03]]),
             "B": np.array([[0.9, 0.02, 0.03, 0.05], [0.05, 0.4, 0.5, 0.05]])}
    values = {name: solution("response_log_likelihood")(p, [0, 1]) for name, p in probs.items()}
    assert values == pytest.approx({"A": math.log(0.48), "B": math.log(0.36)}, abs=1e-12)
    assert (f"{values['A']:.4f}", f"{values['B']:.4f}") == ("-0.7340", "-1.0217")


def test_response_log_likelihood_is_minus_summed_cross_entropy_of_one_hot_targets():
    logits = torch.randn(5, 9, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    targets = torch.tensor([3, 0, 8, 8, 2])
    want = -torch.nn.functional.cross_entropy(logits, targets, reduction="sum").item()
    assert solution("response_log_likelihood")(torch.softmax(logits, -1).numpy(), targets.numpy()) == pytest.approx(want, abs=1e-12)


def test_sft_loss_matches_per_prefix_log_probabilities_and_pads_nothing_in():
    vocab = Vocab([f"w{i}" for i in range(10)])
    torch.manual_seed(3)
    model = TransformerLM(vocab, TransformerConfig(vocab_size=len(vocab), context_length=16, d_model=16, n_heads=2, n_layers=1))
    pairs = [([3, 4], [5]), ([6, 7, 8, 9], [10, 11, 12])]
    want = 0.0
    for x, y in pairs:
        seq = [vocab.bos_id, *x, *y, vocab.eos_id]
        log_probs = model.next_log_probs([seq[:t] for t in range(len(x) + 1, len(seq))])
        want -= log_probs[np.arange(len(y) + 1), seq[len(x) + 1:]].sum()
    assert solution("sft_loss")(model, pairs).item() == pytest.approx(want, rel=1e-5)
    # one pair alone gives the same loss as inside a padded batch
    alone = sum(solution("sft_loss")(model, [pair]).item() for pair in pairs)
    assert alone == pytest.approx(want, rel=1e-5)


def test_best_multi_answer_log_likelihood_is_the_empirical_entropy_bound():
    best = solution("answer_best_log_likelihood")
    assert best == pytest.approx(3 * (3 * math.log(1 / 2) + 2 * math.log(1 / 3) + math.log(1 / 6)), abs=1e-9)
    assert f"{best:.3f}" == "-18.205"


def test_token_weights_worked_example():
    weights = solution("token_weights")
    assert weights([1, 4], "token_mean") == pytest.approx([1 / 7, 1 / 7])
    assert weights([1, 4], "sequence_mean") == pytest.approx([1 / 4, 1 / 10])
    with pytest.raises(ValueError, match="reduction"):
        weights([1, 4], "mean")


def test_the_counts_the_text_gives_for_lorania():
    world = World(seed=0)
    lorania = [y for x, y in world.qa_train if x == "question : name a city in lorania . answer :"]
    assert {city: lorania.count(city) for city in set(lorania)} == {"velm": 3, "ashka": 2, "dorn": 1}
    assert (len(world.qa_train), len(world.qa_heldout)) == (138, 40)


def test_printed_worked_numbers(narrative):
    assert narrative["response_lls"] == pytest.approx({"model A": math.log(0.48), "model B": math.log(0.36)})
    spread, rival = narrative["same_gold"]["spread"], narrative["same_gold"]["one rival"]
    assert -math.log(spread[0]) == -math.log(rival[0]) == pytest.approx(math.log(2))
    onehot = np.eye(5)[0]
    assert (((onehot - spread) ** 2).sum(), ((onehot - rival) ** 2).sum()) == pytest.approx((0.3125, 0.5))


def test_start_losses_random_near_uniform_and_pretrained_worse(narrative):
    per_token = {name: value / narrative["scored"] for name, value in narrative["start_losses"].items()}
    uniform = math.log(115)
    assert abs(per_token["random init"] - uniform) < 0.1  # "close to a uniform guess"
    assert per_token["pretrained"] > uniform  # "worse than uniform on these targets"


def test_fine_tuning_beats_random_initialisation_by_a_clear_margin(narrative):
    curves = narrative["curves"]
    pretrained, scratch = curves["from the pretrained checkpoint"], curves["from random initialisation"]
    assert pretrained[0] < scratch[0]  # "at step 0 the pretrained model is the worse of the two"
    assert all(pretrained[s] > scratch[s] for s in pretrained if s >= 40)  # "within 40 steps ... for good"
    final = narrative["final_scores"]
    assert final["from the pretrained checkpoint"] > final["from random initialisation"] + 2.0
    assert final["from the pretrained checkpoint"] > -0.5


def test_greedy_answers_of_the_fine_tuned_model_are_mostly_right(narrative):
    world, answer = narrative["world"], narrative["greedy_answer"]
    shown = world.qa_heldout[::7]
    right = {name: sum(answer(narrative[name], x) == y for x, y in shown) for name in ("finetuned", "from_scratch")}
    assert right["finetuned"] >= 5 and right["from_scratch"] <= 2, right  # "most of them right"; the other guesses


def test_fine_tuned_model_spreads_probability_like_the_data(narrative):
    world = narrative["world"]
    best = narrative["answer_best_log_likelihood"]
    assert best - 1.0 < narrative["multi_ll"] < best  # close to, and never above, the bound
    log_probs = narrative["first_token"]
    for row, x in zip(log_probs, narrative["multi_prompts"]):
        probs = {c: math.exp(row[world.vocab.id(c)]) for c in world.multi_answer[x]}
        assert max(probs.values()) < 0.7  # "none of the answers probability 1"
        assert probs == pytest.approx(world.multi_answer[x], abs=0.1)
