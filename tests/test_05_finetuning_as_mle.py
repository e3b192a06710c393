"""Lesson 5's own tests: the seeds' worked numbers, every number the lesson prints or states, and
the claims its text makes (the fine-tuning experiment, greedy decoding, exposure bias), checked
against independent computations."""

import itertools
import math

import numpy as np
import pytest
import torch

from mlcourse.checking import gradients_after, reference
from mlcourse.lessons import read_lesson
from mlcourse.models import TableModel
from mlcourse.transformer import TransformerConfig, TransformerLM
from mlcourse.vocab import Vocab
from mlcourse.world import ANIMALS, COLOURS, SIZES, World

from .conftest import solution_path

LESSON = "05_finetuning_as_mle"


def solution(name: str):
    return reference(name, LESSON)


# --- sections 1-3: the objective, one-hot targets, the SFT loss -----------------------------------

def test_new_york_worked_example_from_the_seeds():
    probs = {"A": np.array([[0.6, 0.05, 0.05, 0.3], [0.02, 0.8, 0.15, 0.03]]),
             "B": np.array([[0.9, 0.02, 0.03, 0.05], [0.05, 0.4, 0.5, 0.05]])}
    values = {name: solution("response_log_likelihood")(p, [0, 1]) for name, p in probs.items()}
    assert values == pytest.approx({"A": math.log(0.48), "B": math.log(0.36)}, abs=1e-12)
    assert solution("answer_new_york") == "a"


def test_the_figure_shows_the_exercise_numbers(narrative):
    probs = narrative["step_probs"]
    assert probs["model A"][0, 0] * probs["model A"][1, 1] == pytest.approx(0.48)
    assert probs["model B"][0, 0] * probs["model B"][1, 1] == pytest.approx(0.36)
    assert all(np.allclose(p.sum(axis=1), 1) for p in probs.values())


def test_self_check_new_york_threshold():
    assert f"{0.48 / 0.7:.3f}" == "0.686"  # "more than 0.48 / 0.7 = 0.686"


def test_response_log_likelihood_is_minus_summed_cross_entropy_of_one_hot_targets():
    logits = torch.randn(5, 9, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    targets = torch.tensor([3, 0, 8, 8, 2])
    want = -torch.nn.functional.cross_entropy(logits, targets, reduction="sum").item()
    got = solution("response_log_likelihood")(torch.softmax(logits, -1).numpy(), targets.numpy())
    assert got == pytest.approx(want, abs=1e-12)


def test_the_loss_ignores_the_spread_its_gradient_does_not():
    # "the loss reads only the gold token's probability ... its gradient p - e_y pushes each wrong
    # token down in proportion to its probability"; the squared errors 0.3125 and 0.5
    spread = torch.log(torch.tensor([0.5, 0.125, 0.125, 0.125, 0.125], dtype=torch.float64))
    rival = torch.log(torch.tensor([0.5, 0.5, 1e-12, 1e-12, 1e-12], dtype=torch.float64))
    losses = []
    for logits in (spread.clone().requires_grad_(), rival.clone().requires_grad_()):
        loss = torch.nn.functional.cross_entropy(logits[None], torch.tensor([0]))
        loss.backward()
        assert torch.allclose(logits.grad, torch.softmax(logits, 0) - torch.eye(5)[0].double())
        losses.append(loss.item())
    assert losses[0] == pytest.approx(losses[1]) == pytest.approx(math.log(2))
    onehot = np.eye(5)[0]
    squared = [((onehot - np.exp(p.numpy())) ** 2).sum() for p in (spread, rival)]
    assert squared == pytest.approx([0.3125, 0.5])


def test_sft_loss_matches_per_prefix_log_probabilities_and_pads_nothing_in():
    vocab = Vocab([f"w{i}" for i in range(10)])
    torch.manual_seed(3)
    config = TransformerConfig(vocab_size=len(vocab), context_length=16, d_model=16, n_heads=2,
                               n_layers=1)
    model = TransformerLM(vocab, config)
    pairs = [([3, 4], [5]), ([6, 7, 8, 9], [10, 11, 12])]
    want = 0.0
    for x, y in pairs:
        seq = [vocab.bos_id, *x, *y, vocab.eos_id]
        log_probs = model.next_log_probs([seq[:t] for t in range(len(x) + 1, len(seq))])
        want -= log_probs[np.arange(len(y) + 1), seq[len(x) + 1:]].sum()
    assert solution("sft_loss")(model, pairs).item() == pytest.approx(want, rel=1e-5)
    alone = sum(solution("sft_loss")(model, [pair]).item() for pair in pairs)
    # a pair alone costs what it costs in a padded batch
    assert alone == pytest.approx(want, rel=1e-5)


def test_the_worked_sft_example_has_the_padding_its_comment_states():
    vocab = World(seed=0).vocab
    rows = vocab.pad([[vocab.bos_id, *x, *y, vocab.eos_id]
                      for x, y in [([10, 11, 12], [20, 21]), ([13, 14, 15, 16, 17], [22])]])
    assert rows.shape == (2, 8) and (rows[0] == vocab.pad_id).sum() == 1 and len(vocab) == 115


def test_the_counts_the_text_gives():
    world = World(seed=0)
    lorania = [y for x, y in world.qa_train if x == "question : name a city in lorania . answer :"]
    assert ({city: lorania.count(city) for city in set(lorania)}
            == {"velm": 3, "ashka": 2, "dorn": 1})
    assert (len(world.qa_train), len(world.qa_heldout)) == (138, 40)  # "138 pairs", "178 pairs"
    assert (sorted(sorted(a.values()) for a in world.multi_answer.values())
            == [[1 / 6, 1 / 3, 1 / 2]] * 3)
    # "a opens every pet"
    assert all(y.split()[0] == "a" for x, y in world.qa_train if "what pet" in x)


# --- section 4: reducing the loss ----------------------------------------------------------------

def test_token_weights_worked_example():
    weights = solution("token_weights")
    assert weights([1, 4], "pair_mean") == pytest.approx([1 / 2, 1 / 2])
    assert weights([1, 4], "token_mean") == pytest.approx([1 / 7, 1 / 7])
    assert weights([1, 4], "sequence_mean") == pytest.approx([1 / 4, 1 / 10])
    with pytest.raises(ValueError, match="reduction"):
        weights([1, 4], "mean")


def test_only_a_constant_divisor_keeps_every_tokens_weight(narrative):
    # the figure and exercise 6: over the 8 batches, one token weight for sum and pair_mean
    # (a constant factor: the same maximiser), not for token_mean or sequence_mean
    weights = solution("token_weights")
    lengths = narrative["lengths"]
    per_token = {r: np.concatenate([np.repeat(weights(n, r), n + 1) for n in lengths])
                 for r in ("sum", "pair_mean", "token_mean", "sequence_mean")}
    assert np.ptp(per_token["sum"]) == 0 and np.ptp(per_token["pair_mean"]) == 0
    assert len({round(float(w), 9) for w in per_token["token_mean"]}) > 1  # varies by batch
    assert np.ptp(per_token["sequence_mean"] / per_token["sequence_mean"].mean()) > 0.5
    assert max(per_token["sequence_mean"] / per_token["sequence_mean"].mean()) < 1.9  # in ylim
    assert solution("answer_reduction") == "b"


def test_a_constant_divisor_rescales_the_epoch_gradient_and_a_token_mean_does_not():
    # exercise 6 on a real model: batches of B = 2 pairs, one epoch, gradient of each loss
    vocab = Vocab([f"w{i}" for i in range(8)])
    torch.manual_seed(5)
    model = TransformerLM(vocab, TransformerConfig(len(vocab), 16, 16, 2, n_layers=1))
    pairs = [([3], [4]), ([5, 6], [7, 8, 9, 10]), ([4], [3, 3]), ([9, 8, 7], [6])]
    loss = solution("sft_loss")

    def epoch_gradient(reduce):
        model.zero_grad()
        for batch in (pairs[:2], pairs[2:]):
            reduce(loss(model, batch), batch).backward()
        return torch.cat([p.grad.flatten() for p in model.parameters()])

    full = epoch_gradient(lambda value, batch: value)
    assert torch.allclose(epoch_gradient(lambda value, batch: value / 2), full / 2, atol=1e-7)
    tokens = epoch_gradient(lambda value, batch: value / sum(len(y) + 1 for _, y in batch))
    ratio = tokens / full
    assert not torch.allclose(ratio[full.abs() > 1e-4], ratio[full.abs() > 1e-4].median())


# --- section 5: the training step and the experiment ----------------------------------------------

def test_start_losses_random_near_uniform_and_pretrained_worse(narrative):
    start = narrative["start_loss"]
    uniform = math.log(115)
    assert abs(start["from random initialisation"] - uniform) < 0.1  # random ~ a uniform guess
    assert start["from the pretrained checkpoint"] > uniform  # "worse even than a uniform guess"


def test_fine_tuning_beats_random_initialisation_by_a_clear_margin(narrative):
    curves = narrative["curves"]
    pretrained, scratch = (curves["from the pretrained checkpoint"],
                           curves["from random initialisation"])
    # "at step 0 the pretrained model is worse than the random one"
    assert pretrained[0] < scratch[0]
    # "within 40 steps ... for good"
    assert all(pretrained[s] > scratch[s] for s in pretrained if s >= 40)
    final = narrative["final_scores"]
    assert final["from the pretrained checkpoint"] > final["from random initialisation"] + 2.0
    assert final["from the pretrained checkpoint"] > -0.5


def test_both_runs_learn_the_format_and_only_the_fine_tuned_one_the_facts(narrative):
    world, answer, kind, valid = (narrative[k]
                                  for k in ("world", "answer_of", "kind", "answers_of_kind"))
    shown = world.qa_heldout[::7]
    right = {name: sum(answer(narrative[name], x) == y for x, y in shown)
             for name in ("finetuned", "from_scratch")}
    assert right["finetuned"] >= 5 and right["from_scratch"] <= 2, right
    formatted = sum(answer(narrative["from_scratch"], x) in valid[kind[x]]
                    for x, _ in world.qa_heldout)
    assert formatted >= 36  # the random network learns the format: a valid answer of the right kind


# --- section 6: several answers to one prompt ----------------------------------------------------

def test_best_multi_answer_log_likelihood_is_the_empirical_bound():
    best = solution("answer_best_log_likelihood")
    assert best == pytest.approx(3 * (3 * math.log(1 / 2) + 2 * math.log(1 / 3) + math.log(1 / 6)),
                                 abs=1e-9)
    assert solution("answer_probability_one") == "c"


def test_fine_tuned_model_spreads_probability_like_the_data(narrative):
    world = narrative["world"]
    best = narrative["answer_best_log_likelihood"]
    assert best - 1.0 < narrative["multi_ll"] < best  # close to, and never above, the bound
    for row, x in zip(narrative["first_token"], narrative["multi_prompts"]):
        probs = {c: math.exp(row[world.vocab.id(c)]) for c in world.multi_answer[x]}
        assert max(probs.values()) < 0.7  # "none of the answers probability 1"
        assert probs == pytest.approx(world.multi_answer[x], abs=0.1)


# --- section 7: greedy decoding -------------------------------------------------------------------

def sequences(model, max_len):
    """Every sequence of at most max_len tokens ending with <eos>, with its probability under a
    table."""
    vocab = model.vocab
    words = [i for i in range(len(vocab)) if vocab.tokens([i])[0] not in ("<s>", "<pad>", "<eos>")]
    for n in range(max_len):
        for body in itertools.product(words, repeat=n):
            seq = [*body, vocab.eos_id]
            prefixes = [[vocab.bos_id, *seq[:t]] for t in range(len(seq))]
            log_probs = model.next_log_probs(prefixes)
            yield seq, math.exp(sum(log_probs[t, tok] for t, tok in enumerate(seq)))


def test_greedy_misses_the_most_probable_response_without_a_tie(narrative):
    table = narrative["table"]
    rows = np.exp(table.log_probs)
    assert np.allclose(rows[[table.vocab.bos_id, *table.vocab.ids(["A", "B"])]].sum(axis=1), 1)
    greedy = solution("greedy_decode")(table, [table.vocab.bos_id], 5)
    assert table.vocab.tokens(greedy) == ["A", "<eos>"]
    for t in range(len(greedy)):  # every greedy choice wins by a margin of 0.1 at least: no tie
        top = np.sort(np.exp(table.next_log_probs([[table.vocab.bos_id, *greedy[:t]]])[0]))
        assert top[-1] - top[-2] >= 0.1 - 1e-12
    best, p_best = max(sequences(table, 5), key=lambda s: s[1])
    assert table.vocab.tokens(best) == ["B", "<eos>"] and p_best == pytest.approx(0.36)
    p_greedy = dict((tuple(s), p) for s, p in sequences(table, 2))[tuple(greedy)]
    assert (f"{p_greedy:.2f}", f"{p_best:.2f}") == ("0.30", "0.36")


def test_greedy_gives_a_repeated_prompts_most_frequent_answer(narrative):
    world, answer = narrative["world"], narrative["answer_of"]
    for x in narrative["multi_prompts"]:
        frequency = world.multi_answer[x]
        assert answer(narrative["finetuned"], x) == max(frequency, key=frequency.get)


def test_greedy_decode_on_a_transformer_agrees_with_the_forward_pass():
    world = World(seed=0)
    torch.manual_seed(0)
    model = TransformerLM(world.vocab)
    prefix = [world.vocab.bos_id,
              *world.vocab.encode("question : where does zorbin live ? answer :")]
    generated = solution("greedy_decode")(model, prefix, 4)
    ids = list(prefix)
    with torch.no_grad():
        for _ in range(4):
            ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
            if ids[-1] == world.vocab.eos_id:
                break
    assert generated == ids[len(prefix):]


def test_the_greedy_table_of_the_test_cell_has_no_ties():
    table = TableModel({("<s>", "A"): -0.5, ("<s>", "B"): -1.5, ("A", "B"): -0.2, ("B", "A"): -1.0,
                        ("A", "<eos>"): -2.0, ("B", "<eos>"): -0.1})
    for row in table.log_probs:
        finite = np.sort(row[np.isfinite(row)])
        assert len(finite) < 2 or finite[-1] - finite[-2] > 0.5


# --- section 8: exposure bias ---------------------------------------------------------------------

def test_exposure_bias_numbers_and_claims(narrative):
    world, kind, valid = narrative["world"], narrative["kind"], narrative["answers_of_kind"]
    early, answer = narrative["early"][20], narrative["answer_of"]
    pairs = world.qa_train + world.qa_heldout
    assert len(pairs) == 178
    # "given the gold first token, the model gets every later token right"
    assert (narrative["later_right"] == narrative["later_total"]
            == sum(len(y.split()) for _, y in pairs))
    # "each greedy error starts at the first token"
    answers = {x: answer(early, x) for x, _ in pairs}
    assert all(answers[x] == y for x, y in pairs if answers[x].split()[:1] == y.split()[:1])
    first_wrong, derailed = narrative["first_wrong"], narrative["derailed"]
    assert len(first_wrong) == sum(answers[x] != y for x, y in pairs) and len(first_wrong) >= 20
    assert (all(got not in valid[kind[x]] for x, _, got in derailed)
            and len(derailed) >= len(first_wrong) / 2)
    # "after a, which opens every pet in D, it goes on in a pet's words"
    pet_words = set(SIZES) | set(COLOURS) | set(ANIMALS)
    after_a = [got.split()[1:] for _, _, got in derailed if got.split()[:1] == ["a"]]
    assert len(after_a) >= 10 and all(set(words) <= pet_words for words in after_a)
    assert len(narrative["shown"]) >= 3 and all(len(got.split()) > 1
                                                for _, _, got in narrative["shown"].values())


def test_exposure_bias_is_a_property_of_the_model_not_of_the_decoder(narrative):
    # the same measurement by the solution's decoder: the numbers do not depend on the reader's
    world, early = narrative["world"], narrative["early"][20]
    decode = solution("greedy_decode")
    wrong = 0
    for x, y in world.qa_train + world.qa_heldout:
        ids = decode(early, [world.vocab.bos_id, *world.vocab.encode(x)], 6)
        wrong += world.vocab.decode([i for i in ids if i != world.vocab.eos_id]) != y
    assert wrong == len(narrative["first_wrong"])


# --- error carried forward: a wrong sft_loss costs only its own exercise's points ----------------

def _wrong_sft_loss(change: tuple[str, str]) -> str:
    """The solution's sft_loss with one change (old, new) made."""
    source = read_lesson(solution_path(LESSON)).cell("sft_loss").source
    assert change[0] in source
    return source.replace(*change)


@pytest.mark.parametrize("wrong", [
    # <eos> left out: one token fewer in each pair's targets
    ("len(x) + len(words) + 2", "len(x) + len(words) + 1"),
    # a mean where the sum belongs: a step on it is a different (smaller) step
    ('reduction="sum")', 'reduction="mean")'),
], ids=["eos left out", "a mean"])
def test_a_wrong_sft_loss_costs_only_its_own_points(wrong, graded_run):
    """sft_training_step calls the student's sft_loss: right given that loss, it keeps its points
    (issue 22's error carried forward); only the loss's own tests fail."""
    outcomes = graded_run(LESSON, {"sft_loss": _wrong_sft_loss(wrong)})
    failed = {test for test, error in outcomes.items() if error is not None}
    assert failed == {"test_sft_loss", "test_sft_loss_random_model"}, failed


def test_a_step_wrong_on_its_own_still_fails_with_a_wrong_sft_loss(graded_run):
    """The note of an error carried forward is no pass for a step that is wrong itself."""
    step = read_lesson(solution_path(LESSON)).cell("sft_training_step").source
    outcomes = graded_run(LESSON, {
        "sft_loss": _wrong_sft_loss(('reduction="sum")', 'reduction="mean")')),
        "sft_training_step": step.replace("parameter -= lr", "parameter += lr")})
    assert outcomes["test_sft_training_step"] is not None


def test_a_loss_rebuilt_as_a_leaf_fails_and_only_backward_tells():
    """A loss rebuilt with torch.tensor(loss.item(), requires_grad=True) has the right value and
    requires grad: the test must backpropagate to see that no gradient reaches the model."""
    vocab = Vocab([f"w{i}" for i in range(17)])
    torch.manual_seed(52)
    model = TransformerLM(vocab, TransformerConfig(len(vocab), 16, 16, 2, n_layers=1))
    pairs = [([3, 4], [5, 6]), ([7], [8])]
    right = solution("sft_loss")(model, pairs)
    leaf = torch.tensor(right.item(), requires_grad=True)
    assert leaf.requires_grad and leaf.item() == right.item()
    _, (after, _) = gradients_after(lambda m, p: torch.tensor(solution("sft_loss")(m, p).item(),
                                                              requires_grad=True), model, pairs)
    assert all(p.grad is None for p in after.parameters())
    _, (after, _) = gradients_after(solution("sft_loss"), model, pairs)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in after.parameters())
