"""Reading what a student submitted without trusting it.

Every function here turns whatever is wrong with a submission into a sentence (a problem record)
and touches nothing outside the student's own folders: symbolic links are never followed, zip
members are checked before anything is written, a timestamp the files contradict is replaced by
the time the harness observed.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath

import nbformat

MAX_NOTEBOOK_BYTES = 50 << 20
MAX_ZIP_BYTES = 200 << 20  # unpacked, all members together
MAX_ZIP_MEMBERS = 2000
CLOCK_SKEW = timedelta(minutes=5)


class IntakeError(ValueError):
    """A submitted file or folder that cannot be used as it is; the message says why, for the student."""


def _regular_file(path: Path) -> os.stat_result:
    try:
        info = os.lstat(path)
    except OSError as error:
        raise IntakeError(f"{path.name} cannot be read ({error.strerror})") from None
    if stat.S_ISLNK(info.st_mode):
        raise IntakeError(f"{path.name} is a symbolic link; links in submissions are not followed")
    if not stat.S_ISREG(info.st_mode):
        raise IntakeError(f"{path.name} is not a regular file")
    return info


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """The submitted notebook at `path`, or IntakeError saying what is wrong with the file."""
    info = _regular_file(path)
    if info.st_size == 0:
        raise IntakeError(f"{path.name} is empty (0 bytes)")
    if info.st_size > MAX_NOTEBOOK_BYTES:
        raise IntakeError(f"{path.name} is {info.st_size} bytes, more than the {MAX_NOTEBOOK_BYTES} a notebook may have")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as file:
        raw = file.read(MAX_NOTEBOOK_BYTES + 1)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise IntakeError(f"{path.name} is not UTF-8 text (byte 0x{raw[error.start]:02x} at position {error.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise IntakeError(f"{path.name} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells", []), list):
        raise IntakeError(f"{path.name} is JSON but not a notebook (no list of cells)")
    if data.get("nbformat") not in (3, 4):
        raise IntakeError(f"{path.name} has nbformat {data.get('nbformat')!r:.20}; the tools read versions 3 and 4")
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as error:  # noqa: BLE001 - nbformat's own errors vary by version
        raise IntakeError(f"{path.name} is a notebook nbformat cannot read ({type(error).__name__}: {str(error)[:200]})") from None
