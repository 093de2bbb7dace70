"""Ports of `make run`: ``free PORT...`` fails, saying which, when one is taken (another server, another `make run`);
``wait SECONDS PORT`` waits until something answers on PORT, and fails when nothing does in time.

``make run`` checks its ports before it migrates and seeds: a second `make run` found its port taken only at the
last step, after re-seeding the running instance's database and overwriting its logs, and announced a development
ENT that was another program (or nothing)."""

import socket
import sys
import time


def free(ports: list[int]) -> int:
    taken = []
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                taken.append(port)
    for port in taken:
        print(f"Port {port} on 127.0.0.1 is in use (another server, or a `make run` still running).", file=sys.stderr)
    if taken:
        print("Stop it, or choose other ports: make run PORT=8080 ENT_PORT=8081", file=sys.stderr)
        return 1
    return 0


def wait(seconds: float, port: int) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return 0
        except OSError:
            time.sleep(0.5)
    return 1


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    if command == "free":
        sys.exit(free([int(port) for port in arguments]))
    if command == "wait":
        sys.exit(wait(float(arguments[0]), int(arguments[1])))
    sys.exit(f"usage: {sys.argv[0]} free PORT... | wait SECONDS PORT")
