"""`import mlcourse` stays light: under 2 s in a fresh interpreter, and torch loads only with `transformer`."""

import json
import subprocess
import sys

PROBE = """
import json, sys, time
start = time.perf_counter()
import {module}
print(json.dumps({{"seconds": time.perf_counter() - start, "torch": "torch" in sys.modules}}))
"""


def import_in_fresh_process(module: str) -> dict:
    """The import's own duration and whether it pulled in torch, measured inside a new interpreter."""
    command = [sys.executable, "-c", PROBE.format(module=module)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_import_mlcourse_is_fast_and_torch_free():
    report = import_in_fresh_process("mlcourse")
    assert not report["torch"], "import mlcourse loaded torch: keep torch inside mlcourse.transformer"
    assert report["seconds"] < 2.0, f"import mlcourse took {report['seconds']:.2f} s"


def test_numpy_only_modules_do_not_load_torch():
    report = import_in_fresh_process("mlcourse.models, mlcourse.sources, mlcourse.checking, mlcourse.plots")
    assert not report["torch"]
