"""The fixture course (two tiny lessons in reader/tests/fixtures/solutions), built once per
session."""

from pathlib import Path

import pytest

from reader.build import build_site

FIXTURE_ROOT = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reader") / "site"
    build_site(FIXTURE_ROOT, out, jobs=2)
    return out
