"""Intake, the first stage: find the submissions of a class and read them without trusting them.

    SUBMISSIONS/<student_id>/<assignment>/<notebook>.ipynb   (nbgrader's submitted layout)
    SUBMISSIONS/<student_id>.zip                              (the same layout inside a zip)

`discover` returns, for every student found and every notebook of the course, a `Submission`:
the file to grade, or None when it was not submitted or cannot be used (the reason is recorded).
Every function here turns whatever is wrong with a submission into a sentence and touches nothing
outside the student's own folders: symbolic links are never followed, zip members are checked
before anything is written, a timestamp the files contradict is replaced by the observed time.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath

import nbformat
from nbgrader.utils import parse_utc

from autograder.course import Course

MAX_NOTEBOOK_BYTES = 50 << 20
MAX_ZIP_BYTES = 200 << 20  # unpacked, all members together
MAX_ZIP_MEMBERS = 2000
CLOCK_SKEW = timedelta(minutes=5)


class IntakeError(ValueError):
    """A submitted file or folder that cannot be used as it is; the message says why, for the student."""


@dataclass(frozen=True)
class Submission:
    """One notebook of one student: the instructor's `source` and the file submitted for it."""

    student: str
    assignment: str
    source: Path
    path: Path | None  # None: not submitted, or refused (then `problem` says why)
    problem: str | None = None

    @property
    def notebook(self) -> str:
        return self.source.stem

    @property
    def name(self) -> str:
        return f"{self.student}/{self.assignment}/{self.notebook}"

    def read(self) -> bytes | None:
        """The submitted file's bytes (None when there is none); IntakeError when it cannot be read safely."""
        return None if self.path is None else read_file(self.path)


@dataclass
class Intake:
    """What was found in SUBMISSIONS."""

    submissions: list[Submission] = field(default_factory=list)
    times: dict[tuple[str, str], datetime | None] = field(default_factory=dict)  # (student, assignment), naive UTC
    problems: list[str] = field(default_factory=list)  # files and folders that are not part of any grade

    @property
    def students(self) -> list[str]:
        return sorted({s.student for s in self.submissions})


def discover(submissions: Path, course: Course, unpack_to: Path) -> Intake:
    """Every notebook of the course for every student found in SUBMISSIONS (zips unpacked into `unpack_to`)."""
    if not submissions.is_dir():
        raise FileNotFoundError(f"no submissions folder {submissions}")
    intake = Intake()
    folders: dict[str, tuple[Path, datetime | None]] = {}  # student -> (folder, when a zip arrived)
    for entry in sorted(submissions.iterdir()):
        if entry.is_symlink():
            intake.problems.append(f"{entry.name}: ignored (a symbolic link; links are not followed)")
        elif entry.is_dir() and not entry.name.startswith("."):
            folders[entry.name] = entry, None
        elif entry.suffix == ".zip":
            try:
                folder = _unpack(entry, unpack_to)
                folders[entry.stem] = folder, datetime.fromtimestamp(entry.stat().st_mtime, timezone.utc)
            except IntakeError as error:
                intake.problems.append(f"{entry.name}: not graded: {error}")
        elif not entry.name.startswith("."):
            intake.problems.append(f"{entry.name}: ignored (neither a student folder nor a .zip)")
    for student, (folder, arrived) in folders.items():
        _student(intake, course, student, folder, arrived)
    return intake


def _student(intake: Intake, course: Course, student: str, folder: Path, arrived: datetime | None) -> None:
    """One student's notebooks (a Submission for each of the course's), times and stray files."""
    intake.problems += [f"{student}/{problem}" for problem in links_out(folder)]
    for extra in sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in course.assignments):
        intake.problems.append(f"{student}/{extra}: ignored (no assignment of that name)")
    for assignment in course.assignments:
        submitted, sources = folder / assignment, course.sources(assignment)
        when, problem = _timestamp(submitted, arrived)
        intake.times[student, assignment] = when
        intake.problems += [problem] if problem else []
        expected = {s.name for s in sources}
        if submitted.is_dir():
            intake.problems += [f"{student}/{assignment}/{p.name}: ignored (not a notebook of {assignment})"
                                for p in sorted(submitted.glob("*.ipynb")) if p.name not in expected]
        for source in sources:
            path = submitted / source.name
            # A link is left to read_file to refuse, so that the student sees why.
            present = path.is_file() or path.is_symlink()
            intake.submissions.append(Submission(student, assignment, source, path if present else None))


def _unpack(archive: Path, into: Path) -> Path:
    """A student's zip, safely extracted; it may hold <student>/<assignment>/... or <assignment>/..."""
    folder = unpack_zip(archive, into / archive.stem)
    inner = folder / archive.stem
    return inner if inner.is_dir() and len(list(folder.iterdir())) == 1 else folder


def _timestamp(folder: Path, observed: datetime | None) -> tuple[datetime | None, str | None]:
    """The submission time as nbgrader stores it (naive UTC), and a problem when timestamp.txt was not believed."""
    if not folder.is_dir():
        return None, None
    when, problem = submission_time(folder, observed)
    problem = f"{folder.parent.name}/{folder.name}: {problem}" if problem else None
    return when.astimezone(timezone.utc).replace(tzinfo=None), problem


def _regular_file(path: Path) -> os.stat_result:
    try:
        info = os.lstat(path)
    except OSError as error:
        raise IntakeError(f"{path.name} cannot be read ({error.strerror})") from None
    if stat.S_ISLNK(info.st_mode):
        raise IntakeError(f"{path.name} is a symbolic link; links in submissions are not followed")
    if not stat.S_ISREG(info.st_mode):
        raise IntakeError(f"{path.name} is not a regular file")
    return info


def read_file(path: Path) -> bytes:
    """A submitted notebook file's bytes, never through a link, at most MAX_NOTEBOOK_BYTES."""
    info = _regular_file(path)
    if info.st_size == 0:
        raise IntakeError(f"{path.name} is empty (0 bytes)")
    if info.st_size > MAX_NOTEBOOK_BYTES:
        raise IntakeError(f"{path.name} is {info.st_size} bytes, more than the {MAX_NOTEBOOK_BYTES} a notebook may have")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as file:
        return file.read(MAX_NOTEBOOK_BYTES + 1)


def parse_notebook(raw: bytes, name: str) -> nbformat.NotebookNode:
    """The submitted notebook `name` from its bytes, or IntakeError saying what is wrong with them."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise IntakeError(f"{name} is not UTF-8 text (byte 0x{raw[error.start]:02x} at position {error.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise IntakeError(f"{name} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells", []), list):
        raise IntakeError(f"{name} is JSON but not a notebook (no list of cells)")
    if data.get("nbformat") not in (3, 4):
        raise IntakeError(f"{name} has nbformat {data.get('nbformat')!r:.20}; the tools read versions 3 and 4")
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as error:  # noqa: BLE001 - nbformat's own errors vary by version
        raise IntakeError(f"{name} is a notebook nbformat cannot read ({type(error).__name__}: {str(error)[:200]})") from None


def unpack_zip(archive: Path, into: Path) -> Path:
    """Extract a student's zip into the new folder `into` (only regular files, only below it); the folder.

    The whole zip is refused, before anything is written, when a member is absolute, climbs out with
    `..`, is a link or a device, repeats a name, or when it unpacks to too much."""
    _regular_file(archive)
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise IntakeError(f"{archive.name} holds {len(members)} files, more than {MAX_ZIP_MEMBERS}")
            if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                raise IntakeError(f"{archive.name} unpacks to more than {MAX_ZIP_BYTES} bytes")
            names = [_member_path(archive, m) for m in members]
            if len(set(names)) != len(names):
                raise IntakeError(f"{archive.name} holds the same path twice")
            into.mkdir(parents=True)
            for member, name in zip(members, names):
                if member.is_dir():
                    (into / name).mkdir(parents=True, exist_ok=True)
                    continue
                (into / name).parent.mkdir(parents=True, exist_ok=True)
                # Read at most the declared size (plus one byte): a member that lies about it is cut.
                with zf.open(member) as source, open(into / name, "xb") as target:
                    target.write(source.read(MAX_ZIP_BYTES + 1)[: member.file_size])
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as error:
        raise IntakeError(f"{archive.name} is not a readable zip file ({error})") from None
    return into


def _member_path(archive: Path, member: zipfile.ZipInfo) -> PurePosixPath:
    path = PurePosixPath(member.filename.replace("\\", "/"))
    kind = stat.S_IFMT(member.external_attr >> 16)
    if path.is_absolute() or ".." in path.parts or not path.parts or ":" in path.parts[0]:
        raise IntakeError(f"{archive.name} holds the path {member.filename!r}, which leads outside its folder")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise IntakeError(f"{archive.name} holds {member.filename!r}, which is a link or a special file")
    return path


def links_out(folder: Path) -> list[str]:
    """Problems for every symbolic link below `folder` (links are never followed, wherever they point)."""
    return [f"{path.relative_to(folder)} is a symbolic link; links in submissions are not followed"
            for path in sorted(folder.rglob("*")) if path.is_symlink()]


def submission_time(folder: Path, observed: datetime | None = None, now: datetime | None = None
                    ) -> tuple[datetime, str | None]:
    """When the submission in `folder` was made, and a problem when its timestamp.txt cannot be believed.

    `observed` is when the harness saw the submission arrive (for a zip, the zip file's time); by
    default the last change of a file in the folder as collected (nbgrader's collect keeps those
    times). A timestamp is kept only when it is readable, not in the future, and not before the
    files last changed (a submission cannot predate its own files); otherwise the observed time is
    used and the problem says so."""
    if observed is None:
        files = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and p.name != "timestamp.txt"]
        changed = max((p.stat().st_mtime for p in files), default=folder.stat().st_mtime)
        observed = datetime.fromtimestamp(changed, timezone.utc)
    now = now or datetime.now(timezone.utc)
    stamp = folder / "timestamp.txt"
    if not stamp.exists():
        return observed, None
    try:
        _regular_file(stamp)
        claimed = parse_utc(stamp.read_text(encoding="utf-8", errors="strict").strip()[:64]).replace(tzinfo=timezone.utc)
    except (IntakeError, ValueError, OverflowError, OSError) as error:
        return observed, f"timestamp.txt is unreadable ({str(error)[:100]}); the observed time {observed:%Y-%m-%d %H:%M:%S} UTC is used"
    if claimed > now + CLOCK_SKEW or claimed < observed - CLOCK_SKEW:
        return observed, (f"timestamp.txt says {claimed:%Y-%m-%d %H:%M:%S} UTC, which its files contradict; "
                          f"the observed time {observed:%Y-%m-%d %H:%M:%S} UTC is used")
    return claimed, None
