"""The mutation pass of issue 22: how the lessons' checks treat answers that are wrong on purpose.

For every graded function answer (an answer cell defining a function), two families of answers:

- trivial stand-ins (`pass`, `return None`, `return 0`, `return 0.0`, the first argument returned,
  zeros and ones shaped like the solution's output): each must fail every test cell of its
  exercise (`test_<answer>` and `test_<answer>_*`); for an answer that is a value,
  `VALUE_STAND_INS`;
- systematic mutants of the solution, one change each, made on its AST (`Mutator`): an axis
  swapped, a reduction changed, one term of a + or - dropped, `+` and `-` swapped (`+=` and `-=`
  too), a call made for its effect left out (`model.zero_grad()`), a unary minus
  dropped, an off-by-one slice, `log` replaced by `log2` or `log10`, a comparison flipped, a mask
  inverted, `.detach()` on a returned tensor. At most `CAP` per function, chosen round-robin over
  the kinds of change, in source order (deterministic). Also: a reduction swapped for another
  (`sum()` -> `max()`, `argmax` -> `argmin`), and a loop's first item left out.

A mutant whose tests all pass is *equivalent* when it returns what the solution returns (and
leaves its arguments as the solution does) on every input the tests passed the function;
otherwise it *survived*, which is a hole in the tests. A mutant that only raises Python's
`list - list` TypeError (`+` swapped on lists) is *stillborn*: rejected, but left out of the
diagnosis rate, since no code a student gets to run looks like it.

A rejected mutant is *diagnosed* when the feedback a student sees (`CheckFailure.hidden_message()`
of a failed check; a raw exception never counts) names or locates the change: it holds one of
`LOCATING`:
- `Likely misconception: ` - a listed misconception matched;
- `Kind of difference: ` - a generic detector of `mlcourse.checking` (sign, scale, log base,
  rounding, floor, probability for log-probability, log of a sum) recognised it;
- `first difference at index` - the first wrong entry of a sequence is named;
- `expected shape` - the answer's shape is wrong, and the message says so;
- `expected <a form of mlcourse.checking.FORMS>` - the answer is not of the form asked for (a
  number where a sequence belongs, None where a `return` is missing), and the message says so.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import io
import re
import signal
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from mlcourse.checking import DIFFERENCE_PREFIX, FORMS, MISCONCEPTION_PREFIX, CheckFailure
from mlcourse.lessons import lesson_names, lesson_path, read_lesson

ROOT = Path(__file__).resolve().parents[1]
CAP = 12
SECONDS = 60  # per answer tried: a mutant can loop for ever (a `while` that never ends)
LOCATING = (MISCONCEPTION_PREFIX, DIFFERENCE_PREFIX, "first difference at index", "expected shape",
            *(f"expected {form}" for form in FORMS.values()))
RECORDED_CALLS = 6  # inputs kept per function for the equivalence check
STILLBORN = re.compile(r"^TypeError: unsupported operand type\(s\) for [-+]=?: 'list' and 'list'")


@dataclass
class Answer:
    lesson: str
    grade_id: str
    name: str  # the function the cell defines
    source: str
    tests: list[str]  # the test cells of its exercise


def function_answers(lesson: str) -> list[Answer]:
    notebook = read_lesson(lesson_path(ROOT, lesson))
    out = []
    for cell in notebook.answers:
        functions = [n.name for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef)]
        if functions:
            own = [t.grade_id for t in notebook.tests
                   if t.grade_id == f"test_{cell.grade_id}"
                   or t.grade_id.startswith(f"test_{cell.grade_id}_")]
            out.append(Answer(lesson, cell.grade_id, functions[0], cell.source, own))
    return out


def all_answers() -> list[Answer]:
    return [a for lesson in lesson_names(ROOT) for a in function_answers(lesson)]


def value_answers(lesson: str) -> list[Answer]:
    """The graded answers that are values (`answer_x = "b"`), with the test cell of each."""
    notebook = read_lesson(lesson_path(ROOT, lesson))
    functions = {a.grade_id for a in function_answers(lesson)}
    return [Answer(lesson, c.grade_id, c.grade_id, c.source, [f"test_{c.grade_id}"])
            for c in notebook.answers if c.grade_id not in functions]


VALUE_STAND_INS = ["None", "0", "0.0", "''", "[]"]  # a letter is left out: one of them is right


# --- stand-ins ------------------------------------------------------------------------------------

def _with_body(source: str, name: str, body: str) -> str:
    """The cell with function `name`'s body (docstring kept) replaced by `body`."""
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            doc = node.body[:1] if ast.get_docstring(node) else []
            node.body = doc + ast.parse(body).body
    return ast.unparse(tree)


def stand_ins(answer: Answer, output: Any) -> dict[str, str]:
    """{description: source} of the trivial answers; `output` is the solution's on the visible
    example, for the constants shaped like it (bound to the name `STAND_IN` when run)."""
    function = next(n for n in ast.parse(answer.source).body
                    if isinstance(n, ast.FunctionDef) and n.name == answer.name)
    bodies = {"pass": "pass", "return None": "return None", "return 0": "return 0",
              "return 0.0": "return 0.0",
              "the first argument returned": f"return {function.args.args[0].arg}"}
    if _constant(output, 0) is not None:
        bodies["zeros shaped like the output"] = "return STAND_IN[0]"
        bodies["ones shaped like the output"] = "return STAND_IN[1]"
    return {name: _with_body(answer.source, answer.name, body) for name, body in bodies.items()}


def _constant(output: Any, value: float) -> Any:
    """A constant of the type and shape of `output`, or None for outputs of other kinds."""
    import torch

    if isinstance(output, torch.Tensor):
        return torch.full_like(output, value).requires_grad_(output.requires_grad)
    if isinstance(output, np.ndarray):
        return np.full_like(output, value)
    if isinstance(output, (list, tuple)) and output and all(
            isinstance(v, (int, float)) for v in output):
        return type(output)(type(v)(value) for v in output)
    if isinstance(output, (int, float)) and not isinstance(output, bool):
        return type(output)(value)
    return None


# --- mutants --------------------------------------------------------------------------------------

SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add}
FLIPS = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt,
         ast.Gt: ast.GtE, ast.GtE: ast.Gt}
REDUCTIONS = {"sum": "mean", "mean": "sum", "max": "min", "min": "max", "argmax": "argmin",
              "argmin": "argmax"}


class Mutator(ast.NodeTransformer):
    """Applies the `target`-th possible change of the function it visits (None: counts them);
    `kinds` lists the kind of every change site, in visiting order."""

    def __init__(self, target: int | None, detach: bool):
        self.target, self.detach, self.kinds, self.done = target, detach, [], None

    def _offer(self, kind: str, text: str, node: ast.AST, make) -> ast.AST:
        index = len(self.kinds)
        self.kinds.append(kind)
        if index == self.target:
            self.done = text
            return ast.copy_location(make(), node)
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if type(node.op) in SWAPS:
            symbol = "+" if isinstance(node.op, ast.Add) else "-"
            node = self._offer("swap", f"`{symbol}` swapped", node,
                               lambda: ast.BinOp(node.left, SWAPS[type(node.op)](), node.right))
            if isinstance(node, ast.BinOp):
                node = self._offer("drop", f"right term of `{symbol}` dropped", node,
                                   lambda: node.left)
            if isinstance(node, ast.BinOp):
                node = self._offer("drop", f"left term of `{symbol}` dropped", node,
                                   lambda: node.right)
        return node

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        if type(node.op) in SWAPS:
            symbol = "+=" if isinstance(node.op, ast.Add) else "-="
            return self._offer("swap", f"`{symbol}` swapped", node, lambda: ast.AugAssign(
                node.target, SWAPS[type(node.op)](), node.value))
        return node

    def visit_Expr(self, node):
        self.generic_visit(node)
        if isinstance(node.value, ast.Call):  # a call made for its effect: `model.zero_grad()`
            return self._offer("drop", f"`{ast.unparse(node.value)}` left out", node, ast.Pass)
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.USub) and not isinstance(node.operand, ast.Constant):
            return self._offer("drop", "unary minus dropped", node, lambda: node.operand)
        return node

    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.ops) == 1 and type(node.ops[0]) in FLIPS:
            flipped = FLIPS[type(node.ops[0])]
            return self._offer("compare", f"`{type(node.ops[0]).__name__}` flipped", node,
                               lambda: ast.Compare(node.left, [flipped()], node.comparators))
        return node

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if node.attr == "log":
            node = self._offer("log", "log -> log2", node,
                               lambda: ast.Attribute(node.value, "log2", node.ctx))
            if isinstance(node, ast.Attribute) and node.attr == "log":
                node = self._offer("log", "log -> log10", node,
                                   lambda: ast.Attribute(node.value, "log10", node.ctx))
        elif node.attr in REDUCTIONS:
            new = REDUCTIONS[node.attr]
            node = self._offer("reduce", f"{node.attr} -> {new}", node,
                               lambda: ast.Attribute(node.value, new, node.ctx))
        return node

    def visit_keyword(self, node):
        self.generic_visit(node)
        value = _int(node.value)
        if node.arg == "reduction" and isinstance(node.value, ast.Constant):
            new = "mean" if node.value.value == "sum" else "sum"
            return self._offer("reduce", f"reduction={node.value.value!r} -> {new!r}", node,
                               lambda: ast.keyword(node.arg, ast.Constant(new)))
        if node.arg in ("dim", "axis") and value is not None:
            new = 0 if value != 0 else -1
            return self._offer("axis", f"{node.arg}={value} -> {node.arg}={new}", node,
                               lambda: ast.keyword(node.arg, ast.Constant(new)))
        return node

    def visit_Slice(self, node):
        self.generic_visit(node)
        lower, upper = _int(node.lower), _int(node.upper)
        if lower == 1 and node.upper is None:
            return self._offer("slice", "[1:] -> [:-1]", node,
                               lambda: ast.Slice(None, ast.Constant(-1), node.step))
        if node.lower is None and upper == -1:
            return self._offer("slice", "[:-1] -> [:]", node, lambda: ast.Slice(None, None))
        return node

    def visit_Name(self, node):
        if node.id in ("sum", "max", "min") and isinstance(node.ctx, ast.Load):
            new = "max" if node.id == "sum" else REDUCTIONS[node.id]
            return self._offer("reduce", f"{node.id}() -> {new}()", node,
                               lambda: ast.Name(new, node.ctx))
        return node

    def _skip_first(self, node):
        """`for v in xs` -> `for v in list(xs)[1:]`: one item of a loop left out."""
        self.generic_visit(node)
        return self._offer("slice", "the loop's first item left out", node, lambda: type(node)(
            **{**{f: getattr(node, f) for f in node._fields},
               "iter": ast.Subscript(ast.Call(ast.Name("list", ast.Load()), [node.iter], []),
                                     ast.Slice(ast.Constant(1)), ast.Load())}))

    visit_For = visit_comprehension = _skip_first

    def visit_Subscript(self, node):
        self.generic_visit(node)
        index = node.slice
        if isinstance(index, ast.Compare) or (isinstance(index, ast.BinOp)
                                              and isinstance(index.op, (ast.BitOr, ast.BitAnd))):
            return self._offer("mask", "mask inverted", node, lambda: ast.Subscript(
                node.value, ast.UnaryOp(ast.Invert(), index), node.ctx))
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        where = isinstance(node.func, ast.Attribute) and node.func.attr == "where"
        if where and len(node.args) == 3:
            return self._offer("mask", "where() condition inverted", node, lambda: ast.Call(
                node.func, [ast.UnaryOp(ast.Invert(), node.args[0]), *node.args[1:]],
                node.keywords))
        return node

    def visit_Return(self, node):
        self.generic_visit(node)
        if self.detach and node.value is not None:
            return self._offer("detach", ".detach() on the returned tensor", node,
                               lambda: ast.Return(ast.Call(
                                   ast.Attribute(node.value, "detach", ast.Load()), [], [])))
        return node


def _int(node: ast.AST | None) -> int | None:
    """The integer a literal such as `1` or `-1` stands for, else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _int(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    return None


def _mutate(answer: Answer, target: int | None, detach: bool) -> tuple[Mutator, str]:
    tree = ast.parse(answer.source)
    mutator = Mutator(target, detach)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == answer.name:
            node.body = [mutator.visit(statement) for statement in node.body]
    return mutator, ast.unparse(ast.fix_missing_locations(tree))


def mutants(answer: Answer, detach: bool = False, cap: int = CAP) -> dict[str, str]:
    """{description: source} of at most `cap` distinct one-change mutants of the solution,
    round-robin over the kinds of change."""
    counter, original = _mutate(answer, None, detach)
    by_kind: dict[str, list[int]] = {}
    for index, kind in enumerate(counter.kinds):
        by_kind.setdefault(kind, []).append(index)
    order = [queue[i] for i in range(len(counter.kinds)) for queue in by_kind.values()
             if i < len(queue)]
    out: dict[str, str] = {}
    for index in order:
        mutator, source = _mutate(answer, index, detach)
        if source != original and source not in out.values():
            out[f"{mutator.done} (change {index})"] = source
        if len(out) == cap:
            break
    return out


# --- running them ---------------------------------------------------------------------------------

class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout(f"still running after {SECONDS} s")


@dataclass
class Verdict:
    """What the tests of one exercise made of one answer."""
    failures: dict[str, str | None]  # test id -> the feedback a student sees, None = passed
    equivalent: bool = False
    stillborn: bool = False  # a TypeError of Python's own operators: no student's working code

    @property
    def rejected(self) -> bool:
        return any(m is not None for m in self.failures.values())

    @property
    def diagnosed(self) -> bool:
        return any(m is not None and any(p in m for p in LOCATING)
                   for m in self.failures.values())


def feedback(error: BaseException) -> str:
    if isinstance(error, CheckFailure):
        return error.hidden_message()
    return f"{type(error).__name__}: {error}"  # never counts as diagnosed


@dataclass
class LessonRun:
    """A lesson's setup and answer cells run once; answers swapped in are run on a copy."""
    lesson: str
    namespace: dict = field(default_factory=dict)
    calls: dict = field(default_factory=dict)  # function name -> [(args, kwargs)], as called
    outputs: dict = field(default_factory=dict)  # function name -> the solution's first output

    def __post_init__(self):
        notebook = read_lesson(lesson_path(ROOT, self.lesson))
        self.tests = {c.grade_id: c.source for c in notebook.tests}
        self.namespace = {"__name__": "__main__"}
        for cell in notebook.steps:
            if cell.kind in ("setup", "answer"):
                exec(cell.source, self.namespace)
        for answer in function_answers(self.lesson):
            self._record(answer)

    def _record(self, answer: Answer) -> None:
        """Run the exercise's tests on the solution, keeping the inputs they pass it."""
        solution, calls = self.namespace[answer.name], []

        def recording(*args, **kwargs):
            if len(calls) < RECORDED_CALLS:
                calls.append(copy.deepcopy((args, kwargs)))
            return solution(*args, **kwargs)

        verdict = self.run(answer, answer.source, {answer.name: recording})
        assert not verdict.rejected, f"the solution fails its own tests: {verdict.failures}"
        self.calls[answer.name] = calls
        args, kwargs = copy.deepcopy(calls[0]) if calls else ((), {})
        self.outputs[answer.name] = solution(*args, **kwargs) if calls else None

    def run(self, answer: Answer, source: str, replace: dict | None = None) -> Verdict:
        namespace = dict(self.namespace)
        output = self.outputs.get(answer.name)
        namespace["STAND_IN"] = (_constant(output, 0), _constant(output, 1))
        failures: dict[str, str | None] = {}
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(SECONDS)
        namespace.pop(answer.name)  # a cell that fails before its `def` must not leave the solution
        quiet = contextlib.redirect_stdout(io.StringIO())  # check_format's lines, the tests' prints
        quiet.__enter__()
        try:
            try:
                exec(source, namespace)
            except Exception:  # a broken answer shows up in the tests that use it, as in grading
                pass
            namespace.update(replace or {})
            for test in answer.tests:
                try:
                    exec(self.tests[test], namespace)
                    failures[test] = None
                except Timeout:
                    raise
                except Exception as error:
                    failures[test] = feedback(error)
        except Timeout as error:
            failures = {t: failures.get(t) or f"Timeout: {error}" for t in answer.tests}
        finally:
            quiet.__exit__(None, None, None)
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        verdict = Verdict(failures)
        verdict.stillborn = verdict.rejected and all(m is None or STILLBORN.search(m)
                                                     for m in failures.values())
        if not verdict.rejected and replace is None and answer.name in self.calls:
            verdict.equivalent = self._same_as_solution(answer, namespace[answer.name])
        return verdict

    def _same_as_solution(self, answer: Answer, function) -> bool:
        """Whether `function` returns what the solution returns, and leaves its arguments as the
        solution does, on every input the tests passed the solution."""
        solution = self.namespace[answer.name]
        for args, kwargs in self.calls[answer.name]:
            (a_args, a_kwargs), (b_args, b_kwargs) = copy.deepcopy((args, kwargs)), copy.deepcopy(
                (args, kwargs))
            want = solution(*a_args, **a_kwargs)
            try:
                got = function(*b_args, **b_kwargs)
            except Exception:
                return False
            if not _same((got, b_args), (want, a_args)):
                return False
        return True


def _same(a: Any, b: Any) -> bool:
    if hasattr(a, "parameters") and hasattr(b, "parameters"):  # torch modules: their weights
        return all(_same(p, q) for p, q in zip(a.parameters(), b.parameters()))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if type(a) is type(b) and hasattr(a, "__dict__") and not hasattr(a, "detach"):
        return _same(vars(a), vars(b))  # a vocabulary, a model of the course: field by field
    if hasattr(a, "detach"):
        a = a.detach().numpy()
    if hasattr(b, "detach"):
        b = b.detach().numpy()
    try:
        x, y = np.asarray(a), np.asarray(b)
        if x.dtype.kind in "biufc" and y.dtype.kind in "biufc":
            return x.shape == y.shape and bool(np.allclose(x, y, rtol=1e-9, atol=1e-12,
                                                           equal_nan=True))
    except (TypeError, ValueError):
        pass
    try:
        return bool(a == b)
    except Exception:
        return a is b


@lru_cache(maxsize=None)
def lesson_run(lesson: str) -> LessonRun:
    return LessonRun(lesson)


@dataclass
class Result:
    answer: Answer
    stand_ins: dict[str, Verdict]
    mutants: dict[str, Verdict]
    # the solution again: no answer tried may leave the lesson's state changed
    solution_after: Verdict

    @property
    def free_points(self) -> list[tuple[str, str]]:
        """(stand-in, test it passed) for every test a trivial answer passed."""
        return [(name, test) for name, v in self.stand_ins.items()
                for test, message in v.failures.items() if message is None]

    @property
    def survivors(self) -> list[str]:
        return [name for name, v in self.mutants.items() if not v.rejected and not v.equivalent]

    @property
    def equivalent(self) -> list[str]:
        return [name for name, v in self.mutants.items() if v.equivalent]

    @property
    def stillborn(self) -> list[str]:
        return [name for name, v in self.mutants.items() if v.stillborn]

    @property
    def rejected(self) -> list[str]:
        """Rejected mutants that run (the stillborn are counted apart)."""
        return [name for name, v in self.mutants.items() if v.rejected and not v.stillborn]

    @property
    def diagnosed(self) -> list[str]:
        return [name for name in self.rejected if self.mutants[name].diagnosed]


def mutation_pass(answer: Answer) -> Result:
    import torch

    run = lesson_run(answer.lesson)
    output = run.outputs[answer.name]
    detach = isinstance(output, torch.Tensor) and output.requires_grad
    return Result(answer,
                  {name: run.run(answer, src) for name, src in stand_ins(answer, output).items()},
                  {name: run.run(answer, src) for name, src in mutants(answer, detach).items()},
                  run.run(answer, answer.source))
