"""The one framing of every channel between the grader and a process it runs
(autograder/sandbox/inside/framing.py)."""

from __future__ import annotations

import io
import os
import socket

import pytest

from autograder.sandbox.inside import framing

MESSAGE = {"op": "call", "args": [1, 2.5, "é", None, [True]], "kwargs": {}}


def test_a_message_goes_through_a_pipe_as_it_was_sent():
    read, write = os.pipe()
    framing.send(write, MESSAGE)
    os.close(write)
    assert framing.receive(read) == MESSAGE
    with pytest.raises(EOFError):  # the other side is gone
        framing.receive(read)
    os.close(read)


def test_a_forged_length_is_refused_before_anything_more_is_read():
    frame = framing.pack(MESSAGE)
    stream, asked = io.BytesIO(frame), []

    def read_exactly(n: int) -> bytes:
        asked.append(n)
        return stream.read(n)

    with pytest.raises(framing.FrameError, match="more than 16 bytes"):
        framing.read(read_exactly, limit=16)
    assert asked == [framing.LENGTH_BYTES]  # the header only: no body was read or allocated
    stream.seek(0)
    assert framing.read(read_exactly, limit=len(frame)) == MESSAGE


def test_a_packet_carries_its_descriptors_and_a_cut_one_is_refused():
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    read, write = os.pipe()
    framing.send_packet(ours, MESSAGE, [write])
    message, fds = framing.receive_packet(theirs, max_fds=1)
    assert message == MESSAGE and len(fds) == 1
    os.write(fds[0], b"x")  # the passed descriptor is the pipe's write end
    assert os.read(read, 1) == b"x"
    # Longer than a packet may be: the socket cuts it silently, the length shows it.
    framing.send_packet(ours, {"padding": "x" * framing.PACKET_BYTES})
    with pytest.raises(framing.FrameError, match="cut short"):
        framing.receive_packet(theirs)
    ours.close()
    assert framing.receive_packet(theirs) == (None, [])  # the other side is gone
    for fd in (read, write, fds[0]):
        os.close(fd)
    theirs.close()
