"""The reader's edition as built from the fixture course: what each page holds, read from the
HTML."""

import html
import re
from pathlib import Path

import nbformat
import pytest

from reader.build import describe, execute, prepare_output

FIXTURE_ROOT = Path(__file__).parent / "fixtures"

REVEAL = re.compile(r'<details class="reader-solution">.*?</details>', re.DOTALL)


def text(markup: str) -> str:
    """What a reader sees of `markup`: tags dropped, entities decoded (code is split into spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def source(lesson: str) -> nbformat.NotebookNode:
    return nbformat.read(FIXTURE_ROOT / "solutions" / lesson / f"{lesson}.ipynb", as_version=4)


def page(site: Path, name: str) -> str:
    return (site / name).read_text(encoding="utf-8")


def hidden_test_lines(lesson: str) -> list[str]:
    lines = []
    for cell in source(lesson).cells:
        inside = False
        for line in cell.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside:
                lines.append(line.strip())
    return lines


def test_course_map_lists_lessons_in_order_with_objectives_and_prerequisites(site):
    home = page(site, "index.html")
    assert home.index('href="01_coin.html"') < home.index('href="02_dice.html"')
    seen = text(home)
    for lesson in ("01_coin", "02_dice"):
        info = describe(FIXTURE_ROOT, lesson)
        assert info.title in seen
        for objective in info.objectives.values():
            assert text(objective) in seen, objective
    assert "Python and the logarithm; no earlier lesson." in seen
    assert "the coin lesson" in seen and "sums over $V$ outcomes" in seen


def test_prerequisites_are_read_from_the_first_markdown_cell():
    assert (describe(FIXTURE_ROOT, "01_coin").prerequisites
            == "Python and the logarithm; no earlier lesson.")
    assert (describe(FIXTURE_ROOT, "02_dice").prerequisites
            == "- the coin lesson\n- sums over $V$ outcomes")


@pytest.mark.parametrize("lesson", ["01_coin", "02_dice"])
def test_hidden_tests_are_left_out_and_visible_tests_kept(site, lesson):
    shown = text(page(site, f"{lesson}.html"))
    hidden = hidden_test_lines(lesson)
    assert hidden, "the fixture lesson has hidden tests"
    assert [line for line in hidden if line in shown] == []
    assert "HIDDEN TESTS" not in shown
    visible = {"01_coin": 'expect_close(coin_log_likelihood(0.5, 1, 2), 2 * np.log(0.5), "log Pr(H '
                          'T) at theta = 1/2")',
               "02_dice": 'expect_equal(free_parameters(2), 1, "free parameters of a '
                          'coin")'}[lesson]
    assert visible in shown


def test_solutions_sit_behind_the_reveal_and_the_stub_is_shown(site):
    markup = page(site, "01_coin.html")
    reveals = " ".join(text(r) for r in REVEAL.findall(markup))
    outside = text(REVEAL.sub("", markup))
    solution_line = "return heads * np.log(theta) + (flips - heads) * np.log(1 - theta)"
    assert solution_line in reveals and solution_line not in outside
    assert 'answer_best_theta = "b"' in reveals and 'answer_best_theta = "b"' not in outside
    model_answer = "The logarithm is increasing, so it has the same maximiser"
    assert model_answer in reveals and model_answer not in outside
    assert outside.count("raise NotImplementedError()") == 2  # one stub per code exercise
    assert "SOLUTION" not in reveals + outside  # nbgrader's markers are not for readers


def test_outputs_and_figures_come_from_a_fresh_execution(site):
    coin, dice = page(site, "01_coin.html"), page(site, "02_dice.html")
    assert coin.count('<img alt="No description has been provided for this image" '
                      'class="" src="data:image/png;base64,') == 1
    # argmax of 7 log t + 3 log(1 - t) on the grid
    assert "best theta on the grid: 0.70" in text(coin)
    assert "a die with 6 faces has 5 free parameters" in text(dice)


def test_each_lesson_page_says_where_its_student_notebook_is_and_how_to_run_it(site):
    for lesson in ("01_coin", "02_dice"):
        shown = text(page(site, f"{lesson}.html"))
        assert f"run make lab\n  and open notebooks/{lesson}/{lesson}.ipynb" in shown


def test_pages_fetch_nothing_from_the_network_and_ship_mathjax(site):
    for path in site.glob("*.html"):
        markup = path.read_text(encoding="utf-8")
        assert re.findall(r'(?:src|href)="(?:https?:)?//[^"]*"', markup) == [], path.name
        assert 'src="mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"' in markup
    assert (site / "mathjax" / "MathJax.js").is_file()
    assert (site / "mathjax" / "config" / "TeX-AMS-MML_HTMLorMML-full.js").is_file()
    assert (site / "assets" / "reader.css").is_file()


def test_a_failing_lesson_stops_the_build_naming_the_lesson(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    path = tmp_path / "07_broken.ipynb"
    nbformat.write(notebook, path)
    with pytest.raises(RuntimeError,
                       match=r"07_broken.ipynb failed while building the "
                             r"site(.|\n)*ZeroDivisionError"):
        execute(path)


def test_the_build_refuses_to_wipe_a_folder_that_is_not_a_site(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit, match="not empty and holds no earlier site"):
        prepare_output(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
