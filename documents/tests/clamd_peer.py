"""A small clamd speaking the real wire protocol over loopback TCP, for tests of the scan batches.

It is a test peer, not a mock of our code: ``documents.antivirus`` talks to it through real sockets, exactly as
to clamd (``z``-prefixed, NUL-terminated commands; INSTREAM chunks prefixed by their 4-byte length). It answers
``VERSION`` with ``version`` (change it to "update the signatures"), ``PING`` with ``PONG``, and ``INSTREAM``
with ``stream: <signature> FOUND`` when the data holds the EICAR test string (unless ``detects`` is off: older
signatures that do not know it yet), ``stream: OK`` otherwise, or an ``ERROR`` reply while ``failing`` is set.
It keeps the files it scanned.
"""

import contextlib
import socket
import struct
import threading

from documents.tests.hostile_files import EICAR

SIGNATURE = "Peer.Test.EICAR"


class ClamdPeer:
    def __init__(self, version: str = "ClamAV 1.0.7/27000/Sun Nov 24 09:37:00 2024"):
        self.version = version
        self.failing = False
        self.detects = True
        self.scanned: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"tcp://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        with contextlib.suppress(OSError):  # shutdown() wakes the thread in accept(); close() alone does not on Linux
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(timeout=5)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    conn.sendall(self._answer(conn).encode() + b"\0")
                except OSError:
                    continue

    def _answer(self, conn: socket.socket) -> str:
        command = read_command(conn)
        if command == b"zPING":
            return "PONG"
        if command == b"zVERSION":
            return self.version
        if command != b"zINSTREAM":
            return "UNKNOWN COMMAND"
        data = bytearray()
        while True:
            (length,) = struct.unpack("!L", read_exactly(conn, 4))
            if length == 0:
                break
            data += read_exactly(conn, length)
        if self.failing:
            return "Can't allocate memory ERROR"
        self.scanned.append(bytes(data))
        return f"stream: {SIGNATURE} FOUND" if self.detects and EICAR in data else "stream: OK"


def read_command(conn: socket.socket) -> bytes:
    """One NUL-terminated clamd command, without its NUL."""
    command = bytearray()
    while not command.endswith(b"\0"):
        byte = conn.recv(1)
        if not byte:
            break
        command += byte
    return bytes(command.rstrip(b"\0"))


def read_exactly(conn: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("stream closed early")
        data += chunk
    return bytes(data)
