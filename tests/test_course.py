"""Rules every lesson keeps, present and future: nothing given away in the student version, one
notation, one exercise numbering, answers to every self-check, and sizes a reader can take in."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from mlcourse.checking import as_array
from mlcourse.lessons import read_lesson

from .conftest import LESSONS, ROOT, run_graded_cells, solution_path, student_path

CHECKS = {"expect_close", "expect_equal", "expect_choice"}
MAX_WORDS, MAX_CELLS, MAX_LINE, MAX_TEST_LINES = 2200, 50, 90, 30
EXERCISE = re.compile(r"^### Exercise (\d+) "
                      r"\((implement|compute|multiple choice|true or false)\): \S", re.MULTILINE)
CARD = re.compile(r"<!-- notation card -->\n(.*?)\n<!-- end of notation card -->", re.DOTALL)


def answer_variables(lesson: str) -> set[str]:
    """Names the lesson's answer cells assign (compute-a-number and multiple-choice answers), not
    functions."""
    names = set()
    for cell in read_lesson(solution_path(lesson)).answers:
        for node in ast.parse(cell.source).body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def give_aways(source: str, variables: set[str]) -> list[str]:
    """Visible code that compares an answer variable with a value in plain sight."""
    found = []
    for node in ast.walk(ast.parse(source)):
        reads = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & variables
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in CHECKS and node.args:
            if {n.id for n in ast.walk(node.args[0]) if isinstance(n, ast.Name)} & variables:
                found.append(f"{node.func.id}({ast.unparse(node.args[0])}, ...)")
        elif (isinstance(node, ast.Compare) and reads
              and any(isinstance(n, ast.Constant) for n in ast.walk(node))):
            found.append(ast.unparse(node))
    return found


@pytest.mark.parametrize("lesson", LESSONS)
def test_no_visible_test_gives_an_answer_away(lesson):
    variables = answer_variables(lesson)
    released = read_lesson(student_path(lesson))
    leaks = {c.grade_id: give_aways(c.source, variables) for c in released.tests}
    leaks = {k: v for k, v in leaks.items() if v}
    assert not leaks, ("visible tests that show an answer "
                       f"(check its form with check_format, its value hidden): {leaks}")


def test_the_give_away_rule_catches_a_value_or_a_key_in_plain_sight():
    variables = {"answer_x"}
    assert give_aways('expect_choice(answer_x, "b", "quiz", "abcd")', variables)
    assert give_aways("expect_close(answer_x, -1.1, 'sum')", variables)
    assert give_aways('ok = answer_x in ("a", "b")', variables)
    assert not give_aways('check_format(answer_x, "letter", "answer_x", choices="abcd")', variables)
    assert not give_aways("expect_close(f(2.0), -1.1, 'a worked example')", variables)


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_written_question_is_visible_to_the_student(lesson):
    """nbgrader replaces a written answer's cell with "YOUR ANSWER HERE": the question must stand
    in the markdown cell before it (first edition's lesson 3 had its question, heading and all,
    inside the answer)."""
    cells = read_lesson(student_path(lesson)).cells
    answers = {c.grade_id: c.source for c in read_lesson(solution_path(lesson)).cells
               if c.kind == "written"}
    for i, cell in enumerate(cells):
        if cell.kind == "written":
            before = cells[i - 1]
            asked = (before.kind == "narrative" and before.cell_type == "markdown"
                     and re.search(r"\?|\b(Explain|Answer|Say|Describe|Argue)\b|\bsentences\b",
                                   before.source))
            assert asked, (f"the question of {cell.grade_id} (a question or an instruction) "
                           "must be in the markdown "
                           "cell before it")
            assert not re.match(r"\s*#", answers[cell.grade_id]), (
                f"the solution of {cell.grade_id} starts with a heading: "
                "the question is inside the answer cell")


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_fits_a_readers_page_and_attention(lesson):
    cells = read_lesson(solution_path(lesson)).cells
    prose = [c.source for c in cells
             if c.cell_type == "markdown" and "<!-- notation card -->" not in c.source]
    words = sum(len(text.split()) for text in prose)
    assert words <= MAX_WORDS and len(cells) <= MAX_CELLS, (
        f"{words} words of prose, {len(cells)} cells")
    # the last cell is prescribed
    long_lines = [(c.grade_id, line) for c in cells if c.cell_type == "code"
                  for line in c.source.splitlines()
                  if len(line) > MAX_LINE and line not in LOCAL_CHECK.splitlines()]
    assert not long_lines, (f"{len(long_lines)} code lines longer than {MAX_LINE} characters, "
                            f"e.g. {long_lines[:3]}")
    long_tests = {c.grade_id: len(c.source.splitlines()) for c in cells if c.kind == "test"
                  and len(c.source.splitlines()) > MAX_TEST_LINES}
    assert not long_tests, f"test cells longer than {MAX_TEST_LINES} lines: {long_tests}"


@pytest.mark.parametrize("lesson", LESSONS)
def test_exercises_are_numbered_one_way(lesson):
    text = "\n\n".join(c.source for c in read_lesson(solution_path(lesson)).cells
                       if c.cell_type == "markdown")
    headings = [line for line in text.splitlines() if line.startswith("### Exercise")]
    numbers = [int(m.group(1)) for m in EXERCISE.finditer(text)]
    assert len(numbers) == len(headings), (
        f"headings not of the form '### Exercise N (kind): title': {headings}")
    assert numbers == list(range(1, len(numbers) + 1))


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_self_check_comes_with_its_answers(lesson):
    text = "\n\n".join(c.source for c in read_lesson(solution_path(lesson)).cells
                       if c.cell_type == "markdown")
    self_check = text.split("## Self-check", 1)
    assert len(self_check) == 2 and "<details><summary>Answers</summary>" in self_check[1]


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_lesson_shows_the_notation_card_of_the_library(lesson):
    card = CARD.search((ROOT / "shared" / "README.md").read_text()).group(1).strip()
    cells = read_lesson(solution_path(lesson)).cells
    copies = [CARD.search(c.source).group(1).strip() for c in cells if CARD.search(c.source)]
    assert copies == [card], "the lesson's notation card differs from shared/README.md's"
    assert cells.index(next(c for c in cells if CARD.search(c.source))) <= 2, (
        "the card sits at the top")


DRIFT = {
    r"y_\{?n\s*\+\s*1\}?": "<eos> is y_n, the last token of y (not y_{n+1})",
    r"y_\{?<?i\}?(?![a-z])": "positions are t: y_t and y_{<t}",
    r"10\^\{?-30[0-9]\}?(?![^.\n]*normal)": "the smallest positive float64 is about 5 x 10^-324",
    r"\bq_[it]\b": "the one-hot target is e_y",
}


@pytest.mark.parametrize("lesson", LESSONS)
def test_no_symbol_drifts_from_the_card(lesson):
    text = "\n\n".join(c.source for c in read_lesson(solution_path(lesson)).cells
                       if c.cell_type == "markdown" and "<!-- notation card -->" not in c.source)
    drifts = {rule: re.findall(pattern, text)[:3] for pattern, rule in DRIFT.items()
              if re.search(pattern, text)}
    assert not drifts, drifts


def test_the_drift_rules_catch_the_old_forms():
    assert (re.search(list(DRIFT)[0], r"$y_{n+1}$ = `<eos>`")
            and re.search(list(DRIFT)[1], r"$\log p(y_i \mid y_{<i})$"))
    assert (re.search(list(DRIFT)[2], r"about $10^{-308}$")
            and not re.search(list(DRIFT)[2], r"$10^{-308}$, the smallest normal"))
    assert not re.search(list(DRIFT)[1], r"$y_{index}$")


LOCAL_CHECK = """\
# Before you hand in: run this cell. It runs the visible tests on your answers, as the grader
# does, and counts the hidden checks and points that only the grader runs.
from autograder.local_check import check

check()"""


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_lesson_ends_with_the_honest_local_check(lesson):
    last = read_lesson(solution_path(lesson)).cells[-1]
    assert last.kind == "narrative" and last.source.strip() == LOCAL_CHECK


def test_the_course_paths_exist():
    assert Path(solution_path(LESSONS[0])).exists() and Path(student_path(LESSONS[0])).exists()


@pytest.mark.parametrize("lesson", LESSONS)
def test_hidden_tests_name_their_lesson_one_way(lesson):
    """Every `reference(...)` call in a test names its lesson by the setup cell's LESSON constant,
    never a literal (solutions/README.md): a lesson renamed or copied keeps working, and one
    dialect reads everywhere."""
    parsed = read_lesson(solution_path(lesson))
    assert re.search(rf'^LESSON = "{lesson}"$', parsed.setup, re.MULTILINE), (
        "the setup cell defines no LESSON")
    for cell in parsed.tests:
        for call in ast.walk(ast.parse(cell.source)):
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "reference":
                assert ([ast.unparse(a) for a in call.args[1:]] == ["LESSON"]
                        and not call.keywords), (cell.grade_id, ast.unparse(call))


class Recorder:
    """Stands in for the checks of a test cell: records every (what, expected value,
    misconceptions) it passes."""

    def __init__(self):
        self.calls = []

    def record(self, got, want, what, *args, misconceptions=None, **_):
        self.calls.append((what, want, misconceptions or {}))


def _number(value) -> float | None:
    """`value` as one float, or None when it is not a single number (a sequence, a tensor of
    several, a string)."""
    if isinstance(value, str):
        return None
    try:
        array = np.asarray(as_array(value))
    except (TypeError, ValueError):
        return None
    return float(array.reshape(-1)[0]) if array.size == 1 and array.dtype.kind in "fiub" else None


@pytest.mark.parametrize("lesson", LESSONS)
def test_no_misconception_text_states_the_answer(lesson):
    """A misconception's text, shown beside a failed hidden check, never gives the expected number
    or letter away, and a multiple-choice question names no slip for its right letter. (A computed
    misconception may equal the expected value on one example: the check names it only for an
    answer that is not the expected one.)"""
    recorder = Recorder()
    run_graded_cells(solution_path(lesson), checks=dict.fromkeys(CHECKS, recorder.record))
    assert recorder.calls, "the test cells call no check"
    for what, want, misconceptions in recorder.calls:
        number = _number(want)
        for text, value in misconceptions.items():
            if number is not None and not isinstance(want, bool):
                assert f"{number:g}" not in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text), (
                    what, text)
            elif isinstance(want, str):
                assert value != want, (what, text)
                assert not re.search(rf"\bthe (right |correct )?(answer|letter) is\b"
                                     rf"|['\"]{re.escape(want)}['\"]",
                                     text, re.IGNORECASE), (what, text)
