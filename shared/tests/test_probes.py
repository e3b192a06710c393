"""mlcourse.probes: a fixed-distribution model, and which tokens a loss scores."""

import math

import pytest
import torch
import torch.nn.functional as F

from mlcourse.checking import MISCONCEPTION_PREFIX, CheckFailure
from mlcourse.probes import FixedLM, call_on, expect_scored, scored_counts, token_roles
from mlcourse.vocab import IGNORE_INDEX, Vocab

VOCAB = Vocab([f"w{i}" for i in range(12)])  # ids 3 ... 14; 14 is the reserve
PAIRS = [([3, 4], [5, 6]), ([7, 8, 9], [10])]
TARGETS = [5, 6, 2, 10, 2]  # the words and one <eos> per pair


def loss_scoring(shift: int = 0, eos: bool = True, reduction: str = "sum"):
    """An SFT loss whose targets start `shift` positions late, with or without `<eos>`."""
    def loss(model, pairs):
        vocab = model.vocab
        ids = torch.from_numpy(vocab.pad([[vocab.bos_id, *x, *y, vocab.eos_id]
                                          for x, y in pairs]))
        targets = torch.full_like(ids[:, 1:], IGNORE_INDEX)
        for b, (x, y) in enumerate(pairs):
            start, stop = len(x) + shift, len(x) + len(y) + int(eos)
            targets[b, start:stop] = ids[b, start + 1:stop + 1]
        return F.cross_entropy(model(ids[:, :-1]).flatten(0, 1), targets.flatten(),
                               ignore_index=IGNORE_INDEX, reduction=reduction)
    return loss


def test_fixed_lm_predicts_one_distribution_everywhere_with_gradients():
    model = FixedLM(VOCAB, seed=3)
    logits = model(torch.zeros(2, 5, dtype=torch.long))
    assert logits.shape == (2, 5, len(VOCAB)) and torch.equal(logits[0, 0], logits[1, 4])
    logits.sum().backward()
    assert model.logits.grad is not None
    probs = model.log_probs()
    assert len(set(probs.round(6))) == len(VOCAB)  # every token a probability of its own
    doubled = model.doubled(5).log_probs()
    assert doubled[5] == pytest.approx(probs[5] + math.log(2), abs=1e-6)
    others = [w for w in range(len(VOCAB)) if w not in (5, model.reserve)]
    assert doubled[others] == pytest.approx(probs[others], abs=1e-6)


def test_scored_counts_reads_each_tokens_number_of_targets():
    counts = scored_counts(loss_scoring(), FixedLM(VOCAB), PAIRS, range(14))
    assert counts == pytest.approx({w: TARGETS.count(w) for w in range(14)}, abs=1e-3)
    assert scored_counts(lambda m, p: 1 / 0, FixedLM(VOCAB), PAIRS, [2]) is None
    assert scored_counts(lambda m, p: "no", FixedLM(VOCAB), PAIRS, [2]) is None


def test_token_roles_name_the_part_of_the_sequence():
    roles = token_roles(PAIRS, VOCAB)
    assert roles[3] == "the first prompt token of pair 0 (`w0`)"
    assert roles[8] == "a prompt token of pair 1 (`w5`)"
    assert roles[10] == "the only response token of pair 1 (`w7`)"
    assert token_roles([([3], [3])], VOCAB)[3] == ("the only prompt token of pair 0 and the only "
                                                   "response token of pair 0 (`w0`)")
    assert roles[VOCAB.eos_id] == "`<eos>`"


def test_expect_scored_passes_the_right_tokens_and_leaves_a_scale_to_the_value_check():
    for reduction in ("sum", "mean"):
        expect_scored(loss_scoring(reduction=reduction), FixedLM(VOCAB), PAIRS, TARGETS, "t")
    expect_scored(lambda m, p: 1 / 0, FixedLM(VOCAB), PAIRS, TARGETS, "t")  # left to the value


def test_expect_scored_names_a_listed_slip_by_its_tokens_only():
    slips = {"<eos> left out": [5, 6, 10], "the mask starts one late": [6, 2, 2]}
    with pytest.raises(CheckFailure) as failure:
        expect_scored(loss_scoring(eos=False), FixedLM(VOCAB), PAIRS, TARGETS, "t",
                      misconceptions=slips)
    assert MISCONCEPTION_PREFIX + "<eos> left out" in failure.value.hidden_message()
    with pytest.raises(CheckFailure) as failure:
        expect_scored(loss_scoring(shift=1), FixedLM(VOCAB), PAIRS, TARGETS, "t",
                      misconceptions=slips)
    assert failure.value.misconception == "the mask starts one late"


def test_expect_scored_says_which_tokens_an_unlisted_slip_gets_wrong():
    with pytest.raises(CheckFailure) as failure:
        expect_scored(loss_scoring(shift=-1, eos=False), FixedLM(VOCAB), PAIRS, TARGETS, "t",
                      misconceptions={"<eos> left out": [5, 6, 10]})
    found = failure.value.difference
    assert failure.value.misconception is None
    assert found.startswith("the last prompt token of pair 0 (`w1`) is scored, but it is not "
                            "a target")
    assert "`<eos>` is not scored, but it is a target" in found
    assert "w2" not in found  # the words are scored once each, as they should be


def test_expect_scored_says_a_mean_or_a_sign_along_with_the_wrong_tokens():
    for reduction, note in (("mean", "a mean over the scored tokens"), ("sum", "")):
        wrong = loss_scoring(eos=False, reduction=reduction)
        flipped = lambda m, p, wrong=wrong: -wrong(m, p)  # noqa: E731
        for loss, sign in ((wrong, ""), (flipped, "the sign is flipped")):
            with pytest.raises(CheckFailure) as failure:
                expect_scored(loss, FixedLM(VOCAB), PAIRS, TARGETS, "t",
                              misconceptions={"<eos> left out": [5, 6, 10]})
            found = failure.value.difference
            named = failure.value.misconception
            assert (named == "<eos> left out") == (not note and not sign), (reduction, sign)
            assert all(part in found for part in (note, sign)), found
            if named is None:
                assert found.endswith("`<eos>` is not scored, but it is a target"), found


def test_call_on_names_the_input_an_error_was_raised_on():
    assert call_on("x=2", lambda x: x + 1, 2) == 3
    with pytest.raises(CheckFailure) as failure:
        call_on("reduction='sum'", lambda r: {}[r], "sum")
    message = failure.value.hidden_message()
    assert message.startswith("the call on reduction='sum': KeyError: 'sum'")
    assert "your function fails on reduction='sum', an input the exercise allows" in message
    with pytest.raises(CheckFailure) as failure:
        call_on("one step", lambda: 0.1 * None)
    assert "a `.grad` that no backward() filled" in failure.value.difference


def test_call_on_lets_the_graders_own_errors_through():
    class KernelDied(Exception):
        error = type("AnswerError", (), {"kind": "died"})()

    def dies():
        raise KernelDied("the kernel died")

    with pytest.raises(KernelDied):
        call_on("anything", dies)
