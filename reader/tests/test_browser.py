"""The fixture site in headless Chromium (reader.browser): every page clean, math typeset, images
loaded, reveals working, navigation resolving; and the check itself catches a broken page."""

import struct

import pytest

from reader.browser import check_site, missing_browser

if reason := missing_browser():
    pytest.fail(reason, pytrace=False)


@pytest.fixture(scope="module")
def reports(site):
    return {r.page: r for r in check_site(site)}


def test_every_page_passes_every_check(reports):
    assert sorted(reports) == ["01_coin.html", "02_dice.html", "index.html"]
    assert [p for r in reports.values() for p in r.problems()] == []


def test_math_is_typeset_with_no_raw_tex_left(reports):
    for report in reports.values():
        assert (report.mathjax_loaded and report.math_typeset > 0
                and report.raw_math == []), report.page


def test_the_figure_loads(reports):
    assert reports["01_coin.html"].images == 1 and reports["01_coin.html"].broken_images == []


def test_the_reveal_shows_and_hides_a_solution(reports):
    assert reports["01_coin.html"].reveal is True and reports["02_dice.html"].reveal is True
    assert reports["index.html"].reveal is None


def test_navigation_links_point_to_the_neighbours_and_resolve(reports):
    assert reports["index.html"].links == {"home": "index.html"}
    assert reports["01_coin.html"].links == {"home": "index.html", "next": "02_dice.html"}
    assert reports["02_dice.html"].links == {"previous": "01_coin.html", "home": "index.html"}
    assert all(r.broken_links == [] for r in reports.values())


def test_a_screenshot_of_a_lesson_page_is_saved_in_the_site(site, reports):
    for name, width in [("screenshot.png", 1280), ("screenshot-phone.png", 412)]:
        header = (site / name).read_bytes()[:24]
        assert header[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">I", header[16:20])[0] == width


def test_the_check_reports_a_broken_page(tmp_path):
    (tmp_path / "index.html").write_text(
        '<html><head><link rel="icon" href="data:,"></head><body>'
        '<div class="jp-RenderedMarkdown">$x + y$</div><img src="missing.png">'
        '<a href="nowhere.html">gone</a><script>console.error("boom")</script></body></html>')
    (report,) = check_site(tmp_path)
    problems = "\n".join(report.problems())
    assert "console error" in problems and "boom" in problems
    assert "image did not load" in problems and "missing.png" in problems
    assert "raw math left in the text: $x + y$" in problems
    assert "MathJax did not load" in problems
    assert "link does not resolve" in problems and "nowhere.html" in problems
