"""Intake, the first stage: find the submissions of a class and read them without trusting them.

    SUBMISSIONS/<student_id>/<assignment>/<notebook>.ipynb   (nbgrader's submitted layout)
    SUBMISSIONS/<student_id>.zip                              (the same layout inside a zip)
    SUBMISSIONS/<login>_<id>_<submission>_<notebook>.ipynb    (a flat LMS download, as Canvas
                                                               names files)

`discover` returns, for every student found and every notebook of the course, a `Submission`:
the file to grade, or None when it was not submitted or cannot be used (`problem` says why).
Everything below SUBMISSIONS is the students' and treated as hostile:

- no symbolic link is ever followed: folders and files are opened one path component at a time
  with O_NOFOLLOW (`open_beneath`), so a linked student folder, assignment folder or notebook is
  refused with a problem line and nothing it points to is read;
- whatever one student's files raise (archives, names, encodings, times) becomes a problem line
  for that student, and the class goes on;
- a zip is checked whole before anything is written, and unpacked into the grader's own folder;
- a student id (a folder's, a zip's or an LMS file's name) is letters, digits and `. _ - @ +`, or
  it is refused with a problem line that shows it escaped; nothing is graded for it;
- one assignment handed in twice (a folder and a zip of one id, a flat LMS download beside them, or
  an LMS file uploaded again) gives one submission, always with a problem line: the later by the
  collecting side's evidence, or, with none, no submission at all (never whichever was read last);
- file times are never evidence: a submission time comes from the collecting side only, a
  `timestamp.txt` that `nbgrader collect` left in nbgrader's layout, or an LMS's file of
  submission times (`--times`); otherwise the time is unknown (and no late penalty applies).
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import stat
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath

import nbformat
from nbformat.warnings import DuplicateCellId, MissingIDFieldWarning

from autograder.course import Course

# The largest submitted file read from the submissions folder into memory at all (a notebook, its
# timestamp.txt); engine.MAX_PARSED_NOTEBOOK_BYTES, smaller, caps the notebooks that are parsed.
MAX_READ_FILE_BYTES = 50 << 20
MAX_ZIP_BYTES = 200 << 20  # unpacked, all members together
MAX_ZIP_MEMBERS = 2000
MAX_NAME_BYTES = 255  # one path component, as Linux file systems allow
# Canvas's "Download submissions": <login>[_late]_<user id>_<file number>_<file name>. Canvas
# numbers every uploaded file in order, and names a file handed in again under the same name
# <name>-1, -2, ...
LMS_NAME = re.compile(r"^(?P<student>[^_]+?)(?:_late)?_(?P<user>\d+)_(?P<number>\d+)"
                      r"_(?P<file>.+)\.ipynb$")
FLAT_HELP = ("a notebook at the top of SUBMISSIONS must be named as an LMS downloads it, "
             "<login>_<id>_<submission>_<notebook>.ipynb, or be moved to "
             "<student>/<assignment>/<notebook>.ipynb")
# Characters: nbgrader's gradebook column (a database server refuses longer ones).
MAX_STUDENT_ID = 128
# A student id names folders and gradebook rows and is shown in formgrader, feedback and the report:
# letters and digits (any script), and the . _ - @ + of nbgrader's and LMS logins and emails; no
# leading . or -.
STUDENT_ID = re.compile(rf"\w[\w.@+-]{{0,{MAX_STUDENT_ID - 1}}}")
ID_HELP = (f"a student id is 1 to {MAX_STUDENT_ID} letters, digits and . _ - @ +, not starting "
           "with . or -")
SHOWN = re.compile(r"[\w.@+\-,() ]")  # shown as they are in problem lines; anything else is escaped
CLOCK_SKEW = timedelta(minutes=5)
COLLECTED = "timestamp.txt, as nbgrader collect left it"
UNKNOWN = "unknown (no timestamp.txt and no times file)"


class IntakeError(ValueError):
    """A submitted file or folder that cannot be used as it is; the message says why, for the
    student."""


@dataclass(frozen=True)
class SubmissionTime:
    """When an assignment was submitted (naive UTC, as nbgrader stores it), and where that came
    from."""

    when: datetime | None
    source: str


@dataclass(frozen=True)
class Submission:
    """One notebook of one student: the instructor's `source` and the file submitted for it."""

    student: str
    assignment: str
    source: Path
    # A folder of the grader's (SUBMISSIONS, or where a zip was unpacked), and the student's path
    # below it, opened without following links.
    base: Path | None = None
    parts: tuple[str, ...] = ()
    problem: str | None = None  # why it was refused; None with no base: not submitted

    @property
    def notebook(self) -> str:
        return self.source.stem

    @property
    def name(self) -> str:
        return f"{self.student}/{self.assignment}/{self.notebook}"

    @property
    def submitted(self) -> bool:
        return self.base is not None or self.problem is not None

    def read(self) -> bytes | None:
        """The submitted file's bytes (None when there is none); IntakeError when it cannot be
        used."""
        if self.problem is not None:
            raise IntakeError(self.problem)
        return None if self.base is None else read_file(self.base, self.parts)


@dataclass
class Intake:
    """What was found in SUBMISSIONS."""

    submissions: list[Submission] = field(default_factory=list)
    # (student, assignment)
    times: dict[tuple[str, str], SubmissionTime] = field(default_factory=dict)
    # Files and folders that are not part of any grade.
    problems: list[str] = field(default_factory=list)
    # (student, assignment): the submission_secret.txt `nbgrader submit` wrote and collect copied;
    # nbgrader's release_feedback names the student's feedback by it, so that only their
    # fetch_feedback finds it
    secrets: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def students(self) -> list[str]:
        return sorted({s.student for s in self.submissions})


# --- opening below a folder without following links ---------------------------------------------

def open_beneath(base: Path, parts: tuple[str, ...], directory: bool = False) -> int:
    """A file descriptor for base/parts[0]/.../parts[-1], opened one component at a time with
    O_NOFOLLOW, so that no component may be a symbolic link; IntakeError naming the link
    otherwise."""
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            # O_NONBLOCK: opening a FIFO planted where a notebook should be must not wait for a
            # writer.
            flags = (os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
                     | (os.O_DIRECTORY if directory or not last else 0))
            try:
                child = os.open(part, flags, dir_fd=fd)
            except OSError as error:
                raise _refusal(fd, parts[: i + 1], error) from None
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


def _refusal(fd: int, parts: tuple[str, ...], error: OSError) -> IntakeError:
    where = "/".join(parts)
    try:
        info = os.lstat(parts[-1], dir_fd=fd)
    except OSError:
        info = None
    if info is not None and stat.S_ISLNK(info.st_mode):
        return IntakeError(f"{where} is a symbolic link; links in submissions are not followed")
    if error.errno == errno.ENOTDIR or (info is not None and error.errno == errno.ELOOP):
        return IntakeError(f"{where} is not a folder")
    return IntakeError(f"{where} cannot be read ({error.strerror})")


def read_file(base: Path, parts: tuple[str, ...]) -> bytes:
    """A submitted regular file's bytes, never through a link, at most MAX_READ_FILE_BYTES."""
    fd = open_beneath(base, parts)
    info, name = os.fstat(fd), parts[-1]
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise IntakeError(f"{name} is not a regular file")
    with os.fdopen(fd, "rb") as file:
        if info.st_size == 0:
            raise IntakeError(f"{name} is empty (0 bytes)")
        if info.st_size > MAX_READ_FILE_BYTES:
            raise IntakeError(f"{name} is {info.st_size} bytes, more than the "
                              f"{MAX_READ_FILE_BYTES} a notebook may have")
        return file.read(MAX_READ_FILE_BYTES + 1)


def _entries(base: Path, parts: tuple[str, ...]) -> dict[str, str]:
    """{name: "dir", "file", "link" or "other"} of a folder opened without following links."""
    fd = open_beneath(base, parts, directory=True)
    try:
        kinds = {}
        with os.scandir(fd) as scan:
            for entry in scan:
                kinds[entry.name] = ("link" if entry.is_symlink()
                                     else "dir" if entry.is_dir(follow_symlinks=False)
                                     else "file" if entry.is_file(follow_symlinks=False)
                                     else "other")
        return kinds
    finally:
        os.close(fd)


# --- discovery -----------------------------------------------------------------------------------

@dataclass
class _Source:
    """One entry of SUBMISSIONS that holds a student's work (a folder, a zip, or their files of a
    flat LMS download), read as if it were their only one; `_reconcile` then keeps one source per
    assignment."""

    # The folder or zip as SUBMISSIONS lists it; None: the student's flat LMS files.
    entry: str | None
    found: Intake = field(default_factory=Intake)  # its submissions, problems and secrets
    # assignment: collect's timestamp.txt
    collected: dict[str, datetime] = field(default_factory=dict)

    def holds(self, assignment: str) -> bool:
        return any(s.submitted for s in self.found.submissions if s.assignment == assignment)

    def files(self, assignment: str) -> tuple[str, ...]:
        """The names in SUBMISSIONS a times file's `file` column gives the time of this hand-in
        by."""
        if self.entry is not None:
            return (self.entry,)
        return tuple(s.parts[0] for s in self.found.submissions
                     if s.assignment == assignment and s.parts)

    def label(self, assignment: str) -> str:
        if self.entry is None:
            return ", ".join(self.files(assignment))
        return self.entry if self.entry.endswith(".zip") else f"{self.entry}/"


@dataclass(frozen=True)
class _Upload:
    """A file of a flat LMS download, by its name."""

    name: str
    student: str
    user: str  # the LMS's user id
    number: int  # Canvas numbers uploaded files in order
    notebook: str  # the file name the student handed in, without Canvas's -N ...
    copy: int  # ... which was that N (0: none)


def discover(submissions: Path, course: Course, unpack_to: Path,
             times_file: Path | None = None) -> Intake:
    """Every notebook of the course for every student found in SUBMISSIONS (zips unpacked into
    `unpack_to`)."""
    if not submissions.is_dir():
        raise FileNotFoundError(f"no submissions folder {submissions}")
    intake = Intake()
    lms_times = read_times_file(times_file) if times_file else {}
    notebooks = {s.name for a in course.assignments for s in course.sources(a)}
    sources: dict[str, list[_Source]] = {}
    uploads: dict[str, list[_Upload]] = {}
    # Sorted: what is graded never depends on the order the file system lists entries in.
    for number, (name, kind) in enumerate(sorted(_entries(submissions, ()).items())):
        student = name[: -len(".zip")] if kind == "file" and name.endswith(".zip") else name
        if name.startswith("."):
            continue
        if name.endswith(".ipynb"):
            upload = _lms_upload(name, notebooks)
            if upload is None:
                intake.problems.append(f"{shown(name)}: ignored ({FLAT_HELP})")
            elif not valid_id(upload.student):
                intake.problems.append(
                    f"{shown(name)}: ignored (its login is not a student id: {ID_HELP})")
            else:
                uploads.setdefault(upload.student, []).append(upload)
        elif not valid_id(student):
            intake.problems.append(f"{shown(name)}: ignored (not a student id: {ID_HELP})")
        elif kind == "link":
            intake.problems.append(f"{name}: ignored (a symbolic link; links are not followed)")
        elif kind == "dir":
            sources.setdefault(student, []).append(
                _student(course, student, name, submissions, (name,), True))
        elif kind == "file" and name.endswith(".zip"):
            try:
                folder = _unpack(submissions / name, unpack_to / f"zip-{number}-{student[:100]}")
            except IntakeError as error:
                intake.problems.append(f"{name}: not graded: {error}")
                continue
            sources.setdefault(student, []).append(
                _student(course, student, name, folder, (), False))
        else:
            intake.problems.append(f"{name}: ignored (neither a student folder nor a .zip)")
    for student in sorted(sources.keys() | uploads.keys()):
        flat = ([_flat(course, submissions, student, uploads[student], lms_times)]
                if student in uploads else [])
        _reconcile(intake, course, student, sources.get(student, []) + flat, lms_times)
    if not intake.submissions:
        raise ValueError(f"{submissions} holds no submissions: expected nbgrader's "
                         "<student>/<assignment>/<notebook>.ipynb, <student>.zip files, or an LMS "
                         "download" + (f" ({len(intake.problems)} other entries ignored, e.g. "
                                       f"{intake.problems[0]})" if intake.problems else ""))
    return intake


def valid_id(student: str) -> bool:
    return STUDENT_ID.fullmatch(student) is not None


def shown(name: str, limit: int = 160) -> str:
    """A name from SUBMISSIONS as a problem line shows it: every character outside SHOWN (markup,
    quotes, slashes, control and format characters) written as a Python escape, \\x3c for <."""
    text = "".join(c if SHOWN.fullmatch(c) else f"\\x{ord(c):02x}" if ord(c) < 0x100
                   else f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}"
                   for c in name)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reconcile(intake: Intake, course: Course, student: str, sources: list[_Source],
               lms_times: dict) -> None:
    """One submission per assignment from a student's sources: the only one that holds it, else the
    later by the collecting side's evidence; with none, every copy is refused. Each choice is a
    problem line."""
    for source in sources:
        intake.problems += source.found.problems
    for assignment in course.assignments:
        holders = [s for s in sources if s.holds(assignment)]
        chosen = holders[0] if len(holders) == 1 else None if holders else sources[0]
        if len(holders) > 1:
            chosen, line = _later(student, assignment, holders, lms_times)
            intake.problems.append(line)
        if chosen is None:
            reason = (f"handed in {len(holders)} times "
                      f"({'; '.join(s.label(assignment) for s in holders)}) with "
                      "nothing to say which is the later; none was graded")
            intake.submissions += [Submission(student, assignment, notebook, problem=reason)
                                   for notebook in course.sources(assignment)]
            intake.times[student, assignment] = _time(lms_times, student, assignment, None)
            continue
        intake.submissions += [s for s in chosen.found.submissions if s.assignment == assignment]
        intake.times[student, assignment] = _time(lms_times, student, assignment, chosen)
        if (student, assignment) in chosen.found.secrets:
            intake.secrets[student, assignment] = chosen.found.secrets[student, assignment]


def _later(student: str, assignment: str, holders: list[_Source],
           lms_times: dict) -> tuple[_Source | None, str]:
    """The source whose hand-in of the assignment is the latest by evidence (the times file's rows
    for its files, or collect's timestamp.txt), or None when one has none or two tie; and the
    problem line."""
    evidence = [_evidence(s, student, assignment, lms_times) for s in holders]
    said = "; ".join(f"{s.label(assignment)} "
                     + (f"at {e[0]:%Y-%m-%d %H:%M:%S} UTC by {e[1]}" if e else "at an "
                        "unknown time") for s, e in zip(holders, evidence))
    known = sorted(e[0] for e in evidence if e)
    if len(known) == len(holders) and known[-1] > known[-2]:
        chosen = holders[[e[0] if e else None for e in evidence].index(known[-1])]
        return chosen, (f"{student}/{assignment}: handed in {len(holders)} times ({said}); the "
                        f"latest, {chosen.label(assignment)}, is graded")
    return None, (f"{student}/{assignment}: not graded: handed in {len(holders)} times ({said}), "
                  "and nothing says which is the later (collect's timestamp.txt, or a times file "
                  "with a `file` column); keep one, or give their times")


def _evidence(source: _Source, student: str, assignment: str,
              lms_times: dict) -> tuple[datetime, str] | None:
    """When the source's hand-in of the assignment was made, by the collecting side: the times
    file's rows for its files, else collect's timestamp.txt (a student-wide row of the times file
    tells no copy apart)."""
    own = _file_time(lms_times, student, assignment, source.files(assignment))
    if own is None and assignment in source.collected:
        return source.collected[assignment], COLLECTED
    return own


def _student(course: Course, student: str, entry: str, base: Path, parts: tuple[str, ...],
             collected: bool) -> _Source:
    """A student folder or zip: a Submission for each of the course's notebooks, times, secrets,
    stray files.

    Isolated: whatever this student's files raise is recorded for this student, and grading goes
    on."""
    source = _Source(entry)
    found: list[Submission] = []
    try:
        problems = [f"{entry}/{p}" for p in links_below(base, parts)]
        entries = _entries(base, parts)
        problems += [f"{entry}/{shown(name)}: ignored (no assignment of that name)"
                     for name, kind in sorted(entries.items())
                     if kind == "dir" and not course.is_assignment(name)
                     and not name.startswith(".")]
        for assignment in course.assignments:
            sources = course.sources(assignment)
            kind = entries.get(assignment)
            if kind is None:
                found += [Submission(student, assignment, s) for s in sources]
                continue
            if kind != "dir":
                reason = (f"{assignment} is a symbolic link; links in submissions are not followed"
                          if kind == "link" else f"{assignment} is not a folder")
                found += [Submission(student, assignment, s, problem=reason) for s in sources]
                continue
            folder = (*parts, assignment)
            notebooks = _entries(base, folder)
            expected = {s.name for s in sources}
            problems += [f"{entry}/{assignment}/{shown(name)}: ignored (not a notebook of "
                         f"{assignment})"
                         for name in sorted(notebooks)
                         if name.endswith(".ipynb") and name not in expected]
            for notebook in sources:
                # A link or a folder is read_file's to refuse, with a record.
                present = notebook.name in notebooks
                found.append(Submission(student, assignment, notebook, base if present else None,
                                        (*folder, notebook.name) if present else ()))
            stamp = _collected_time(base, folder, notebooks) if collected else (None, None)
            problems += [f"{entry}/{assignment}: {stamp[1]}"] if stamp[1] else []
            if stamp[0] is not None:
                source.collected[assignment] = stamp[0]
            secret = _collected_secret(base, folder, notebooks) if collected else (None, None)
            problems += [f"{entry}/{assignment}: {secret[1]}"] if secret[1] else []
            if secret[0]:
                source.found.secrets[student, assignment] = secret[0]
    except Exception as error:  # noqa: BLE001 - one student's files never stop the class
        found = [Submission(student, a, s, problem=f"the submission could not be read "
                                                   f"({type(error).__name__}: {str(error)[:200]})")
                 for a in course.assignments for s in course.sources(a)]
        problems = [f"{entry}: not graded: its files could not be read "
                    f"({type(error).__name__}: {str(error)[:200]})"]
    source.found.submissions, source.found.problems = found, problems
    return source


def _lms_upload(name: str, notebooks: set[str]) -> _Upload | None:
    """A flat LMS file by its name (None when it is not named as Canvas names files), Canvas's -N
    set apart from the notebook's name unless the course has a notebook of the name with it."""
    match = LMS_NAME.match(name)
    if match is None:
        return None
    file, copy = match["file"], 0
    again = re.fullmatch(r"(?P<file>.+)-(?P<copy>\d{1,9})", file)
    if again and f"{file}.ipynb" not in notebooks:
        file, copy = again["file"], int(again["copy"])
    return _Upload(name, match["student"], match["user"], int(match["number"]), f"{file}.ipynb",
                   copy)


def _flat(course: Course, base: Path, student: str, uploads: list[_Upload],
          lms_times: dict) -> _Source:
    """A student's files of a flat LMS download: for each notebook of the course, the latest
    upload."""
    source = _Source(None)
    users = sorted({u.user for u in uploads})
    by_notebook: dict[str, list[_Upload]] = {}
    for upload in sorted(uploads, key=lambda u: u.name):
        by_notebook.setdefault(upload.notebook, []).append(upload)
    known = {s.name for a in course.assignments for s in course.sources(a)}
    source.found.problems += [f"{shown(u.name)}: ignored (no notebook of the course is named "
                              f"{shown(notebook)})"
                              for notebook in sorted(set(by_notebook) - known)
                              for u in by_notebook[notebook]]
    if len(users) > 1:
        source.found.problems.append(f"{student}: not graded: the LMS download holds the files of "
                                     f"{len(users)} users ({', '.join(users)}) under this one "
                                     "name; grade them apart")
    for assignment in course.assignments:
        for notebook in course.sources(assignment):
            candidates = by_notebook.get(notebook.name, [])
            if not candidates:
                source.found.submissions.append(Submission(student, assignment, notebook))
            elif len(users) > 1:
                source.found.submissions.append(Submission(
                    student, assignment, notebook,
                    problem=f"the LMS download holds the files of {len(users)} users under this "
                            "student's name; none was graded"))
            else:
                latest, problems = _latest(student, assignment, candidates, lms_times)
                source.found.problems += problems
                source.found.submissions.append(
                    Submission(student, assignment, notebook, base, (latest.name,)) if latest else
                    Submission(student, assignment, notebook,
                               problem=f"uploaded {len(candidates)} times with nothing to say "
                                       "which is the latest; none was graded"))
    return source


def _latest(student: str, assignment: str, uploads: list[_Upload],
            lms_times: dict) -> tuple[_Upload | None, list[str]]:
    """The latest of a student's uploads of one notebook (None when two tie) and a problem line for
    each other.

    By the times file when it gives every upload a time (its `file` column), else in the LMS's
    order: Canvas numbers uploaded files in order, then -N (numerically: -10 after -2) for a name
    handed in again."""
    if len(uploads) == 1:
        return uploads[0], []
    times = [_file_time(lms_times, student, assignment, (u.name,)) for u in uploads]
    timed = all(times)
    key = lambda pair: (((pair[1][0],) if timed else ())  # noqa: E731
                        + (pair[0].number, pair[0].copy))
    ranked = sorted(zip(uploads, times), key=key)
    names = ", ".join(u.name for u in uploads)
    if key(ranked[-1]) == key(ranked[-2]):
        return None, [f"{student}/{assignment}: not graded: {names} are uploads of one notebook "
                      "and nothing says which is the latest"]
    latest = ranked[-1][0]
    why = f"later by {ranked[-1][1][1]}" if timed else "a later upload, by the LMS's numbering"
    return latest, [f"{u.name}: not graded: {latest.name} replaces it ({why})"
                    for u, _ in ranked[:-1]]


def _unpack(archive: Path, into: Path) -> Path:
    """A student's zip, safely extracted; it may hold <student>/<assignment>/... or
    <assignment>/..."""
    folder = unpack_zip(archive, into)
    inner = [p for p in folder.iterdir()]
    return (inner[0] if len(inner) == 1 and inner[0].is_dir() and inner[0].name == archive.stem
            else folder)


def links_below(base: Path, parts: tuple[str, ...]) -> list[str]:
    """A problem for every symbolic link below base/parts (links are never followed, wherever they
    point)."""
    found, todo = [], [parts]
    while todo:
        folder = todo.pop()
        for name, kind in sorted(_entries(base, folder).items()):
            relative = "/".join((*folder, name)[len(parts):])
            if kind == "link":
                found.append(
                    f"{relative} is a symbolic link; links in submissions are not followed")
            elif kind == "dir":
                todo.append((*folder, name))
    return sorted(found)


# --- submission times ----------------------------------------------------------------------------

def _time(lms_times: dict, student: str, assignment: str, source: _Source | None) -> SubmissionTime:
    """The times file's time for the source's own files, else for the student, else collect's, else
    unknown."""
    own = _file_time(lms_times, student, assignment, source.files(assignment)) if source else None
    row = own or lms_times.get((student, assignment, None)) or lms_times.get((student, None, None))
    if row is not None:
        return SubmissionTime(*row)
    if source is not None and assignment in source.collected:
        return SubmissionTime(source.collected[assignment], COLLECTED)
    return SubmissionTime(None, UNKNOWN)


def _file_time(lms_times: dict, student: str, assignment: str,
               files: tuple[str, ...]) -> tuple[datetime, str] | None:
    """The latest of the times file's rows for these files of SUBMISSIONS; None unless each has
    one."""
    rows = [lms_times.get((student, assignment, f)) or lms_times.get((student, None, f))
            for f in files]
    return max(rows) if rows and all(rows) else None


def parse_utc(text: str) -> datetime:
    """A time as nbgrader reads it (naive, or with its zone's name or offset), in UTC.

    nbgrader reads a third word as a number of *seconds* east of UTC, so "10:00:00 +0100" (an
    hour, as an LMS writes it) would be 09:58:20: an offset of hours and minutes is joined to the
    time, where dateutil reads it as one. nbgrader's package is imported here, not at the top:
    importing it takes about a second (its server extensions), which every grading process would
    pay for nothing, since only the orchestrator reads submission times."""
    from nbgrader.utils import parse_utc as nbgrader_parse_utc

    return nbgrader_parse_utc(re.sub(r" ([+-]\d\d:?\d\d)$", r"\1", text.strip()))


def _collected_time(base: Path, folder: tuple[str, ...], entries: dict[str, str],
                    now: datetime | None = None) -> tuple[datetime | None, str | None]:
    """The time in the assignment folder's timestamp.txt (naive UTC), or None and why it was not
    used."""
    if "timestamp.txt" not in entries:
        return None, None
    try:
        text = read_file(base, (*folder, "timestamp.txt")).decode("utf-8", errors="strict")
        claimed = parse_utc(text.strip()[:64]).replace(tzinfo=timezone.utc)
    except (IntakeError, ValueError, OverflowError, OSError) as error:
        return None, (f"timestamp.txt is unreadable ({str(error)[:100]}); the submission time is "
                      "unknown")
    now = now or datetime.now(timezone.utc)
    if claimed > now + CLOCK_SKEW:
        return None, (f"timestamp.txt says {claimed:%Y-%m-%d %H:%M:%S} UTC, in the future; "
                      "the submission time is unknown")
    return claimed.replace(tzinfo=None), None


def _collected_secret(base: Path, folder: tuple[str, ...],
                      entries: dict[str, str]) -> tuple[str | None, str | None]:
    """The assignment folder's submission_secret.txt (nbgrader writes 128 hex digits), or None and
    why not."""
    if "submission_secret.txt" not in entries:
        return None, None
    try:
        text = read_file(base, (*folder, "submission_secret.txt")).decode("ascii").strip()
    except (IntakeError, UnicodeDecodeError, OSError):
        text = ""
    if re.fullmatch(r"[0-9a-f]{1,256}", text):
        return text, None
    return None, ("submission_secret.txt is not nbgrader's; this feedback cannot be released "
                  "through the exchange")


def read_times_file(path: Path) -> dict[tuple[str, str | None, str | None],
                                        tuple[datetime, str]]:
    """An LMS's submission times: a CSV with the columns `student`, `time`, and optionally
    `assignment` and `file` (a name in SUBMISSIONS: a downloaded file, a zip or a folder, to tell
    one student's copies apart).

    {(student, assignment or None, file or None): (naive UTC time, where it came from)}; ValueError
    naming the line that cannot be read (the instructor's file: a clear error, before any
    grading)."""
    with open(path, newline="", encoding="utf-8-sig") as file:
        rows = list(csv.DictReader(file))
    times = {}
    for line, row in enumerate(rows, start=2):
        student, when = (row.get("student") or "").strip(), (row.get("time") or "").strip()
        if not student or not when:
            raise ValueError(f"{path.name}, line {line}: a row needs a student and a time "
                             "(columns student, time)")
        try:
            parsed = parse_utc(when).replace(tzinfo=None)
        except (ValueError, OverflowError):
            raise ValueError(
                f"{path.name}, line {line}: {when!r} is not a time nbgrader can read") from None
        key = (student, (row.get("assignment") or "").strip() or None,
               (row.get("file") or "").strip() or None)
        times[key] = parsed, f"the times file {path.name}"
    return times


# --- notebooks and archives ----------------------------------------------------------------------

def parse_notebook(raw: bytes, name: str) -> nbformat.NotebookNode:
    """The submitted notebook `name` from its bytes, or IntakeError saying what is wrong with
    them."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise IntakeError(f"{name} is not UTF-8 text "
                          f"(byte 0x{raw[error.start]:02x} at position {error.start})") from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError) as error:
        where = (f"line {error.lineno}, column {error.colno}: {error.msg}"
                 if isinstance(error, json.JSONDecodeError) else error)
        raise IntakeError(f"{name} is not valid JSON ({where})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells", []), list):
        raise IntakeError(f"{name} is JSON but not a notebook (no list of cells)")
    if data.get("nbformat") not in (3, 4):
        raise IntakeError(f"{name} has nbformat {data.get('nbformat')!r:.20}; the tools read "
                          "versions 3 and 4")
    try:
        # nbformat mends repeated or missing cell ids; grading goes by grade id.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DuplicateCellId)
            warnings.simplefilter("ignore", MissingIDFieldWarning)
            return nbformat.reads(text, as_version=4)
    except Exception as error:  # noqa: BLE001 - nbformat's own errors vary by version
        raise IntakeError(f"{name} is a notebook nbformat cannot read ({type(error).__name__}: "
                          f"{str(error)[:200]})") from None


def unpack_zip(archive: Path, into: Path) -> Path:
    """Extract a student's zip into the new folder `into` (only regular files, only below it); the
    folder.

    The whole zip is refused, before anything is written, when a member is absolute, climbs out with
    `..`, is a link or a device, repeats a name or is both a file and a folder, has a name a file
    system cannot hold, or when it unpacks to too much; a member whose data is corrupt refuses it
    too."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise IntakeError(f"{archive.name} holds {len(members)} files, more than "
                                  f"{MAX_ZIP_MEMBERS}")
            if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                raise IntakeError(f"{archive.name} unpacks to more than {MAX_ZIP_BYTES} bytes")
            names = [_member_path(archive, m) for m in members]
            _check_tree(archive, members, names)
            into.mkdir(parents=True)
            for member, name in zip(members, names):
                if member.is_dir():
                    (into / name).mkdir(parents=True, exist_ok=True)
                    continue
                (into / name).parent.mkdir(parents=True, exist_ok=True)
                # Read at most the declared size (plus one byte): a member that lies about it is
                # cut.
                with zf.open(member) as source, open(into / name, "xb") as target:
                    target.write(source.read(MAX_ZIP_BYTES + 1)[: member.file_size])
    except IntakeError:
        raise
    # A damaged, encrypted or unreadable archive: this student's only.
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError,
            RuntimeError, ValueError, OSError) as error:
        raise IntakeError(f"{archive.name} is not a readable zip file "
                          f"({type(error).__name__}: {error})") from None
    return into


def _member_path(archive: Path, member: zipfile.ZipInfo) -> PurePosixPath:
    path = PurePosixPath(member.filename.replace("\\", "/"))
    kind = stat.S_IFMT(member.external_attr >> 16)
    if path.is_absolute() or ".." in path.parts or not path.parts or ":" in path.parts[0]:
        raise IntakeError(f"{archive.name} holds the path {member.filename!r}, which leads "
                          "outside its folder")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise IntakeError(f"{archive.name} holds {member.filename!r}, which is a link or a "
                          "special file")
    if any(len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES or "\0" in part
           for part in path.parts):
        raise IntakeError(f"{archive.name} holds a name longer than {MAX_NAME_BYTES} bytes "
                          f"({member.filename[:60]!r}...)")
    return path


def _check_tree(archive: Path, members: list[zipfile.ZipInfo], names: list[PurePosixPath]) -> None:
    """Refuse names that repeat, or that are a file in one member and a folder in another."""
    if len(set(names)) != len(names):
        raise IntakeError(f"{archive.name} holds the same path twice")
    files = {name for member, name in zip(members, names) if not member.is_dir()}
    for name in names:
        clash = next((parent for parent in name.parents if parent in files), None)
        if clash is not None:
            raise IntakeError(f"{archive.name} holds {str(clash)!r} both as a file and as a folder")
