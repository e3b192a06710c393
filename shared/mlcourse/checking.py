"""The course's one checking mechanism: every test cell of every lesson checks through it.

A test cell compares what a student's code returned with what was expected:

    expect_close(sequence_log_likelihood(table, seq), -0.8, "log Pr(A B <eos>)",
                 misconceptions={"leaving out <eos>: its log-probability counts too": -0.7})

On a mismatch it raises `CheckFailure`, whose message says what was expected, what came back and,
when the answer equals the value a known mistake produces, names that mistake on a line of its own
(`Likely misconception: ...`), which the grading report counts across a class. In a notebook the
failure shows as its message alone, without a traceback through this module.

One policy for the form of answers, applied by every check alike:

- a number: a Python int or float, a NumPy scalar or 0-d array, or a 0-d torch tensor (not a bool);
- a letter: one of the choices, in any case, with spaces around it or not;
- true/false: Python's or NumPy's `True` and `False`;
- a sequence: a list, tuple, NumPy array or torch tensor (of numbers, or nested lists of them).

`check_format` is the visible check of an answer's form only: it says what came back and what the
rule is, and, when it passes, that correctness is decided at grading. Hidden tests take their
expected values from the instructor's solution, never from memory: `reference("name")`.

Test cells only call these functions on returned *values*, so the grader can run the same cells
outside the student's process: nothing here trusts the student's objects beyond reading numbers.
"""

from __future__ import annotations

import copy
import math
import re
import sys
import types
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

MISCONCEPTION_PREFIX = "Likely misconception: "
# what a generic detector found when no listed misconception matched: a kind of difference, never
# the expected value itself
DIFFERENCE_PREFIX = "Kind of difference: "
FORMS = {
    "number": "one number (a Python int or float, a NumPy scalar or a 0-d torch tensor)",
    "letter": "one letter",
    "bool": "True or False",
    "sequence": "a sequence (a list, tuple, NumPy array or torch tensor)",
}


# What checks that passed had to say (`note`), while a grader collects it (`notes`).
_notes: list[str] | None = None


def note(text: str) -> None:
    """Say something about an answer that passes (accepted as rounded, right given a wrong earlier
    function): printed for the notebook's reader and kept for the grader's feedback page, where a
    passed check's printed output is not shown. Never a hidden expected value."""
    print(text)
    if _notes is not None:
        _notes.append(text)


@contextmanager
def notes():
    """Collect the `note`s of the checks run inside the block, in a list it yields."""
    global _notes
    previous, _notes = _notes, []
    try:
        yield _notes
    finally:
        _notes = previous


class CheckFailure(AssertionError):
    """A check that did not pass; `misconception` names the likely mistake, if one was
    recognised."""

    def __init__(self, what: str, expected: Any, got: Any, problem: str,
                 misconception: str | None = None, hint: str = "", where: str = "",
                 difference: str = "", public: bool = False):
        self.what, self.expected, self.got, self.misconception = what, expected, got, misconception
        # safe to show with a hidden check: they hold no expected value
        self.hint, self.where, self.difference = hint, where, difference
        # a wrong form or shape: the problem itself holds no expected value either
        self.public_problem = problem if public else None
        super().__init__(self._lines(f"{what}: {problem}"))

    def _lines(self, first: str) -> str:
        lines = [first + (f" ({self.hint})" if self.hint else "")]
        lines += [self.where] if self.where else []
        lines += [MISCONCEPTION_PREFIX + self.misconception] if self.misconception else []
        lines += [DIFFERENCE_PREFIX + self.difference] if self.difference else []
        return "\n".join(lines)

    def hidden_message(self) -> str:
        """The message without the expected value: what feedback on a hidden check may show."""
        if self.public_problem:
            return self._lines(f"{self.what}: {self.public_problem}")
        return self._lines(f"{self.what}: got {show(self.got)}, which is not the expected value")

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: the message is the student's whole feedback.
        return ["CheckFailure: " + line if i == 0 else "    " + line
                for i, line in enumerate(str(self).splitlines())]


# --- the form of answers --------------------------------------------------------------------------

def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def as_array(value: Any) -> np.ndarray | None:
    """`value` as a float64 array, or None when it is not numeric (torch tensors are detached;
    bools are not numbers)."""
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        return None
    if _is_tensor(value):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


def _letter(value: Any, choices: str) -> str | None:
    letter = value.strip().lower() if isinstance(value, str) else ""
    return letter if len(letter) == 1 and letter in choices.lower() else None


def _bool(value: Any) -> bool | None:
    """True or False from Python, NumPy or a 0-d torch tensor; None for anything else (1 and 0
    included)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if ((_is_tensor(value) or isinstance(value, np.ndarray)) and str(value.dtype).endswith("bool")
            and value.ndim == 0):
        return bool(value.item())
    return None


def _form_error(got: Any, kind: str, what: str, choices: str = "",
                length: int | None = None) -> str | None:
    """Why `got` is not of the form `kind`, or None when it is."""
    rule = FORMS[kind] + (f" of {', '.join(choices)}" if kind == "letter" else "")
    rule += f" of length {length}" if length is not None else ""
    if got is None:
        return f"expected {rule}, got None (is a `return` or an assignment missing?)"
    if kind == "letter":
        return (None if _letter(got, choices)
                else f"expected {rule} (in any case), got {describe(got)}")
    if kind == "bool":
        return None if _bool(got) is not None else f"expected {rule}, got {describe(got)}"
    array = as_array(got)
    if kind == "number":
        return (None if array is not None and array.ndim == 0
                else f"expected {rule}, got {describe(got)}")
    if (array is None or array.ndim == 0
            or not isinstance(got, (list, tuple, np.ndarray)) and not _is_tensor(got)):
        return f"expected {rule}, got {describe(got)}"
    if length is not None and len(array) != length:
        return f"expected {rule}, got {describe(got)}"
    return None


def check_format(got: Any, kind: str, what: str, *, choices: str = "",
                 length: int | None = None) -> None:
    """A visible check of an answer's form only (kind: number, letter, bool or sequence); its
    value is graded later."""
    problem = _form_error(got, kind, what, choices, length)
    if problem:
        raise CheckFailure(what, None, got, problem, public=True)
    print(f"{what}: the form is right ({FORMS[kind]}); "
          "whether it is correct is checked when the notebook is graded")


def describe(value: Any) -> str:
    """What a value is, briefly: its type, and its shape or its text."""
    if _is_tensor(value) or isinstance(value, np.ndarray):
        return f"a {type(value).__name__} of shape {tuple(value.shape)}: {show(value)}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of length {len(value)}: {show(value)}"
    return f"{type(value).__name__} {show(value)}"


def show(value: Any) -> str:
    """A value as a student reads it: numbers to 6 digits, long arrays summarised row by row,
    never cut mid-row."""
    if isinstance(value, (bool, np.bool_)):  # as a number it would read 0 or 1
        return repr(bool(value))
    array = as_array(value)
    if array is None:
        text = repr(value)
        return text if len(text) <= 200 else text[:200] + f"... ({len(text)} characters)"
    if array.ndim == 0:
        return f"{float(array):.6g}"
    return np.array2string(array, precision=4, threshold=24, edgeitems=3, separator=", ",
                           max_line_width=100)


def _hint(got: np.ndarray, want: np.ndarray) -> str:
    """What a nan or an infinity in the answer usually means (shown with hidden checks too)."""
    if np.isnan(got).any() and not np.isnan(want).any():
        return "nan: a log of 0, or 0/0, somewhere?"
    if np.isposinf(got).any() and not np.isposinf(want).any():
        return "inf: an overflow, such as exp of a large number, or a division by 0?"
    if np.isneginf(got).any() and not np.isneginf(want).any():
        return "-inf: the log of a probability that came out as 0 (an underflow?)"
    return ""


def _first_difference(got: np.ndarray, want: np.ndarray, bad: np.ndarray) -> str:
    """Where two arrays of one shape first differ (the expected entry is left to the caller)."""
    if got.ndim == 0 or got.size <= 1:
        return ""
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    return (f"first difference at index {list(index)}: got {got[index]:.6g}, "
            f"{int(bad.sum())} of {got.size} entries differ")


def _close(got: np.ndarray, want: np.ndarray, atol: float, rtol: float) -> bool:
    return got.shape == want.shape and bool(np.all(np.isclose(got, want, rtol=rtol, atol=atol,
                                                              equal_nan=True)))


def _matching(got: Any, misconceptions: Mapping[str, Any] | None, same) -> str | None:
    return next((name for name, value in (misconceptions or {}).items() if same(got, value)), None)


def expect_close(got: Any, want: Any, what: str, *, atol: float = 1e-6, rtol: float = 1e-6,
                 misconceptions: Mapping[str, Any] | None = None,
                 sizes: Mapping[str, float] | None = None, terms: Any = None,
                 related: Mapping[str, float] | None = None,
                 given: Callable[[], Any] | None = None, helper: str = "",
                 decimals: int | None = None) -> None:
    """Pass when |got - want| <= atol + rtol |want| everywhere (numbers, sequences or tensors of
    one shape).

    When no listed misconception matches, generic detectors (`differences`) say what kind of
    difference it is; `sizes` ({"N, the number of tokens": 12}) names the sizes a factor may come
    from, `terms` the log-probabilities whose sum `want` is (in an order the text names, since a
    term left out is named by its place), `related` other quantities of the exercise by name
    ({"KL(p_theta || p_data), the other direction": 0.4}) that an answer may have mixed in.

    Error carried forward: `given()` is what the answer should be given the student's own
    `helper` (an earlier exercise it calls; `with_helpers`). An answer equal to it passes, with a
    note that the helper is wrong, so that one slip costs only its own exercise's points.
    `decimals`: the exercise's text allows rounding to that many decimals (money, percentages),
    so the expected value rounded so passes too."""
    want_array = as_array(want)
    if want_array is None:
        raise TypeError(f"expect_close needs a numeric expected value, got {type(want).__name__}")
    got_array = as_array(got)
    kind = "number" if want_array.ndim == 0 else "sequence"
    same = lambda g, v: (  # noqa: E731
        (a := as_array(v)) is not None and _close(as_array(g), a, atol, rtol))
    if got_array is None or (got_array.ndim == 0) != (want_array.ndim == 0):
        problem = _form_error(got, kind, what) or f"expected {FORMS[kind]}, got {describe(got)}"
        raise CheckFailure(what, want, got, problem,
                           None if got_array is None else _matching(got, misconceptions, same),
                           public=True)
    if got_array.shape != want_array.shape:
        problem = f"expected shape {want_array.shape}, got shape {got_array.shape}: {show(got)}"
        mistake = _matching(got, misconceptions, same)
        raise CheckFailure(what, want, got, problem, mistake, public=True, difference="" if mistake
                           else _length_difference(got_array, want_array, atol, rtol))
    if _close(got_array, want_array, atol, rtol):
        return
    if decimals is not None and any(_close(got_array, rounded, atol, rtol)
                                    for places, rounded in _rounded(want_array, [decimals])):
        note(f"{what}: accepted, rounded to {decimals} decimals as the text allows")
        return
    if given is not None and _carried_forward(got_array, given, what, helper, atol, rtol):
        return
    bad = ~np.isclose(got_array, want_array, rtol=rtol, atol=atol, equal_nan=True)
    mistake = _matching(got, misconceptions, same)
    kind = "" if mistake else differences(got_array, want_array, atol, rtol, sizes, terms,
                                          related)
    raise CheckFailure(what, want, got, f"expected {show(want)}, got {show(got)}", mistake,
                       _hint(got_array, want_array), _first_difference(got_array, want_array, bad),
                       kind)


def _carried_forward(got: np.ndarray, given: Callable[[], Any], what: str, helper: str,
                     atol: float, rtol: float) -> bool:
    """Whether `got` is what `given()` says the answer should be with the student's own helper;
    prints the note of an error carried forward when it is."""
    try:
        value = as_array(given())
    except Exception:  # noqa: BLE001 - a helper that raises carries nothing forward
        return False
    if value is None or not _close(got, value, atol, rtol):
        return False
    note(f"{what}: right given your {helper or 'earlier function'}, which is not right yet: "
          "fix it there; this exercise keeps its points")
    return True


def with_helpers(function: Callable, **helpers: Callable) -> Callable:
    """A copy of `function` (the solution's, say) that calls `helpers` in place of the global
    functions of those names: what it returns is what a right answer returns when it calls the
    student's own earlier functions (error carried forward)."""
    namespace = {**function.__globals__, **helpers}
    copy_ = types.FunctionType(function.__code__, namespace, function.__name__,
                               function.__defaults__, function.__closure__)
    copy_.__kwdefaults__ = function.__kwdefaults__
    return copy_


def _outcome(function: Callable, args: tuple) -> tuple[np.ndarray | None, str]:
    """(the result as an array, "") or (None, what went wrong) of one call on copies."""
    try:
        value = function(*copy.deepcopy(args))
    except Exception as error:  # noqa: BLE001 - the student's code: any error is feedback
        return None, f"raises {type(error).__name__}: {str(error)[:200]}"
    array = as_array(value)
    return (array, "") if array is not None else (None, f"returns {describe(value)}")


def probe_cases(student: Callable, solution: Callable, cases: Mapping[str, tuple], *,
                atol: float = 1e-6, rtol: float = 1e-6) -> str:
    """The first of `cases` ({"flips that are all Heads": (x, theta)}, arguments that each
    isolate one ingredient of the input) on which `student` and `solution` disagree, with the kind
    of difference there; "" when they agree on all. For `explained`; it holds no expected
    value."""
    known = {}
    for name, args in cases.items():
        want, _ = _outcome(solution, args)
        if want is not None:
            known[name] = (args, want)
    return first_wrong_case(student, known, atol=atol, rtol=rtol)


def first_wrong_case(student: Callable, cases: Mapping[str, tuple[tuple, Any]], *,
                     atol: float = 1e-6, rtol: float = 1e-6) -> str:
    """`probe_cases` with the right results given: `cases` is {name: (arguments, right result)},
    for a visible test's worked cases. The text names the case, never its result."""
    for name, (args, want) in cases.items():
        want = as_array(want)
        got, problem = _outcome(student, args)
        if got is None:
            return f"on {name}, your function {problem}"
        if not (got.shape == want.shape and _close(got, want, atol, rtol)):
            kind = (differences(got, want, atol, rtol) if got.shape == want.shape
                    else _length_difference(got, want, atol, rtol))
            return f"wrong on {name}" + (f": {kind}" if kind else "")
    return ""


def _length_difference(got: np.ndarray, want: np.ndarray, atol: float, rtol: float) -> str:
    """How a 1-d sequence one entry too long or too short relates to the right one."""
    if got.ndim != 1 or want.ndim != 1 or abs(len(got) - len(want)) != 1:
        return ""
    if min(len(got), len(want)) < 2:
        return ""
    fits = lambda a, b: _close(a, b, atol, rtol)  # noqa: E731
    if len(got) > len(want):
        if fits(got[:-1], want):
            repeated = fits(got[-1:], got[-2:-1])
            return ("the right entries, then the last one repeated" if repeated
                    else "the right entries, then one more at the end")
        if fits(got[1:], want):
            return "an extra entry at the start, then the right entries"
    else:
        if fits(got, want[:-1]):
            return "the right entries, but the last one is missing"
        if fits(got, want[1:]):
            return "the right entries, but the first one is missing"
    return ""


# --- generic detectors: what kind of difference, for mistakes nobody listed ----------------------

def _rounded(want: np.ndarray,
             decimals: list[int] | None = None) -> list[tuple[str, np.ndarray]]:
    """`want` rounded as a student might: to 1-4 decimals, then to 2-3 significant digits (only
    to `decimals` when given); half to even (Python's round) and half away from 0 (by hand:
    5.125 -> 5.13) alike."""
    magnitude = np.floor(np.log10(np.where(want == 0, 1.0, np.abs(want))))
    scales = [(f"{d} decimal{'s' * (d != 1)}", 10.0 ** d) for d in decimals or range(1, 5)]
    scales += [] if decimals else [(f"{n} significant digits", 10.0 ** (n - 1 - magnitude))
                                   for n in (2, 3)]
    by_hand = lambda x: np.sign(x) * np.floor(np.abs(x) + 0.5)  # noqa: E731
    return [(places, r(want * scale) / scale) for places, scale in scales
            for r in (np.round, by_hand)]


def _common_ratio(got: np.ndarray, want: np.ndarray, atol: float, rtol: float) -> float | None:
    """k when got = k * want everywhere (entries where want is 0 must be 0 too), else None."""
    nonzero = np.abs(want) > atol
    if not nonzero.any() or not np.all(np.abs(got[~nonzero]) <= atol):
        return None
    ratio = got[nonzero] / want[nonzero]
    k = float(np.median(ratio))
    return k if _close(got, k * want, atol, rtol) else None


def differences(got: np.ndarray, want: np.ndarray, atol: float = 1e-6, rtol: float = 1e-6,
                sizes: Mapping[str, float] | None = None, terms: Any = None,
                related: Mapping[str, float] | None = None) -> str:
    """The kind of difference between `got` and `want` (arrays of one shape), from properties
    only: a sign, a scale factor (x100, 1/N, N - 1 for N, ln 2, ln 10), rounding, a floor or a
    truncation, a probability for a log-probability, a sum of probabilities or the log of one, a
    term left out, a binomial coefficient, a `related` quantity mixed in, an order or a shift of
    entries, a constant offset, a value merely close. "" when nothing fits. The text never holds
    the expected value."""
    if got.shape != want.shape or not np.all(np.isfinite(got)) or not np.all(np.isfinite(want)):
        return ""
    if np.any(want != 0):  # an absolute tolerance larger than the values would let any factor fit
        atol = min(atol, rtol * float(np.max(np.abs(want))))
    return (_scalings(got, want, atol, rtol, sizes, terms)
            or _mixtures(got, want, atol, rtol, sizes, related)
            or _arrangements(got, want, atol, rtol)
            or _near(got, want, atol, rtol))


def _scalings(got: np.ndarray, want: np.ndarray, atol: float, rtol: float,
              sizes: Mapping[str, float] | None, terms: Any) -> str:
    """The detectors of a factor, a change of space, a sum's terms, rounding and floors."""
    fits = lambda candidate: _close(got, np.asarray(candidate, dtype=float),  # noqa: E731
                                    atol, rtol)
    if np.all(got == 0) and np.any(np.abs(want) > atol):
        return "exactly 0 where a non-zero value belongs: an empty sum, or nothing selected?"
    k = _common_ratio(got, want, atol, rtol)
    if k is not None:
        for name, size in (sizes or {}).items():
            count = size == round(size) and size >= 2  # a mean's N, not a temperature
            if size and fits(want / size):
                return f"divided by {name} ({size:g})" + (
                    ": a mean where a sum belongs?" if count else "")
            if size and fits(want * size):
                return f"multiplied by {name} ({size:g})" + (
                    ": a sum where a mean belongs?" if count else "")
            if count and size > 2 and fits(want * size / (size - 1)):
                return f"divided by {name} - 1 ({size - 1:g}) where {name} ({size:g}) belongs"
            if count and size > 2 and fits(want * (size - 1) / size):
                return f"divided by {name} ({size:g}) where {name} - 1 ({size - 1:g}) belongs"
        named = {-1.0: "the sign is flipped",
                 100.0: "100 times too large: a percentage where a share belongs?",
                 0.01: "100 times too small: a share where a percentage belongs?",
                 1 / math.log(2): "log base 2 where the natural log belongs (off by 1/ln 2)",
                 1 / math.log(10): "log base 10 where the natural log belongs (off by 1/ln 10)",
                 math.log(2): "natural log where log base 2 belongs (off by ln 2)",
                 math.log(10): "natural log where log base 10 belongs (off by ln 10)"}
        for factor, text in named.items():
            if fits(factor * want):
                return text
        for n, larger in ((round(k), True), (round(1 / k) if k else 0, False)):
            if 2 <= abs(n) <= 1000 and fits(want * n if larger else want / n):
                sign = " and of the opposite sign" if n < 0 else ""
                binomial = next((name for name, size in (sizes or {}).items()
                                 if larger and size == round(size) and 2 < size <= 60
                                 and n in {math.comb(int(size), k)
                                           for k in range(2, int(size) - 1)}), None)
                count = as_array(terms).size if terms is not None else 0
                if not larger and n == count and count > 1:
                    return f"the mean of the {count} terms, where their sum belongs"
                if binomial:
                    return (f"a binomial coefficient C({binomial}, k) times too large: the number "
                            "of orderings counted? One sequence of outcomes has none")
                # the factor is a fact on these inputs; where it comes from is not guessed
                return f"{abs(n)} times too {'large' if larger else 'small'}{sign}"
    if np.all(got > 0) and np.all(want > 0) and np.all(np.abs(np.log(want)) > 1e-9):
        # an exp of a scaled exponent (a perplexity divided by the wrong count, say)
        r = _common_ratio(np.log(got), np.log(want), 1e-9, rtol)
        for n, larger in (((round(r), True), (round(1 / r), False)) if r and r > 0 else ()):
            if 2 <= n <= 1000 and fits(np.exp(np.log(want) * (n if larger else 1 / n))):
                return (f"its log is {n} times too {'large' if larger else 'small'}: the "
                        "exponent (a sum, or what it is divided by) is off by that factor")
    if np.all(want <= 0) and np.all((got >= 0) & (got <= 1)) and fits(np.exp(want)):
        return "a probability where a log-probability belongs: take its log"
    if terms is not None and (t := as_array(terms)) is not None and t.size > 1 and want.ndim == 0:
        if fits(np.log(np.exp(t).sum())):
            return "the log of a sum of probabilities, where a sum of log-probabilities belongs"
        if fits(np.exp(t).sum()):
            return "a sum of probabilities, where a sum of log-probabilities belongs"
        if fits(np.log(np.exp(t).mean())):
            return "the log of a mean of probabilities, where a sum of log-probabilities belongs"
        for i, term in enumerate(t.ravel()):
            if fits(want - term):
                return f"term {i} of the sum (counting from 0) is left out"
            if fits(want + term):
                return f"term {i} of the sum (counting from 0) is counted twice"
    for places, candidate in _rounded(want):
        if fits(candidate):
            return f"equal to the expected value rounded to {places}: did you round?"
    if not np.all(want == np.floor(want)) and fits(np.floor(want)):
        return "the fractional part is lost: integer division (//) or int() where / belongs?"
    if not np.all(want == np.trunc(want)) and fits(np.trunc(want)):
        return "the fractional part is cut off (toward 0): int() where a float belongs?"
    return ""


def _log_binomials(n: int) -> np.ndarray:
    """log C(n, k) for k = 2 .. n - 2: C(n, 1) = n is left out, since an offset of log n has many
    other causes (a mean inside the log, say)."""
    k = np.arange(2, n - 1)
    return np.array([math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) for i in k])


def _mixtures(got: np.ndarray, want: np.ndarray, atol: float, rtol: float,
              sizes: Mapping[str, float] | None, related: Mapping[str, float] | None) -> str:
    """A binomial coefficient of a count in `sizes`, or a `related` quantity, mixed in."""
    fits = lambda candidate: _close(got, np.asarray(candidate, dtype=float),  # noqa: E731
                                    atol, rtol)
    if want.ndim == 0:
        for name, size in (sizes or {}).items():
            if not (size == round(size) and 4 <= size <= 10_000):
                continue
            logs = _log_binomials(int(size))
            if any(fits(want + c) or fits(want - c) for c in logs):
                return (f"off by the log of a binomial coefficient C({name}, k): the number of "
                        "orderings counted? The likelihood of one sequence of outcomes has none")
    for name, value in (related or {}).items():
        value = np.asarray(value, dtype=float)
        if value.shape not in ((), want.shape) or not np.all(np.isfinite(value)):
            continue
        for text, candidate in ((f"the sum of the quantity asked for and {name}", want + value),
                                (f"the mean of the quantity asked for and {name}",
                                 (want + value) / 2),
                                (f"the quantity asked for minus {name}", want - value),
                                (f"{name} minus the quantity asked for", value - want)):
            if not _close(candidate, value, atol, rtol) and fits(candidate):
                return text
    return ""


def _arrangements(got: np.ndarray, want: np.ndarray, atol: float, rtol: float) -> str:
    """Right entries in the wrong places: transposed, reversed, shifted, or another order; or
    every entry off by one constant."""
    if want.size < 2 or _close(want, want.ravel()[0] * np.ones_like(want), atol, rtol):
        return ""
    fits = lambda candidate: _close(got, candidate, atol, rtol)  # noqa: E731
    if want.ndim == 2 and want.shape[0] == want.shape[1] and fits(want.T):
        return "transposed: rows and columns swapped"
    if fits(np.flip(want, axis=-1)):
        return "the entries in reverse order"
    if want.shape[-1] > 2:
        early = _close(got[..., :-1], want[..., 1:], atol, rtol)
        late = _close(got[..., 1:], want[..., :-1], atol, rtol)
        if early or late:
            return (f"shifted by one position: entry t holds what belongs at t "
                    f"{'+' if early else '-'} 1 (an off-by-one shift?)")
    if _close(np.sort(got, axis=None), np.sort(want, axis=None), atol, rtol):
        return "the right values in the wrong places (another order)"
    offset = got.ravel()[0] - want.ravel()[0]
    if abs(offset) > atol and fits(want + offset):
        return "every entry is off by the same amount: a constant term added or left out?"
    return ""


def _near(got: np.ndarray, want: np.ndarray, atol: float, rtol: float) -> str:
    """Close, but neither equal nor a rounding of the expected value."""
    if np.allclose(got, want, rtol=5e-3, atol=max(atol, 1e-12)):
        return ("close to the expected value (within 0.5%) but not equal: an intermediate "
                "result rounded, an approximate constant, or a small term left out?")
    return ""


def _all_bools(value: Any) -> bool:
    """Whether a (nested) list holds only True and False."""
    if isinstance(value, list):
        return bool(value) and all(_all_bools(v) for v in value)
    return isinstance(value, bool)


def plain(value: Any) -> Any:
    """Lists, tuples, arrays and tensors compare by value: (1, 2) == [1, 2] and np.int64(3) == 3."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return plain(value.tolist())
    return value


def expect_equal(got: Any, want: Any, what: str, *,
                 misconceptions: Mapping[str, Any] | None = None) -> None:
    """Pass when `got == want` exactly (strings, integers, booleans, and sequences of them)."""
    if isinstance(want, (bool, np.bool_)):
        if _bool(got) is None:
            raise CheckFailure(what, want, got, _form_error(got, "bool", what), public=True)
        got = _bool(got)
    normal = plain(got)
    # 1 == True in Python; the course's rule is stricter
    if _all_bools(plain(want)) and not _all_bools(normal):
        raise CheckFailure(what, want, got,
                           f"expected a sequence of True or False, got {describe(got)}",
                           public=True)
    if normal == plain(want):
        return
    mistake = _matching(normal, misconceptions, lambda g, v: g == plain(v))
    where = ""
    got_array, want_array = as_array(got), as_array(want)
    if got_array is not None and want_array is not None and got_array.shape == want_array.shape:
        where = _first_difference(got_array, want_array, got_array != want_array)
    elif got_array is not None and want_array is not None and got_array.ndim:
        where = f"expected shape {want_array.shape}, got shape {got_array.shape}"
    raise CheckFailure(what, want, got, f"expected {show(want)}, got {show(got)}", mistake,
                       where=where)


def expect_choice(got: Any, want: str, what: str, choices: str, *,
                  misconceptions: Mapping[str, Any] | None = None) -> None:
    """Pass when the answer letter `got` is `want`, in any case; `choices` lists the valid
    letters, e.g. "abcd"."""
    letter = _letter(got, choices)
    if letter is None:
        raise CheckFailure(what, want, got, _form_error(got, "letter", what, choices), public=True)
    if letter != want.lower():
        mistake = _matching(letter, misconceptions, lambda g, v: g == str(v).lower())
        raise CheckFailure(what, want, got, f"expected {want!r}, got {letter!r}", mistake)


def standard_misconceptions(want: float, n_terms: int | None = None) -> dict[str, float]:
    """Values that the usual slips turn a log-likelihood `want` (a sum of `n_terms`
    log-probabilities) into."""
    out = {
        "a sign error: a log-likelihood of discrete data (a sum of log-probabilities) is at "
        "most 0, and the negative log-likelihood, the loss, is its negative": -want,
        "the product of probabilities, not the sum of log-probabilities": math.exp(want),
        "log base 2 instead of the natural log: the course measures in nats": want / math.log(2),
    }
    if n_terms:
        out["the mean over terms instead of their sum"] = want / n_terms
    return out


# --- calls whose effect on their arguments is checked ---------------------------------------------

def after_call(function, *args, **kwargs) -> tuple[Any, tuple]:
    """Call `function` on copies of the arguments: (its result, the copied positional arguments
    as the call left them).

    A test that checks an in-place update (a training step, an array filled in) reads the copies;
    the objects it passed are never changed. The grader's handles to a student's functions provide
    `call_with_state`, which returns the state after the call from the student's process."""
    through = getattr(type(function), "call_with_state", None)
    if through is not None:
        return through(function, args, kwargs)
    copies = copy.deepcopy((args, kwargs))
    for given, twin in zip([*args, *kwargs.values()], [*copies[0], *copies[1].values()]):
        _keep_gradients(given, twin)
    args, kwargs = copies
    return function(*args, **kwargs), args


def _keep_gradients(given: Any, twin: Any) -> None:
    """Give a deep-copied torch module its original's gradients: deepcopy drops `.grad`, the
    grader's codec carries it, and a test of "old gradients must not count" needs them in the copy
    too."""
    if not (hasattr(given, "named_parameters") and hasattr(twin, "named_parameters")):
        return
    grads = {name: p.grad for name, p in given.named_parameters() if p.grad is not None}
    for name, parameter in twin.named_parameters():
        if name in grads:
            parameter.grad = grads[name].detach().clone()


# --- why an answer differs: sensitivity probes, target diffs, errors, gradients -------------------

@contextmanager
def explained(*finders):
    """Run checks; when one fails without a named misconception or kind of difference, the first
    finder (a function of no arguments, called only then) that returns a text names the kind of
    difference.

        with explained(lambda: probe(student_fn, reference_fn, base, variants)):
            expect_close(student_fn(*base), want, "the example")"""
    try:
        yield
    except CheckFailure as failure:
        if failure.misconception or failure.difference:
            raise
        for finder in finders:
            try:
                found = finder()
            except Exception:  # noqa: BLE001 - a finder that cannot run explains nothing
                found = ""
            if found:
                failure.difference = found
                failure.args = (f"{failure.args[0]}\n{DIFFERENCE_PREFIX}{found}",)
                break
        raise


def _moves(after: np.ndarray | None, before: np.ndarray | None, atol: float,
           rtol: float) -> np.ndarray | None:
    """Where `after` differs from `before` (a boolean array), or None when they cannot be
    compared."""
    if after is None or before is None or after.shape != before.shape:
        return None
    return ~np.isclose(after, before, rtol=rtol, atol=atol, equal_nan=True)


def probe(student, solution, base: tuple, variants: Mapping[str, tuple], *,
          entries: list[str] | None = None, atol: float = 1e-6, rtol: float = 1e-6) -> str:
    """How the student's function responds to one ingredient of its input, against how the
    solution responds: "" when every variant moves both alike (or nothing can be said).

    `base` is a tuple of arguments; each variant ({"the log-probability of <eos>": args}) differs
    from it in that one ingredient. The first variant on which the two disagree is reported: an
    ingredient the answer ignores, counts where it does not belong, counts k times, or lets move
    entries of the result that it should not reach. `entries` names the result's entries (for a
    pair, say), else they are named by index. Nothing here holds an expected value."""
    def outcome(function, args):
        return as_array(function(*copy.deepcopy(args)))

    try:
        s_base, r_base = outcome(student, base), outcome(solution, base)
    except Exception:  # noqa: BLE001 - the value check reports a call that fails
        return ""
    for ingredient, args in variants.items():
        try:
            s_after, r_after = outcome(student, args), outcome(solution, args)
        except Exception:  # noqa: BLE001 - one variant the answer cannot take says nothing
            continue
        s_moves, r_moves = _moves(s_after, s_base, atol, rtol), _moves(r_after, r_base, atol, rtol)
        if s_moves is None or r_moves is None or s_moves.shape != r_moves.shape:
            continue
        if r_moves.any() and not s_moves.any():
            return (f"changing {ingredient} does not change your result, and it should: your "
                    f"answer leaves out {ingredient}")
        if s_moves.any() and not r_moves.any():
            return (f"changing {ingredient} changes your result, and it should not: your "
                    f"answer counts {ingredient}, which does not belong in it")
        if not s_moves.any():
            continue
        leaked = np.argwhere(s_moves & ~r_moves)
        if len(leaked):
            index = tuple(int(i) for i in leaked[0])
            name = (entries[index[0]] if entries and len(index) == 1
                    else f"index {list(index)}" if index else "")
            return (f"changing {ingredient} changes your result at {name} too, which it "
                    "should not reach: it is mixed into another entry (a wrong axis or index?)")
        if (s_moves != r_moves).any():
            index = tuple(int(i) for i in np.argwhere(r_moves & ~s_moves)[0])
            name = entries[index[0]] if entries and len(index) == 1 else f"index {list(index)}"
            return (f"changing {ingredient} does not change your result at {name}, and it "
                    "should: your answer leaves it out of that entry")
        k = _common_ratio(s_after - s_base, r_after - r_base, atol, rtol)
        if k is not None and not math.isclose(k, 1, rel_tol=1e-3):
            way = " and the opposite way" if k < 0 else ""
            return (f"changing {ingredient} moves your result {abs(k):.3g} times as much as it "
                    f"should{way}")
    return ""


def _token_name(value: int, vocab: Any) -> str:
    if vocab is not None and hasattr(vocab, "tokens") and value >= 0:
        try:
            return f"`{vocab.tokens([value])[0]}`"
        except (IndexError, KeyError, TypeError, ValueError):
            pass
    return f"id {value}"


def target_differences(got: Any, want: Any, ids: Any = None, *, vocab: Any = None,
                       roles: Any = None, ignore: int = -100, limit: int = 2) -> str:
    """Where the targets `got` differ from `want`, in the course's words: the first `limit`
    wrong positions, each named by its row, its position and the token it predicts
    (`ids[b, t+1]`, when `ids` is given; `vocab` turns ids into words), and, with `roles` (an
    array of texts shaped like the targets: "the prompt", "padding", ...), the part of the
    sequence it belongs to; a shift of every wrong position is named as one. "" when the shapes
    differ or nothing differs.

    A target is *scored* when it is not `ignore` (IGNORE_INDEX)."""
    got, want = as_array(got), as_array(want)
    if got is None or want is None or got.shape != want.shape or got.ndim != 2:
        return ""
    bad = got != want
    if not bad.any():
        return ""
    ids_array = as_array(ids)
    ids_array = (ids_array if ids_array is not None and ids_array.ndim == 2
                 and ids_array.shape[0] == got.shape[0] and ids_array.shape[1] > got.shape[1]
                 else None)
    roles = None if roles is None else np.asarray(roles, dtype=object)
    wrong = np.argwhere(bad)
    count = f" ({len(wrong)} of {got.size} targets differ)"
    scored = got[bad] != ignore
    if ids_array is not None and scored.all():
        for offset, text in ((0, "the token each position reads, not the next one: no shift"),
                             (2, "the token two ahead: shifted one position too far")):
            source = ids_array[:, offset:offset + got.shape[1]]
            if source.shape == got.shape and np.all(got[bad] == source[bad]):
                return f"the wrong targets hold {text}{count}"
    lines = []
    for b, t in wrong[:limit]:
        b, t = int(b), int(t)
        token = (_token_name(int(ids_array[b, t + 1]), vocab) if ids_array is not None
                 else "")
        role = (f", {roles[b, t]}" if roles is not None and roles.shape == got.shape
                and roles[b, t] else "")
        place = f"row {b}, target {t}" + (f" (predicting {token}{role})" if token or role else "")
        if got[b, t] == ignore:
            lines.append(f"{place} is ignored but should be scored")
        elif want[b, t] == ignore:
            lines.append(f"{place} is scored but should be ignored")
        else:
            lines.append(f"{place} holds {_token_name(int(got[b, t]), vocab)}, not the token "
                         "it should predict")
    return "; ".join(lines) + count


# Common torch and numpy errors in the course's words, one table: the grader adds the meaning to any
# error of a student's call (autograder.verdicts), and `calling` turns one into a failed check. Each
# entry: the exception's type name (None: any), a pattern of its text, and what it means as the rest
# of "your code ...", filled from the pattern's groups. Matching an error's text is only ever a
# translation for the student, never a verdict.
TORCH_ERRORS: tuple[tuple[str | None, re.Pattern, str], ...] = tuple(
    (exception, re.compile(pattern), meaning) for exception, pattern, meaning in (
        ("RuntimeError", r"mat1 and mat2 shapes cannot be multiplied \((?P<a>\d+x\d+) and "
                         r"(?P<b>\d+x\d+)\)",
         "multiplied a {a} matrix by a {b} matrix: the columns of the first must be as many as the "
         "rows of the second. Check the shapes your code multiplies (a transpose missing, or the "
         "wrong axis?)."),
        ("RuntimeError", r"The size of tensor a \((?P<a>\d+)\) must match the size of tensor b "
                         r"\((?P<b>\d+)\) at non-singleton dimension (?P<axis>\d+)",
         "combined, element by element, two tensors of sizes {a} and {b} along axis {axis}: sizes "
         "combine only when they are equal or one of them is 1 (broadcasting). Check the shape of "
         "each tensor your code adds, multiplies or compares there."),
        ("ValueError", r"operands could not be broadcast together with shapes (?P<a>\([\d, ]*\)) "
                       r"(?P<b>\([\d, ]*\))",
         "combined, element by element, arrays of shapes {a} and {b}: sizes combine only when they "
         "are equal or one of them is 1 (broadcasting). Check the shape of each array your code "
         "combines there."),
        ("RuntimeError", r"expected scalar type (?P<a>\w+) but found (?P<b>\w+)"
                         r"|to have the same dtype, but got:? (?P<c>\w+) (?:!=|and) (?P<d>\w+)",
         "mixed tensors of two different types (float32, float64, int64, ...) in one operation: "
         "torch does not convert them for you. Keep to the type of the exercise's inputs "
         "(`.float()`, `.double()`, `.long()` convert), rather than building a tensor of another."),
        ("RuntimeError", r"expected target dtype to be Long or Byte, but got (?P<a>\w+)",
         "gave a loss class indices (the targets) of type {a}: torch's losses take them as "
         "integers of type long (int64). Keep the targets as the exercise gives them, or convert "
         "them with `.long()`."),
        ("RuntimeError", r"a leaf Variable that requires grad is being used in an in-place "
                         r"operation",
         "changed in place (`+=`, `-=`, `.zero_()`, `x[i] = ...`) a tensor that requires grad, "
         "such as a model's parameter, outside `with torch.no_grad():`. Change parameters inside "
         "`with torch.no_grad():`, or build a new tensor instead of changing this one."),
        ("RuntimeError", r"a Tensor with (?P<n>\d+) elements cannot be converted to Scalar",
         "called `.item()` (or `float()`) on a tensor of {n} numbers: only a tensor of one number "
         "becomes a Python number. Reduce it first (`.sum()`, `.mean()`), or keep it a tensor."),
        ("ValueError", r"only one element tensors can be converted to Python scalars",
         "called `float()` (or `int()`) on a tensor of more than one number: only a tensor of one "
         "number becomes a Python number. Reduce it first (`.sum()`, `.mean()`), or keep it a "
         "tensor."),
        ("TypeError", r"unsupported operand type\(s\) for (?P<op>\S+): .*'NoneType'",
         "computed `{op}` with None where a number or tensor belongs: a parameter's `.grad` is "
         "None when no gradient reached it (was `backward()` called, on a loss built from the "
         "model's output?), and a function without `return` gives None."),
        # the slips of targets, shifts and masks
        (None, r"index -100 is out of bounds",
         "used IGNORE_INDEX (-100) as an index: give the ignored positions any valid index before "
         "picking, and set their result to 0 after"),
        (None, r"is out of bounds",
         "indexed past the end of a dimension: an off-by-one slice or shift?"),
        (None, r"must match the existing size",
         "assigned a slice from another of a different length: their starts and ends must be "
         "shifted alike"),
        (None, r"shape mismatch",
         "combined two tensors whose shapes do not fit: a slice one position too long or too "
         "short, or the wrong dimension?"),
        (None, r"Expected input batch_size",
         "gave logits and targets different numbers of positions: the shift must drop one "
         "position from each"),
        (None, r"Dimension out of range",
         "asked for a dimension the tensor does not have: count its dimensions (dim=-1 is the "
         "last)"),
        # the course's own models (mlcourse.models) say this of a prefix without <s>
        (None, r"every prefix starts with <s>",
         "asked the model about a prefix without <s> in front: the model is asked about "
         "<s> y_1 ... y_(t-1), so put <s> before the tokens, then cut the prefixes"),
    ))


def in_course_words(exception: str, text: str) -> str | None:
    """What an error of type `exception` (its name) saying `text` means, as "your code ..."; None
    when it is not one of TORCH_ERRORS."""
    for kind, pattern, meaning in TORCH_ERRORS:
        if kind in (None, exception) and (found := pattern.search(text)):
            groups = {k: v for k, v in found.groupdict().items() if v is not None}
            return "your code " + meaning.format_map(groups)
    return None


def calling(what: str, function, *args, **kwargs) -> Any:
    """`function(*args, **kwargs)`, where an error torch raises for a common slip becomes a
    failed check that says in the course's words what it usually means (TORCH_ERRORS); any other
    error propagates unchanged."""
    try:
        return function(*args, **kwargs)
    except Exception as error:
        text = str(error)
        meaning = in_course_words(type(error).__name__, text)
        if meaning is None:
            raise
        line = text.splitlines()[0][:300] if text else ""
        # the grader's error already names the call: "`fn(Tensor (2, 3) float32)` raised ..."
        problem = line if " raised " in line else f"the call raised {type(error).__name__}: {line}"
        raise CheckFailure(what, None, None, problem, difference=meaning, public=True) from None


def gradients_after(function, *args, **kwargs) -> tuple[Any, tuple]:
    """`after_call`, then backpropagate from the result: (the result, copies of the positional
    arguments holding the gradients of the sum of its entries).

    A tensor argument with `requires_grad` comes back with `.grad` None when no gradient reached
    it: a result cut off from that input (rebuilt with torch.tensor(...), .item() or .detach()).
    The grader's handles to a student's functions provide `call_with_gradients`, which
    backpropagates in the student's process."""
    through = getattr(type(function), "call_with_gradients", None)
    if through is not None:
        return through(function, args, kwargs)
    result, copies = after_call(function, *args, **kwargs)
    if _is_tensor(result) and result.requires_grad:
        result.sum().backward()
    return result, copies


# --- narrative cells that use the student's answers -----------------------------------------------

@contextmanager
def needs(*exercises: str):
    """Run a narrative block that uses the named exercises; when one is not solved yet, say so and
    skip the rest.

    An unsolved exercise raises NotImplementedError (or its name is not defined yet); any other
    error is shown."""
    plt = sys.modules.get("matplotlib.pyplot")
    before = set(plt.get_fignums()) if plt else set()
    try:
        yield
    except (NotImplementedError, NameError) as error:
        names = ", ".join(f"`{e}`" for e in exercises)
        print(f"(skipped: this cell uses {names}, and {type(error).__name__} was raised: "
              f"{str(error) or 'not solved yet'}; "
              "solve the exercise above, then run this cell again)")
        if plt:  # a figure half drawn before the skip would show as empty axes
            for number in set(plt.get_fignums()) - before:
                plt.close(number)


# --- reference values from the instructor's solution ---------------------------------------------

def course_root(start: Path | None = None) -> Path:
    """The course folder holding `solutions/`: the nearest parent of `start` (the working
    directory by default: nbgrader runs notebooks below the course folder) that has one, else the
    checkout this package was installed from."""
    start = Path.cwd() if start is None else Path(start)
    for folder in [start, *start.parents, *Path(__file__).resolve().parents]:
        if (folder / "solutions").is_dir():
            return folder
    raise FileNotFoundError(f"cannot find the course's solutions/ folder above {start}")


@lru_cache(maxsize=32)
def _solution_namespace(path: Path, mtime_ns: int) -> dict[str, Any]:
    """Run the lesson's `setup` cell and its answer cells (not the narrative) in a fresh
    namespace."""
    from mlcourse.lessons import read_lesson

    namespace: dict[str, Any] = {"__name__": "__solution__"}
    for cell in read_lesson(path).cells:
        if cell.kind in ("setup", "answer"):
            exec(compile(cell.source, f"{path.name}:{cell.grade_id}", "exec"), namespace)
    return namespace


def reference(name: str, lesson: str | None = None, *, root: Path | None = None) -> Any:
    """The object `name` as the instructor's solution defines it (answer cells only).

    `root` is the course folder (the grader passes it; by default `course_root()`); `lesson` picks
    the assignment when several define `name`. Each lesson is read and run once while unchanged."""
    from mlcourse.lessons import lesson_names, lesson_path, read_lesson

    root = course_root() if root is None else Path(root)
    paths = ([lesson_path(root, lesson)] if lesson
             else [lesson_path(root, n) for n in lesson_names(root)])
    found = [p for p in paths if p.exists() and name in read_lesson(p).answer_names]
    if len(found) != 1:
        where = ", ".join(p.parent.name for p in found) or "no solution notebook"
        raise LookupError(f"reference({name!r}): defined in {where}; pass lesson= to choose one")
    return _solution_namespace(found[0].resolve(), found[0].stat().st_mtime_ns)[name]
