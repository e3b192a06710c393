"""Lesson 03: the numbers the lesson prints and the claims its text makes, from the narrative run
(the `narrative` fixture) and checked against the seeds' values or an independent computation
(timings are plotted, never asserted)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mlcourse import IGNORE_INDEX
from mlcourse.checking import reference

LESSON = "03_autoregressive_decomposition"


def solution(name):
    return reference(name, LESSON)


def test_seed_example_and_the_probabilities_the_text_quotes():
    assert solution("log_prob_deep_learning") == pytest.approx(-1.1)
    assert [f"{math.exp(v):.3f}" for v in (-1.1,)] == ["0.333"]
    assert [f"{math.exp(v):.2f}" for v in (-0.7, -0.4)] == ["0.50", "0.67"]


def test_running_example_prints_round_probabilities_and_sums(narrative):
    ids, probs = narrative["example_ids"], narrative["example_probs"]
    targets = narrative["example_targets"]
    assert targets.tolist() == [[3, 4, 2], [4, 2, IGNORE_INDEX]]
    printed = [float(probs[b, t, ids[b, t + 1]])
               for b, t in [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]]
    assert printed == pytest.approx([.5, .6, .8, .3, .7])
    totals = narrative["example_totals"]
    assert totals.tolist() == pytest.approx([math.log(.5 * .6 * .8), math.log(.3 * .7)], abs=1e-5)
    assert [f"{float(t):.3f}" for t in totals] == ["-1.427", "-1.561"]  # the figure's titles
    assert float(narrative["example_token_lp"][1, 2]) == 0.0  # the pad position adds nothing


def test_one_pass_equals_one_pass_per_token(narrative):
    assert (narrative["one_pass"] - narrative["per_token"]).abs().max() < 1e-5
    assert max(narrative["differences"]) < 1e-4  # over the timed lengths, up to 64 tokens


def test_zorbin_response_is_nearly_certain_and_the_name_is_not(narrative):
    model, vocab = narrative["model"], narrative["wvocab"]
    prefix = vocab.encode("zorbin lives in", bos=True)
    want = sum(model.next_log_probs([prefix + vocab.encode(" ".join(["zarn", "."][:k]))])[0, token]
               for k, token in enumerate(vocab.encode("zarn .", eos=True)))
    log_p_y = float(narrative["log_p_y"])
    assert log_p_y == pytest.approx(want, abs=1e-4)
    assert f"{log_p_y:.4f}" == "-0.0084" and f"{math.exp(log_p_y):.4f}" == "0.9916"
    surprise = narrative["surprise"]
    assert narrative["n_prompt"] == 4 and len(surprise) == 6
    assert math.exp(-surprise[0]) < 0.01  # "cannot know whom a statement is about": Pr 0.0065
    # every bar above the y-axis floor
    assert (surprise[3:] < 0.01).all() and (surprise > 1e-5).all()


def test_products_underflow_and_log_softmax_does_not(narrative):
    assert math.prod([0.1] * 400) == 0.0 and f"{400 * math.log(0.1):.2f}" == "-921.03"
    assert 0 < 5e-324 and 5e-324 / 2 == 0.0  # the smallest positive float64 the text quotes
    assert narrative["first_inf"] == 104 and float(narrative["stable"][-1]) == pytest.approx(-150.0)
    assert np.float32(1.4e-45) > 0 and np.float32(0.7e-45) == 0  # "below about 10^-45" in float32
    assert float(solution("stable_log_softmax")(narrative["gap_logits"])[-1, 1]) == pytest.approx(
        -150.0)


def test_summed_cross_entropy_is_minus_the_log_likelihood(narrative):
    summed, totals = float(narrative["summed"]), narrative["example_totals"]
    assert summed == pytest.approx(-float(totals.sum()), abs=1e-5) and f"{summed:.4f}" == "2.9878"
    mean = F.cross_entropy(narrative["rows"], narrative["row_targets"])
    assert float(mean) == pytest.approx(summed / 5, abs=1e-6) and f"{float(mean):.4f}" == "0.5976"
    nll = solution("negative_log_likelihood")(narrative["example_logits"],
                                              narrative["example_targets"])
    assert float(nll) == pytest.approx(summed, abs=1e-6)


def test_gradient_is_p_minus_e_y_as_autograd_finds(narrative):
    assert float(narrative["difference"]) < 1e-6
    torch.manual_seed(1)
    logits, targets = 5 * torch.randn(3, 4, 6, dtype=torch.float64), torch.randint(0, 6, (3, 4))
    targets[0, 2:] = IGNORE_INDEX
    z = logits.clone().requires_grad_(True)
    solution("negative_log_likelihood")(z, targets).backward()
    grad = solution("cross_entropy_grad")(logits, targets)
    assert torch.allclose(grad, z.grad) and torch.allclose(grad.sum(-1),
                                                           torch.zeros(3, 4, dtype=grad.dtype))
    assert (grad.abs() <= 1).all() and (grad[0, 2:] == 0).all()


def test_the_same_loss_with_different_gradients(narrative):
    rows = narrative["spread"]
    nll, grad = solution("negative_log_likelihood"), solution("cross_entropy_grad")
    target = torch.tensor([[0]])
    losses = [float(nll(row[None], target)) for row in rows]
    assert losses == pytest.approx([math.log(2)] * 2, abs=1e-6) and f"{losses[0]:.3f}" == "0.693"
    gradients = [grad(row[None], target)[0, 0].tolist() for row in rows]
    assert gradients[0] == pytest.approx([-.5, .25, .25], abs=1e-6)
    assert gradients[1] == pytest.approx([-.5, .49, .01], abs=1e-6)


def test_pretrained_beats_random_weights_on_the_city_facts(narrative):
    totals, vocab = narrative["totals"], narrative["wvocab"]
    assert len(narrative["cities"]) == 40
    # an untrained model is close to uniform over the vocabulary on each of the 3 scored tokens
    assert totals["random weights"] == pytest.approx(-40 * 3 * math.log(len(vocab)), rel=0.05)
    assert (f"{totals['pretrained']:.2f}" == "-0.54"
            and f"{totals['random weights']:.2f}" == "-559.83")


def test_model_a_is_more_probable_by_e_to_the_50():
    assert -150 - (-200) == 50 and solution("answer_better_model") == "b"
    assert solution("answer_flawed_calculation") == "b"


def test_the_flawed_calculation_is_far_too_low(narrative):
    model, vocab = narrative["model"], narrative["wvocab"]
    ids = torch.tensor([vocab.encode("zorbin lives in zarn .", bos=True, eos=True)])
    T, n_x = ids.shape[1], len(vocab.encode("zorbin lives in", bos=True))
    with torch.no_grad():
        probs = torch.softmax(model(ids), dim=-1)  # the colleague's code, as quoted in exercise 9
    flawed = float(torch.log(probs[0, torch.arange(T), ids[0]])[n_x:].sum())
    assert f"{flawed:.1f}" == "-32.9" and f"{float(narrative['log_p_y']):.3f}" == "-0.008"


@pytest.mark.parametrize("slip", ["return picked.exp() * scored", "return picked / math.log(2)",
                                  "return torch.where(scored, picked, math.log(0.2))"])
def test_a_wrong_token_log_probs_costs_only_its_own_points(slip, graded_run):
    # sequence_log_likelihoods sums the student's own token_log_probs: right given that helper,
    # it keeps its points (error carried forward); nothing else depends on the helper
    helper = ("def token_log_probs(logits, targets):\n"
              "    scored = targets != IGNORE_INDEX\n"
              "    log_probs = torch.log_softmax(logits, dim=-1)\n"
              "    picked = log_probs.gather(-1, targets.clamp(min=0)[..., None])[..., 0]\n"
              f"    {slip}\n")
    outcomes = graded_run(LESSON, {"token_log_probs": helper})
    assert [test for test, error in outcomes.items() if error is not None] == [
        "test_token_log_probs"]


def test_a_wrong_sequence_log_likelihoods_is_not_excused_by_its_helper(graded_run):
    summed_over_batch = ("def sequence_log_likelihoods(logits, targets):\n"
                         "    return token_log_probs(logits, targets).sum(dim=0)\n")
    outcomes = graded_run(LESSON, {"sequence_log_likelihoods": summed_over_batch})
    assert [test for test, error in outcomes.items() if error is not None] == [
        "test_sequence_log_likelihoods"]
