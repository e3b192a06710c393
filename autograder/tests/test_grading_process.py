"""A grading process (pool.Grader, pool.serve) pays its fixed costs once, before its first notebook:
given the run's setup modules, it starts its kernel template with all of them (a template that
lacks one would be started again at the first notebook of a lesson that imports it) and imports
them itself. A warm-up that fails costs no notebook; one that overruns the notebook's wait is the
grader's failure, not the student's."""

from __future__ import annotations

import psutil
import pytest

from autograder import pool
from autograder.demo_class import build_demo_class
from autograder.engine import Options, Task
from autograder.environment import ROOT
from autograder.sandbox.kernels import warm_available
from autograder.tests.conftest import copy_fixture_course
from mlcourse.lessons import lesson_path, modules_imported, read_lesson

# the second imports modules the first does not (mlcourse.transformer, torch.nn)
LESSONS = ("01_maximum_likelihood", "03_autoregressive_decomposition")


def _templates(grader: pool.Grader) -> dict[int, list[str]]:
    """The grading process's kernel templates (bubblewrap running kernel_template): PID -> the
    modules on its command line."""
    found = {}
    for process in psutil.Process(grader.process.pid).children():
        command = process.cmdline()
        if "autograder.sandbox.inside.kernel_template" in command:
            found[process.pid] = command[command.index("autograder.sandbox.inside.kernel_template")
                                         + 2:]
    return found


@pytest.mark.skipif(not warm_available(True),
                    reason="warm kernels need the privileged sandbox (root)")
def test_a_warmed_grading_process_starts_one_template_with_every_lessons_modules(tmp_path):
    lessons = [read_lesson(lesson_path(ROOT, name)) for name in LESSONS]
    modules = sorted({module for lesson in lessons for module in modules_imported(lesson.setup)})
    assert not set(modules) <= set(modules_imported(lessons[0].setup))
    options = Options().__dict__
    grader = pool.Grader(tmp_path / "grader.log", modules, options)
    try:
        seen = {}
        for name in LESSONS:
            # the solution as the submission: every check passes
            source = lesson_path(ROOT, name).read_bytes()
            result = grader.grade(Task("ada", name, name, source, source).to_dict(), options)
            assert isinstance(result, dict) and result["grader_error"] is None
            assert all(check["status"] == "passed" for check in result["checks"])
            seen.update(_templates(grader))
        assert list(seen.values()) == [modules]  # one template, started before the first lesson
    finally:
        grader.stop()


def _fixture_task(tmp_path) -> Task:
    course = copy_fixture_course(tmp_path / "course")
    submitted = build_demo_class(course, tmp_path / "class").submitted
    return Task("perfect", "01_fixture", "01_fixture",
                (course / "solutions" / "01_fixture" / "01_fixture.ipynb").read_bytes(),
                (submitted / "perfect" / "01_fixture" / "01_fixture.ipynb").read_bytes())


def test_a_warm_up_that_fails_costs_no_notebook(tmp_path):
    options = Options().__dict__
    grader = pool.Grader(tmp_path / "grader.log", ["numpy", "no_module_of_this_name"], options)
    try:
        result = grader.grade(_fixture_task(tmp_path).to_dict(), options)
        assert isinstance(result, dict) and result["grader_error"] is None
        assert sum(check["points"] for check in result["checks"]) == 3
        assert "no_module_of_this_name" in (tmp_path / "grader.log").read_text()
    finally:
        grader.stop()


def test_a_warm_up_longer_than_the_notebooks_wait_is_the_graders_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(pool, "GRACE_SECONDS", 0.0)
    options, task = Options(timeout=0.05).__dict__, _fixture_task(tmp_path).to_dict()
    grader = pool.Grader(tmp_path / "grader.log", ["numpy"], options)
    outcome = grader.grade(task, options)
    assert outcome == ("starting the grading process took longer than 0.05 s; this notebook was "
                       "not graded")
    assert not grader.running()  # stopped, with whatever it had started
