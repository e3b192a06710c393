"""`import mlcourse` stays light: what makes it slow (torch, matplotlib) loads only with the
modules that need it. (Its time, about 0.2 s, is printed by scripts/benchmark_import.py, not
asserted here.)"""

import json
import subprocess
import sys

PROBE = """
import json, sys
import {module}
print(json.dumps({{name: name in sys.modules for name in ("torch", "matplotlib")}}))
"""


def heavy_modules_loaded_by(module: str) -> dict:
    """Which heavy libraries importing `module` pulls in, seen from a new interpreter."""
    done = subprocess.run([sys.executable, "-c", PROBE.format(module=module)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_import_mlcourse_loads_neither_torch_nor_matplotlib():
    assert heavy_modules_loaded_by("mlcourse") == {"torch": False, "matplotlib": False}


def test_numpy_only_modules_do_not_load_torch():
    assert not heavy_modules_loaded_by("mlcourse.models, mlcourse.sources,"
                                       " mlcourse.checking")["torch"]
