"""Markers for running a slice of the suite (README, "Start here"): each test is marked by what it
needs, found from the test itself, so that a new test is sliced right without anyone remembering to
mark it. `pytest -m postgres` runs one slice, `pytest -m "not slow"` the quick part; `make test`
runs everything.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

ROOT = Path(__file__).parent
SLOW = {"test_catalogue.py", "test_catalogue_class.py", "test_semester.py", "test_dask.py",
        "test_demo_class.py", "test_concurrent_graders.py", "test_notebooks.py", "test_fuzz.py",
        "test_course_site.py", "test_exchange.py", "test_postgres.py", "test_lessons.py",
        "test_browser_xss.py", "test_mutations.py"}
SANDBOX_MODULES = ("autograder.engine", "autograder.pipeline", "autograder.pool",
                   "autograder.sandbox.kernels", "autograder.execution",
                   "autograder.sandbox.inside.kernel_template")
BROWSER_MODULES = ("selenium", "reader.browser")


def _lessons() -> dict[str, int]:
    """The course's lessons by name, with their numbers (their folder names start with them)."""
    sys.path.insert(0, str(ROOT / "shared"))
    from mlcourse.lessons import lesson_names

    return {name: int(name[:2]) for name in lesson_names(ROOT) if name[:2].isdigit()}


LESSONS = _lessons()
MARKERS = {
    "postgres": "starts the throw-away PostgreSQL server (the `postgres` fixture, or a "
                "'postgresql' parameter)",
    "browser": "drives headless Chromium (its module uses selenium)",
    "root": "needs root, and is skipped without it (a skip condition that says so)",
    "sandbox": "runs student code in the grading sandbox (its module uses the engine, the pipeline "
               "or the pool)",
    "slow": "in a module that takes over about 30 s (SLOW, measured with `pytest --durations=0`)",
}


def pytest_configure(config):
    for name, meaning in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {meaning}")
    for number in sorted(set(LESSONS.values())):
        config.addinivalue_line("markers", f"lesson{number}: about lesson {number} (a test "
                                           "parametrised by lesson, or a module named after it)")


def _uses(module: types.ModuleType, prefixes: tuple[str, ...]) -> bool:
    """Whether the test module imported (a name from) a module starting with one of `prefixes`."""
    for value in vars(module).values():
        name = (value.__name__ if isinstance(value, types.ModuleType)
                else getattr(value, "__module__", None))
        if isinstance(name, str) and name.startswith(prefixes):
            return True
    return False


def pytest_collection_modifyitems(items):
    for item in items:
        module, file = item.module, item.path.name
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "postgres" in item.fixturenames or any(v == "postgresql" for v in params.values()
                                                  if isinstance(v, str)):
            item.add_marker("postgres")
        if _uses(module, BROWSER_MODULES):
            item.add_marker("browser")
        if _uses(module, SANDBOX_MODULES):
            item.add_marker("sandbox")
        if any("root" in str(mark.kwargs.get("reason", ""))
               for mark in item.iter_markers("skipif")):
            item.add_marker("root")
        if file in SLOW:
            item.add_marker("slow")
        lesson = params.get("lesson") or re.sub(r"^test_|\.py$", "", file)
        if lesson in LESSONS:
            item.add_marker(f"lesson{LESSONS[lesson]}")
