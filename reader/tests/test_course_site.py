"""The real course's site, built from solutions/ and checked in headless Chromium like `make site`:
the fixture lessons cannot show what only the real lessons use (their math, figures, lengths)."""

from pathlib import Path

import pytest

from mlcourse.lessons import lesson_names
from reader.browser import check_site, missing_browser
from reader.build import build_site

ROOT = Path(__file__).resolve().parents[2]

if reason := missing_browser():
    pytest.fail(reason, pytrace=False)


@pytest.fixture(scope="module")
def course_site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("course") / "site"
    build_site(ROOT, out, jobs=2)
    return out


def test_every_lesson_page_is_clean_in_the_browser(course_site):
    reports = {r.page: r for r in check_site(course_site)}
    assert sorted(reports) == sorted(["index.html",
                                      *(f"{name}.html" for name in lesson_names(ROOT))])
    assert {page: r.problems() for page, r in reports.items() if r.problems()} == {}
    for name in lesson_names(ROOT):
        report = reports[f"{name}.html"]
        assert report.images >= 3 and report.reveal is True and report.math_typeset > 0, name


def test_no_hidden_test_reaches_the_site(course_site):
    for page in course_site.glob("*.html"):
        text = page.read_text()
        assert "HIDDEN TESTS" not in text and "reference(" not in text, page.name
