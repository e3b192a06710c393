"""verdicts.py: errors of the student's code as data (kind and exception type, never parsed from
their text), and the common torch and numpy errors of a call translated into the course's words."""

from __future__ import annotations

import pytest

from autograder.sandbox.kernels import Limits, SandboxedKernel
from autograder.verdicts import AnswerError, Bridge, StudentError
from mlcourse.checking import TORCH_ERRORS

# A student's functions, each raising one common error when the test calls it.
STUDENT = """
import numpy as np, torch

def project(x):
    return x @ torch.ones(4, 2)  # the inner sizes differ for x of 3 columns

def centre(x):
    return x - torch.zeros(4)  # broadcasts against 3 columns

def centre_array(x):
    return x - np.zeros(4)

def widen(x):
    return x @ torch.eye(3, dtype=torch.float64)  # float64 against the test's float32

def nll(log_probs, targets):
    return torch.nn.functional.nll_loss(log_probs, targets.float())

def step(w):
    w -= 0.1 * torch.ones_like(w)  # outside torch.no_grad()
    return w

def total(x):
    return (x * 2).item()

def as_float(x):
    return float(x * 2)

def step_without_gradient(w):
    return w - 0.1 * w.grad  # no backward() ran: w.grad is None

def missing_import(x):
    return math.log(x)

answer = 0.5
"""


@pytest.fixture(scope="module")
def bridge(tmp_path_factory):
    kernel = SandboxedKernel(tmp_path_factory.mktemp("verdicts"), Limits())
    kernel.start()
    try:
        assert kernel.request({"op": "run", "source": STUDENT}, 120)["ok"]
        yield Bridge(kernel, lambda: 60.0)
    finally:
        kernel.stop()


def failure(bridge: Bridge, name: str, *args) -> StudentError:
    with pytest.raises(StudentError) as raised:
        bridge.get(name)(*args)
    return raised.value


def _inputs():
    import numpy as np
    import torch

    x = torch.ones(2, 3)
    return {
        "project": ((x,), "`project(Tensor (2, 3) float32)` raised RuntimeError: mat1 and mat2 "
                          "shapes cannot be multiplied (2x3 and 4x2)\nThat is, your code "
                          "multiplied a 2x3 matrix by a 4x2 matrix"),
        "centre": ((x,), "That is, your code combined, element by element, two tensors of "
                         "sizes 3 and 4 along axis 1"),
        "centre_array": ((np.ones(3),), "That is, your code combined, element by element, "
                                        "arrays of shapes (3,) and (4,)"),
        "widen": ((x,), "That is, your code mixed tensors of two different types"),
        "nll": ((torch.zeros(2, 3), torch.tensor([0, 1])),
                "That is, your code gave a loss class indices (the targets) of type Float"),
        "step": ((torch.ones(3, requires_grad=True),),
                 "That is, your code changed in place (`+=`, `-=`, `.zero_()`, `x[i] = ...`) a "
                 "tensor that requires grad"),
        "total": ((x,), "That is, your code called `.item()` (or `float()`) on a tensor of 6 "
                        "numbers"),
        "as_float": ((x,), "That is, your code called `float()` (or `int()`) on a tensor of more "
                           "than one number"),
        "step_without_gradient": ((torch.ones(3, requires_grad=True),),
                                  "That is, your code computed `*` with None where a number or "
                                  "tensor belongs: a parameter's `.grad` is None"),
    }


# the student's functions that raise a common error, and the exception type each raises
RAISES = {"project": "RuntimeError", "centre": "RuntimeError", "centre_array": "ValueError",
          "widen": "RuntimeError", "nll": "RuntimeError", "step": "RuntimeError",
          "total": "RuntimeError", "as_float": "ValueError", "step_without_gradient": "TypeError"}


@pytest.mark.parametrize("name", list(RAISES))
def test_a_common_torch_error_is_translated_with_the_students_call(bridge, name):
    args, translated = _inputs()[name]
    error = failure(bridge, name, *args)
    assert error.error.kind == "raised" and error.error.exception == RAISES[name]
    text = str(error)
    # the call and torch's own words first, as before; then what they mean
    assert text.startswith(f"`{name}(") and f"` raised {error.error.text}\n" in text, text
    assert translated in text, text


def test_every_entry_for_a_type_of_error_is_reached_by_a_student_function(bridge):
    reached = set()
    for name, (args, _) in _inputs().items():
        error = failure(bridge, name, *args).error
        reached |= {i for i, (kind, pattern, _) in enumerate(TORCH_ERRORS)
                    if kind == error.exception and pattern.search(error.text)}
    assert reached == {i for i, entry in enumerate(TORCH_ERRORS) if entry[0] is not None}


def test_an_error_with_no_translation_is_shown_as_it_came(bridge):
    error = failure(bridge, "missing_import", 2.0)
    assert (error.error.kind, error.error.exception) == ("raised", "NameError")
    assert str(error) == "`missing_import(float)` raised NameError: name 'math' is not defined"


def test_a_name_the_kernel_lacks_is_a_kind_not_a_text(bridge):
    with pytest.raises(StudentError) as raised:
        bridge.get("not_defined_anywhere")
    assert (raised.value.error.kind, raised.value.error.exception) == ("name_missing", "NameError")
    assert bridge.get("answer") == 0.5


def test_a_kernel_cannot_claim_the_graders_kinds():
    # The kernel is the student's: it may say its code raised, never that the grader lost it.
    forged = AnswerError.from_reply({"ok": False, "kind": "timeout", "exception": ["x"],
                                     "error": "y" * 1000})
    assert (forged.kind, forged.exception, len(forged.text)) == ("raised", None, 500)
    assert AnswerError.from_reply({"ok": False, "kind": "not_implemented",
                                   "exception": "NotImplementedError",
                                   "error": "NotImplementedError: "}).kind == "not_implemented"
