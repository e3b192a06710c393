"""The checks every test cell uses: pass/fail, messages, misconceptions, and `reference`."""

import nbformat
import numpy as np
import pytest
import torch

from mlcourse.checking import (
    MISCONCEPTION_PREFIX, CheckFailure, expect_choice, expect_close, expect_equal, reference, standard_misconceptions,
)

SLIP = {"leaving out <eos>": -0.7}


def failure(check, *args, **kwargs) -> CheckFailure:
    with pytest.raises(CheckFailure) as caught:
        check(*args, **kwargs)
    return caught.value


def test_expect_close_passes_within_tolerance():
    expect_close(-0.8 + 1e-9, -0.8, "log Pr(A B <eos>)")
    expect_close(torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True), np.array([1.0, 2.0]), "tensor")
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
    assert error.hidden_message() == "the loss has a gradient: got False, which is not the expected value"


def test_shape_none_nan_and_non_numbers():
    assert "expected shape (2,), got shape (3,)" in str(failure(expect_close, [1.0, 2.0, 3.0], [1.0, 2.0], "v"))
    assert "got None (is a `return` missing?)" in str(failure(expect_close, None, 1.0, "v"))
    assert "nan" in str(failure(expect_close, float("nan"), 1.0, "v"))
    assert "got str" in str(failure(expect_close, "one", 1.0, "v"))
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
    assert "one of the letters a, b, c, d; got 'e'" in str(failure(expect_choice, "e", "b", "quiz 1", "abcd"))
    assert "got 3" in str(failure(expect_choice, 3, "b", "quiz 1", "abcd"))
    slips = {"A beats B on the first token only": "a"}
    error = failure(expect_choice, "a", "b", "quiz 1", "abcd", misconceptions=slips)
    assert "expected 'b', got 'a'" in str(error) and error.misconception == "A beats B on the first token only"


def test_standard_misconceptions_values():
    slips = standard_misconceptions(-2.0, n_terms=4)
    assert sorted(slips.values()) == pytest.approx(sorted([2.0, np.exp(-2.0), -2.0 / np.log(2), -0.5]))
    assert len(standard_misconceptions(-2.0)) == 3


def write_lesson(root, lesson: str, answer: str) -> None:
    cells = [
        nbformat.v4.new_code_cell("import math", metadata={"nbgrader": {"grade_id": "setup", "locked": True}}),
        nbformat.v4.new_code_cell("raise RuntimeError('narrative cells must not run')"),
        nbformat.v4.new_code_cell(answer, metadata={"nbgrader": {"grade_id": "answer", "solution": True}}),
    ]
    folder = root / "solutions" / lesson
    folder.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=cells), folder / f"{lesson}.ipynb")


def test_reference_finds_the_solution_function(tmp_path, monkeypatch):
    monkeypatch.setenv("MLCOURSE_ROOT", str(tmp_path))
    write_lesson(tmp_path, "01_demo", "def log_two(x):\n    return math.log(2 * x)\nanswer_letter = 'c'")
    assert reference("log_two")(1.5) == pytest.approx(np.log(3.0))
    assert reference("answer_letter") == "c"
    with pytest.raises(LookupError, match="no solution notebook"):
        reference("missing_name")


def test_reference_asks_for_the_lesson_when_ambiguous(tmp_path, monkeypatch):
    monkeypatch.setenv("MLCOURSE_ROOT", str(tmp_path))
    write_lesson(tmp_path, "01_one", "def f():\n    return 1")
    write_lesson(tmp_path, "02_two", "def f():\n    return 2")
    with pytest.raises(LookupError, match="01_one, 02_two"):
        reference("f")
    assert reference("f", lesson="02_two")() == 2
