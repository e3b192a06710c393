"""A rogue Dask worker, for test_dask.py: `dask worker --preload autograder/tests/rogue_worker.py`.

It holds the cluster's certificate, as a compromised grading machine would, and answers every
grading task with an attack, the one the task's student id names. Its pickle bombs make a folder
$ROGUE_MARKER/<process id> in each process that unpickles one (this worker's own Dask does, checking
an exception); it writes one to $ROGUE_MARKER.pickle, so that the test can show that the bomb goes
off when unpickled as Dask does by default.
"""

import base64
import json
import math
import os
import pickle
from pathlib import Path

import nbformat
from distributed import get_worker

from autograder import pool
from autograder.results import CheckResult, NotebookResult
from mlcourse.lessons import parse_lesson

MARKER = Path(os.environ["ROGUE_MARKER"])


class Bomb:
    """Unpickled, it makes $ROGUE_MARKER/<the unpickling process's id>."""

    def __reduce__(self):
        return os.system, (f"mkdir -p '{MARKER}'/$PPID",)


def _result(task: dict, points: float | None = None, **changes) -> str:
    """The task's result as the real grader would shape it, with every check at `points` and
    `changes` made."""
    lesson = parse_lesson(nbformat.reads(base64.b64decode(task["source"]).decode(), 4),
                          task["notebook"])
    result = NotebookResult.blank(lesson, task["student"], task["assignment"])
    for check in result.checks:
        check.points, check.status = (check.max_points if points is None else points), "passed"
    data = result.to_dict()
    data.update(changes)
    return json.dumps({"result": data})


def _extra(task: dict) -> list[dict]:
    checks = json.loads(_result(task))["result"]["checks"]
    return [*checks, CheckResult("bonus", None, 100.0, 100.0, "passed").__dict__]


def _maximum(task: dict) -> list[dict]:
    return [{**c, "max_points": 1000.0, "points": 1000.0}
            for c in json.loads(_result(task))["result"]["checks"]]


def rogue(run: str, code: str, task: dict, options: dict, modules: list[str]):
    attack = task["student"]
    # the one well-formed, in-range reply: full marks (a compromised worker can)
    if attack == "honest-shape":
        return _result(task)
    if attack == "points":
        return _result(task, 100.0)
    if attack == "negative":
        return _result(task, -1.0)
    if attack == "infinite":
        return _result(task, math.inf)
    if attack == "stranger":
        return _result(task, student="someone-else")
    if attack == "extra-check":
        return _result(task, checks=_extra(task))
    if attack == "maximum":
        return _result(task, checks=_maximum(task))
    if attack == "not-json":
        return "{'result': 100}"
    if attack == "pickle":
        return Bomb()
    if attack == "warn":  # Dask's default client unpickles a "warn" event's message and category
        get_worker().log_event("warn",
                               {"message": pickle.dumps(Bomb()), "category": pickle.dumps(Bomb())})
        return _result(task, 100.0)
    if attack == "raise":  # the exception, the bomb in it, travels pickled
        raise RuntimeError(Bomb())
    raise ValueError(f"no attack named {attack}")


MARKER.with_suffix(".pickle").write_bytes(pickle.dumps(Bomb()))
# the task names autograder.pool._grade_on_worker: the worker looks it up here
pool._grade_on_worker = rogue
