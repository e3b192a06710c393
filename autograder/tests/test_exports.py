"""Exports and grades back to students, from a real graded class: two weeks of the fixture course
(two assignments graded by two runs into one OUT), a roster imported with `nbgrader db student
import` between them (it holds a student id that is markup and a formula), and a late-penalty
policy. nbgrader's, Canvas's and Moodle's CSV (header and rows), Gradescope's results.json against
the schema Gradescope documents, each student's page (contents, escaping, links), and the `export`
command's errors."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
from nbgrader.api import Gradebook

from autograder.cli import main
from autograder.course import Course
from autograder.demo_class import build_demo_class
from autograder.engine import Options
from autograder.environment import tool_env
from autograder.exports import FORMATS, AutograderExporter, cell, export_nbgrader
from autograder.feedback import student_page
from autograder.pipeline import grade_class
from autograder.release import generate
from autograder.tests.conftest import copy_fixture_course

# a roster's id (intake refuses it as a folder)
HOSTILE = '=1+2, "Points Possible" <img src=x onerror=alert(1)>'
ROSTER = ('id,first_name,last_name,email,lms_user_id\n'
          'perfect,Ada,"Lovelace, Countess",ada@example.org,101\n'
          'late,"Bob ""the late""","=HYPERLINK(""http://x"")",bob@example.org,102\n'
          'mistakes_1,<script>alert(1)</script>,"Line\nBreak",,\n'
          '"=1+2, ""Points Possible"" <img src=x onerror=alert(1)>",,,,\n')
WEEKS = ["01_fixture", "02_fixture"]

# Gradescope's results.json as its specification documents it
# (gradescope-autograders.readthedocs.io/en/latest/specs/, "Output format", "Controlling Test Case
# Visibility", "Test case status", "Output String Formatting").
VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
TEXT_FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
NUMBER, STRING, OBJECT = {"type": "number"}, {"type": "string"}, {"type": "object"}
GRADESCOPE_TEST = {"type": "object", "additionalProperties": False, "properties": {
    "score": NUMBER, "max_score": NUMBER, "status": {"enum": ["passed", "failed"]}, "name": STRING,
    "name_format": TEXT_FORMAT, "number": STRING, "output": STRING, "output_format": TEXT_FORMAT,
    "tags": {"type": "array", "items": STRING}, "visibility": VISIBILITY, "extra_data": OBJECT}}
GRADESCOPE_RESULTS = {
    "type": "object", "additionalProperties": False,
    "properties": {"score": NUMBER, "execution_time": NUMBER, "output": STRING,
                   "output_format": TEXT_FORMAT,
                   "test_output_format": TEXT_FORMAT, "test_name_format": TEXT_FORMAT,
                   "visibility": VISIBILITY, "stdout_visibility": VISIBILITY, "extra_data": OBJECT,
                   "tests": {"type": "array", "items": GRADESCOPE_TEST},
                   "leaderboard": {"type": "array", "items": {
                       "type": "object", "required": ["name", "value"],
                       "properties": {"name": STRING, "value": {"type": ["number", "string"]},
                                      "order": {"enum": ["asc", "desc"]}}}}},
    # "score": optional, but required if not on each test case; "tests": optional, but required if
    # no top-level score
    "anyOf": [{"required": ["score"]},
              {"required": ["tests"], "properties": {"tests": {"items": {"required": ["score"]}}}}]}


def test_a_cell_a_student_controls_cannot_be_a_formula():
    assert [cell(v)
            for v in ("=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "ada", None, 1.5)] == [
        "'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM(A1)", "'\tx", "ada", "", "1.5"]
    assert [cell(v) for v in ("two\nlines", "\r=1", "a\r\nb")] == ["two lines", "' =1", "a b"]


def test_nbgrader_csv_quotes_ids_with_commas_and_escapes_formulas(tmp_path):
    with Gradebook(f"sqlite:///{tmp_path / 'gb.db'}") as gb:
        gb.update_or_create_assignment("01_a", duedate=datetime(2026, 1, 1))
        for student in ("=cmd|' /C calc'!A0", "smith, jane"):
            gb.update_or_create_student(student)
        gb.db.commit()
        export_nbgrader(gb, tmp_path / "grades.csv")
    with open(tmp_path / "grades.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == ["assignment", "duedate", "timestamp", "student_id", "last_name",
                             "first_name", "email", "raw_score", "late_submission_penalty",
                             "score", "max_score"]
    assert sorted(r["student_id"] for r in rows) == ["'=cmd|' /C calc'!A0", "smith, jane"]
    assert ({r["score"] for r in rows} == {"0.0"}
            and {r["duedate"] for r in rows} == {"2026-01-01 00:00:00"})


@pytest.fixture(scope="module")
def semester(tmp_path_factory):
    """OUT of two weekly runs (one assignment each) of four fixture students, the roster imported in
    between.

    Late work scores 0 (nbgrader's "zero" policy); `mistakes_1` commits week 1's typical mistakes;
    the student `partial` hands in its answers in week 1 and nothing in week 2; HOSTILE, only on the
    roster, nothing."""
    course = copy_fixture_course(tmp_path_factory.mktemp("semester") / "course")
    with open(course / "nbgrader_config.py", "a") as config:
        config.write('c.LateSubmissionPlugin.penalty_method = "zero"\n')
    # week 2 is week 1 again, released once (nbgrader takes seconds)
    generate(course, WEEKS[0], course / "notebooks")
    for folder in (course / "solutions", course / "notebooks"):
        shutil.copytree(folder / WEEKS[0], folder / WEEKS[1])
        (folder / WEEKS[1] / f"{WEEKS[0]}.ipynb").rename(folder / WEEKS[1] / f"{WEEKS[1]}.ipynb")
    demo = build_demo_class(course, course / "var" / "submitted")
    for student in ("empty", "alternative", "crash", "missing", "mistakes_2"):
        shutil.rmtree(demo.submitted / student)
    (demo.submitted / "partial" / WEEKS[1] / f"{WEEKS[1]}.ipynb").unlink()
    out = course / "var" / "out"
    db_url = f"sqlite:///{out / 'gradebook.db'}"
    grade_class(demo.submitted, out, Course(course, (WEEKS[0],)), Options(), jobs=2,
                duedates=demo.duedates)
    (course / "roster.csv").write_text(ROSTER)
    subprocess.run(["nbgrader", "db", "student", "import", "roster.csv", "--db", db_url],
                   cwd=course, env=tool_env(), check=True, capture_output=True)
    grade_class(demo.submitted, out, Course(course, (WEEKS[1],)), Options(), jobs=2,
                duedates=demo.duedates)
    return out


def _export(out: Path, fmt: str, to: Path, *extra: str) -> Path:
    assert main(["export", str(out), "--format", fmt, "--to", str(to), *extra]) == 0
    return to


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_canvas_csv_is_what_canvas_imports(semester, tmp_path):
    lines = _lines(_export(semester, "canvas", tmp_path / "canvas.csv"))
    # Canvas's importer: Student, ID, SIS User ID, SIS Login ID, Section, then one column per
    # assignment title; a row whose first cell holds "Points Possible" gives the maxima.
    assert lines[0] == "Student,ID,SIS User ID,SIS Login ID,Section,01_fixture,02_fixture"
    assert lines[1] == "Points Possible,,,,,4.0,4.0"
    assert '"Lovelace, Countess, Ada",101,,perfect,,3.0,3.0' in lines
    # late: 0
    assert "\"'=HYPERLINK(\"\"http://x\"\"), Bob \"\"the late\"\"\",102,,late,,0.0,0.0" in lines
    # one line per row
    assert '"Line Break, <script>alert(1)</script>",,,mistakes_1,,0.0,3.0' in lines
    rows = list(csv.reader(lines))
    assert len(rows) == 2 + 5 and all(len(r) == 7 for r in rows)
    assert "partial,,,partial,,2.0,0.0" in lines  # week 2 not handed in: 0, as nbgrader exports it
    # not the hostile name
    assert [r[0] for r in rows if "Points Possible" in r[0]] == ["Points Possible"]
    hostile = next(r for r in rows if r[3].endswith("alert(1)>"))
    assert hostile == ["'=1+2, \"Points possible\" <img src=x onerror=alert(1)>", "", "",
                       "'" + HOSTILE, "", "0.0", "0.0"]  # on the roster, nothing handed in


def test_moodle_csv_has_an_identifier_column_and_a_column_per_grade_item(semester, tmp_path):
    lines = _lines(_export(semester, "moodle", tmp_path / "moodle.csv"))
    assert lines[0] == "First name,Last name,Username,User ID,Email address,01_fixture,02_fixture"
    assert 'Ada,"Lovelace, Countess",perfect,101,ada@example.org,3.0,3.0' in lines
    assert ("\"Bob \"\"the late\"\"\",\"'=HYPERLINK(\"\"http://x\"\")\",late,102,"
            "bob@example.org,0.0,0.0" in lines)
    rows = list(csv.reader(lines))
    assert len(rows) == 1 + 5 and {r[2] for r in rows[1:]} == {"perfect", "late", "mistakes_1",
                                                               "partial", "'" + HOSTILE}


def test_nbgrader_export_of_one_week_is_that_runs_grades_csv(semester, tmp_path):
    exported = list(csv.DictReader(_lines(_export(semester, "nbgrader", tmp_path / "week2.csv",
                                                  "--assignment", WEEKS[1]))))
    graded = list(csv.DictReader(_lines(semester / "grades.csv")))  # the students this run graded
    assert [r for r in exported if r["student_id"] != "'" + HOSTILE] == graded and len(graded) == 4
    rows = list(csv.DictReader(_lines(_export(semester, "nbgrader", tmp_path / "all.csv"))))
    assert len(rows) == 2 * 5 and {r["assignment"] for r in rows} == set(WEEKS)


def test_gradescope_results_follow_gradescopes_schema_and_hide_expected_values(semester, tmp_path):
    folder = _export(semester, "gradescope", tmp_path / "gradescope")
    files = sorted(folder.glob("*/*/results.json"))
    assert len(files) == 4 * 2
    for path in files:
        results = json.loads(path.read_text())
        jsonschema.validate(results, GRADESCOPE_RESULTS)
        assert all({"name", "score", "max_score", "output", "visibility"} <= set(t)
                   for t in results["tests"])
        # nothing a student controls may be rendered as HTML or Markdown by Gradescope
        assert {results["output_format"], results["test_output_format"],
                results["test_name_format"]} == {"text"}
        assert {t["output_format"] for t in results["tests"]} == {"text"}
    perfect = json.loads((folder / "perfect" / WEEKS[0] / "results.json").read_text())
    assert perfect["score"] == 3.0 and perfect["output"] == "3 of 4 points"
    assert [(t["name"], t["score"], t["max_score"]) for t in perfect["tests"]] == [
        ("test_total_log_prob", 2.0, 2.0), ("test_answer_objective", 1.0, 1.0),
        ("written_why", 0.0, 1.0)]
    late = json.loads((folder / "late" / WEEKS[1] / "results.json").read_text())
    assert late["score"] == 0.0 and late["output"] == "0 of 4 points (3 before a late penalty of 3)"
    wrong = json.loads((folder / "mistakes_1" / WEEKS[0] / "results.json").read_text())
    stored = json.loads((semester / "results" / "mistakes_1" / WEEKS[0]
                         / f"{WEEKS[0]}.json").read_text())
    messages = {c["grade_id"]: c["message"] for c in stored["result"]["checks"]}
    hidden = next(t for t in wrong["tests"] if t["name"] == "test_answer_objective")
    assert hidden["score"] == 0.0 and hidden["output"] == messages["test_answer_objective"]
    # the hidden check's expected choice
    assert "got 'a'" in hidden["output"] and "'b'" not in hidden["output"]
    missing = json.loads((folder / "partial" / WEEKS[1] / "results.json").read_text())
    assert missing["score"] == 0.0 and {t["output"] for t in missing["tests"]} == {
        "not graded: the notebook was not submitted"}


def _files(path: Path) -> dict[str, bytes]:
    """An export's contents: {path inside it: bytes} of a folder, {"": bytes} of a file."""
    if path.is_file():
        return {"": path.read_bytes()}
    return {str(f.relative_to(path)): f.read_bytes()
            for f in sorted(path.rglob("*")) if f.is_file()}


def _nbgrader_export(out: Path, exporter: str, *args: str) -> subprocess.CompletedProcess:
    """nbgrader's own `nbgrader export` of OUT's gradebook, in the course folder, with `exporter`
    (a class of autograder.exports)."""
    return subprocess.run(["nbgrader", "export", f"--exporter=autograder.exports.{exporter}",
                           "--db", f"sqlite:///{out / 'gradebook.db'}", *args],
                          cwd=out.parent.parent, env=tool_env(), capture_output=True, text=True)


@pytest.mark.parametrize(("fmt", "weeks"), [(fmt, []) for fmt in FORMATS] + [("canvas", WEEKS[1:])])
def test_plain_nbgrader_export_with_our_exporter_writes_what_autograder_export_writes(
        semester, tmp_path, fmt, weeks):
    """Every format of the registry, through nbgrader's own command and its exporter plugin."""
    chosen = [arg for week in weeks for arg in ("--assignment", week)]
    ours = _export(semester, fmt, tmp_path / "ours", *chosen)
    exporter = next(c for c in AutograderExporter.__subclasses__() if c.format == fmt)
    done = _nbgrader_export(semester, exporter.__name__, "--to", str(tmp_path / "theirs"), *chosen)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _files(tmp_path / "theirs") == _files(ours) and _files(ours)


def test_nbgrader_export_with_our_exporter_names_what_is_missing(semester):
    done = _nbgrader_export(semester, "MoodleExporter")
    assert done.returncode == 1 and "give the file to write: --to FILE (moodle)" in done.stderr
    assert "Traceback" not in done.stderr


class _Page(HTMLParser):
    """A page's text, its links and scripts, and every tag it holds."""

    def __init__(self, html: str):
        super().__init__()
        self.text, self.links, self.tags = [], [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "a" or tag == "script" and "src" in attrs:
            self.links.append(attrs.get("href") or attrs["src"].split("?")[0])

    def handle_data(self, data):
        self.text.append(data)

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


def _page(out: Path, student: str) -> _Page:
    return _Page((out / "feedback" / student / "index.html").read_text())


def test_each_student_page_covers_every_week_with_scores_penalties_and_misconceptions(semester):
    assert sorted(p.parent.name for p in (semester / "feedback").glob("*/index.html")) == sorted(
        ["perfect", "late", "mistakes_1", "partial"])  # HOSTILE, with nothing graded, has no page
    perfect = _page(semester, "perfect").words
    assert ("Grades of Ada Lovelace, Countess" in perfect
            and "6 of 8 points over 2 graded assignments" in perfect)
    # week 1, from the gradebook
    assert "01_fixture feedback 2026-01-12 17:00 2026-01-12 16:00 3 / 4" in perfect
    assert "02_fixture feedback 2026-01-19 17:00 2026-01-19 16:00 3 / 4" in perfect
    assert "What your failed checks pointed to Every check passed." in perfect
    late = _page(semester, "late").words
    assert "2026-01-14 17:00 2 days late 0 / 4" in late and "late penalty −3 (3 before it)" in late
    assert "0 of 8 points" in late
    partial = _page(semester, "partial").words
    assert "01_fixture feedback 2026-01-12 17:00 2026-01-12 14:00 2 / 4" in partial
    assert "02_fixture feedback 2026-01-19 17:00 not submitted 0 / 4" in partial
    wrong = _page(semester, "mistakes_1").words
    assert ("the mean over terms instead of their sum named by 1 failed check: 01_fixture, "
            "test_total_log_prob" in wrong
            and "squared error is the likelihood only under Gaussian noise named by 1 failed "
                "check: 01_fixture, test_answer_objective" in wrong)


def test_student_pages_escape_names_and_ids_and_their_links_resolve(semester):
    for student in ("perfect", "late", "mistakes_1", "partial"):
        page = _page(semester, student)
        assert set(page.tags) <= {"html", "head", "meta", "title", "link", "style", "script",
                                  "body", "h1", "h2", "p", "b", "code", "table", "tr", "th", "td",
                                  "div", "span", "a", "br", "ol", "li"}
        folder = semester / "feedback" / student
        targets = [(folder / link).resolve() for link in page.links if not link.startswith("data:")]
        assert targets and all(t.is_file() for t in targets)
        assert (folder.parent / ".mathjax" / "MathJax.js").resolve() in targets
        assert {t.name for t in targets if t.suffix == ".html"} == {"01_fixture.html",
                                                                    "02_fixture.html"}
    # An id that is markup (a roster's: intake refuses it as a folder name) is text on its page.
    roster_only = SimpleNamespace(id=HOSTILE, first_name=None, last_name=None)
    hostile = _Page(student_page(roster_only, semester, [], [], {}, {}))
    assert ("img" not in hostile.tags
            and f"Grades of {HOSTILE} student id {HOSTILE}" in hostile.words)
    wrong = _page(semester, "mistakes_1")
    # MathJax's configuration and MathJax: the roster's <script> is text
    assert wrong.tags.count("script") == 2
    assert "Grades of <script>alert(1)</script> Line Break" in wrong.words


def test_export_names_what_is_wrong(semester, tmp_path, capsys):
    assert main(["export", str(tmp_path), "--format", "canvas", "--to",
                 str(tmp_path / "x.csv")]) == 2
    assert f"no gradebook at {tmp_path / 'gradebook.db'}" in capsys.readouterr().err
    assert not (tmp_path / "gradebook.db").exists()
    assert main(["export", str(semester), "--format", "moodle", "--to", str(tmp_path / "x.csv"),
                 "--assignment", "03_nope"]) == 2
    assert ("no assignment 03_nope in the gradebook (there are: 01_fixture, 02_fixture)"
            in capsys.readouterr().err)
    assert not (tmp_path / "x.csv").exists()


def test_a_notebook_the_grader_failed_on_is_not_graded_on_the_student_page(tmp_path):
    """nbgrader_rows leaves its score empty (the gradebook has no autograded score): the page says
    so, counts nothing for it and asks no one to grade its checks by hand."""
    student = SimpleNamespace(id="ada", first_name="Ada", last_name=None)
    week = SimpleNamespace(name="01_fixture", duedate=None, max_score=4.0)
    waiting = SimpleNamespace(name="01_fixture",
                              grades=[SimpleNamespace(needs_manual_grade=True)] * 3)
    submission = SimpleNamespace(timestamp=None, total_seconds_late=0, notebooks=[waiting])
    scores = {("ada", "01_fixture"): {"raw_score": None, "late_submission_penalty": 0.0,
                                      "score": None}}
    page = _Page(student_page(student, tmp_path, [], [week], {("ada", "01_fixture"): submission},
                              scores)).words
    assert "not graded yet / 4 the grader failed on it; it will be graded again" in page
    assert "0 of 4 points" in page and "to be graded by hand" not in page
