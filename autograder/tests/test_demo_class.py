"""The bundled demo class, built from the lessons in solutions/ and graded as `autograder grade`
does: every student's points per check equal what the lesson's own test kit gives for the same
answers (tests/conftest.py runs the graded cells in-process, a different machinery from the
sandboxed engine), and every misconception a student commits is named in their feedback."""

from __future__ import annotations

import importlib.util
import os
from html import escape

import pytest

from autograder.course import Course
from autograder.demo_class import build_demo_class
from autograder.engine import Options
from autograder.environment import ROOT
from autograder.pipeline import grade_class
from mlcourse.lessons import lesson_names

pytestmark = pytest.mark.skipif(not lesson_names(ROOT), reason="no lessons in solutions/ yet")


def _lesson_kit():
    spec = importlib.util.spec_from_file_location("lesson_test_kit", ROOT / "tests" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    class_ = build_demo_class(ROOT, out / "submitted")
    results = grade_class(class_.submitted, out, Course(ROOT), Options(), jobs=os.cpu_count() or 1,
                          duedates=class_.duedates).results
    return class_, {(r.student, r.assignment): r for r in results}, out


def test_demo_class_has_every_kind_of_student(demo):
    class_, results, _ = demo
    kinds = {"perfect", "empty", "partial", "alternative", "late", "crash", "missing"}
    assert kinds <= set(class_.manifest) and len(class_.manifest) >= 8
    assert {s for s, _ in results} == set(class_.manifest)


def test_each_student_scores_what_the_lesson_test_kit_gives(demo):
    class_, results, _ = demo
    kit = _lesson_kit()
    differ = []
    for student, entry in class_.manifest.items():
        for lesson, submitted in entry["lessons"].items():
            got = {c.grade_id: c.points for c in results[student, lesson].checks}
            if not submitted["submitted"]:
                expected = dict.fromkeys(got, 0.0)
            else:
                outcomes = kit.run_graded_cells(kit.solution_path(lesson), submitted["answers"])
                expected = {c.grade_id: c.max_points if outcomes[c.grade_id] is None else 0.0
                            for c in results[student, lesson].checks}
            differ += [(student, lesson, g, got[g], expected[g])
                       for g in got if got[g] != expected[g]]
    assert differ == []


def test_perfect_gets_the_maximum_and_empty_gets_zero(demo):
    class_, results, _ = demo
    # the lessons the class was built from (more may appear meanwhile)
    for lesson in class_.duedates:
        perfect, empty = results["perfect", lesson], results["empty", lesson]
        assert perfect.score == perfect.max_score > 0, [c.message for c in perfect.checks
                                                        if c.status != "passed"]
        assert empty.score == 0


def test_missing_notebook_scores_zero_with_a_line_in_the_report(demo):
    class_, results, out = demo
    *others, last = class_.duedates
    assert results["missing", last].score == 0
    assert all(results["missing", lesson].score == results["perfect", lesson].score
               for lesson in others)
    assert (f"- missing / {last} / {last}: {last}.ipynb was not submitted"
            in (out / "report.md").read_text())


def test_every_committed_misconception_is_named_in_feedback(demo):
    class_, results, out = demo
    unnamed = []
    for student, entry in class_.manifest.items():
        for lesson, submitted in entry["lessons"].items():
            page = ((out / "feedback" / student / lesson / f"{lesson}.html").read_text()
                    if submitted["submitted"] else "")
            checks = {c.grade_id: c for c in results[student, lesson].checks}
            for _answer_id, test_id, phrase in submitted["misconceptions"]:
                if (phrase not in (checks[test_id].misconception or "")
                        or escape(phrase) not in page):
                    unnamed.append((student, lesson, test_id, phrase))
    assert unnamed == []


def test_no_feedback_says_only_expected_true_got_false(demo):
    _, _, out = demo
    pages = {page: page.read_text() for page in (out / "feedback").rglob("*.html")}
    assert pages and not [page for page, text in pages.items()
                          if "expected True, got False" in text]


def test_late_and_crash_are_visible(demo):
    class_, results, out = demo
    report = (out / "report.md").read_text()
    assert all(f"- late: {lesson} submitted" in report for lesson in class_.duedates)
    first = next(iter(class_.duedates))
    crashed = [c for c in results["crash", first].checks if c.status != "passed"]
    assert crashed and "I will finish this later" in crashed[0].message
