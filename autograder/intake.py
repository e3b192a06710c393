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
from nbgrader.utils import parse_utc

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


def unpack_zip(archive: Path, into: Path) -> Path:
    """Extract a student's zip into the new folder `into` (only regular files, only below it); the folder.

    The whole zip is refused, before anything is written, when a member is absolute, climbs out with
    `..`, is a link or a device, repeats a name, or when it unpacks to too much."""
    _regular_file(archive)
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise IntakeError(f"{archive.name} holds {len(members)} files, more than {MAX_ZIP_MEMBERS}")
            if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                raise IntakeError(f"{archive.name} unpacks to more than {MAX_ZIP_BYTES} bytes")
            names = [_member_path(archive, m) for m in members]
            if len(set(names)) != len(names):
                raise IntakeError(f"{archive.name} holds the same path twice")
            into.mkdir(parents=True)
            for member, name in zip(members, names):
                if member.is_dir():
                    (into / name).mkdir(parents=True, exist_ok=True)
                    continue
                (into / name).parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as source, open(into / name, "xb") as target:
                    target.write(source.read(MAX_ZIP_BYTES + 1)[: member.file_size])
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as error:
        raise IntakeError(f"{archive.name} is not a readable zip file ({error})") from None
    return into


def _member_path(archive: Path, member: zipfile.ZipInfo) -> PurePosixPath:
    path = PurePosixPath(member.filename.replace("\\", "/"))
    kind = stat.S_IFMT(member.external_attr >> 16)
    if path.is_absolute() or ".." in path.parts or not path.parts or ":" in path.parts[0]:
        raise IntakeError(f"{archive.name} holds the path {member.filename!r}, which leads outside its folder")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise IntakeError(f"{archive.name} holds {member.filename!r}, which is a link or a special file")
    return path


def links_out(folder: Path) -> list[str]:
    """Problems for every symbolic link below `folder` (links are never followed, wherever they point)."""
    return [f"{path.relative_to(folder)} is a symbolic link; links in submissions are not followed"
            for path in sorted(folder.rglob("*")) if path.is_symlink()]


def submission_time(folder: Path, observed: datetime | None = None, now: datetime | None = None
                    ) -> tuple[datetime, str | None]:
    """When the submission in `folder` was made, and a problem when its timestamp.txt cannot be believed.

    `observed` is when the harness saw the submission arrive (for a zip, the zip file's time); by
    default the last change of a file in the folder as collected (nbgrader's collect keeps those
    times). A timestamp is kept only when it is readable, not in the future, and not before the
    files last changed (a submission cannot predate its own files); otherwise the observed time is
    used and the problem says so."""
    if observed is None:
        files = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and p.name != "timestamp.txt"]
        changed = max((p.stat().st_mtime for p in files), default=folder.stat().st_mtime)
        observed = datetime.fromtimestamp(changed, timezone.utc)
    now = now or datetime.now(timezone.utc)
    stamp = folder / "timestamp.txt"
    if not stamp.exists():
        return observed, None
    try:
        _regular_file(stamp)
        claimed = parse_utc(stamp.read_text(encoding="utf-8", errors="strict").strip()[:64]).replace(tzinfo=timezone.utc)
    except (IntakeError, ValueError, OverflowError, OSError) as error:
        return observed, f"timestamp.txt is unreadable ({str(error)[:100]}); the observed time {observed:%Y-%m-%d %H:%M:%S} UTC is used"
    if claimed > now + CLOCK_SKEW or claimed < observed - CLOCK_SKEW:
        return observed, (f"timestamp.txt says {claimed:%Y-%m-%d %H:%M:%S} UTC, which its files contradict; "
                          f"the observed time {observed:%Y-%m-%d %H:%M:%S} UTC is used")
    return claimed, None
