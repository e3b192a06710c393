"""The mutation pass (tests/mutants.py): no trivial stand-in earns a point, and every mutant of a
solution that changes its output is rejected. `-m lesson3` runs one lesson; `-s` prints each
function's diagnosis rate (scripts/mutation_report.py prints the table for all lessons)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # importlib mode: the generator is a sibling
import mutants  # noqa: E402

ANSWERS = mutants.all_answers()
CASES = [pytest.param(a, id=f"{a.lesson}:{a.name}",
                      marks=getattr(pytest.mark, f"lesson{int(a.lesson[:2])}"))
         for a in ANSWERS]


VALUES = [pytest.param(a, id=f"{a.lesson}:{a.name}",
                       marks=getattr(pytest.mark, f"lesson{int(a.lesson[:2])}"))
          for lesson in mutants.lesson_names(mutants.ROOT) for a in mutants.value_answers(lesson)]


@pytest.fixture(scope="module")
def results():
    cache = {}
    return lambda answer: cache.setdefault(answer.grade_id + answer.lesson,
                                           mutants.mutation_pass(answer))


def test_every_function_answer_has_mutants_and_tests():
    assert len(ANSWERS) >= 25
    for answer in ANSWERS:
        assert answer.tests, f"{answer.lesson}: {answer.name} has no test_{answer.grade_id}"
        assert mutants.mutants(answer), f"{answer.lesson}: no mutant of {answer.name}"


def test_the_generator_makes_the_listed_changes():
    answer = mutants.Answer("x", "f", "f", "def f(x, m):\n    x.zero_grad()\n    x -= 1\n"
                            "    return -x[1:].sum(dim=-1) + np.log(x[m == 0]) - 1\n", [])
    made = " | ".join(mutants.mutants(answer, detach=True, cap=100))
    for change in ["`+` swapped", "`-` swapped", "right term of `-` dropped", "unary minus",
                   "`Eq` flipped", "log -> log2", "log -> log10", "sum -> mean",
                   "dim=-1 -> dim=0", "[1:] -> [:-1]", "mask inverted", ".detach()",
                   "`-=` swapped", "`x.zero_grad()` left out"]:
        assert change in made, (change, made)
    sources = list(mutants.mutants(answer, detach=True, cap=100).values())
    assert len(sources) == len(set(sources))
    assert len(mutants.mutants(answer, cap=3)) == 3


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("answer", CASES)
def test_no_trivial_stand_in_earns_a_point(answer, results):
    free = results(answer).free_points
    assert not free, f"stand-ins that pass a test: {free}"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("answer", CASES)
def test_every_mutant_that_changes_the_output_is_rejected(answer, results):
    result = results(answer)
    rejected, diagnosed = len(result.rejected), len(result.diagnosed)
    print(f"\n{answer.lesson} {answer.name}: {rejected} rejected, {len(result.equivalent)} "
          f"equivalent, {diagnosed}/{rejected} diagnosed")
    assert not result.survivors, f"mutants that pass every test: {result.survivors}"
    assert not result.solution_after.rejected, "an answer tried changed the lesson's state"


@pytest.mark.parametrize("answer", VALUES)
def test_no_trivial_value_earns_a_point(answer):
    run = mutants.lesson_run(answer.lesson)
    free = [value for value in mutants.VALUE_STAND_INS
            if not run.run(answer, f"{answer.name} = {value}").rejected]
    assert not free, f"{answer.name} = {free[0]} passes {answer.tests}"
