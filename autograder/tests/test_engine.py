"""The grading engine on the fixture assignment: verdicts, points, messages, misconceptions."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from autograder.results import NotebookResult, bounded
from autograder.sandbox.kernels import Limits
from autograder.tests.catalogue.kit import FIXTURE, grade_file, student_copy, write

WRONG = {
    # The product of probabilities, not the sum of their logs: a misconception the checks name.
    "log_likelihood": "def log_likelihood(probs):\n    return float(np.prod(probs))",
    "answer_estimator": 'answer_estimator = "a"',
    "sgd_step": "def sgd_step(model, lr):\n    with torch.no_grad():\n"
                "        for p in model.parameters():\n"
                "            p += lr * p.grad",
}
# Correct, written differently, and noisy on stderr (as torch's warnings are).
ALTERNATIVE = {
    "log_likelihood": "import sys, warnings\ndef log_likelihood(probs):\n"
                      "    warnings.warn('a warning on stderr')\n"
                      "    print('noise', file=sys.stderr)\n    total = 0.0\n    for p in probs:\n"
                      "        total += math.log(p)\n    return total\nimport math",
    "log_softmax": "def log_softmax(logits):\n    return torch.log(torch.softmax(logits, dim=-1))",
}


def grade(tmp_path: Path, notebook, name: str, **kwargs) -> NotebookResult:
    path = write(notebook, tmp_path / name / "00_fixture.ipynb") if notebook is not None else None
    return grade_file(FIXTURE, path, student=name, scratch=tmp_path / f"scratch-{name}", **kwargs)


def points(result: NotebookResult) -> dict[str, float]:
    return {check.grade_id: check.points for check in result.checks}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, NotebookResult]:
    tmp = tmp_path_factory.mktemp("engine")
    return {
        "perfect": grade(tmp, student_copy(FIXTURE), "perfect"),
        "blank": grade(tmp, student_copy(FIXTURE, blank=True), "blank"),
        "wrong": grade(tmp, student_copy(FIXTURE, WRONG), "wrong"),
        "alternative": grade(tmp, student_copy(FIXTURE, ALTERNATIVE), "alternative"),
        "wrong-cold": grade(tmp, student_copy(FIXTURE, WRONG), "wrong-cold", warm=False),
    }


def test_a_cold_kernel_and_a_warm_one_give_the_same_verdicts(results):
    cold, warm = results["wrong-cold"], results["wrong"]
    assert [(c.grade_id, c.points, c.status, c.message) for c in cold.checks] == [
        (c.grade_id, c.points, c.status, c.message) for c in warm.checks]


def test_a_perfect_submission_gets_every_point_in_the_sandbox(results):
    perfect = results["perfect"]
    assert perfect.score == perfect.max_score == 8.0
    assert perfect.sandboxed and perfect.problems == []
    assert perfect.manual == ["written_why_logs"]
    assert {c.grade_id: c.objective for c in perfect.checks} == {
        "test_log_likelihood": "O1", "test_answer_estimator": "O2", "test_sgd_step": "O1",
        "test_log_softmax": "O1"}


def test_the_release_as_handed_out_gets_nothing_and_says_why(results):
    blank = results["blank"]
    assert blank.score == 0.0 and {c.status for c in blank.checks} == {"error"}
    message = next(c.message for c in blank.checks if c.grade_id == "test_log_likelihood")
    assert "`log_likelihood` is not answered yet" in message


def test_wrong_answers_fail_with_their_misconception_named(results):
    wrong = results["wrong"]
    assert points(wrong) == {"test_log_likelihood": 0.0, "test_answer_estimator": 0.0,
                             "test_sgd_step": 0.0, "test_log_softmax": 3.0}
    checks = {c.grade_id: c for c in wrong.checks}
    assert checks["test_log_likelihood"].status == "failed"
    assert (checks["test_log_likelihood"].misconception
            == "the product of probabilities, not the sum of log-probabilities")
    assert checks["test_answer_estimator"].misconception == "the mean is not always the maximiser"
    # The model as the step left it comes back through after_call: the step went up the gradient.
    assert checks["test_sgd_step"].misconception == "a step up the gradient, not down"
    # the visible check shows its expected value
    assert "expected -2.07944" in checks["test_log_likelihood"].message


def test_a_failed_hidden_check_never_shows_its_expected_value(tmp_path):
    # Right on the visible example only: the hidden check on fresh inputs fails.
    cached = "def log_likelihood(probs):\n    return float(np.log(0.125))"
    result = grade(tmp_path, student_copy(FIXTURE, {"log_likelihood": cached}), "cached")
    check = result.checks[0]
    assert check.status == "failed" and check.points == 0
    assert (check.message == "log-likelihood of 7 fresh probabilities: got -2.07944, which is not "
                             "the expected value")


def test_correct_answers_that_write_to_stderr_keep_their_points(results):
    alternative = results["alternative"]
    assert alternative.score == alternative.max_score


def test_a_missing_notebook_scores_zero_with_a_record(tmp_path):
    result = grade(tmp_path, None, "absent")
    assert result.score == 0 and {c.status for c in result.checks} == {"not-run"}
    assert result.problems == ["00_fixture.ipynb was not submitted"]


def test_without_the_sandbox_the_grades_are_the_same_and_marked(tmp_path, results):
    result = grade(tmp_path, student_copy(FIXTURE, WRONG), "unsandboxed", sandbox=False)
    assert points(result) == points(results["wrong"])
    assert not result.sandboxed and "WITHOUT the sandbox" in result.problems[-1]


def test_the_result_crosses_to_the_orchestrator_as_json(results):
    perfect = results["perfect"]
    assert NotebookResult.from_dict(perfect.to_dict()) == perfect


def edited_source(tmp_path: Path, change) -> Path:
    """A copy of the fixture assignment (in a course folder of its own) with `change` made to its
    cells."""
    notebook = nbformat.read(FIXTURE, as_version=4)
    change({c.metadata.get("nbgrader", {}).get("grade_id"): c for c in notebook.cells})
    return write(nbformat.writes(notebook),
                 tmp_path / "course" / "solutions" / "00_fixture" / "00_fixture.ipynb")


def test_an_answer_is_always_the_students_even_where_the_setup_defines_the_name(tmp_path):
    # a correct log_softmax in the setup must not stand in for the student's
    def setup_defines_it(cells):
        cells["setup"].source += ("\ndef log_softmax(logits):\n"
                                  "    return torch.log_softmax(logits, -1)")
    source = edited_source(tmp_path, setup_defines_it)
    wrong = {"log_softmax": "def log_softmax(logits):\n    return torch.softmax(logits, -1)"}
    path = write(student_copy(source, wrong), tmp_path / "student" / "00_fixture.ipynb")
    result = grade_file(source, path, student="s", scratch=tmp_path / "scratch")
    assert points(result)["test_log_softmax"] == 0.0
    assert result.checks[-1].misconception == "the softmax, not its log"


def test_no_except_clause_of_a_test_can_swallow_a_lost_kernel(tmp_path):
    def catch_everything(cells):
        cells["test_log_likelihood"].source = ("try:\n    log_likelihood([0.5])\n"
                                               "except Exception:\n    pass\n"
                                               + cells["test_log_likelihood"].source)
    source = edited_source(tmp_path, catch_everything)
    loop = {"log_likelihood": "def log_likelihood(probs):\n    while True:\n        pass"}
    path = write(student_copy(source, loop), tmp_path / "student" / "00_fixture.ipynb")
    result = grade_file(source, path, student="s", scratch=tmp_path / "scratch",
                        limits=Limits(cell_seconds=5))
    check = result.checks[0]
    assert (check.status, check.points) == ("error", 0.0)
    assert (check.message == "the student's code did not finish: the kernel stopped: it ran out of "
                             "time")
    assert points(result) == {"test_log_likelihood": 0.0, "test_answer_estimator": 1.0,
                              "test_sgd_step": 2.0, "test_log_softmax": 3.0}


def test_a_call_cannot_change_what_the_test_computes_after_it(tmp_path):
    # the pattern of the first edition's tests: expectation from the same object
    def expect_after_the_call(cells):
        cells["test_log_softmax"].source = ("logits = torch.randn(4, 5)\n"
                                            "got = log_softmax(logits)\n"
                                            "expect_close(got, torch.log_softmax(logits, -1), "
                                            "'log-softmax', "
                                            "atol=1e-5)")
    source = edited_source(tmp_path, expect_after_the_call)
    zeroes = {"log_softmax": "def log_softmax(logits):\n    logits.zero_()\n"
                             "    return torch.log_softmax(logits, -1)"}
    path = write(student_copy(source, zeroes), tmp_path / "student" / "00_fixture.ipynb")
    result = grade_file(source, path, student="s", scratch=tmp_path / "scratch")
    # the test's logits were never zeroed: the answer is wrong
    assert points(result)["test_log_softmax"] == 0.0


def test_the_state_after_a_call_comes_back_as_new_objects(tmp_path):
    def check_state(cells):
        cells["test_log_softmax"].source = (
            "logits = torch.ones(2, 3, requires_grad=True)\nlogits.grad = torch.full((2, 3), 7.0)\n"
            "result, (after,) = after_call(log_softmax, logits)\n"
            "expect_close(after, torch.zeros(2, 3), 'the logits the call left')\n"
            "expect_close(after.grad, torch.full((2, 3), 7.0), 'their gradient')\n"
            "expect_close(logits, torch.ones(2, 3), 'the test own logits')")
    source = edited_source(tmp_path, check_state)
    fills = {"log_softmax": "def log_softmax(logits):\n    with torch.no_grad():\n"
                            "        logits.zero_()\n"
                            "    return logits"}
    path = write(student_copy(source, fills), tmp_path / "student" / "00_fixture.ipynb")
    result = grade_file(source, path, student="s", scratch=tmp_path / "scratch")
    assert points(result)["test_log_softmax"] == 3.0, result.checks[-1].message


def test_gradients_come_back_from_the_kernel_only_where_they_flow(tmp_path):
    # gradients_after: the kernel backpropagates from the result, and the logits' gradient returns;
    # a result rebuilt as a new leaf tensor carries the same value and no gradient to the logits
    def check_gradients(cells):
        cells["test_log_softmax"].source = (
            "from mlcourse.checking import gradients_after\n"
            "logits = torch.tensor([[1.0, 2.0, 3.0]], requires_grad=True)\n"
            "result, (after,) = gradients_after(log_softmax, logits)\n"
            "expect_equal(after.grad is None, False, 'a gradient reached the logits')\n"
            "expect_close(after.grad, 1 - 3 * torch.softmax(logits, -1).detach(), 'the gradient')\n"
            "expect_equal(logits.grad is None, True, 'the test own logits keep no gradient')")
    source = edited_source(tmp_path, check_gradients)
    answers = {"right": "def log_softmax(logits):\n    return torch.log_softmax(logits, -1)",
               "rebuilt": "def log_softmax(logits):\n"
                          "    value = torch.log_softmax(logits, -1).detach()\n"
                          "    return value.clone().requires_grad_(True)"}
    for name, answer in answers.items():
        path = write(student_copy(source, {"log_softmax": answer}),
                     tmp_path / name / "00_fixture.ipynb")
        result = grade_file(source, path, student=name, scratch=tmp_path / f"scratch-{name}")
        check = result.checks[-1]
        assert check.points == (3.0 if name == "right" else 0.0), check.message
        if name == "rebuilt":
            assert check.message.startswith("a gradient reached the logits"), check.message


def test_an_error_names_the_call_and_the_types_of_its_arguments(tmp_path):
    # softmax() needs a dim
    raises = {"log_softmax": "def log_softmax(logits):\n    return logits.softmax()"}
    result = grade(tmp_path, student_copy(FIXTURE, raises), "typo")
    message = result.checks[-1].message
    assert (message.startswith("`log_softmax(Tensor (")
            and "float32)` raised TypeError: softmax()" in message), message


def test_a_kernel_that_cannot_start_is_a_grader_error_never_a_grade(tmp_path):
    """The grader's own failure (here: no kernel answers within a start-up allowance too short for
    any) leaves the notebook not graded, with the reason in `grader_error`, and not a point or a
    verdict on any check."""
    for warm in (True, False):
        result = grade(tmp_path, student_copy(FIXTURE), f"unstarted-{warm}",
                       limits=Limits(startup_seconds=0.001), warm=warm)
        assert (result.grader_error is not None
                and "the student's kernel could not be started" in result.grader_error)
        assert result.problems[0] == f"not graded (grader error): {result.grader_error}"
        assert {(c.status, c.points) for c in result.checks} == {("not-run", 0.0)}
        # a failure of the grader is retried as such, not as the student's time
        assert not result.timed_out
    assert NotebookResult.from_dict(result.to_dict()) == result


def test_a_notebook_too_large_to_read_is_refused_with_its_size(tmp_path):
    from autograder.engine import MAX_PARSED_NOTEBOOK_BYTES

    notebook = student_copy(FIXTURE)
    notebook.metadata["padding"] = "x" * MAX_PARSED_NOTEBOOK_BYTES
    result = grade(tmp_path, notebook, "huge")
    assert result.grader_error is None and result.score == 0 and len(result.problems) == 1
    limit = MAX_PARSED_NOTEBOOK_BYTES >> 20
    assert f"more than the {limit} MB a notebook may be" in result.problems[0]


def _with_stray_ids(count: int):
    notebook = student_copy(FIXTURE)
    stray = {"grade": False, "solution": True, "locked": False, "schema_version": 3}
    notebook.cells += [nbformat.v4.new_code_cell("pass",
                                                 metadata={"nbgrader": {**stray,
                                                                        "grade_id": f"g{i}"}})
                       for i in range(count)]
    return notebook


def test_a_notebooks_problems_are_capped_with_how_many_more(tmp_path, results):
    result = grade(tmp_path, _with_stray_ids(3000), "stray-ids")
    assert points(result) == points(results["perfect"])  # its answers still count
    assert (len(result.problems) == 11
            and result.problems[-1].startswith("... and 2990 more cells with unknown"))
    assert len(json.dumps(result.to_dict())) < 20_000
    many = [f"problem {i}: " + "x" * 1000 for i in range(50)]
    assert bounded(many)[-1] == "... and 31 more problem(s) of the same notebook, not listed"
    assert (len(bounded(many)) == 20 and {len(p) for p in bounded(many)[:-1]} == {500}
            and bounded(bounded(many)) == bounded(many))


def test_reading_and_planning_count_against_the_notebooks_time(tmp_path):
    """A submission that takes longer to read than the notebook may take is stopped by the
    notebook's own limit (it is not the grader's free time), and marked as a wall-clock limit (so it
    is graded again under load)."""
    result = grade(tmp_path, _with_stray_ids(40_000), "slow-to-read",
                   limits=Limits(notebook_seconds=0.5))
    assert result.timed_out and result.grader_error is None and result.score == 0
    assert result.problems == ["the notebook's time limit of 0.5 s was reached; the remaining "
                               "checks score 0"]


@pytest.mark.skipif(not Path("/proc/pressure/cpu").exists(),
                    reason="no pressure stall information (Linux PSI)")
def test_a_result_says_how_contended_the_cpu_was_while_it_was_graded(tmp_path):
    """More runnable processes than CPUs while a notebook is graded: some task waits for a CPU
    nearly all the time, and the result says so (the pipeline grades a time-out again only on a
    contended CPU)."""
    import os
    import subprocess
    import sys

    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(os.cpu_count() + 1)]
    try:
        result = grade(tmp_path, student_copy(FIXTURE), "contended")
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    assert result.cpu_contention is not None and 0.5 < result.cpu_contention <= 1.0


# Each cell raises after defining its names (issue 22, "honest about crashes").
CRASHING = {
    # a misconception the check would name, confounded by a crash on the next line
    "log_likelihood": "def log_likelihood(probs):\n    return float(np.prod(probs))\n"
                      "print(math.log(2))",
    "answer_estimator": 'answer_estimator = "b"\nconfidence = math.sqrt(0.25)',
    "sgd_step": "def sgd_step(model, lr):\n    with torch.no_grad():\n"
                "        for p in model.parameters():\n            p -= lr * p.grad\n"
                "raise NotImplementedError()",
    # right on the visible 2x2 logits only: the hidden check's 3x5 logits cannot be multiplied
    "log_softmax": "def log_softmax(logits):\n"
                   "    return logits @ torch.eye(2) - torch.logsumexp(logits, -1, keepdim=True)",
}


def test_an_answer_cell_that_raised_after_defining_its_names_is_named_in_its_checks(tmp_path):
    result = grade(tmp_path, student_copy(FIXTURE, CRASHING), "crashing")
    checks = {c.grade_id: c for c in result.checks}
    likelihood = checks["test_log_likelihood"]
    # graded on what the cell defined, the crash first and no misconception named as if certain
    assert (likelihood.status, likelihood.misconception) == ("failed", None)
    crash, verdict = likelihood.message.split("\n", 1)
    assert crash == ("The answer cell `log_likelihood` raised NameError: name 'math' is not "
                     "defined after defining `log_likelihood`; this check ran on what it had "
                     "defined, so what follows may come from the error rather than from your "
                     "method. Fix it: define or import that name before the line that uses it (a "
                     "missing import?).")
    assert verdict == ("log-likelihood of [0.5, 0.25]: expected -2.07944, got 0.125\nLikely "
                       "misconception: the product of probabilities, not the sum of "
                       "log-probabilities")
    # a value set before the error still counts, with the error said
    estimator = checks["test_answer_estimator"]
    assert (estimator.status, estimator.points) == ("passed", 1.0)
    assert estimator.message == (
        "The answer cell `answer_estimator` raised NameError: name 'math' is not defined after "
        "defining `answer_estimator`; this check passed on what it had defined. Fix it: define "
        "or import that name before the line that uses it (a missing import?).")
    step = checks["test_sgd_step"]
    assert (step.status, step.points) == ("passed", 2.0)
    assert step.message.startswith("The answer cell `sgd_step` raised NotImplementedError") and (
        step.message.endswith("Fix it: delete the `raise NotImplementedError()` line left from "
                              "the template."))
    # a check that reads no name of a cell that raised says nothing of it
    assert "answer cell" not in checks["test_log_softmax"].message
    assert result.problems == []


def test_a_torch_error_in_a_hidden_check_is_translated_with_the_call(tmp_path):
    result = grade(tmp_path, student_copy(FIXTURE, {"log_softmax": CRASHING["log_softmax"]}),
                   "hidden-shapes")
    check = result.checks[-1]
    assert (check.status, check.points) == ("error", 0.0)
    assert check.message == (
        "`log_softmax(Tensor (3, 5) float32)` raised RuntimeError: mat1 and mat2 shapes cannot be "
        "multiplied (3x5 and 2x2)\nThat is, your code multiplied a 3x5 matrix by a 2x2 matrix: "
        "the columns of the first must be as many as the rows of the second. Check the shapes "
        "your code multiplies (a transpose missing, or the wrong axis?).")


def test_a_wrong_helper_costs_only_its_own_check_and_the_next_says_so_in_the_feedback(tmp_path):
    """Error carried forward, as the grader records it: gradient_ascent calls the student's own
    (wrong) gradient, passes, and its feedback says where the slip is; a passed check's printed
    output is not kept, so the note travels as the verdict's message."""
    source = Path(__file__).parents[2] / "solutions" / "01_maximum_likelihood"
    source = source / "01_maximum_likelihood.ipynb"
    wrong = ("def log_likelihood_gradient(x, theta):\n    x = np.asarray(x)\n"
             "    return float(np.sum(x / theta + (1 - x) / (1 - theta)))\n")
    path = write(student_copy(source, {"log_likelihood_gradient": wrong}),
                 tmp_path / "helper" / source.name)
    result = grade_file(source, path, student="helper", scratch=tmp_path / "scratch")
    lost = {c.grade_id for c in result.checks if c.points < c.max_points}
    assert lost == {"test_log_likelihood_gradient"}
    ascent = next(c for c in result.checks if c.grade_id == "test_gradient_ascent")
    assert ascent.status == "passed"
    assert "right given your `log_likelihood_gradient`" in ascent.message
    assert "not right yet" in ascent.message
