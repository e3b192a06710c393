"""The library is infrastructure, not an answer key (shared/README.md, "Policy").

The exercises compute log-likelihoods themselves: pick each target's log-probability, sum them
over a sequence (the chain rule), mask the prompt for the conditional loss. This test reads the
library's source (AST, nothing is run) and fails when a function does one of these:

    pick   picks one entry per row: gather / take_along_dim / take_along_axis, or a[rows, cols]
           indexing with two index arrays (the numpy form of gather), in a function that also sums
    loss   calls a ready-made negative log-likelihood (cross_entropy, nll_loss, their classes)
    chain  calls a model's next_log_probs and sums what comes back (the auto-regressive sum)
    softmax_sum  calls log_softmax and sums (log-probabilities of positions added up)
    mask   refers to IGNORE_INDEX / ignore_index (builds or applies a loss mask)

or imports a `pick` or `loss` name (which could then be called under another name); and, once
lessons exist, when the library defines a public name that an answer cell defines.
ALLOWED lists the exceptions, each with its reason. Limits are in shared/README.md.
"""

import ast
from pathlib import Path

import pytest

import mlcourse
from mlcourse.lessons import read_lesson

LIBRARY = Path(mlcourse.__file__).parent
SOLUTIONS = LIBRARY.parents[1] / "solutions"
PICK_CALLS = {"gather", "take_along_dim", "take_along_axis"}
LOSS_CALLS = {"cross_entropy", "nll_loss", "CrossEntropyLoss", "NLLLoss"}
IMPORT_RULES = {"pick": PICK_CALLS, "loss": LOSS_CALLS}
REDUCTIONS = {"sum", "mean", "cumsum", "nansum", "fsum", "prod"}

# (module, function or "*", rule): why it is not an answer.
ALLOWED = {
    ("sources", "MarkovSource.log_prob", "pick"):
        "log p_data of the known chain, read from its matrices: "
        "the data distribution, not a model's likelihood",
}
# transformer.train takes its loss from the caller, so the Transformer needs no exception. Should a
# generic loss ever be needed there, add e.g. ("transformer", "train", "loss") with its reason.


def called_names(node: ast.AST) -> set[str]:
    """Names of everything called inside `node`: `f(...)` gives f, `x.f(...)` gives f."""
    names = set()
    for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
        func = call.func
        names.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return names


def annotations(node: ast.AST) -> set[int]:
    """ids of the nodes inside type annotations (where dict[str, int] is a type, not indexing)."""
    roots = [n.annotation for n in ast.walk(node)
             if isinstance(n, (ast.arg, ast.AnnAssign)) and n.annotation]
    roots += [n.returns for n in ast.walk(node)
              if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.returns]
    return {id(n) for root in roots for n in ast.walk(root)}


def picks_pairs(node: ast.AST) -> bool:
    """Whether `node` indexes like a[rows, cols]: two or more index expressions that are not slices
    or constants."""
    skip = annotations(node)
    return any(
        isinstance(sub.slice, ast.Tuple)
        and sum(not isinstance(e, (ast.Slice, ast.Constant)) for e in sub.slice.elts) >= 2
        for sub in ast.walk(node) if isinstance(sub, ast.Subscript) and id(sub) not in skip
    )


def rules_broken(function: ast.AST) -> set[str]:
    calls = called_names(function)
    names = {n.id for n in ast.walk(function) if isinstance(n, ast.Name)}
    keywords = {k.arg for k in ast.walk(function) if isinstance(k, ast.keyword)}
    sums = bool(calls & REDUCTIONS) or any(
        isinstance(n, ast.AugAssign) and isinstance(n.op, (ast.Add, ast.Sub))
        for n in ast.walk(function)
    )
    broken = set()
    if calls & PICK_CALLS or (picks_pairs(function) and sums):
        broken.add("pick")
    if calls & LOSS_CALLS:
        broken.add("loss")
    if "next_log_probs" in calls and sums:
        broken.add("chain")
    if "log_softmax" in calls and sums:
        broken.add("softmax_sum")
    if "IGNORE_INDEX" in names or "ignore_index" in keywords:
        broken.add("mask")
    return broken


def scan(source: str, module: str) -> set[tuple[str, str, str]]:
    """(module, qualified function name, rule) for every rule a function of `source` breaks."""
    found = set()

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                found.update((module, name, rule) for rule in rules_broken(child))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    tree = ast.parse(source)
    visit(tree, "")
    # `from torch.nn.functional import cross_entropy as ce` would hide the name at the call
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    found.update((module, "<import>", rule)
                 for rule, names in IMPORT_RULES.items() if imported & names)
    return found


def matches(key: tuple[str, str, str], finding: tuple[str, str, str]) -> bool:
    """Whether the ALLOWED entry `key` covers `finding` ("*" stands for every function of the
    module)."""
    return key == finding or (key[1] == "*" and (key[0], key[2]) == (finding[0], finding[2]))


def allowed(finding: tuple[str, str, str]) -> bool:
    return any(matches(key, finding) for key in ALLOWED)


def library_findings() -> set[tuple[str, str, str]]:
    return {f for path in sorted(LIBRARY.glob("*.py")) for f in scan(path.read_text(), path.stem)}


def test_library_has_no_answer_key():
    broken = sorted(f for f in library_findings() if not allowed(f))
    assert not broken, ("library code that computes an exercise's answer "
                        "(see ALLOWED for exceptions): " + str(broken))


def test_every_exception_is_still_needed():
    findings = library_findings()
    stale = [key for key in ALLOWED if not any(matches(key, f) for f in findings)]
    assert not stale, f"ALLOWED entries that no longer match any code, remove them: {stale}"


ANSWER_KEYS = {
    "pick": "def f(log_probs, targets):\n"
            "    return log_probs.gather(-1, targets[..., None]).squeeze(-1)",
    "loss": "def f(logits, targets):\n    return F.cross_entropy(logits, targets)",
    "chain": "def f(model, ids):\n"
             "    return sum(model.next_log_probs([ids[:t]])[0, ids[t]] for t in range(1, 9))",
    "softmax_sum": "def f(logits):\n    return torch.log_softmax(logits, -1).max(-1).values.sum()",
    "mask": "def f(targets, n):\n    targets[:n] = IGNORE_INDEX\n    return targets",
}


@pytest.mark.parametrize("rule", sorted(ANSWER_KEYS))
def test_scanner_catches_each_kind_of_answer(rule):
    assert ("m", "f", rule) in scan(ANSWER_KEYS[rule], "m")


def test_scanner_catches_numpy_pair_indexing_in_a_loop_sum_and_methods():
    loop = (
        "class M:\n    def ll(self, lp, y):\n        total = 0.0\n"
        "        for t in range(len(y)):\n            total += lp[t, y[t]]\n        return total"
    )
    assert scan(loop, "m") == {("m", "M.ll", "pick")}
    vectorised = "def ll(lp, y):\n    return lp[np.arange(len(y)), y].sum()"
    assert scan(vectorised, "m") == {("m", "ll", "pick")}


def test_scanner_catches_imported_names():
    assert (scan("from torch.nn.functional import cross_entropy as ce", "m")
            == {("m", "<import>", "loss")})


def test_scanner_leaves_infrastructure_alone():
    clean = (
        "def next_log_probs(self, prefixes):\n    return self.table[[p[-1] for p in prefixes]]\n"
        "def normalise(counts):\n    return counts / counts.sum()\n"
        "def window(x):\n    return x[:, :-1], x[:, 1:]\n"
        "def merge(a: dict[str, int], b: tuple[int, int]) -> dict[str, int]:\n"
        "    a += b\n    return a\n"
    )
    assert scan(clean, "m") == set()


def test_library_does_not_define_the_exercises():
    answers = set()
    for path in sorted(SOLUTIONS.glob("*/*.ipynb")):
        answers |= read_lesson(path).answer_names
    library = set()
    for path in LIBRARY.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                library.add(node.name)
    assert not sorted(answers & library), "names both answered in a lesson and defined in mlcourse"
