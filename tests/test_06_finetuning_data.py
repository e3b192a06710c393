"""Lesson 6's own tests: every number the lesson prints, the claims its text makes about the cost
example and the teacher-student experiment, and the exercises' worked examples and misconceptions,
checked against computations of their own."""

import json
import math

import numpy as np
import pytest
import torch

from mlcourse.checking import reference
from mlcourse.lessons import read_lesson
from mlcourse.world import STATEMENTS, World

from .conftest import solution_path

LESSON = "06_finetuning_data"


def solution(name: str):
    return reference(name, LESSON)


# --- section 1: the maximiser copies the data ---------------------------------------------------

def test_the_maximiser_puts_the_share_of_wrong_answers_in_d_on_them():
    """Section 1: 'if 5% of the answers ... are wrong, the optimum puts about 5% of its probability
    on wrong answers there'; found by gradient ascent on the log-likelihood, not by the formula."""
    counts = torch.tensor([19.0, 1.0])  # one prompt: 19 right answers, 1 wrong one
    logits = torch.zeros(2, requires_grad=True)
    optimizer = torch.optim.SGD([logits], lr=0.1)
    for _ in range(3000):
        optimizer.zero_grad()
        (-(counts * torch.log_softmax(logits, 0)).sum()).backward()
        optimizer.step()
    assert torch.softmax(logits, 0)[1].item() == pytest.approx(0.05, abs=1e-3)


def test_a_single_wrong_answer_only_becomes_likelier_with_training():
    """Self-check 1: a prompt seen once with a wrong answer; its probability rises towards 1."""
    logits = torch.zeros(2, requires_grad=True)  # [right answer, D's wrong answer]
    optimizer = torch.optim.SGD([logits], lr=0.5)
    history = []
    for _ in range(200):
        optimizer.zero_grad()
        (-torch.log_softmax(logits, 0)[1]).backward()
        optimizer.step()
        history.append(torch.softmax(logits, 0)[1].item())
    assert all(b > a for a, b in zip(history, history[1:])) and history[-1] > 0.99


def test_the_written_answers_share_of_outdated_answers_is_about_one_in_twenty():
    share = 0.05 * 50_000 / (2_000 + 50_000)  # the 2,000 human answers assumed right
    assert 1 / 25 < share < 1 / 20 + 1e-12


# --- section 2: the cost example ------------------------------------------------------------------

def test_cost_per_correct_pair_and_what_the_budget_buys(narrative):
    cost = solution("answer_cost_per_correct_pair")
    assert cost == pytest.approx(5.125)
    bought = {name.replace("\n", " "): pair for name, pair in narrative["bought"].items()}
    assert bought == {"experts write": pytest.approx((250, 0)),
                      "model drafts, experts review": pytest.approx((10_000 / 5.125, 0)),
                      "model drafts, no review": pytest.approx((80_000, 20_000))}
    assert f"{10_000 / 5.125:,.0f}" == "1,951"
    ratio = bought["model drafts, experts review"][0] / bought["experts write"][0]
    assert 7.5 < ratio < 8.5  # "about eight times as many correct pairs"
    assert bought["model drafts, no review"][1] / sum(bought["model drafts, no review"]) == (
        pytest.approx(0.2))


def test_the_self_check_cost():
    assert (0.10 + 4) / 0.5 == pytest.approx(8.20)


# --- the exercises' worked examples ---------------------------------------------------------------

TRUTHS = ["velm", "a big red newt", "nut pie", "teal", "a tiny grey cat"]
ANSWERS = ["velm", "a big red", "nut soup", "teal", "a tiny grey cat"]
Y = ["velm", "teal", "nut pie", "dorn", "a grey owl", "trask", "fig cake", "red", "zarn"]
A = ["dorn", "grey", "fig pie", "trask", "a pink owl", "trask", "fig pie", "tan", "zarn"]
S = ["dorn", "teal", "nut pie", "zarn", "a pink cat", "dorn", "fig cake", "tan", "zarn"]


def test_the_worked_examples_are_the_test_cells_own():
    lesson = read_lesson(solution_path(LESSON))
    accuracy, repeated = (lesson.cell(f"test_{name}").visible
                          for name in ("exact_match_accuracy", "repeated_mistake_share"))
    assert json.dumps(TRUTHS) in accuracy and json.dumps(ANSWERS) in accuracy
    assert all(json.dumps(v) in repeated for v in (Y, A, S))


def test_exact_match_worked_example_and_its_slips():
    assert solution("exact_match_accuracy")(ANSWERS, TRUTHS) == pytest.approx(0.6)
    pairs = list(zip(ANSWERS, TRUTHS))
    assert np.mean([a in y for a, y in pairs]) == pytest.approx(0.8)
    assert np.mean([a.split()[0] == y.split()[0] for a, y in pairs]) == pytest.approx(1.0)
    credit = [sum(u == v for u, v in zip(a.split(), y.split())) / len(y.split()) for a, y in pairs]
    assert np.mean(credit) == pytest.approx(0.85)


def test_repeated_mistake_share_worked_example_and_its_slips():
    share = solution("repeated_mistake_share")
    assert share(Y, A, S) == pytest.approx(2 / 7)
    mistakes = [k for k in range(9) if A[k] != Y[k]]
    assert mistakes == [0, 1, 2, 3, 4, 6, 7]  # as the test cell's comment says
    assert [k for k in mistakes if S[k] == A[k]] == [0, 7]
    ends = [sum(S[k] == A[k] for k in m) / len(m) for m in (mistakes[1:], mistakes[:-1])]
    slips = [2 / 9, 2, np.mean([S[k] != Y[k] for k in mistakes]),
             np.mean([s == a for a, s in zip(A, S)]), share(Y, S, A), share(A, Y, S),
             1 - share(Y, A, S), *ends,
             np.mean([S[k] == A[k] for k in range(9) if A[k] == Y[k]])]  # the right prompts
    assert slips == pytest.approx([2 / 9, 2, 4 / 7, 3 / 9, 0.4, 3 / 7, 5 / 7, 1 / 6, 1 / 6, 0.5])
    # no named value is what another slip, a constant, or a sum of the repeats with its first
    # or last term left out (or its largest term) returns: none of them is misnamed
    others = [0, 1, 1 / 7, 2 / 7, *(sum(S[k] == A[k] for k in m) / 7
                                   for m in (mistakes[1:], mistakes[:-1]))]
    named = slips[:-2] + slips[-1:]  # the two ends give one value, under one name
    assert all(not np.isclose(v, w) for i, v in enumerate(named) for w in named[i + 1:] + others)


def test_the_hidden_prompts_start_with_a_repeated_mistake():
    # an answer that skips the first prompt must change the hidden share (it passes the visible
    # example, whose first prompt the teacher gets right)
    hidden = read_lesson(solution_path(LESSON)).cell("test_repeated_mistake_share").hidden
    assert "_a[0] = _s[0] = next(v for v in _pool if v != _y[0])" in hidden


def test_perfect_imitation_of_a_70_percent_teacher_self_check():
    truths = [f"answer {k}" for k in range(10)]
    teacher = truths[:7] + ["wrong"] * 3
    assert solution("exact_match_accuracy")(teacher, truths) == pytest.approx(0.7)
    assert solution("repeated_mistake_share")(truths, teacher, list(teacher)) == 1.0


# --- section 3: the experiment --------------------------------------------------------------------

def test_the_split_the_text_describes(narrative):
    world = World(seed=0)
    facts = [(x, y) for x, y in world.qa_train if x not in world.multi_answer]
    assert len(facts) == len(set(facts)) == 120
    assert narrative["facts"] == facts
    assert (len(narrative["human_pairs"]), len(narrative["prompts"]),
            len(narrative["heldout_prompts"])) == (30, 90, 40)
    # "the pretrained checkpoint, which had read each of these facts in two or three wordings"
    for fact in world.facts:
        wordings = [w.format(s=fact.subject, v=fact.value) for w in STATEMENTS[fact.relation]]
        assert 2 <= sum(w in world.statements_train for w in wordings) <= 3


def _accuracy(answers, truths):
    return sum(a == y for a, y in zip(answers, truths)) / len(truths)


def test_teacher_and_students_accuracies_as_printed_and_plotted(narrative):
    truths, teacher = narrative["true_answers"], narrative["teacher_answers"]
    students, heldout = narrative["student_answers"], narrative["heldout_answers"]
    teacher_accuracy = _accuracy(teacher, truths)
    assert narrative["teacher_accuracy"] == pytest.approx(teacher_accuracy)
    assert 0.4 <= teacher_accuracy <= 0.75  # a weak teacher: many mistakes, but not useless
    wrong = [k for k in range(90) if teacher[k] != truths[k]]
    assert narrative["teacher_wrong"] == wrong and len(wrong) == 36
    accuracy = narrative["accuracy"]
    heldout_accuracy = _accuracy(heldout["teacher"], narrative["heldout_truths"])
    assert accuracy["teacher"] == pytest.approx((teacher_accuracy, heldout_accuracy))
    for name in ("true answers", "teacher's answers"):
        assert accuracy[f"student of the {name}"] == pytest.approx(
            (_accuracy(students[name], truths),
             _accuracy(heldout[name], narrative["heldout_truths"])))
    # "The student of the true answers gets all 90 questions right."
    assert accuracy["student of the true answers"][0] == 1.0
    # "The student of the teacher gets exactly the teacher's share right"
    assert accuracy["student of the teacher's answers"][0] == teacher_accuracy
    # "... it says the teacher's answer every time"; the other student never does
    assert all(students["teacher's answers"][k] == teacher[k] for k in wrong)
    assert narrative["repeated"] == {"true answers": 0.0, "teacher's answers": 1.0}
    # held out: "about as badly as the teacher, and much worse than the other student"
    held = {name: scores[1] for name, scores in accuracy.items()}
    assert abs(held["student of the teacher's answers"] - held["teacher"]) <= 0.1
    assert held["student of the true answers"] - held["student of the teacher's answers"] >= 0.2


def test_the_teachers_favourite_wrong_answer_reaches_new_questions(narrative):
    truths, teacher, heldout = (narrative["true_answers"], narrative["teacher_answers"],
                                narrative["heldout_answers"])
    count = lambda answers: answers.count("a pink owl")  # noqa: E731
    assert narrative["pink_owls"] == {
        "the 90 questions, true answers": count(truths),
        "the 90 questions, the teacher": count(teacher),
        "held out, student of the true answers": count(heldout["true answers"]),
        "held out, student of the teacher's answers": count(heldout["teacher's answers"]),
        "held out, the teacher": count(heldout["teacher"])}
    # "the teacher's favourite wrong answers": its most frequent wrong answer
    wrong_answers = [teacher[k] for k in narrative["teacher_wrong"]]
    assert (max(set(wrong_answers), key=wrong_answers.count) == "a pink owl"
            and count(wrong_answers) >= 5)
    assert count(truths) + count(narrative["heldout_truths"]) <= 1
    # "... on new questions too": the teacher's student says it to held-out questions, the other
    # does not
    assert count(heldout["teacher's answers"]) >= 3 and count(heldout["true answers"]) == 0


def test_the_probability_curves_the_text_describes(narrative):
    curves = narrative["curves"]
    data_answer = {"true answers": "true answer", "teacher's answers": "teacher's answer"}
    other_answer = {"true answers": "teacher's answer", "teacher's answers": "true answer"}
    for name, curve in curves.items():
        assert curve["step"] == list(range(0, 151, 10))
        # "At step 0 the pretrained model gives both answers a tiny probability"
        assert curve["true answer"][0] < -10 and curve["teacher's answer"][0] < -10
        # "Within 40 steps ... most of the way to the answer its data give (from below -10 to
        # above -1), and by the end gives it a probability near 1"
        assert all(v > -1 for s, v in zip(curve["step"], curve[data_answer[name]]) if s >= 40)
        assert curve[data_answer[name]][-1] > math.log(0.9)
        # "the other answer falls to a probability below e^-10"
        assert curve[other_answer[name]][-1] < -10


def test_pretraining_does_not_protect_the_student(narrative):
    assert solution("answer_pretraining_protects") is False
    truths, teacher = narrative["true_answers"], narrative["teacher_answers"]
    corrected = solution("repeated_mistake_share")(
        teacher, truths, narrative["student_answers"]["teacher's answers"])
    assert corrected == 0.0


def test_the_first_answers_shown_include_mistakes(narrative):
    shown = list(zip(narrative["true_answers"], narrative["teacher_answers"]))[:6]
    assert 1 <= sum(y != a for y, a in shown) <= 4  # the printed sample shows both kinds
