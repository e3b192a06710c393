"""The checks every test cell uses: pass/fail, messages, misconceptions, and `reference`."""

import math
import re

import nbformat
import numpy as np
import pytest
import torch

from mlcourse.checking import (
    DIFFERENCE_PREFIX,
    MISCONCEPTION_PREFIX,
    CheckFailure,
    after_call,
    check_format,
    differences,
    expect_choice,
    expect_close,
    expect_equal,
    needs,
    reference,
    standard_misconceptions,
)

SLIP = {"leaving out <eos>": -0.7}


def failure(check, *args, **kwargs) -> CheckFailure:
    with pytest.raises(CheckFailure) as caught:
        check(*args, **kwargs)
    return caught.value


def test_expect_close_passes_within_tolerance():
    expect_close(-0.8 + 1e-9, -0.8, "log Pr(A B <eos>)")
    expect_close(torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True),
                 np.array([1.0, 2.0]), "tensor")
    expect_close(np.float32(0.1), 0.1, "float32", atol=1e-7)
    expect_close(1.05, 1.0, "loose", atol=0.1)


def test_expect_close_message_has_expected_and_got():
    error = failure(expect_close, -0.75, -0.8, "log Pr(A B <eos>)")
    assert str(error) == "log Pr(A B <eos>): expected -0.8, got -0.75"
    assert (error.expected, error.got, error.misconception) == (-0.8, -0.75, None)


def test_misconception_line_only_when_its_value_matches():
    error = failure(expect_close, -0.7, -0.8, "log Pr(A B <eos>)", misconceptions=SLIP)
    assert str(error).splitlines()[1] == MISCONCEPTION_PREFIX + "leaving out <eos>"
    assert error.misconception == "leaving out <eos>"
    error = failure(expect_close, -0.6, -0.8, "log Pr(A B <eos>)", misconceptions=SLIP)
    assert MISCONCEPTION_PREFIX not in str(error) and error.misconception is None


def test_hidden_message_leaves_out_the_expected_value():
    error = failure(expect_close, -0.7, -0.8123, "hidden", misconceptions=SLIP)
    assert "-0.8123" not in error.hidden_message() and "-0.7" in error.hidden_message()
    assert error.hidden_message().endswith(MISCONCEPTION_PREFIX + "leaving out <eos>")


def test_hidden_message_shows_a_boolean_as_true_or_false():
    error = failure(expect_equal, np.bool_(False), True, "the loss has a gradient")
    assert error.hidden_message() == ("the loss has a gradient: "
                                      "got False, which is not the expected value")


def test_shape_none_nan_and_non_numbers():
    assert "expected shape (2,), got shape (3,)" in str(failure(expect_close, [1.0, 2.0, 3.0],
                                                                [1.0, 2.0], "v"))
    assert "got None (is a `return` or an assignment missing?)" in str(failure(expect_close, None,
                                                                               1.0, "v"))
    assert "nan" in str(failure(expect_close, float("nan"), 1.0, "v"))
    assert "got str 'one'" in str(failure(expect_close, "one", 1.0, "v"))
    assert "got bool True" in str(failure(expect_close, True, 1.0, "v"))  # a bool is not a number
    with pytest.raises(TypeError, match="numeric expected value"):
        expect_close(1.0, "one", "v")


def test_expect_equal():
    expect_equal((1, 2), [1, 2], "ids")
    expect_equal(np.array([3, 4]), [3, 4], "array")
    expect_equal(np.int64(3), 3, "numpy scalar")
    slips = {"forgot <eos>": ["A", "B"]}
    error = failure(expect_equal, ["A", "B"], ["A", "B", "<eos>"], "tokens", misconceptions=slips)
    assert "expected ['A', 'B', '<eos>'], got ['A', 'B']" in str(error)
    assert error.misconception == "forgot <eos>"
    assert failure(expect_equal, 5, 4, "n", misconceptions={"off by two": 6}).misconception is None


def test_expect_choice():
    expect_choice(" B ", "b", "quiz 1", "abcd")
    assert ("one letter of a, b, c, d (in any case), got str 'e'"
            in str(failure(expect_choice, "e", "b", "quiz 1", "abcd")))
    assert "got int 3" in str(failure(expect_choice, 3, "b", "quiz 1", "abcd"))
    assert "got str 'ab'" in str(failure(expect_choice, "ab", "b", "quiz 1", "abcd"))
    slips = {"A beats B on the first token only": "a"}
    error = failure(expect_choice, "a", "b", "quiz 1", "abcd", misconceptions=slips)
    assert ("expected 'b', got 'a'" in str(error)
            and error.misconception == "A beats B on the first token only")


@pytest.mark.parametrize("number", [2.5, 2, np.float32(2.5), np.int64(2), np.array(2.5),
                                    torch.tensor(2.5)])
def test_every_form_of_a_number_is_one_number(number):
    check_format(number, "number", "n")
    expect_close(number, float(number), "n")


@pytest.mark.parametrize(("value", "kind", "shown"), [
    ([2.5], "number", "a list of length 1: [2.5]"),
    (torch.tensor([1.0, 2.0]), "number", "a Tensor of shape (2,)"),
    (True, "number", "bool True"), ("c", "bool", "str 'c'"), (1, "bool", "int 1"),
    (3.0, "sequence", "float 3"),
    ("b", "sequence", "str 'b'"),
])
def test_a_format_check_says_what_came_back_and_the_rule(value, kind, shown):
    message = str(failure(check_format, value, kind, "answer_x"))
    assert (message.startswith("answer_x: expected ") and shown in message
            and "expected True, got False" not in message)


def test_a_passing_format_check_says_correctness_is_decided_at_grading(capsys):
    check_format(" C ", "letter", "answer_x", choices="abcd")
    check_format(np.bool_(True), "bool", "answer_y")
    check_format((1, 2), "sequence", "answer_z", length=2)
    assert capsys.readouterr().out.count("checked when the notebook is graded") == 3


def test_true_false_in_every_allowed_form():
    for value in (True, np.bool_(True), torch.tensor(True), np.array(True)):
        expect_equal(value, True, "t")
    assert "expected True or False, got int 1" in str(failure(expect_equal, 1, True, "t"))
    expect_equal(np.array([True, False]), [True, False], "rows")
    assert "a sequence of True or False" in str(failure(expect_equal, [1, 0], [True, False],
                                                        "rows"))


def test_hidden_messages_keep_the_nan_and_inf_hints():
    for got, hint in [(float("nan"), "nan: a log of 0"), (float("inf"), "inf: an overflow"),
                      (-math.inf, "-inf: the log")]:
        error = failure(expect_close, got, -1.25, "v")
        assert (hint in str(error) and hint in error.hidden_message()
                and "-1.25" not in error.hidden_message())


def test_long_values_show_their_first_difference_and_are_never_cut_mid_row():
    want = np.arange(200.0).reshape(20, 10)
    got = want.copy()
    got[7, 3] = -1.0
    error = failure(expect_close, got, want, "a long table")
    assert "first difference at index [7, 3]: got -1, 1 of 200 entries differ" in str(error)
    assert ("first difference at index [7, 3]" in error.hidden_message()
            and "73" not in error.hidden_message().split("\n")[1])
    shown = error.hidden_message().split(": got ", 1)[1]
    assert "..." in shown and all(line.rstrip().endswith(("]", ",", "..."))
                                  for line in shown.splitlines()[:-2])
    error = failure(expect_equal, list(range(50)), list(range(49)) + [0], "ids")
    assert "first difference at index [49]: got 49" in str(error)


def test_a_failed_check_shows_in_a_notebook_as_its_message_only():
    lines = failure(expect_close, -0.7, -0.8, "v", misconceptions=SLIP)._render_traceback_()
    assert lines == ["CheckFailure: v: expected -0.8, got -0.7",
                     "    " + MISCONCEPTION_PREFIX + "leaving out <eos>"]


def test_after_call_returns_the_state_and_leaves_the_arguments_alone():
    def fill(a, value):
        a[:] = value
        return "done"

    array = np.zeros(3)
    result, (after, value) = after_call(fill, array, 7.0)
    assert (result == "done" and after.tolist() == [7.0, 7.0, 7.0]
            and array.tolist() == [0.0, 0.0, 0.0])


def test_after_call_copies_a_modules_gradients_as_the_grader_does():
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(2, 1)
    # left over from an earlier backward pass
    model.weight.grad = torch.full_like(model.weight, 0.5)

    def seen_gradient(m):
        grad = m.weight.grad.clone()
        m.weight.grad.zero_()
        return grad

    seen, (after,) = after_call(seen_gradient, model)
    assert seen.tolist() == [[0.5, 0.5]] and after.weight.grad.tolist() == [[0.0, 0.0]]
    assert model.weight.grad.tolist() == [[0.5, 0.5]] and model.bias.grad is None


def test_needs_skips_a_block_whose_exercise_is_unsolved(capsys):
    def unsolved():
        raise NotImplementedError()

    with needs("unsolved"):
        unsolved()
        raise AssertionError("not reached")
    assert "skipped: this cell uses `unsolved`" in capsys.readouterr().out
    with pytest.raises(ZeroDivisionError), needs("f"):
        1 / 0  # noqa: B018 - any other error is the reader's to see


def test_standard_misconceptions_values():
    slips = standard_misconceptions(-2.0, n_terms=4)
    assert sorted(slips.values()) == pytest.approx(sorted([2.0, np.exp(-2.0), -2.0 / np.log(2),
                                                          -0.5]))
    assert len(standard_misconceptions(-2.0)) == 3


def write_lesson(root, lesson: str, answer: str) -> None:
    cells = [
        nbformat.v4.new_code_cell("import math",
                                  metadata={"nbgrader": {"grade_id": "setup", "locked": True}}),
        nbformat.v4.new_code_cell("raise RuntimeError('narrative cells must not run')"),
        nbformat.v4.new_code_cell(answer,
                                  metadata={"nbgrader": {"grade_id": "answer", "solution": True}}),
    ]
    folder = root / "solutions" / lesson
    folder.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=cells), folder / f"{lesson}.ipynb")


def test_reference_finds_the_solution_function(tmp_path):
    write_lesson(tmp_path, "01_demo",
                 "def log_two(x):\n    return math.log(2 * x)\nanswer_letter = 'c'")
    assert reference("log_two", root=tmp_path)(1.5) == pytest.approx(np.log(3.0))
    assert reference("answer_letter", root=tmp_path) == "c"
    with pytest.raises(LookupError, match="no solution notebook"):
        reference("missing_name", root=tmp_path)


def test_reference_asks_for_the_lesson_when_ambiguous(tmp_path):
    write_lesson(tmp_path, "01_one", "def f():\n    return 1")
    write_lesson(tmp_path, "02_two", "def f():\n    return 2")
    with pytest.raises(LookupError, match="01_one, 02_two"):
        reference("f", root=tmp_path)
    assert reference("f", lesson="02_two", root=tmp_path)() == 2


def test_reference_reads_and_runs_a_lesson_once_while_it_is_unchanged(tmp_path):
    write_lesson(tmp_path, "01_demo", "import random\ndraw = random.random()")
    first = reference("draw", root=tmp_path)
    assert all(reference("draw", root=tmp_path) == first for _ in range(5))


def test_reference_finds_the_course_above_the_working_folder(tmp_path, monkeypatch):
    write_lesson(tmp_path, "01_demo", "answer_letter = 'd'")
    (tmp_path / "notebooks" / "01_demo").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "notebooks" / "01_demo")  # where nbgrader runs a student's copy
    assert reference("answer_letter") == "d"


# --- generic detectors ----------------------------------------------------------------------------

LN = math.log
DETECTED = [  # (got, want, keyword arguments, a phrase the kind of difference holds)
    (0.8123, -0.8123, {}, "sign is flipped"),
    (0.0, -0.8123, {}, "exactly 0 where a non-zero value belongs"),
    ([0, 0], [0.0, 3.5], {}, "exactly 0"),
    (-0.8123 / LN(2), -0.8123, {}, "log base 2"),
    (-0.8123 / LN(10), -0.8123, {}, "log base 10"),
    (-0.8123 * LN(2), -0.8123, {}, "natural log where log base 2"),
    (51.25, 0.5125, {}, "100 times too large"),
    (0.005125, 0.5125, {}, "100 times too small"),
    (-0.8123 / 12, -0.8123, {"sizes": {"N, the number of tokens": 12}}, "divided by N"),
    (-0.8123 * 12, -0.8123, {"sizes": {"N, the number of tokens": 12}}, "multiplied by N"),
    (-1.2 / 0.7, -1.2, {"sizes": {"T, the temperature": 0.7}}, "divided by T"),
    (-0.8123 * 37, -0.8123, {}, "37 times too large"),
    (-0.8123 / 37, -0.8123, {}, "37 times too small"),
    (0.8123 * 4, -0.8123, {}, "4 times too large and of the opposite sign"),
    (5.13, 5.125, {}, "rounded to 2 decimals: did you round?"),
    (0.68, 0.6789, {}, "rounded to 2 decimals"),
    (1200.0, 1234.4321, {}, "rounded to 2 significant digits"),
    (1234.0, 1234.4321, {}, "integer division"),
    (0.000123, 0.00012345, {"atol": 1e-9}, "3 significant digits"),
    (math.exp(-0.8123), -0.8123, {}, "a probability where a log-probability belongs"),
    (LN(math.exp(-0.5) + math.exp(-0.3123)), -0.8123, {"terms": [-0.5, -0.3123]},
     "the log of a sum of probabilities"),
    (math.exp(-0.5) + math.exp(-0.3123), -0.8123, {"terms": [-0.5, -0.3123]},
     "a sum of probabilities"),
    (-4.5, -5.3, {"terms": [-0.8, -4.5]}, "term 0 of the sum (counting from 0) is left out"),
    (-6.1, -5.3, {"terms": [-0.8, -4.5]}, "term 0 of the sum (counting from 0) is counted twice"),
    ([0.5, -1.5, 0.0], [-0.5, 1.5, 0.0], {}, "sign is flipped"),
    ([0.33, 0.67], [0.3333333, 0.6666667], {}, "did you round?"),
]


@pytest.mark.parametrize(("got", "want", "kwargs", "phrase"), DETECTED,
                         ids=[d[3] for d in DETECTED])
def test_a_generic_detector_names_the_kind_of_difference(got, want, kwargs, phrase):
    error = failure(expect_close, got, want, "the value", **kwargs)
    hidden = error.hidden_message()
    assert hidden.splitlines()[-1].startswith(DIFFERENCE_PREFIX) and phrase in hidden, hidden
    shown = [re.escape(f"{w:.6g}") for w in np.ravel(want) if w != 0]  # the expected value...
    assert not any(re.search(rf"(?<![\d.-]){w}(?!\d)", hidden) for w in shown), hidden  # hidden
    assert error.misconception is None


def test_a_listed_misconception_wins_over_a_generic_detector():
    error = failure(expect_close, 0.8, -0.8, "x", misconceptions={"a sign error": 0.8})
    assert error.misconception == "a sign error" and DIFFERENCE_PREFIX not in str(error)


def test_no_detector_fires_on_an_unrelated_wrong_value():
    rng = np.random.default_rng(0)
    fired = []
    for _ in range(1000):
        want = rng.normal() * 10.0 ** rng.uniform(-3, 3)
        got = want * rng.uniform(-3, 3) if rng.random() < 0.5 else rng.normal() * abs(want) * 5
        if not np.isclose(got, want, rtol=1e-6, atol=1e-6):
            kind = differences(np.asarray(got), np.asarray(want), sizes={"N": 12}, terms=None)
            fired += [(got, want, kind)] if kind else []
    assert len(fired) <= 5, fired  # at most 0.5%
    for shape in [(3,), (4, 5)]:  # arrays of random entries: nothing fits every entry at once
        for _ in range(200):
            want, got = rng.normal(size=shape), rng.normal(size=shape)
            assert differences(got, want) == ""


def test_a_detector_needs_every_entry_to_fit():
    assert differences(np.array([2.0, -3.0]), np.array([-2.0, 3.0])) == "the sign is flipped"
    assert differences(np.array([2.0, 3.0]), np.array([-2.0, 3.0000001])) == ""
    assert differences(np.array([0.0, 6.0]), np.array([1.0, 3.0])) == ""  # a 0 for a 1: no ratio
    assert differences(np.array([np.nan]), np.array([1.0])) == ""


def test_a_short_sequence_says_where_it_first_differs():
    hidden = failure(expect_close, [1, 2, 3], [1, 2, 4.5], "ids").hidden_message()
    assert "first difference at index [2]: got 3" in hidden and "4.5" not in hidden


def test_a_hidden_check_shows_a_wrong_form_or_shape_in_full():
    hidden = failure(expect_close, 1.0, [0.25, 0.75], "weights").hidden_message()
    assert hidden.startswith("weights: expected a sequence") and "0.25" not in hidden
    hidden = failure(expect_close, [1.0, 2.0, 3.0], [0.25, 0.75], "weights").hidden_message()
    assert "expected shape (2,), got shape (3,)" in hidden and "0.75" not in hidden
    hidden = failure(expect_equal, 1, True, "flag").hidden_message()
    assert "expected True or False, got int 1" in hidden


# --- sensitivity probes, target diffs, translated errors, gradients -------------------------------

def _sequence_scores(log_probs, keep_last=True):
    """A per-sequence sum of log-probabilities (rows of a 2-d array); with keep_last False the last
    position (the <eos> of every row) is left out, as a wrong answer would."""
    log_probs = np.asarray(log_probs, dtype=float)
    return log_probs.sum(-1) if keep_last else log_probs[:, :-1].sum(-1)


def test_probe_names_an_ingredient_the_answer_ignores():
    from mlcourse.checking import probe

    base = (np.array([[-1.0, -2.0, -0.5], [-0.3, -0.4, -0.2]]),)
    eos = (base[0] + np.array([[0, 0, -1.0], [0, 0, 0]]),)
    found = probe(lambda lp: _sequence_scores(lp, keep_last=False), _sequence_scores, base,
                  {"the log-probability of <eos>": eos})
    assert found == ("changing the log-probability of <eos> does not change your result, and it "
                     "should: your answer leaves out the log-probability of <eos>")
    assert probe(_sequence_scores, _sequence_scores, base, {"<eos>": eos}) == ""


def test_probe_names_an_ingredient_counted_where_it_does_not_belong():
    from mlcourse.checking import probe

    scores = np.array([[-1.0, -2.0, 0.0]])
    pad = (np.array([[-1.0, -2.0, -3.0]]),)  # a pad position's value changes: it must not count
    masked = lambda lp: np.asarray(lp)[:, :2].sum(-1)  # noqa: E731 - the solution ignores it
    found = probe(_sequence_scores, masked, (scores,), {"a padding position's value": pad})
    assert found.startswith("changing a padding position's value changes your result, and it "
                            "should not")


def test_probe_names_a_leak_into_another_entry_and_a_factor():
    from mlcourse.checking import probe

    base = (np.array([[-1.0, -2.0], [-0.5, -0.5]]),)
    second_row = (base[0] + np.array([[0, 0], [-1.0, 0]]),)
    over_batch = lambda lp: np.asarray(lp).sum(0)  # noqa: E731 - sums the wrong axis
    found = probe(over_batch, _sequence_scores, base, {"sequence 1": second_row},
                  entries=["sequence 0", "sequence 1"])
    assert found.startswith("changing sequence 1 changes your result at sequence 0 too")
    twice = lambda lp: 2 * _sequence_scores(lp)  # noqa: E731
    found = probe(twice, _sequence_scores, base, {"sequence 1": second_row})
    assert found == "changing sequence 1 moves your result 2 times as much as it should"
    flipped = lambda lp: -_sequence_scores(lp)  # noqa: E731
    assert "the opposite way" in probe(flipped, _sequence_scores, base, {"x": second_row})
    first_row_only = lambda lp: _sequence_scores(lp) * np.array([1.0, 0.0])  # noqa: E731
    found = probe(first_row_only, _sequence_scores, base, {"both sequences": (base[0] - 1,)},
                  entries=["sequence 0", "sequence 1"])
    assert found.startswith("changing both sequences does not change your result at sequence 1, "
                            "and it should")


def test_probe_says_nothing_when_the_answer_cannot_be_compared():
    from mlcourse.checking import probe

    def broken(lp):
        raise ValueError("no")

    base = (np.zeros((1, 2)),)
    assert probe(broken, _sequence_scores, base, {"x": (np.ones((1, 2)),)}) == ""
    assert probe(lambda lp: "text", _sequence_scores, base, {"x": (np.ones((1, 2)),)}) == ""


def test_target_differences_name_positions_tokens_and_roles():
    from mlcourse import Vocab
    from mlcourse.checking import target_differences

    vocab = Vocab(["i", "study", "deep", "learning"])
    ids = [vocab.encode("i study deep learning", bos=True, eos=True)]  # <s> i study deep ...
    want = np.array([[-100, -100, ids[0][3], ids[0][4], ids[0][5]]])
    got = want.copy()
    got[0, 1] = ids[0][2]  # `study`, the prompt's last token, scored
    roles = [["the prompt"] * 2 + ["the response"] * 3]
    found = target_differences(got, want, ids, vocab=vocab, roles=roles)
    assert found == ("row 0, target 1 (predicting `study`, the prompt) is scored but should be "
                     "ignored (1 of 5 targets differ)")
    got = want.copy()
    got[0, 4] = -100
    assert "target 4 (predicting `<eos>`) is ignored but should be scored" in target_differences(
        got, want, ids, vocab=vocab)
    assert target_differences(want, want, ids) == "" and target_differences(want[:, 1:], want) == ""


def test_target_differences_name_a_missing_shift():
    from mlcourse.checking import target_differences

    ids = np.array([[1, 5, 6, 2], [1, 7, 2, 0]])
    want = np.array([[5, 6, 2], [7, 2, -100]])
    unshifted = np.array([[1, 5, 6], [1, 7, -100]])
    assert target_differences(unshifted, want, ids).startswith(
        "the wrong targets hold the token each position reads, not the next one: no shift")
    assert "holds id 9" in target_differences(np.array([[5, 9, 2], [7, 2, -100]]), want)


def test_calling_translates_common_torch_errors_and_passes_others_through():
    from mlcourse.checking import calling

    logits, targets = torch.zeros(2, 3), torch.tensor([0, -100])
    pick = lambda z, t: z.gather(-1, t[:, None])  # noqa: E731 - IGNORE_INDEX used as an index
    error = failure(calling, "log-probabilities", pick, logits, targets)
    assert "used IGNORE_INDEX (-100) as an index" in error.hidden_message()
    assert error.hidden_message().startswith("log-probabilities: the call raised RuntimeError: "
                                              "index -100 is out of bounds")
    assert torch.equal(calling("ok", pick, logits, torch.tensor([0, 1])), torch.zeros(2, 1))
    with pytest.raises(NotImplementedError):
        calling("unsolved", lambda: (_ for _ in ()).throw(NotImplementedError()))


def test_gradients_after_finds_a_loss_cut_off_from_its_input():
    from mlcourse.checking import gradients_after

    logits = torch.randn(2, 3, dtype=torch.float64).requires_grad_(True)
    loss, (after,) = gradients_after(lambda z: torch.logsumexp(z, -1).sum(), logits)
    assert torch.allclose(after.grad, torch.softmax(logits.detach(), -1))
    assert logits.grad is None  # the test's own tensor is untouched

    def rebuilt(z):  # the value of the loss, as a new leaf: no gradient reaches z
        return torch.tensor(torch.logsumexp(z, -1).sum().item(), requires_grad=True)

    loss, (after,) = gradients_after(rebuilt, logits)
    assert loss.requires_grad and after.grad is None
    with pytest.warns(UserWarning, match="requires_grad"):  # torch warns of this slip too
        loss, (after,) = gradients_after(lambda z: float(z.sum()), logits)
    assert after.grad is None


def test_explained_adds_a_kind_of_difference_only_where_none_was_named():
    from mlcourse.checking import explained

    with pytest.raises(CheckFailure) as caught, explained(lambda: "", lambda: "a leak"):
        expect_equal([1, 2, 3], [1, 2, 4], "targets")
    assert caught.value.difference == "a leak"
    assert str(caught.value).endswith(DIFFERENCE_PREFIX + "a leak")
    assert caught.value.hidden_message().endswith(DIFFERENCE_PREFIX + "a leak")
    with pytest.raises(CheckFailure) as caught, explained(lambda: "never used"):
        expect_equal([1, 2], [1, 3], "targets", misconceptions={"a slip": [1, 2]})
    assert caught.value.difference == "" and caught.value.misconception == "a slip"
    with explained(lambda: 1 / 0):  # a passing check never asks its finders
        expect_equal([1], [1], "targets")
    with pytest.raises(CheckFailure) as caught, explained(lambda: 1 / 0, lambda: "found"):
        expect_equal([1], [2], "targets")  # a finder that fails is passed over
    assert caught.value.difference == "found"


# --- more generic detectors, close answers, error carried forward, probes by case ----------------

MORE_DETECTED = [  # (got, want, keyword arguments, a phrase the kind of difference holds)
    (-0.8123 * LN(10), -0.8123, {}, "natural log where log base 10 belongs"),
    (6.0 / 11, 6.0 / 12, {"sizes": {"N": 12}}, "divided by N - 1 (11) where N (12) belongs"),
    (6.0 / 12, 6.0 / 11, {"sizes": {"N": 12}}, "divided by N (12) where N - 1 (11) belongs"),
    (-2.1 + LN(math.comb(7, 3)), -2.1, {"sizes": {"N, the number of flips": 7}},
     "binomial coefficient"),
    (0.02 * math.comb(9, 4), 0.02, {"sizes": {"N": 9}}, "binomial coefficient"),
    (-3.0, -2.25, {}, "integer division"),
    (-2.0, -2.75, {}, "cut off (toward 0)"),
    (LN((math.exp(-0.5) + math.exp(-0.3123)) / 2), -0.8123, {"terms": [-0.5, -0.3123]},
     "the log of a mean of probabilities"),
    (-0.9, -2.7, {"terms": [-0.5, -0.9, -1.3]}, "the mean of the 3 terms"),
    (0.3 + 0.45, 0.3, {"related": {"KL(p_theta || p_data), the other direction": 0.45}},
     "the sum of the quantity asked for and KL(p_theta || p_data)"),
    ((0.3 + 0.45) / 2, 0.3, {"related": {"the other direction": 0.45}}, "the mean of"),
    ([10.95, 12.2, 14.45], [10.25, 11.5, 13.75], {}, "off by the same amount"),
    (3.1416 * 2.345, math.pi * 2.345, {}, "close to the expected value"),
    (math.exp(5.3 / 3), math.exp(5.3 / 6), {}, "its log is 2 times too large"),
    (math.exp(1.7 / 3), math.exp(1.7), {}, "its log is 3 times too small"),
]


@pytest.mark.parametrize(("got", "want", "kwargs", "phrase"), MORE_DETECTED,
                         ids=[d[3] for d in MORE_DETECTED])
def test_more_generic_detectors_name_the_kind_of_difference(got, want, kwargs, phrase):
    test_a_generic_detector_names_the_kind_of_difference(got, want, kwargs, phrase)


@pytest.mark.parametrize(("got", "want", "phrase"), [
    ([[1.0, 3.0], [2.0, 4.0]], [[1.0, 2.0], [3.0, 4.0]], "transposed"),
    ([4.0, 3.0, 1.5], [1.5, 3.0, 4.0], "reverse order"),
    ([2.0, 3.0, 4.0, 9.0], [1.0, 2.0, 3.0, 4.0], "t + 1 (an off-by-one shift?)"),
    ([0.5, 1.5, 2.5, 3.5], [1.0, 2.0, 3.0, 4.0], "every entry is off by the same amount"),
    ([5.0, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0], "t - 1 (an off-by-one shift?)"),
    ([3.0, 1.0, 4.0, 2.0], [1.0, 2.0, 3.0, 4.0], "another order"),
])
def test_right_entries_in_the_wrong_places_are_named(got, want, phrase):
    assert phrase in differences(np.array(got), np.array(want))


def test_the_new_detectors_stay_silent_on_unrelated_values():
    rng = np.random.default_rng(1)
    fired = []
    for _ in range(1000):
        want = rng.normal() * 10.0 ** rng.uniform(-3, 3)
        got = want * rng.uniform(-3, 3) if rng.random() < 0.5 else rng.normal() * abs(want) * 5
        if not np.isclose(got, want, rtol=1e-6, atol=1e-6):
            kind = differences(np.asarray(got), np.asarray(want), sizes={"N": 40},
                               related={"the other direction": rng.normal()})
            fired += [(got, want, kind)] if kind else []
    assert len(fired) <= 5, fired
    constant = np.full(4, 2.5)  # no order or shift can be told apart in a constant array
    assert differences(constant + 1.0, constant) == ""


def test_a_text_that_allows_rounding_accepts_the_rounded_value(capsys):
    expect_close(5.13, 5.125, "the cost in dollars", decimals=2)
    assert "accepted, rounded to 2 decimals" in capsys.readouterr().out
    hidden = failure(expect_close, 5.1, 5.125, "the cost", decimals=2).hidden_message()
    assert "did you round?" in hidden and "5.125" not in hidden


def test_an_answer_right_given_the_students_own_helper_passes_with_a_note(capsys):
    from mlcourse.checking import with_helpers

    solution = {}  # a solution's namespace: `total` calls the helper `double` by its global name
    exec("def double(x):\n    return 2 * x\n\n"
         "def total(xs):\n    return sum(double(x) for x in xs)\n", solution)
    total = solution["total"]
    own = with_helpers(total, double=lambda x: 3 * x)  # the student's helper, with a slip
    assert own([1, 2]) == 9 and total([1, 2]) == 6  # the solution itself is left alone
    expect_close(9, total([1, 2]), "total", given=lambda: own([1, 2]), helper="`double`")
    assert "right given your `double`, which is not right yet" in capsys.readouterr().out
    error = failure(expect_close, 8, total([1, 2]), "total", given=lambda: own([1, 2]))
    assert "right given" not in str(error)

    def unsolved(x):
        raise NotImplementedError

    failure(expect_close, 0, 6, "total", given=lambda: with_helpers(total, double=unsolved)([1]))


def test_probe_cases_names_the_case_the_answer_gets_wrong():
    from mlcourse.checking import probe_cases

    def log_lik(x, theta):
        x = np.asarray(x)
        return float(np.sum(x * np.log(theta) + (1 - x) * np.log(1 - theta)))

    def tails_in_base_2(x, theta):
        x = np.asarray(x)
        return float(np.sum(x * np.log(theta) + (1 - x) * np.log2(1 - theta)))

    cases = {"flips that are all Heads": ([1, 1, 1], 0.3),
             "flips that are all Tails": ([0, 0], 0.3)}
    found = probe_cases(tails_in_base_2, log_lik, cases)
    assert found.startswith("wrong on flips that are all Tails: log base 2"), found
    assert probe_cases(log_lik, log_lik, cases) == ""

    def raises(x, theta):
        raise IndexError("index 3 is out of bounds")

    assert probe_cases(raises, log_lik, cases) == (
        "on flips that are all Heads, your function raises IndexError: index 3 is out of bounds")


def test_first_wrong_case_names_the_case_and_never_its_result():
    from mlcourse.checking import first_wrong_case

    def heads_doubled(x, theta):
        x = np.asarray(x)
        return float(np.sum(2 * x * np.log(theta) + (1 - x) * np.log(1 - theta)))

    cases = {"flips that are all Tails": (([0, 0], 0.75), 2 * LN(0.25)),
             "flips that are all Heads": (([1, 1, 1], 0.75), 3 * LN(0.75))}
    found = first_wrong_case(heads_doubled, cases)
    assert found == "wrong on flips that are all Heads: 2 times too large", found
    assert first_wrong_case(lambda x, theta: None, cases) == (
        "on flips that are all Tails, your function returns NoneType None")


@pytest.mark.parametrize(("got", "phrase"), [
    ([0.5, 0.58, 0.64, 0.68], "the right entries, then one more at the end"),
    ([0.5, 0.58, 0.64, 0.64], "the last one repeated"),
    ([0.1, 0.5, 0.58, 0.64], "an extra entry at the start"),
    ([0.5, 0.58], "the last one is missing"),
    ([0.58, 0.64], "the first one is missing"),
])
def test_a_sequence_one_entry_off_in_length_says_how(got, phrase):
    error = failure(expect_close, got, [0.5, 0.58, 0.64], "the path")
    assert phrase in error.difference and "expected shape (3,)" in error.hidden_message()


def test_an_offset_of_log_n_is_not_called_a_binomial_coefficient():
    # C(N, 1) = N: a log N has other causes (a mean inside the log), so it is not named
    assert "binomial" not in differences(np.asarray(-2.1 + LN(12)), np.asarray(-2.1),
                                         sizes={"N": 12})


def test_a_prefix_without_bos_reads_in_the_course_words():
    from mlcourse import EOS
    from mlcourse.checking import calling
    from mlcourse.models import TableModel

    lm = TableModel({("<s>", "A"): -0.5, ("A", "<eos>"): -0.1})
    error = failure(calling, "log Pr(A <eos>)", lm.next_log_probs, [lm.vocab.ids(["A", EOS])])
    assert "a prefix without <s> in front" in error.hidden_message()


def test_notes_of_passing_checks_are_printed_and_collected_only_while_a_grader_asks(capsys):
    from mlcourse.checking import note, notes

    note("outside")
    with notes() as outer:
        expect_close(0.13, 0.125, "cost", decimals=2)
        with notes() as inner:
            note("inner")
        note("outer")
    assert outer == ["cost: accepted, rounded to 2 decimals as the text allows", "outer"]
    assert inner == ["inner"]
    assert capsys.readouterr().out.splitlines() == [
        "outside", "cost: accepted, rounded to 2 decimals as the text allows", "inner", "outer"]


def test_each_slip_of_the_torch_errors_table_is_said_in_the_course_words():
    from mlcourse.checking import TORCH_ERRORS, in_course_words

    said = {
        "index -100 is out of bounds for dimension 1 with size 3": "used IGNORE_INDEX (-100)",
        "index 5 is out of bounds for dimension 0 with size 5": "indexed past the end",
        "The expanded size of the tensor (3) must match the existing size (4)": "assigned a slice",
        "shape mismatch: value tensor of shape [3] cannot be broadcast": "combined two tensors",
        "Expected input batch_size (4) to match target batch_size (3).": "gave logits",
        "Dimension out of range (expected to be in range of [-2, 1], but got 2)": "asked for a",
        "every prefix starts with <s>": "asked the model",
    }
    for text, start in said.items():
        assert in_course_words("RuntimeError", text).startswith(f"your code {start}"), text
    assert len(said) == sum(kind is None for kind, _, _ in TORCH_ERRORS)
    assert in_course_words("RuntimeError", "something else entirely") is None
    # a typed entry needs its type: numpy's broadcast error is a ValueError
    text = "operands could not be broadcast together with shapes (3,) (4,)"
    assert in_course_words("RuntimeError", text) is None
    assert "arrays of shapes (3,) and (4,)" in in_course_words("ValueError", text)
