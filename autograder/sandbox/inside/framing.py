"""One framing for every channel between the grader and a process it runs: a message is compact JSON
(plain settings, or what codec.encode made of a student's values) after its length in 8 bytes,
big-endian.

Three channels use it: the grader and its grading processes (autograder/pool.py), the grader and a
student's kernel (kernels.Kernel on one side, student_kernel.Channel on the other), and the grader
and the warm kernels' template, whose control socket carries each frame as one packet and passes
file descriptors with it (`send_packet`, `receive_packet`).

The reader of a frame decides how long it may be: the kernel is the student's, so what it announces
is checked before anything is read or allocated.
"""

from __future__ import annotations

import array
import json
import os
import socket
from collections.abc import Callable, Sequence
from typing import Any

LENGTH_BYTES = 8
MAX_BYTES = 1 << 30  # a frame's length, unless its reader accepts less
PACKET_BYTES = 1 << 16  # a packet of the template's control socket: a start is far smaller


class FrameError(ValueError):
    """A frame longer than its reader accepts, or cut short."""


def dumps(message: Any) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def loads(raw: bytes) -> Any:
    return json.loads(raw.decode("utf-8"))


def pack(message: Any) -> bytes:
    """`message` as one frame."""
    raw = dumps(message)
    return len(raw).to_bytes(LENGTH_BYTES, "big") + raw


def length(header: bytes, limit: int = MAX_BYTES) -> int:
    """The length a frame's header announces, refused past `limit`."""
    size = int.from_bytes(header, "big")
    # The sender's word, and the sender may be the student's code: refused before anything is read
    # or allocated, so that a forged length cannot make the reader hold gigabytes.
    if size > limit:
        raise FrameError(f"more than {limit} bytes")
    return size


def read(read_exactly: Callable[[int], bytes], limit: int = MAX_BYTES) -> Any:
    """The next message, from `read_exactly(n)`, which returns n bytes or raises (EOFError at the
    end, or whatever its own deadline raises)."""
    return loads(read_exactly(length(read_exactly(LENGTH_BYTES), limit)))


def _read_exactly(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def receive(fd: int, limit: int = MAX_BYTES) -> Any:
    """The next message on a blocking `fd`; EOFError when the other side is gone."""
    return read(lambda n: _read_exactly(fd, n), limit)


def send(fd: int, message: Any) -> None:
    """Write `message` as one frame on a blocking `fd`."""
    data = pack(message)
    while data:
        data = data[os.write(fd, data):]


def send_packet(sock: socket.socket, message: Any, fds: Sequence[int] = ()) -> None:
    """`message` as one packet of a SOCK_SEQPACKET socket, with `fds` passed along."""
    ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
    sock.sendmsg([pack(message)], ancillary)


def receive_packet(sock: socket.socket, max_fds: int = 0) -> tuple[Any, list[int]]:
    """The next packet's message (None when the other side is gone) and the descriptors passed with
    it, at most `max_fds` (the kernel closes any beyond)."""
    fds = array.array("i")
    room = socket.CMSG_LEN(max_fds * fds.itemsize) if max_fds else 0
    data, ancillary, _, _ = sock.recvmsg(PACKET_BYTES, room)
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    if not data:
        return None, list(fds)
    # A packet longer than the buffer arrives cut, silently: its header says by how much.
    if len(data) < LENGTH_BYTES or length(data[:LENGTH_BYTES]) != len(data) - LENGTH_BYTES:
        raise FrameError("a packet cut short")
    return loads(data[LENGTH_BYTES:]), list(fds)
