"""Hypothesis against the two parsers of untrusted input: intake (folders, names, links, archives,
times, bytes) and the codec (whatever a kernel sends back). For any input: grading finishes, honest
students keep identical grades, and every refused input gets a reason.

The number of inputs tried is printed by `pytest autograder/tests/test_fuzz.py
--hypothesis-show-statistics`.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.course import Course
from autograder.engine import Options
from autograder.intake import IntakeError, discover, parse_notebook
from autograder.pipeline import grade_class
from autograder.plan import rebuild
from autograder.sandbox.inside.codec import CodecError, decode, encode
from autograder.tests.catalogue.kit import student_copy
from autograder.tests.conftest import FIXTURE_COURSE
from autograder.tests.strategies import SLOW, arrays, plain_values, replies, submission_trees
from mlcourse.lessons import read_lesson

LESSON = "01_fixture"
SOURCE = FIXTURE_COURSE / "solutions" / LESSON / f"{LESSON}.ipynb"
HONEST = student_copy(SOURCE)

# --- the codec ------------------------------------------------------------------------------------

def same(a, b) -> bool:
    """Equal, with nan equal to nan and arrays compared by dtype, shape and bytes."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
                and a.tobytes() == b.tobytes())
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return type(b) is dict and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=400, deadline=None)
@given(st.one_of(plain_values, arrays))
def test_plain_values_cross_the_wall_unchanged(value):
    assert same(decode(json.loads(json.dumps(encode(value)))), value)


@settings(max_examples=600, deadline=None)
@given(replies)
def test_any_reply_decodes_to_plain_data_or_a_codec_error(data):
    try:
        value = decode(data)  # no `ref` and no pickles: as the grader decodes a kernel's reply
    except CodecError:
        return
    except (KeyError, TypeError, ValueError, IndexError, OverflowError, RuntimeError):
        # the grader's Bridge turns any of these into "sent back a value the grader cannot read"
        return
    assert not callable(value)


# --- intake ---------------------------------------------------------------------------------------

def _within(root: Path, path: Path) -> bool:
    """Whether planting at `path` stays below `root`: no existing component on the way is a link (an
    earlier entry may have planted one to /etc/passwd or the course's solutions) and no file is in
    place of a folder."""
    here = root
    for part in path.relative_to(root).parts:
        here = here / part
        if here.is_symlink() or (here != path and here.exists() and not here.is_dir()):
            return False
    return True


def _write(path: Path, data: bytes) -> None:
    """Write a regular file, never through a link nor into a FIFO (opening one to write would wait
    for a reader)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(path)
        os.write(fd, data)
    finally:
        os.close(fd)


def plant(root: Path, entries, course: Path) -> None:
    """Plant the entries below `root` and nowhere else: the tests run as root, and a write through a
    planted link would land in /etc/passwd."""
    for parts, kind, data, mtime in entries:
        path = root.joinpath(*parts)
        zipped, stamp = path.with_name(path.name + ".zip"), path.parent / "timestamp.txt"
        if not _within(root, {"zip": zipped, "stamp": stamp}.get(kind, path)):
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if kind == "notebook":
                notebook = json.loads(json.dumps(HONEST))
                notebook["cells"][len(data) % len(notebook["cells"])]["metadata"] = json.loads(
                    json.dumps({"nbgrader": {"grade_id": data.decode("latin-1"),
                                             "points": len(data)}}))
                _write(path, json.dumps(notebook).encode())
            elif kind == "bytes":
                _write(path, data)
            elif kind == "dir":
                path.mkdir(exist_ok=True)
            elif kind.startswith("link"):
                target = {"link-in": course / "solutions", "link-out": Path("/etc/passwd"),
                          "link-dangling": course.parent / "nonexistent"}[kind]
                path.symlink_to(target)
            elif kind == "zip":
                buffer = io.BytesIO()
                with zipfile.ZipFile(buffer, "w") as zf:
                    zf.writestr(f"{LESSON}/{LESSON}.ipynb", json.dumps(HONEST))
                    zf.writestr(data.decode("latin-1")[:200] or "x", data)
                raw = buffer.getvalue()
                _write(zipped, raw[: len(raw) - len(data) % 7])
            elif kind == "fifo":
                os.mkfifo(path)
            elif kind == "stamp":
                _write(stamp, data)
            os.utime(path, (mtime, mtime), follow_symlinks=False)
        except (OSError, ValueError, OverflowError, IndexError):
            # a name or time that this file system or zipfile cannot hold: nothing was planted
            continue


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    root = tmp_path_factory.mktemp("fuzz") / "course"
    shutil.copytree(FIXTURE_COURSE / "solutions", root / "solutions")
    return Course(root)


@settings(SLOW, max_examples=300)
@given(submission_trees(LESSON))
def test_intake_reads_any_folder_without_raising_and_gives_every_refusal_a_reason(
        course, tmp_path_factory, entries):
    root = tmp_path_factory.mktemp("submitted")
    plant(root, entries, course.root)
    try:
        # raises for nothing students made ...
        found = discover(root, course, tmp_path_factory.mktemp("unpacked"))
    except ValueError as empty:
        # ... but a folder with no submission at all, a one-line error for the instructor
        assert "holds no submissions" in str(empty)
        return
    lesson = read_lesson(course.sources(LESSON)[0])
    for submission in found.submissions:
        try:
            content = submission.read()
            if content is not None:
                # never raises either
                rebuild(lesson, parse_notebook(content, submission.source.name))
        except IntakeError as refused:
            assert str(refused).strip(), "a refusal without a reason"
    assert all(p.strip() for p in found.problems)


@pytest.fixture(scope="module")
def reference(course, tmp_path_factory):
    """The honest students graded alone: what they must get whatever else is in the class."""
    root = tmp_path_factory.mktemp("honest") / "submitted"
    for student in ("a-honest", "z-honest"):
        (root / student / LESSON).mkdir(parents=True)
        (root / student / LESSON / f"{LESSON}.ipynb").write_text(json.dumps(HONEST))
    graded = grade_class(root, tmp_path_factory.mktemp("out"), course, Options(timeout=60), jobs=2)
    return root, {r.student: (r.checks, r.problems) for r in graded.results}


@settings(SLOW, max_examples=4)
@given(submission_trees(LESSON))
def test_autograder_grade_finishes_and_honest_grades_never_move(course, reference,
                                                                tmp_path_factory, entries):
    honest_root, honest = reference
    root = tmp_path_factory.mktemp("class") / "submitted"
    shutil.copytree(honest_root, root)
    plant(root, entries, course.root)
    graded = grade_class(root, tmp_path_factory.mktemp("out"), course, Options(timeout=60), jobs=2)
    by_student = {r.student: (r.checks, r.problems) for r in graded.results}
    assert {s: by_student[s] for s in honest} == honest
    for result in graded.results:
        assert all(c.message for c in result.checks if c.points < c.max_points), result.student
