"""Rebuilding the graded notebook: the source's cells, the submission's answers, every change
recorded."""

from __future__ import annotations

import copy

import nbformat
import pytest

from autograder.plan import rebuild
from autograder.tests.catalogue.kit import FIXTURE, student_copy
from mlcourse.lessons import read_lesson

SOURCE = read_lesson(FIXTURE)
SUBMITTED = student_copy(FIXTURE)


def cell(notebook, grade_id: str):
    return next(c for c in notebook.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def sources(plan) -> dict[str, str]:
    return {step.grade_id: step.source for step in plan.steps}


def test_an_untouched_submission_has_no_problem_and_keeps_the_source_order():
    plan = rebuild(SOURCE, SUBMITTED)
    assert plan.problems == [] and [c.grade_id for c in SOURCE.written] == ["written_why_logs"]
    assert [(s.kind, s.grade_id) for s in plan.steps] == [
        ("setup", "setup"), ("answer", "log_likelihood"), ("test", "test_log_likelihood"),
        ("answer", "answer_estimator"), ("test", "test_answer_estimator"), ("answer", "sgd_step"),
        ("test", "test_sgd_step"), ("answer", "log_softmax"), ("test", "test_log_softmax")]
    # Tests come from the source, hidden part included; answers from the submission.
    assert "BEGIN HIDDEN TESTS" in sources(plan)["test_log_likelihood"]
    solution = {c.grade_id: c.source for c in SOURCE.steps}
    assert sources(plan) == {**solution, **{k: v for k, v in sources(plan).items()
                                            if k[:5] != "test_"}}


def edited(change) -> nbformat.NotebookNode:
    notebook = copy.deepcopy(SUBMITTED)
    change(notebook)
    return notebook


@pytest.mark.parametrize("change, problem", [
    (lambda nb: setattr(cell(nb, "test_sgd_step"), "source", "pass"),
     "the test cell `test_sgd_step` was edited; it was graded from the source version"),
    (lambda nb: nb.cells.remove(cell(nb, "test_sgd_step")),
     "the test cell `test_sgd_step` was deleted; it was graded from the source version"),
    (lambda nb: nb.cells.append(copy.deepcopy(cell(nb, "test_sgd_step"))),
     "the test cell `test_sgd_step` appears 2 times (duplicated or split); "
     "it was graded from the source version"),
    (lambda nb: setattr(cell(nb, "test_sgd_step"), "cell_type", "raw"),
     "the test cell `test_sgd_step` was changed into a raw cell; "
     "it was graded from the source version"),
    (lambda nb: cell(nb, "setup").update(source="import numpy as np"),
     "the read-only cell `setup` was edited; it was graded from the source version"),
    (lambda nb: cell(nb, "test_sgd_step").metadata.nbgrader.update(points=50),
     "the nbgrader metadata of cell `test_sgd_step` was changed (points or cell kind); "
     "the source's was used"),
])
def test_changes_to_read_only_cells_are_recorded_and_graded_from_the_source(change, problem):
    plan = rebuild(SOURCE, edited(change))
    assert problem in plan.problems
    assert sources(plan) == sources(rebuild(SOURCE, SUBMITTED))


def test_a_changed_grade_id_is_named_and_the_stray_id_ignored():
    def rename(nb):
        cell(nb, "test_sgd_step").metadata.nbgrader.grade_id = "test_mine"
    plan = rebuild(SOURCE, edited(rename))
    assert plan.problems == [
        "the test cell `test_sgd_step` has its grade id changed to `test_mine`; "
        "it was graded from the source version",
        "a cell carries nbgrader metadata with the unknown grade id `test_mine` "
        "(a changed id or metadata of the "
        "student's own); it was ignored"]
    assert ([s.grade_id for s in plan.steps]
            == [s.grade_id for s in rebuild(SOURCE, SUBMITTED).steps])


def test_answer_cells_are_matched_by_grade_id_wherever_they_are():
    def move_and_duplicate(nb):
        answer = cell(nb, "sgd_step")
        nb.cells.remove(answer)
        first = copy.deepcopy(answer)
        first.source = "def sgd_step(model, lr):\n    pass"
        nb.cells[:0] = [first, answer]  # both copies moved to the top, the right one last
    plan = rebuild(SOURCE, edited(move_and_duplicate))
    assert plan.problems == ["the answer cell `sgd_step` appears 2 times; "
                             "its code cells were run in order"]
    assert sources(plan)["sgd_step"] == ("def sgd_step(model, lr):\n    pass\n\n"
                                         + cell(SUBMITTED, "sgd_step").source)


@pytest.mark.parametrize("change, problem", [
    (lambda nb: nb.cells.remove(cell(nb, "log_softmax")),
     "the answer cell `log_softmax` is missing from the submission; it was graded as unanswered"),
    (lambda nb: setattr(cell(nb, "log_softmax"), "cell_type", "markdown"),
     "the answer cell `log_softmax` was changed into a markdown cell; it was graded as unanswered"),
])
def test_a_lost_answer_cell_is_graded_as_unanswered(change, problem):
    plan = rebuild(SOURCE, edited(change))
    assert plan.problems == [problem] and sources(plan)["log_softmax"] == ""


def test_malformed_cells_and_metadata_do_not_stop_the_rebuild():
    submission = {"cells": [None, 3, {"cell_type": "code"}, {"metadata": []},
                            {"cell_type": "code", "metadata": {"nbgrader": "x"},
                             "source": ["a", "b"]},
                            {"cell_type": "code", "metadata": {"nbgrader": {"grade_id": 7}},
                             "source": 5}]}
    plan = rebuild(SOURCE, submission)
    assert [s.grade_id for s in plan.steps] == [s.grade_id for s in SOURCE.steps]
    assert all(s.source == "" for s in plan.steps if s.kind == "answer")
    # 4 answers missing; 4 test cells, the setup and the locked intro deleted
    assert len(plan.problems) == 4 + 6
