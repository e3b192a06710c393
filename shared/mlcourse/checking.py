"""The course's one checking mechanism: every test cell of every lesson checks through it.

A test cell compares what a student's code returned with what was expected:

    expect_close(sequence_log_likelihood(table, seq), -0.8, "log Pr(A B <eos>)",
                 misconceptions={"leaving out <eos>: its log-probability is part of the sequence": -0.7})

On a mismatch it raises `CheckFailure` whose message says what was expected, what came back and,
when the answer equals the value a known mistake produces, names that mistake on a line of its own
(`Likely misconception: ...`), which the grading report counts across a class.

Hidden tests take their expected values from the instructor's solution, never from memory:
`reference("sequence_log_likelihood")` is the function as the solution notebook defines it.

Because test cells only call these functions on returned *values*, the grader can run the same
cells outside the student's process (see autograder/README.md): nothing here trusts the student's
objects beyond converting them to numbers.
"""

from __future__ import annotations

import ast
import math
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

MISCONCEPTION_PREFIX = "Likely misconception: "


class CheckFailure(AssertionError):
    """A check that did not pass; `misconception` names the likely mistake, if one was recognised."""

    def __init__(self, what: str, expected: Any, got: Any, problem: str, misconception: str | None = None):
        self.what, self.expected, self.got, self.misconception = what, expected, got, misconception
        lines = [f"{what}: {problem}"]
        if misconception:
            lines.append(MISCONCEPTION_PREFIX + misconception)
        super().__init__("\n".join(lines))

    def hidden_message(self) -> str:
        """The message without the expected value: what feedback on a hidden check may show."""
        lines = [f"{self.what}: got {_show(self.got)}, which is not the expected value"]
        if self.misconception:
            lines.append(MISCONCEPTION_PREFIX + self.misconception)
        return "\n".join(lines)


def _as_array(value: Any) -> np.ndarray | None:
    """`value` as a float64 array, or None when it is not numeric (torch tensors are detached)."""
    if hasattr(value, "detach"):  # a torch tensor; torch itself is not imported for this
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


def _show(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):  # as a number it would read 0 or 1
        return repr(bool(value))
    array = _as_array(value)
    if array is None:
        return repr(value)
    if array.ndim == 0:
        return f"{float(array):.6g}"
    return np.array2string(array, precision=4, threshold=12, separator=", ")


def _close(got: np.ndarray, want: np.ndarray, atol: float, rtol: float) -> bool:
    return got.shape == want.shape and bool(np.all(np.isclose(got, want, rtol=rtol, atol=atol)))


def expect_close(
    got: Any,
    want: Any,
    what: str,
    *,
    atol: float = 1e-6,
    rtol: float = 1e-6,
    misconceptions: Mapping[str, Any] | None = None,
) -> None:
    """Pass when |got - want| <= atol + rtol |want| everywhere (numbers, arrays or tensors of one shape)."""
    want_array = _as_array(want)
    if want_array is None:
        raise TypeError(f"expect_close needs a numeric expected value, got {type(want).__name__}")
    if got is None:
        raise CheckFailure(what, want, got, f"expected {_show(want)}, got None (is a `return` missing?)")
    got_array = _as_array(got)
    if got_array is None:
        raise CheckFailure(what, want, got, f"expected a number or array, got {type(got).__name__}: {got!r:.80}")
    if got_array.shape != want_array.shape:
        problem = f"expected shape {want_array.shape}, got shape {got_array.shape} ({_show(got)})"
    elif np.isnan(got_array).any() and not np.isnan(want_array).any():
        problem = f"expected {_show(want)}, got {_show(got)} (nan: a log of 0, or 0/0, somewhere?)"
    elif _close(got_array, want_array, atol, rtol):
        return
    else:
        problem = f"expected {_show(want)}, got {_show(got)}"
    mistake = next(
        (name for name, value in (misconceptions or {}).items()
         if (v := _as_array(value)) is not None and _close(got_array, v, atol, rtol)),
        None,
    )
    raise CheckFailure(what, want, got, problem, mistake)


def expect_equal(got: Any, want: Any, what: str, *, misconceptions: Mapping[str, Any] | None = None) -> None:
    """Pass when `got == want` exactly (strings, integers, booleans, lists and tuples of them)."""
    normal = _plain(got)
    if normal == _plain(want):
        return
    mistake = next((name for name, value in (misconceptions or {}).items() if normal == _plain(value)), None)
    raise CheckFailure(what, want, got, f"expected {want!r}, got {got!r:.200}", mistake)


def expect_choice(
    got: Any, want: str, what: str, choices: str, *, misconceptions: Mapping[str, Any] | None = None
) -> None:
    """Pass when the answer letter `got` is `want`; `choices` lists the valid letters, e.g. "abcd"."""
    if not isinstance(got, str) or got.strip().lower() not in choices:
        raise CheckFailure(what, want, got, f"answer with one of the letters {', '.join(choices)}; got {got!r:.80}")
    letter = got.strip().lower()
    expect_equal(letter, want, what, misconceptions=misconceptions)


def _plain(value: Any) -> Any:
    """Lists, tuples and numpy scalars compare by value: (1, 2) == [1, 2] and np.int64(3) == 3."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return _plain(value.tolist())
    return value


def standard_misconceptions(want: float, n_terms: int | None = None) -> dict[str, float]:
    """Values that the usual slips turn a log-likelihood `want` (a sum of `n_terms` log-probabilities) into."""
    out = {
        "a sign error: the log-likelihood of data is at most 0, the negative log-likelihood at least 0": -want,
        "the product of probabilities, not the sum of log-probabilities": math.exp(want),
        "log base 2 instead of the natural log": want / math.log(2),
    }
    if n_terms:
        out["the mean over terms instead of their sum"] = want / n_terms
    return out


# --- reference values from the instructor's solution ---------------------------------------------

def course_root() -> Path:
    """The folder holding `solutions/`: $MLCOURSE_ROOT, else the nearest parent of the working
    directory that has one (nbgrader grades copies of notebooks below the course folder), else the
    checkout this package was installed from."""
    if os.environ.get("MLCOURSE_ROOT"):
        return Path(os.environ["MLCOURSE_ROOT"])
    for folder in [Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents]:
        if (folder / "solutions").is_dir():
            return folder
    raise FileNotFoundError("cannot find the course's solutions/ folder; set MLCOURSE_ROOT to the course folder")


def _defined_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def _is_answer(cell: Any) -> bool:
    return cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution", False)


def _is_setup(cell: Any) -> bool:
    return cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade_id") == "setup"


@cache
def _solution_namespace(path: Path) -> dict[str, Any]:
    """Run the notebook's `setup` cell and its answer cells (not the narrative) in a fresh namespace."""
    import nbformat  # here, not at the top: every graded kernel imports this module, few call reference()

    notebook = nbformat.read(path, as_version=4)
    namespace: dict[str, Any] = {"__name__": "__solution__"}
    for cell in notebook.cells:
        if _is_setup(cell) or _is_answer(cell):
            exec(compile(cell.source, f"{path.name}:{cell.metadata.nbgrader['grade_id']}", "exec"), namespace)
    return namespace


def reference(name: str, lesson: str | None = None) -> Any:
    """The object `name` as the instructor's solution defines it (answer cells only).

    Answer cells may use the lesson's `setup` cell and earlier answers, never the narrative cells,
    so that this stays cheap. `lesson` picks the assignment when several define `name`.
    """
    import nbformat

    pattern = f"{lesson}/*.ipynb" if lesson else "*/*.ipynb"
    found = [
        path for path in sorted((course_root() / "solutions").glob(pattern))
        if any(_is_answer(c) and name in _defined_names(c.source) for c in nbformat.read(path, as_version=4).cells)
    ]
    if len(found) != 1:
        where = ", ".join(str(p.parent.name) for p in found) or "no solution notebook"
        raise LookupError(f"reference({name!r}): defined in {where}; pass lesson= to choose one")
    return _solution_namespace(found[0])[name]
