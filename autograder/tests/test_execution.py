"""execution.py: an answer cell's error comes back as data, its kind set by the kernel (it raised)
or by the sandbox (the kernel was lost, and why), never read from its text."""

from __future__ import annotations

import pytest

from autograder.execution import KernelSession
from autograder.sandbox.kernels import Limits
from mlcourse.lessons import Cell

# (the answer cell, the kind of its error, the exception's type name)
CELLS = [
    ("x = 1", None, None),
    ("raise ValueError('the kernel stopped')", "raised", "ValueError"),
    ("y = 2\nraise NotImplementedError()", "not_implemented", "NotImplementedError"),
    ("import time\ntime.sleep(60)", "timeout", None),
    ("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", "output_limit", None),
    ("import os\nos._exit(3)", "died", None),
]


@pytest.fixture(scope="module")
def errors(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("execution")
    session = KernelSession(scratch, Limits(cell_seconds=5, output_bytes=1 << 16), True, {})
    try:
        return [session.run(Cell("answer", "code", source, f"cell{i}"))
                for i, (source, _, _) in enumerate(CELLS)]
    finally:
        session.close()


@pytest.mark.parametrize("index", range(len(CELLS)), ids=[kind or "ok" for _, kind, _ in CELLS])
def test_an_answer_cells_error_comes_back_with_its_kind(errors, index):
    _, kind, exception = CELLS[index]
    error = errors[index]
    if kind is None:
        assert error is None
        return
    assert (error.kind, error.exception) == (kind, exception), error
    # the text is for the student, unchanged: a kernel lost says why, a cell that raised what
    if exception is None:
        assert error.text.startswith("the kernel stopped: "), error.text
    else:
        assert error.text.startswith(f"{exception}: "), error.text
