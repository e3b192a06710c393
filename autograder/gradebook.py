"""nbgrader's gradebook: recorded by the orchestrator alone, in batches, beside other runs, and
read back in plain rows.

Workers never open the gradebook: they hand their `NotebookResult` back to the orchestrator, which
records results in batches (`Recorder`): a few bulk statements and one transaction per batch, where
nbgrader's own calls (find-then-update per cell, a commit per row) cost 19 to 74 ms a notebook
(scripts/benchmark_bookkeeping.py). Every write is an update-or-create keyed by (student,
assignment, notebook, cell), so grading the same submissions again replaces scores and adds no row;
hand-entered manual scores are kept; late penalties are those of nbgrader's plugin, computed on
nbgrader's notebook score.

Several runs may write into one gradebook at once (two assignments, or two halves of a class, graded
on two machines into one PostgreSQL database). nbgrader's update-or-create is find-then-add, which
two runs can both take for add, so every write here is a transaction that first takes the
gradebook's write lock: PostgreSQL's advisory lock, or SQLite's own (BEGIN IMMEDIATE, which also
waits for nbgrader's own commands, formgrader included). nbgrader creates its tables on first use;
here that too happens under the lock. On another database (MySQL, ...) runs must not write into one
gradebook at once.

Reading: every query of nbgrader's tables is here too, each a function named for what it returns
(`nbgrader_rows`, `due_dates`, `submission_times`, `late_penalties`, `submissions_with_grades`), and
each a few queries whatever the size of the class: through nbgrader's objects, every submission
loads its student, assignment and scores a query at a time.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote_plus

import nbgrader
from nbgrader import utils
from nbgrader.api import (
    Assignment,
    Base,
    BaseCell,
    Gradebook,
    GradeCell,
    MissingEntry,
    Notebook,
    SolutionCell,
    Student,
    SubmittedAssignment,
    SubmittedNotebook,
    new_uuid,
)
from nbgrader.api import Comment as CommentRow
from nbgrader.api import Course as CourseRow
from nbgrader.api import Grade as GradeRow
from sqlalchemy import bindparam, create_engine, func, insert, inspect, select, text, update
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.orm import aliased, joinedload, selectinload
from sqlalchemy.pool import NullPool

from autograder.results import NotebookResult
from mlcourse.lessons import Lesson

COURSE_ID = "default_course"  # nbgrader's, when its config names none
LOCK_KEY = 0x6E6267726164  # PostgreSQL's advisory lock of autograder runs ("nbgrad")
SQLITE_WAIT = "60"  # seconds a run waits for another one's transaction (SQLite's default is 5)
# What add_submission creates for each cell of a notebook: grade rows for grade and task cells,
# comment rows for solution and task cells.
GRADED_TYPES = ("GradeCell", "TaskCell")
COMMENTED_TYPES = ("SolutionCell", "TaskCell")


class GradebookError(RuntimeError):
    """The gradebook cannot be opened; the message names it without its password."""


def default_db_url(out: Path) -> str:
    return f"sqlite:///{(out / 'gradebook.db').resolve()}"


def redacted(db_url: str) -> str:
    """The gradebook's URL as it may be printed or logged: any password replaced by ***."""
    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: show nothing of it
        return "<a database URL SQLAlchemy cannot read>"


def failure(error: Exception, db_url: str) -> str:
    """What went wrong with the gradebook, for the user: the driver's own sentence, never the
    password."""
    message = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    with contextlib.suppress(Exception):
        password = make_url(db_url).password
        if password:
            for form in {password, quote_plus(password), quote_plus(password).replace("+", "%20")}:
                message = message.replace(form, "***")
    return f"the gradebook {redacted(db_url)}: {message}"


def open_gradebook(db_url: str) -> Gradebook:
    """nbgrader's Gradebook on `db_url`, its tables created first (under the write lock) if the
    database has none."""
    try:
        url = make_url(db_url)
    except Exception:  # noqa: BLE001 - its text may hold the password: name none of it
        raise GradebookError("--db is not a database URL SQLAlchemy reads; the form is "
                             "postgresql://USER:PASSWORD@HOST/DATABASE "
                             "or sqlite:////absolute/path/gradebook.db") from None
    if url.get_backend_name() == "sqlite" and "timeout" not in url.query:
        url = url.update_query_dict({"timeout": SQLITE_WAIT})
    _create_tables(url)
    return Gradebook(url.render_as_string(hide_password=False))


def _create_tables(url: URL) -> None:
    """What nbgrader's Gradebook does on a database without tables (create them, stamp alembic's
    version, add the course), done under the write lock, so that two runs starting on a new
    gradebook do not both do it."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as db:
            _lock(db)
            new = not inspect(db).get_table_names()
            Base.metadata.create_all(db)
            if new:
                db.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
                db.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                           {"v": _alembic_head()})
            if db.scalar(select(CourseRow.id).where(CourseRow.id == COURSE_ID)) is None:
                db.execute(insert(CourseRow.__table__).values(id=COURSE_ID))
            db.commit()
    finally:
        engine.dispose()


def _alembic_head() -> str:
    """nbgrader's schema version, what its `get_alembic_version` reads from `alembic heads`: read
    here in-process (the program takes seconds to start; nbgrader runs it for every new
    gradebook)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(Path(nbgrader.__file__).parent / "alembic")).get_current_head()


def _lock(db: Connection) -> None:
    """Begin a transaction that holds the gradebook's write lock until it ends (waiting for it if
    need be)."""
    if db.dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    elif db.dialect.name == "sqlite":
        db.exec_driver_sql("BEGIN IMMEDIATE")  # SQLite's write lock, from the first statement on


@contextlib.contextmanager
def _writing(gb: Gradebook) -> Iterator:
    """gb's session in one transaction that holds the write lock; committed at the end, rolled
    back on an error."""
    gb.db.commit()  # the lock must begin the transaction
    try:
        _lock(gb.db.connection())
        yield gb.db
        gb.db.commit()
    except BaseException:
        gb.db.rollback()
        raise


def _define_assignment(db, name: str, lessons: list[Lesson], duedate: datetime | None) -> None:
    """The assignment's structure as `nbgrader generate_assignment` records it (update-or-create):
    notebooks, grade cells (autograded tests and written answers, with their points) and solution
    cells."""
    assignment = db.scalar(select(Assignment).where(Assignment.name == name))
    if assignment is None:
        assignment = Assignment(name, course_id=COURSE_ID)
        db.add(assignment)
    if duedate:
        assignment.duedate = utils.parse_utc(duedate)
    for lesson in lessons:
        notebook = next((n for n in assignment.notebooks if n.name == lesson.name), None)
        if notebook is None:
            notebook = Notebook(name=lesson.name, assignment=assignment)
            db.add(notebook)
        cells = {(c.type, c.name): c for c in notebook._base_cells}
        for cell in lesson.cells:  # in notebook order, as nbgrader records them
            if cell.kind in ("test", "written"):
                grade_cell = cells.get(("GradeCell", cell.grade_id))
                if grade_cell is None:
                    grade_cell = GradeCell(name=cell.grade_id, notebook=notebook)
                    db.add(grade_cell)
                grade_cell.max_score, grade_cell.cell_type = cell.points, cell.cell_type
            if cell.kind in ("answer", "written") and ("SolutionCell", cell.grade_id) not in cells:
                db.add(SolutionCell(name=cell.grade_id, notebook=notebook))
    db.flush()


def define_course(gb: Gradebook, course, students: list[str],
                  duedates: dict[str, datetime]) -> None:
    """Every assignment of `course` (an autograder.course.Course) and every student, before any
    grade: one transaction under the write lock, so that runs starting together create each row
    once."""
    with _writing(gb) as db:
        for assignment in course.assignments:
            _define_assignment(db, assignment, course.lessons(assignment), duedates.get(assignment))
        known = set(db.scalars(select(Student.id)))
        # In sorted order: nbgrader lists students by (empty) names, then in creation order.
        new = [{"id": student} for student in sorted(set(students) - known)]
        if new:
            db.execute(insert(Student.__table__), new)


@dataclass
class _Structure:
    """An assignment's rows that every submission of it refers to (they do not change during a
    run)."""

    id: str
    duedate: datetime | None
    notebooks: dict[str, str]  # name -> notebook id
    # (notebook id, grade cell name) -> cell id, grade cells before task cells
    cells: dict[tuple[str, str], str]
    # notebook id -> ids of the cells that get a grade
    graded: dict[str, list[str]] = field(default_factory=dict)
    # notebook id -> ids that get a comment
    commented: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, db, name: str) -> _Structure:
        assignment = db.execute(select(Assignment.id, Assignment.duedate)
                                .where(Assignment.name == name)).one()
        structure = cls(assignment.id, assignment.duedate, dict(db.execute(
            select(Notebook.name, Notebook.id)
            .where(Notebook.assignment_id == assignment.id)).all()), {})
        cells = db.execute(
            select(BaseCell.id, BaseCell.name, BaseCell.type, BaseCell.notebook_id)
            .where(BaseCell.notebook_id.in_(list(structure.notebooks.values())))).all()
        # find_grade: a grade cell, else a task cell
        for cell in sorted(cells, key=lambda c: c.type != "GradeCell"):
            if cell.type in GRADED_TYPES:
                structure.cells.setdefault((cell.notebook_id, cell.name), cell.id)
                structure.graded.setdefault(cell.notebook_id, []).append(cell.id)
            if cell.type in COMMENTED_TYPES:
                structure.commented.setdefault(cell.notebook_id, []).append(cell.id)
        return structure


def score(auto: float | None, manual: float | None, extra: float | None) -> float:
    """A grade's score as nbgrader's `Grade.score` computes it: the manual score if any, else the
    automatic one, plus any extra credit; 0 when neither is set."""
    if manual is not None:
        return manual + (extra or 0.0)
    if auto is not None:
        return auto + (extra or 0.0)
    return 0.0


class Recorder:
    """Records results in the gradebook in batches. `add` each result as it arrives; a batch is
    written when it holds `size` results or `seconds` have passed since the last write (so a slow
    class still shows up as it is graded); `flush` writes the rest. Results not yet written are in
    OUT/results: a run stopped before its last batch records them when it is run again."""

    def __init__(self, gb: Gradebook, plugin, size: int = 500, seconds: float = 1.0):
        self.gb, self.plugin, self.size, self.seconds = gb, plugin, size, seconds
        self.pending: list[tuple[NotebookResult, datetime | None, bool]] = []
        self.structures: dict[str, _Structure] = {}
        self.written = time.monotonic()
        self.busy = 0.0  # seconds spent writing, for the run's figures

    def add(self, result: NotebookResult, timestamp: datetime | None,
            missing: bool = False) -> None:
        """`result`, submitted at `timestamp` (None: unknown); `missing`: the student handed in no
        notebook."""
        self.pending.append((result, timestamp, missing))
        if len(self.pending) >= self.size or time.monotonic() - self.written >= self.seconds:
            self.flush()

    def flush(self) -> None:
        start = time.monotonic()
        if self.pending:
            with _writing(self.gb) as db:
                self._write(db, self.pending)
        self.pending, self.written = [], time.monotonic()
        self.busy += self.written - start

    def _structure(self, db, assignment: str) -> _Structure:
        if assignment not in self.structures:
            self.structures[assignment] = _Structure.load(db, assignment)
        return self.structures[assignment]

    def _write(self, db, batch: list[tuple[NotebookResult, datetime | None, bool]]) -> None:
        """One batch: a query for its submissions (rows added for those that have none yet), one for
        their notebooks and grades, then one statement per table updating every row of the batch."""
        structures = {r.assignment: self._structure(db, r.assignment) for r, _, _ in batch}
        times = {(r.student, r.assignment): utils.parse_utc(when) for r, when, _ in batch}
        submissions = _submissions(db, structures, times)
        new = [(student, structures[assignment], when)
               for (student, assignment), when in times.items()
               if (student, assignment) not in submissions]
        if new:
            _add_submissions(db, new)
            submissions = _submissions(db, structures, times)
        # (submission id, notebook id) -> its id; and -> {cell id: grade row}
        notebooks, grades = {}, {}
        for row in db.execute(select(SubmittedNotebook.id.label("notebook"),
                                     SubmittedNotebook.assignment_id,
                                     SubmittedNotebook.notebook_id, GradeRow.id, GradeRow.cell_id,
                                     GradeRow.auto_score, GradeRow.manual_score,
                                     GradeRow.extra_credit)
                              .outerjoin(GradeRow, GradeRow.notebook_id == SubmittedNotebook.id)
                              .where(SubmittedNotebook.assignment_id.in_(
                                  [s.id for s in submissions.values()]))):
            key = row.assignment_id, row.notebook_id
            notebooks[key] = row.notebook
            if row.id is not None:
                grades.setdefault(key, {})[row.cell_id] = row
        grade_updates, notebook_updates = [], []
        for result, _, missing in batch:
            structure, submission = (structures[result.assignment],
                                     submissions[result.student, result.assignment])
            key = submission.id, structure.notebooks[result.notebook]
            scores, total = _scores(result, missing, structure, grades.get(key, {}))
            grade_updates += scores
            penalty = self._penalty(result.student, total, submission, structure,
                                    times[result.student, result.assignment])
            notebook_updates.append({"b_id": notebooks[key], "b_flagged": bool(result.problems),
                                     "b_late_submission_penalty": penalty})
        _update(db, SubmittedAssignment, [{"b_id": submissions[key].id, "b_timestamp": when}
                                          for key, when in times.items()])
        _update(db, GradeRow, grade_updates)
        _update(db, SubmittedNotebook, notebook_updates)

    def _penalty(self, student: str, total: float, submission, structure: _Structure,
                 when: datetime | None) -> float | None:
        """nbgrader's late penalty (AssignLatePenalties): the plugin's, on the notebook's score,
        between 0 and it."""
        duedate = structure.duedate
        if duedate is not None and submission.extension is not None:
            duedate = duedate + submission.extension
        late = (0.0 if when is None or duedate is None
                else max(0.0, (when - duedate).total_seconds()))
        if late <= 0:
            return None
        penalty = self.plugin.late_submission_penalty(student, total, late)
        return None if penalty is None else min(max(penalty, 0.0), total)


def _add_submissions(db, new: list[tuple[str, _Structure, datetime | None]]) -> None:
    """nbgrader's add_submission for each (student, assignment, timestamp): the submission, its
    notebooks, a grade row per grade and task cell, a comment row per solution and task cell."""
    rows = {"submitted": [], "notebooks": [], "grades": [], "comments": []}
    for student, structure, when in new:
        submission = new_uuid()
        rows["submitted"].append({"id": submission, "assignment_id": structure.id,
                                  "student_id": student,
                                  "timestamp": when})
        for notebook_id in structure.notebooks.values():
            notebook = new_uuid()
            rows["notebooks"].append({"id": notebook, "assignment_id": submission,
                                      "notebook_id": notebook_id,
                                      "flagged": False})
            rows["grades"] += [{"id": new_uuid(), "notebook_id": notebook, "cell_id": cell,
                                "needs_manual_grade": True}
                               for cell in structure.graded.get(notebook_id, [])]
            rows["comments"] += [{"id": new_uuid(), "notebook_id": notebook, "cell_id": cell}
                                 for cell in structure.commented.get(notebook_id, [])]
    tables = {"submitted": SubmittedAssignment, "notebooks": SubmittedNotebook, "grades": GradeRow,
              "comments": CommentRow}
    for name, table in tables.items():  # parents first: PostgreSQL checks every foreign key
        if rows[name]:
            db.execute(insert(table.__table__), rows[name])


def _scores(result: NotebookResult, missing: bool, structure: _Structure,
            rows: dict) -> tuple[list[dict], float]:
    """The updates of one notebook's grade rows ({cell id: row}), and the notebook's score after
    them: an autograded cell gets its points; a written answer waits for a human (0 if nothing was
    submitted), and keeps a manual score it has."""
    def row(grade_id: str):
        cell = structure.cells.get((structure.notebooks[result.notebook], grade_id))
        if cell not in rows:
            raise MissingEntry(f"No such grade: {result.assignment}/{result.notebook}/{grade_id} "
                               f"for {result.student}")
        return rows[cell]

    # A notebook the grader failed on is not graded: no autograded score, and nbgrader's "needs
    # manual grade" flag (formgrader lists it; exports leave its score empty), never a 0 that reads
    # as a grade.
    failed = result.grader_error is not None
    auto = {row(check.grade_id).id: (None, True) if failed else (check.points, False)
            for check in result.checks}
    for grade_id in result.manual:
        written = row(grade_id)
        auto[written.id] = (0.0 if missing else None, written.manual_score is None and not missing)
    total = sum(score(auto[r.id][0] if r.id in auto else r.auto_score, r.manual_score,
                      r.extra_credit)
                for r in rows.values())
    return [{"b_id": g, "b_auto_score": a, "b_needs_manual_grade": n}
            for g, (a, n) in auto.items()], total


def _submissions(db, structures: dict[str, _Structure],
                 times: dict[tuple[str, str], datetime | None]) -> dict:
    """{(student, assignment name): its submission's row (id, extension)} of the batch's pairs that
    have one."""
    names = {s.id: name for name, s in structures.items()}
    rows = db.execute(select(SubmittedAssignment.id, SubmittedAssignment.student_id,
                             SubmittedAssignment.assignment_id,
                             SubmittedAssignment.extension)
                      .where(SubmittedAssignment.assignment_id.in_(list(names)),
                             SubmittedAssignment.student_id.in_({student for student, _ in times})))
    found = {(row.student_id, names[row.assignment_id]): row for row in rows}
    return {key: found[key] for key in times if key in found}


def _update(db, table, rows: list[dict]) -> None:
    """One executemany UPDATE of `table` (an nbgrader class): each row's b_id says which, its other
    b_<column>s the new values."""
    if rows:
        columns = table.__table__.c
        db.execute(update(table.__table__).where(columns.id == bindparam("b_id"))
                   .values({name[2:]: bindparam(name) for name in rows[0] if name != "b_id"}), rows)


def nbgrader_rows(gb: Gradebook, assignments: list[str] | None = None,
                  students: list[str] | None = None) -> list[dict]:
    """One row per (assignment, student) of the gradebook (of `assignments` and `students` only,
    when given), as `nbgrader export` computes it, in its order on SQLite (assignments by due date,
    none first, then name; students by last and first name, then id). Three queries whatever the
    size of the class, where nbgrader's export makes three per row."""
    scope = None if students is None else set(students)
    chosen = [a for a in gb.db.execute(select(Assignment.id, Assignment.name, Assignment.duedate,
                                              Assignment.max_score))
              if assignments is None or a.name in assignments]
    chosen.sort(key=lambda a: (a.duedate is not None, a.duedate or datetime.min, a.name))
    roster = [s for s in gb.db.execute(select(Student.id, Student.last_name, Student.first_name,
                                              Student.email))
              if scope is None or s.id in scope]
    roster.sort(key=lambda s: (s.last_name or "", s.first_name or "", s.id))
    submitted = {(s.assignment_id, s.student_id): s
                 for s in gb.db.execute(_submission_scores([a.id for a in chosen]))}
    rows = []
    for assignment in chosen:
        for student in roster:
            row = {"assignment": assignment.name, "duedate": assignment.duedate,
                   "student_id": student.id, "last_name": student.last_name,
                   "first_name": student.first_name, "email": student.email,
                   "max_score": assignment.max_score}
            submission = submitted.get((assignment.id, student.id))
            if submission is None:  # nothing submitted: nbgrader exports a zero
                row.update(timestamp=None, raw_score=0.0, late_submission_penalty=0.0, score=0.0)
            # the grader failed on it: an empty score, never a 0 that reads as a grade
            elif submission.not_graded:
                row.update(timestamp=submission.timestamp, raw_score=None,
                           late_submission_penalty=submission.penalty, score=None)
            else:
                row.update(timestamp=submission.timestamp, raw_score=submission.score,
                           late_submission_penalty=submission.penalty,
                           score=max(0.0, submission.score - submission.penalty))
            rows.append(row)
    return rows


def _submission_scores(assignment_ids: list[str]):
    """Each submission of these assignments with nbgrader's SubmittedAssignment.score (the sum of
    its grades' scores) and late_submission_penalty (the sum of its notebooks'), summed per
    submission in grouped queries rather than nbgrader's correlated subquery per row; and
    `not_graded`, its autograded cells (grade cells that are no answer's) that have no score at all,
    which only a notebook the grader failed on leaves (`_scores`)."""
    # both are rows of nbgrader's base_cell table: one needs its own alias
    solution = aliased(SolutionCell)
    answers = select(solution.id).where(solution.name == GradeCell.name,
                                        solution.notebook_id == GradeCell.notebook_id).exists()
    ungraded = (select(SubmittedNotebook.assignment_id.label("submission"),
                       func.count().label("cells"))
                .join(GradeRow, GradeRow.notebook_id == SubmittedNotebook.id)
                .join(GradeCell, GradeCell.id == GradeRow.cell_id)
                .where(GradeRow.auto_score.is_(None), GradeRow.manual_score.is_(None), ~answers)
                .group_by(SubmittedNotebook.assignment_id).subquery())
    scores = (select(SubmittedNotebook.assignment_id.label("submission"),
                     func.sum(GradeRow.score).label("score"))
              .join(GradeRow, GradeRow.notebook_id == SubmittedNotebook.id)
              .group_by(SubmittedNotebook.assignment_id)
              .subquery())
    penalties = (select(SubmittedNotebook.assignment_id.label("submission"),
                        func.sum(SubmittedNotebook.late_submission_penalty).label("penalty"))
                 .group_by(SubmittedNotebook.assignment_id).subquery())
    return (select(SubmittedAssignment.assignment_id, SubmittedAssignment.student_id,
                   SubmittedAssignment.timestamp, func.coalesce(scores.c.score, 0.0).label("score"),
                   func.coalesce(penalties.c.penalty, 0.0).label("penalty"),
                   (func.coalesce(ungraded.c.cells, 0) > 0).label("not_graded"))
            .outerjoin(scores, scores.c.submission == SubmittedAssignment.id)
            .outerjoin(penalties, penalties.c.submission == SubmittedAssignment.id)
            .outerjoin(ungraded, ungraded.c.submission == SubmittedAssignment.id)
            .where(SubmittedAssignment.assignment_id.in_(assignment_ids)))


def graded_assignments(gb: Gradebook, assignments: list[str] | None = None) -> list[str]:
    """The gradebook's assignments with a recorded submission (of `assignments` only, when given),
    in its order.

    Raises ValueError naming the gradebook's assignments when one of `assignments` is not among
    them."""
    known = [a.name for a in gb.assignments]
    unknown = sorted(set(assignments or ()) - set(known))
    if unknown:
        raise ValueError(f"no assignment {', '.join(unknown)} in the gradebook "
                         f"(there are: {', '.join(known) or 'none'})")
    return [a.name for a in gb.assignments if a.num_submissions
            and (assignments is None or a.name in assignments)]


def due_dates(gb: Gradebook) -> dict[str, datetime | None]:
    """{assignment: its due date} of every assignment."""
    return dict(gb.db.execute(select(Assignment.name, Assignment.duedate)).all())


def submission_times(gb: Gradebook) -> dict[tuple[str, str], datetime | None]:
    """{(student, assignment): when it was submitted} of every submission."""
    return {(row.student_id, row.name): row.timestamp for row in gb.db.execute(
        select(SubmittedAssignment.student_id, Assignment.name, SubmittedAssignment.timestamp)
        .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id))}


def late_penalties(gb: Gradebook) -> dict[tuple[str, str, str], float]:
    """{(student, assignment, notebook): its late penalty in points} of every notebook that has
    one."""
    return {(row.student_id, row.assignment, row.notebook): row.penalty for row in gb.db.execute(
        select(SubmittedAssignment.student_id, Assignment.name.label("assignment"),
               Notebook.name.label("notebook"),
               SubmittedNotebook.late_submission_penalty.label("penalty"))
        .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
        .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id)
        .join(Notebook, SubmittedNotebook.notebook_id == Notebook.id)
        .where(SubmittedNotebook.late_submission_penalty > 0))}


def submissions_with_grades(gb: Gradebook) -> dict[tuple[str, str], SubmittedAssignment]:
    """{(student, assignment): its submission} of every submission, each with its student,
    assignment, notebooks and their grades loaded, in three queries. Their scores are nbgrader's
    correlated subqueries, a query each: `nbgrader_rows` has them in three for the class."""
    query = gb.db.query(SubmittedAssignment).options(
        joinedload(SubmittedAssignment.assignment), joinedload(SubmittedAssignment.student),
        selectinload(SubmittedAssignment.notebooks).selectinload(SubmittedNotebook.grades))
    return {(s.student.id, s.assignment.name): s for s in query}
