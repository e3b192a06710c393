"""Lesson 04's own tests: the numbers it prints and the claims its text makes, from the narrative
run (the `narrative` fixture) and recomputed from the solution's functions."""

import math

import pytest
import torch

from mlcourse import IGNORE_INDEX
from mlcourse.checking import reference
from mlcourse.world import World

LESSON = "04_conditional_vs_joint"


def test_worked_example_splits_into_prompt_and_response(narrative):
    assert (narrative["log_p_x"], narrative["log_p_y_given_x"]) == pytest.approx((-3.5, -1.2))
    split = reference("split_log_likelihood", LESSON)
    log_p_x, log_p_y = split(torch.tensor([-1.5, -2.0, -0.7, -0.4, -0.1], dtype=torch.float64), 3)
    assert log_p_x + log_p_y == pytest.approx(-4.7)


def test_prompt_share_counts_prompt_tokens_against_response_tokens_and_eos():
    world = World(seed=0)
    x = sum(len(p.split()) for p, _ in world.qa_train)
    y = sum(len(r.split()) + 1 for _, r in world.qa_train)
    assert reference("answer_prompt_share", LESSON) == pytest.approx(x / (x + y))
    assert f"{x / (x + y):.1%}" == "78.4%"


def test_joint_targets_are_conditional_targets_with_prompt_length_one():
    targets = reference("conditional_targets", LESSON)
    ids = torch.tensor([[1, 5, 6, 7, 8, 2], [1, 5, 9, 2, 0, 0]])
    assert targets(ids, [1, 1], 0).tolist() == [[5, 6, 7, 8, 2], [5, 9, 2, -100, -100]]


def test_batch_losses_decompose_into_conditional_and_prompt(narrative):
    losses = narrative["batch_losses"]
    assert losses["conditional"] + losses["prompt only"] == pytest.approx(losses["joint"], abs=1e-3)
    assert [f"{losses[k]:.3f}" for k in ("joint", "conditional", "prompt only")] == \
        ["515.492", "75.954", "439.538"]


def test_conditional_fine_tuning_gives_better_answers_and_both_forget(narrative):
    curves, final = narrative["curves"], narrative["final"]
    (joint_pair, joint_prompt, joint_statement) = final["joint"]
    (cond_pair, cond_prompt, cond_statement) = final["conditional"]
    assert cond_pair < joint_pair - 0.1  # "a clearly lower loss per pair"
    assert joint_prompt < cond_prompt  # the joint run learnt the prompts
    uniform = narrative["uniform"]
    assert f"{uniform:.3f}" == "4.745" and math.isclose(uniform, math.log(115))
    before = curves["conditional"][0]
    assert before[1] > uniform and cond_prompt > before[1]  # "already above a uniform guess, rises"
    assert f"{before[2]:.3f}" == "1.121"  # the checkpoint's held-out loss on the statements
    # both forget; joint more
    assert cond_statement > before[2] + 0.3 and joint_statement > cond_statement
    assert [f"{v:.3f}" for v in final["conditional"]] == ["0.159", "10.991", "1.894"]
    assert [f"{v:.3f}" for v in final["joint"]] == ["0.383", "0.612", "3.246"]


def test_one_masked_pass_equals_the_sum_of_turn_conditionals(narrative):
    assert abs(narrative["one_pass"] - narrative["per_turn"]).max() < 1e-3
    world = narrative["world"]
    lengths = [len(narrative["dialogue_ids_and_spans"](t)[0]) - 1 for t in world.dialogues]
    assert narrative["positions"]["one pass"] == sum(lengths) == 1232
    assert narrative["positions"]["one pass per turn"] == 2245


def test_the_forward_pass_with_a_mask_is_the_models_own(narrative):
    model, inputs, T = narrative["pretrained"], narrative["inputs"], narrative["T"]
    with torch.no_grad():
        own = model(inputs)
        again = narrative["forward_with_mask"](model, inputs, narrative["causal"][None],
                                               torch.arange(T))
    assert torch.allclose(own, again, atol=1e-5)


def test_packing_needs_the_block_diagonal_mask_and_restarted_positions(narrative):
    packing = narrative["packing"]
    alone, causal = packing["in its own row"], packing["packed, causal mask"]
    assert packing["packed, block-diagonal"] == pytest.approx(alone, abs=1e-4)
    assert causal[0] == pytest.approx(alone[0], abs=1e-4)  # nothing precedes the first sequence
    assert all(c < a - 5 for c, a in zip(causal[1:], alone[1:]))  # "lose many nats"
    drift = packing["block-diagonal, positions 0..T-1"]
    assert all(abs(d - a) > 0.1 for d, a in zip(drift[1:], alone[1:]))  # "the numbers drift"
    targets = reference("packed_targets", LESSON)(narrative["packed_ids"], 1, 0)
    assert not (targets == 1).any() and (targets == IGNORE_INDEX).sum() == 2  # two boundaries
