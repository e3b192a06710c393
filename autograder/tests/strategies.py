"""Hypothesis strategies for what a student, a roster or a kernel controls, shared by the tests.

- The codec (what a kernel sends back): `plain_values` and `arrays` cross the wall and must come
  back equal; `replies` is any JSON a hostile kernel could send instead, `codec_tags` included.
- Intake (what is in SUBMISSIONS): `names` for files and folders, `ids` for student ids,
  `submission_trees` for whole folders of notebooks, bytes, links, zips, FIFOs and stamps, and
  `hand_ins` for one class handing in the same notebook several ways.
- `SLOW`: the settings of a test whose every example grades or plants files (no deadline).

test_fuzz.py and test_intake.py use them; a new hostile input belongs here, so that every test
drawing from a strategy meets it.
"""

from __future__ import annotations

from typing import Callable

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# Each example plants files or grades notebooks: slow by design, with fixtures that are reused on
# purpose (a course, the honest students' reference grades).
SLOW = settings(deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# --- the codec: what a kernel sends back ---------------------------------------------------------

scalars = (st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats()
           | st.text(max_size=20))
# What student code may return: nested lists, tuples and dicts (keys not only strings) of scalars.
plain_values = st.recursive(scalars,
                            lambda inner: (st.lists(inner, max_size=4) | st.tuples(inner, inner)
                                           | st.dictionaries(st.integers() | st.text(max_size=5),
                                                             inner, max_size=4)),
                            max_leaves=20)
arrays = hnp.arrays(st.sampled_from(["int8", "int64", "uint16", "float32", "float64", "complex128",
                                     "bool"]),
                    hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))

# Any JSON a reply could parse to; its keys are often the codec's own, to reach deep into decode.
json_like = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                         | st.text(max_size=8),
                         lambda inner: st.lists(inner, max_size=5)
                         | st.dictionaries(st.sampled_from(["__t", "v", "dtype", "shape", "b64",
                                                            "id", "g", "grad"])
                                           | st.text(max_size=4), inner, max_size=5), max_leaves=30)
# A tagged value as the codec writes one, every field optional and any of them wrong; `ref` and
# `pickle` are tags the grader must never honour from a kernel, `nope` one it does not know.
codec_tags = st.fixed_dictionaries(
    {"__t": st.sampled_from(["float", "complex", "tuple", "dict", "nd", "np", "pt", "ref", "pickle",
                             "nope"])},
    optional={"v": json_like,
              "dtype": (st.sampled_from(["float64", "<f8", "O", "int64", "bfloat16", "x"])
                        | st.text(max_size=4)),
              "shape": st.lists(st.integers(-3, 2**40), max_size=4), "b64": st.text(max_size=12),
              "id": json_like})
replies = st.one_of(json_like, codec_tags, st.lists(codec_tags, max_size=4))

# --- intake: what is in SUBMISSIONS --------------------------------------------------------------

# A file or folder name: anything a file system holds (no "/" nor NUL), markup, controls, RTL marks.
names = st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
                min_size=1, max_size=40)
# A student id as a roster or a folder gives it: any text, and text close to the safe alphabet
# (dots and dashes first, 128 characters and over), where a check is most likely to slip.
ids = st.text(max_size=200) | st.from_regex(r"[-.@+_\w<>\"' \\]{1,130}", fullmatch=True)
# What submission_trees plants: see test_fuzz.plant for each kind.
PLANTED = ["notebook", "bytes", "dir", "link-in", "link-out", "link-dangling", "zip", "fifo",
           "stamp"]


@st.composite
def submission_trees(draw, assignment: str):
    """Up to 6 entries (path parts, kind, bytes, file time) to plant below SUBMISSIONS; the parts
    are often the names a real class uses (students s1 and s2, the assignment, its notebook)."""
    usual = st.sampled_from(["s1", "s2", assignment, f"{assignment}.ipynb", "timestamp.txt"])
    entries = []
    for _ in range(draw(st.integers(1, 6))):
        parts = [draw(usual | names) for _ in range(draw(st.integers(1, 3)))]
        entries.append((parts, draw(st.sampled_from(PLANTED)), draw(st.binary(max_size=200)),
                        draw(st.integers(-2**40, 2**40))))
    return entries


STAMPS = ["2026-03-01 12:00:00 UTC", "2026-03-01 13:00:00 UTC"]


@st.composite
def hand_ins(draw, assignment: str, copy_of: Callable[[str], str]):
    """Files of one class as (path below SUBMISSIONS, text) and times-file rows (student, time,
    file): for each of ada and bob any of a folder (with or without collect's timestamp.txt), a zip
    and LMS uploads (numbered and -N copies), each the notebook `copy_of(label)`, a distinct label
    per copy."""
    files, rows = [], []
    for student in ("ada", "bob"):
        if draw(st.booleans()):
            files.append((f"{student}/{assignment}/{assignment}.ipynb",
                          copy_of(f"{student} folder")))
            stamp = draw(st.sampled_from([None, *STAMPS]))
            files += [(f"{student}/{assignment}/timestamp.txt", stamp)] if stamp else []
        if draw(st.booleans()):
            files.append((f"{student}.zip", copy_of(f"{student} zip")))
        for number, copy in draw(st.sets(st.tuples(st.integers(1, 3), st.integers(0, 11)),
                                         max_size=3)):
            name = f"{student}_7_{number}_{assignment}{f'-{copy}' if copy else ''}.ipynb"
            files.append((name, copy_of(f"{student} {name}")))
        for name in {path.split("/")[0] for path, _ in files if path.startswith(student)}:
            if draw(st.booleans()):
                rows.append((student, draw(st.sampled_from(STAMPS)).removesuffix(" UTC"), name))
    return files, rows


# The orders files are written and rows listed in: reproducible, so that a failure replays.
shuffles = st.randoms(use_true_random=False)
