"""Lesson 04's own tests: the worked numbers it prints, recomputed from the solution's functions."""

import math

import pytest
import torch

from mlcourse.checking import reference
from mlcourse.world import World

LESSON = "04_conditional_vs_joint"


def test_worked_example_splits_into_prompt_and_response():
    split = reference("split_log_likelihood", LESSON)
    log_p_x, log_p_y = split(torch.tensor([-1.5, -2.0, -0.7, -0.4, -0.1], dtype=torch.float64), 3)
    assert (log_p_x, log_p_y, log_p_x + log_p_y) == pytest.approx((-3.5, -1.2, -4.7))


def test_prompt_share_counts_prompt_tokens_against_response_tokens_and_eos():
    world = World(seed=0)
    x = sum(len(p.split()) for p, _ in world.qa_train)
    y = sum(len(r.split()) + 1 for _, r in world.qa_train)
    assert reference("answer_prompt_share", LESSON) == pytest.approx(x / (x + y))
    assert f"{x / (x + y):.1%}" == "78.4%"


def test_masked_nll_worked_example_is_four_log_two():
    probs = torch.tensor([[[0.5, 0.25, 0.25], [0.5, 0.25, 0.25], [0.25, 0.25, 0.5]],
                          [[0.25, 0.5, 0.25], [1 / 3, 1 / 3, 1 / 3], [1 / 3, 1 / 3, 1 / 3]]])
    targets = torch.tensor([[-100, 0, 1], [1, -100, -100]])
    assert float(reference("masked_nll", LESSON)(torch.log(probs), targets)) == pytest.approx(4 * math.log(2), rel=1e-6)


def test_joint_targets_are_conditional_targets_with_prompt_length_one():
    targets = reference("conditional_targets", LESSON)
    ids = torch.tensor([[1, 5, 6, 7, 8, 2], [1, 5, 9, 2, 0, 0]])
    assert targets(ids, [1, 1], 0).tolist() == [[5, 6, 7, 8, 2], [5, 9, 2, -100, -100]]


def test_batch_losses_decompose_into_conditional_and_prompt(narrative):
    losses = narrative["batch_losses"]
    assert losses["conditional"] + losses["prompt only"] == pytest.approx(losses["joint"], abs=1e-3)


def test_conditional_fine_tuning_gives_better_heldout_answers(narrative):
    (joint_ll, joint_prompt), (cond_ll, cond_prompt) = narrative["final"]["joint"], narrative["final"]["conditional"]
    assert cond_ll > joint_ll + 0.1  # the lesson says "clearly higher"
    assert joint_prompt < cond_prompt  # the joint run learnt the prompts


def test_one_masked_pass_equals_the_sum_of_turn_conditionals(narrative):
    assert abs(narrative["one_pass"] - narrative["per_turn"]).max() < 1e-3
    world = narrative["world"]
    lengths = [len(narrative["dialogue_ids_and_spans"](t)[0]) - 1 for t in world.dialogues]
    assert narrative["positions"]["one pass"] == sum(lengths)
