"""The catalogue (autograder/tests/catalogue/entries.py) graded as one batch, attackers between
honest students.

The batch grades, in two processes and in order: an honest student, then each catalogue entry
followed by an honest student (so every attacker has an honest student graded just before and
just after it). It runs once per confinement path this machine has (PATHS): as root, on warm
kernels (forked from a template, sandbox.ForkedKernel) and on cold ones (a new bubblewrap sandbox
per notebook, as `autograder grade --cold-kernels` and the grader's last retry run them);
otherwise on cold ones alone. Test ids name the path: `[warm-patch-math]`, `[cold-patch-math]`.
The course is a copy in a temporary folder, so an attack that got through could only damage the
copy; the tests below then assert each entry's invariants, on each path:
- the harness returned normally, with a clear reason for every lost point;
- no point on a test whose real check did not pass (the entry's expected points, exactly);
- every honest student's grades identical to their grades before any attacker ran;
- the instructor's files, the gradebook and the other students' files unchanged (same hashes);
- nothing the student sent was ever unpickled by the grader (its marker file does not exist).

`UPDATE_CATALOGUE_TABLE=1 pytest autograder/tests/test_catalogue.py` rewrites the table of entries
and outcomes in autograder/catalogue.md, from the first path (warm kernels as root);
test_catalogue_class.py writes its table of intake attacks."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from autograder.results import NotebookResult
from autograder.sandbox.kernels import Limits, warm_available
from autograder.tests.catalogue.entries import ENTRIES, INTAKE_ENTRIES, Entry
from autograder.tests.catalogue.kit import (
    TABLE,
    fingerprint,
    grade_file,
    in_processes,
    placeholders,
    serve,
    student_copy,
    submit,
    update_table,
    write,
)
from mlcourse.lessons import lesson_names, names_read, read_lesson

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "engine" / "solutions"
# The first real lesson; the fixture assignment until lessons exist.
LESSON_DIR = ((ROOT / "solutions" / lesson_names(ROOT)[0]) if lesson_names(ROOT)
              else FIXTURES / "00_fixture")
HONEST_ASSIGNMENT = "00_tiny"
LIMITS = Limits(cell_seconds=10, notebook_seconds=150, memory_bytes=1 << 30, output_bytes=1 << 20)
# Warm kernels need root (the template gives each fork its namespaces); without it the engine runs
# cold ones.
PATHS = ["warm", "cold"] if warm_available(sandbox=True) else ["cold"]


@dataclass
class Outcome:
    result: NotebookResult | None
    error: str | None = None
    honest_after: NotebookResult | None = None
    changed_files: list[str] = field(default_factory=list)
    unpickled: bool = False


@dataclass
class Batch:
    kernels: str  # "warm" or "cold"
    target: str
    target_tests: set[str]
    perfect: dict[str, float]
    unanswered: dict[str, float]
    honest: dict[str, NotebookResult]
    outcomes: dict[str, Outcome]


def points(result: NotebookResult) -> dict[str, float]:
    return {c.grade_id: c.points for c in result.checks}


@pytest.fixture(scope="module", params=PATHS)
def batch(request, tmp_path_factory) -> Batch:
    kernels = request.param
    tmp = tmp_path_factory.mktemp(f"catalogue-{kernels}")
    course, submitted, scratch = tmp / "course", tmp / "submitted", tmp / "scratch"
    shutil.copytree(LESSON_DIR, course / "solutions" / LESSON_DIR.name)
    shutil.copytree(FIXTURES / HONEST_ASSIGNMENT, course / "solutions" / HONEST_ASSIGNMENT)
    gradebook = course / "gradebook.db"
    gradebook.write_bytes(b"SQLite format 3\x00 the class's grades")
    source = course / "solutions" / LESSON_DIR.name / f"{LESSON_DIR.name}.ipynb"
    honest_source = course / "solutions" / HONEST_ASSIGNMENT / f"{HONEST_ASSIGNMENT}.ipynb"
    fill = placeholders(source, course=course, gradebook=gradebook, marker=tmp / "unpickled",
                        other=submitted / "honest-perfect" / HONEST_ASSIGNMENT)
    target = fill["name"]
    server = serve(fill["solution"])
    fill["port"] = server.server_address[1]
    tests = read_lesson(source).tests

    def grade(student: str, path: Path | None, assignment_source: Path = source) -> NotebookResult:
        return grade_file(assignment_source, path, student=student, scratch=scratch / student,
                          limits=LIMITS, warm=kernels == "warm")

    def grade_honest(student: str) -> NotebookResult:
        return grade(student,
                     submitted / student / HONEST_ASSIGNMENT / f"{HONEST_ASSIGNMENT}.ipynb",
                     honest_source)

    write(nbformat.writes(student_copy(honest_source)),
          submitted / "honest-perfect" / HONEST_ASSIGNMENT / f"{HONEST_ASSIGNMENT}.ipynb")
    write(nbformat.writes(student_copy(honest_source,
                                       {"count_tokens": "def count_tokens(text):\n"
                                                        "    return text.count(' ')"})),
          submitted / "honest-partial" / HONEST_ASSIGNMENT / f"{HONEST_ASSIGNMENT}.ipynb")
    honest = {student: grade_honest(student) for student in ("honest-perfect", "honest-partial")}
    perfect = grade("perfect", write(nbformat.writes(student_copy(source)),
                                     tmp / "perfect" / source.name))
    blank = student_copy(source, {target: "# YOUR CODE HERE\nraise NotImplementedError()"})
    unanswered = grade("unanswered", write(nbformat.writes(blank),
                                           tmp / "unanswered" / source.name))

    protected = [course, submitted / "honest-perfect", submitted / "honest-partial"]

    def half(number: int) -> list[tuple]:
        """Every other entry, each followed by an honest student (the one before it is the previous
        one's)."""
        done = []
        for entry in ENTRIES[number::2]:
            before = fingerprint(protected)
            path = submit(entry, submitted / f"attacker-{entry.name}" / source.parent.name, source,
                          target, fill)
            try:
                result, error = grade(f"attacker-{entry.name}", path).to_dict(), None
            # recorded, and the test of this entry fails
            except BaseException as raised:  # noqa: BLE001
                result, error = None, repr(raised)
            honest_after = grade_honest(
                ("honest-perfect", "honest-partial")[len(done) % 2]).to_dict()
            after = fingerprint(protected)
            changed = sorted(k for k in before.keys() | after.keys()
                             if before.get(k) != after.get(k))
            done.append((entry.name, result, error, honest_after, changed,
                         (tmp / "unpickled").exists()))
        return done

    try:  # two halves in two processes, as two graders would run side by side
        runs = [run for runs in in_processes(half, 2) for run in runs]
    finally:
        server.shutdown()
    outcomes = {name: Outcome(NotebookResult.from_dict(result) if result else None, error,
                              NotebookResult.from_dict(honest_after), changed, unpickled)
                for name, result, error, honest_after, changed, unpickled in runs}
    target_tests = {c.grade_id for c in tests if target in names_read(c.source)}
    result = Batch(kernels, target, target_tests, points(perfect), points(unanswered), honest,
                   outcomes)
    if os.environ.get("UPDATE_CATALOGUE_TABLE") and kernels == PATHS[0]:
        update_table("submissions", table(result))
    return result


def expected_points(entry: Entry, batch: Batch) -> dict[str, float]:
    if entry.expect == "full":
        return batch.perfect
    if entry.expect == "nothing":
        return {grade_id: 0.0 for grade_id in batch.perfect}
    return batch.unanswered


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_catalogue_entry_holds_its_invariants(batch: Batch, entry: Entry):
    outcome = batch.outcomes[entry.name]
    assert outcome.error is None, f"grading raised {outcome.error}"
    result = outcome.result
    got, want = points(result), expected_points(entry, batch)
    assert set(got) == set(want) and result.max_score == sum(c.max_points for c in result.checks)
    if entry.exact:
        assert got == want
    else:
        # It may break the student's own later answers (or slow its own tests), never gain a point.
        assert all(got[g] <= want[g] for g in got)
    if entry.expect == "target-zero":
        assert batch.target_tests and all(got[g] == 0 for g in batch.target_tests)
    # A clear reason for every lost point, and for every repaired or refused file.
    for check in result.checks:
        if check.points < check.max_points:
            assert check.message.strip(), f"{check.grade_id} lost its points without a reason"
    if entry.expect == "nothing" or entry.edit is not None:
        assert result.problems, "the fault was not recorded"
    if entry.expect == "nothing":
        assert {c.status for c in result.checks} == {"not-run"}
    # The honest student graded just after it got exactly the grades they got before any attacker.
    honest = batch.honest[outcome.honest_after.student]
    assert ((outcome.honest_after.checks, outcome.honest_after.problems)
            == (honest.checks, honest.problems))
    assert outcome.changed_files == []
    assert not outcome.unpickled
    assert result.sandboxed


def test_the_honest_students_are_graded_as_expected(batch: Batch):
    assert points(batch.honest["honest-perfect"]) == {"test_mean_log_prob": 2.0,
                                                      "test_count_tokens": 1.0}
    assert points(batch.honest["honest-partial"]) == {"test_mean_log_prob": 2.0,
                                                      "test_count_tokens": 0.0}
    assert sum(batch.perfect.values()) > sum(batch.unanswered.values())


def test_the_catalogue_covers_the_issue_and_its_table_lists_every_entry():
    assert len(ENTRIES) >= 30 and len({e.name for e in ENTRIES}) == len(ENTRIES)
    listed = TABLE.read_text()
    assert all(f"`{e.name}`" in listed for e in ENTRIES + INTAKE_ENTRIES), (
        "run UPDATE_CATALOGUE_TABLE=1 pytest autograder/tests/test_catalogue.py "
        "autograder/tests/test_catalogue_class.py")


def test_every_cluster_entry_names_a_test_that_exists():
    """The cluster's table is written by hand: each row names the test in test_dask.py that proves
    it."""
    section = (TABLE.read_text().partition("<!-- cluster -->")[2]
               .partition("<!-- end of cluster -->")[0])
    named = re.findall(r"\| `(test_\w+)` \|", section)
    defined = set(re.findall(r"^def (test_\w+)",
                             (Path(__file__).parent / "test_dask.py").read_text(), re.M))
    assert len(named) >= 6 and set(named) <= defined, set(named) - defined

def _reason(result: NotebookResult, batch: Batch) -> str:
    lost = [c.message for c in result.checks
            if c.grade_id in batch.target_tests and c.points < c.max_points]
    text = ((result.problems or lost or [""])[0].splitlines()[0] if (result.problems or lost)
            else "")
    return (text.replace(str(Path(os.environ.get("TMPDIR", "/tmp"))), "<tmp>")
            .replace("|", "\\|")[:160])


def table(batch: Batch) -> str:
    """The catalogue as a Markdown table: each entry, what it does, what it got, and the reason
    recorded."""
    lines = [
        "# The catalogue of adversarial and faulty submissions",
        "",
        f"Generated by `UPDATE_CATALOGUE_TABLE=1 pytest autograder/tests/test_catalogue.py`, "
        f"applied to `{LESSON_DIR.name}` (target answer: `{batch.target}`, checked by "
        f"{', '.join(sorted(batch.target_tests))}). "
        f"Full marks: {sum(batch.perfect.values()):g}; with the target unanswered: "
        f"{sum(batch.unanswered.values()):g}. "
        f"Scores from {batch.kernels} kernels; the test asserts every entry's invariants on "
        f"{' and '.join(PATHS)} kernels. "
        "Every entry was graded between two honest students whose grades stayed identical; no "
        "instructor, gradebook or other student's file changed. See autograder/README.md, "
        "\"Integrity\".",
        "",
        "| Entry | The submission | Expected | Score "
        "| Reason recorded (first problem, or the target's check) |",
        "|---|---|---|---|---|",
    ]
    for entry in ENTRIES:
        outcome = batch.outcomes[entry.name]
        result = outcome.result
        score = f"{result.score:g} / {result.max_score:g}" if result else f"raised {outcome.error}"
        reason = _reason(result, batch) if result else ""
        lines.append(f"| `{entry.name}` | {entry.covers} | {entry.expect} | {score} | {reason} |")
    return "\n".join(lines) + "\n"
