"""Fixtures of the harness's tests: a tiny course (one fixture assignment) copied to a temporary folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autograder.environment import ROOT, use_tool_env

FIXTURE_COURSE = Path(__file__).parent / "fixtures" / "course"

use_tool_env()  # nbgrader's gradebook runs `alembic` by name


@pytest.fixture
def tiny_course(tmp_path: Path) -> Path:
    """A course folder with the fixture assignment's solution and nbgrader_config.py (no release yet)."""
    course = tmp_path / "course"
    shutil.copytree(FIXTURE_COURSE, course)
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    return course
