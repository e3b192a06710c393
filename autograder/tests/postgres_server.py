"""A throw-away PostgreSQL server for the tests: a cluster of its own made by `initdb` in a
temporary folder, listening on a loopback port only, with a password-authenticated role (so that
every output can be checked for the password). Debian's `postgresql` package provides the programs
(scripts/install-system-deps.sh).

PostgreSQL refuses to run as root, so as root the cluster belongs to, and the server runs as,
`nobody`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

UNPRIVILEGED = 65534  # nobody/nogroup, on every Debian system
ROLE = "grader"


def program(name: str) -> str:
    """A PostgreSQL server program: Debian keeps them in /usr/lib/postgresql/<version>/bin, off
    PATH."""
    found = shutil.which(name) or max(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), default=None,
                                      key=lambda path: int(path.split("/")[4]))
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is not installed: "
                           "run scripts/install-system-deps.sh as root "
                           "(or apt-get install postgresql)")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """A running server; `database(name)` creates a database owned by the password-authenticated
    role and returns its SQLAlchemy URL, password included."""

    def __init__(self, folder: Path, port: int, admin_password: str, password: str,
                 process: subprocess.Popen):
        self.folder, self.port, self.process = folder, port, process
        self.admin_password, self.password = admin_password, password

    def url(self, database: str, password: str | None = None) -> str:
        return f"postgresql://{ROLE}:{password or self.password}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="admin",
                               password=self.admin_password,
                               dbname="postgres", autocommit=True)

    def database(self, name: str) -> str:
        with self.admin() as db:
            db.execute(f'CREATE DATABASE "{name}" OWNER {ROLE}')
        return self.url(name)

    @property
    def log(self) -> str:
        return (self.folder / "server.log").read_text(errors="replace")


@contextlib.contextmanager
def running() -> Iterator[PostgresServer]:
    """Start a fresh cluster; stop it and delete its folder afterwards."""
    # in /tmp: `nobody` must reach it
    folder = Path(tempfile.mkdtemp(prefix="autograder-postgres-"))
    as_user = ({"user": UNPRIVILEGED, "group": UNPRIVILEGED, "extra_groups": []}
               if os.geteuid() == 0 else {})
    if as_user:
        os.chown(folder, UNPRIVILEGED, UNPRIVILEGED)
    admin_password, password = secrets.token_hex(12), "pw-" + secrets.token_hex(12)
    pwfile = folder / "admin-password"
    pwfile.write_text(admin_password)
    if as_user:
        os.chown(pwfile, UNPRIVILEGED, UNPRIVILEGED)
    process = None
    try:
        subprocess.run([program("initdb"), "-D", str(folder / "data"), "-U", "admin",
                        f"--pwfile={pwfile}",
                        "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C"],
                       check=True, capture_output=True, cwd=folder, **as_user)
        port = free_port()
        with open(folder / "server.log", "wb") as log:
            process = subprocess.Popen([program("postgres"), "-D", str(folder / "data"),
                                        "-p", str(port), "-c", "listen_addresses=127.0.0.1",
                                        "-c", "unix_socket_directories=", "-c", "fsync=off"],
                                       stdout=log, stderr=subprocess.STDOUT, cwd=folder, **as_user)
        server = PostgresServer(folder, port, admin_password, password, process)
        deadline = time.monotonic() + 60
        while True:
            try:
                with server.admin() as db:
                    db.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{password}'")
                break
            except psycopg.OperationalError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not start:\n{server.log}") from None
                time.sleep(0.2)
        yield server
    finally:
        if process is not None:
            process.send_signal(signal.SIGINT)  # a fast shutdown: it ends the clients' sessions too
            process.wait(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
