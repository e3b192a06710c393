"""Fixtures of the harness's tests: a tiny course (one fixture assignment) copied to a temporary
folder."""

from __future__ import annotations

import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from autograder.environment import ROOT, use_tool_env

FIXTURE_COURSE = Path(__file__).parent / "fixtures" / "course"

use_tool_env()  # nbgrader's gradebook runs `alembic` by name


def copy_fixture_course(course: Path) -> Path:
    """A course folder at `course` with the fixture assignment's solution and nbgrader_config.py (no
    release yet)."""
    shutil.copytree(FIXTURE_COURSE, course)
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    return course


@pytest.fixture
def tiny_course(tmp_path: Path) -> Path:
    return copy_fixture_course(tmp_path / "course")


@pytest.fixture
def make_zip():
    """`make_zip(path, members, link=None, target=...)`: a zip of {name: bytes}, plus, with `link`,
    a member of that name stored as a symbolic link to `target` (as a hostile archive would carry
    it)."""

    def make(path: Path, members: dict[str, bytes], link: str | None = None,
             target: str = "/etc/passwd") -> Path:
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)
            if link:
                info = zipfile.ZipInfo(link)
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, target)
        return path

    return make


@pytest.fixture(scope="session")
def postgres():
    """A throw-away PostgreSQL server for the session (postgres_server.py):
    `postgres.database(name)` gives a URL."""
    from autograder.tests.postgres_server import running

    with running() as server:
        yield server
