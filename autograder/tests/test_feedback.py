"""The feedback page of one notebook (feedback.page and templates/feedback.html.j2): a student's
code is shown once a page, under the first failed check that used it, and later failed checks of
the same answer link to it."""

from __future__ import annotations

from html.parser import HTMLParser

from autograder.feedback import page
from autograder.results import CheckResult, NotebookResult

STEP = "def training_step(model, batch):\n    loss = model(batch).sum()\n    return loss.item()"
LOSS = "def sft_loss(logits, targets):\n    return logits.mean()"


class _Rows(HTMLParser):
    """The page's check rows: per row its cells' text, the code it shows and the links it holds."""

    def __init__(self, html: str):
        super().__init__()
        self.rows: list[dict] = []
        self._in_code = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr":
            self.rows.append({"text": "", "code": [], "links": [], "ids": []})
        elif self.rows and tag == "pre" and attrs.get("class") == "code":
            self._in_code = True
            self.rows[-1]["code"].append("")
        elif self.rows and tag == "a":
            self.rows[-1]["links"].append(attrs["href"])
        if self.rows and "id" in attrs:
            self.rows[-1]["ids"].append(attrs["id"])

    def handle_endtag(self, tag):
        if tag == "pre":
            self._in_code = False

    def handle_data(self, data):
        if self.rows:
            self.rows[-1]["text"] += data
            if self._in_code:
                self.rows[-1]["code"][-1] += data


def _check(grade_id: str, status: str, answers: list[str]) -> CheckResult:
    return CheckResult(grade_id=grade_id, objective=None, max_points=1.0,
                       points=1.0 if status == "passed" else 0.0, status=status,
                       message=f"{grade_id}: {status}", answers=answers)


def test_a_functions_code_is_shown_once_under_its_first_failed_check_and_later_ones_link_to_it():
    result = NotebookResult(
        student="ada", assignment="03_finetuning", notebook="03_finetuning",
        checks=[_check("test_step_passes", "passed", ["training_step"]),
                _check("test_step_updates", "failed", ["training_step"]),
                _check("test_step_zero_grad", "failed", ["training_step"]),
                _check("test_step_loss", "error", ["sft_loss", "training_step"])],
        answers={"training_step": STEP, "sft_loss": LOSS})
    header, passed, updates, zero_grad, loss = _Rows(page(result, {})).rows
    assert "training_step" not in header["text"]
    assert passed["code"] == [] and passed["links"] == []  # a passed check shows no code
    assert updates["code"] == [STEP] and updates["ids"] == ["answer-training_step"]
    assert zero_grad["code"] == [] and zero_grad["links"] == ["#answer-training_step"]
    assert "your answer training_step: its code is under test_step_updates above" in (
        " ".join(zero_grad["text"].split()))
    # sft_loss is first shown here; training_step was shown above
    assert loss["code"] == [LOSS] and loss["ids"] == ["answer-sft_loss"]
    assert loss["links"] == ["#answer-training_step"]
