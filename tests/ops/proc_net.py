"""Linux /proc probes that tell when a request is really inside a gunicorn worker: the TCP
sockets of /proc/net/tcp and the workers' epoll registrations."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from tests.ops.processes import Gunicorn

TCP_ESTABLISHED = "01"
TCP_LISTEN = "0A"


def tcp_entries() -> list[tuple[int, int, str, int, int]]:
    """(local port, remote port, state, rx_queue, inode) of every IPv4 TCP socket."""
    entries = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        local, remote, state, queues, inode = parts[1], parts[2], parts[3], parts[4], parts[9]
        local_port, remote_port = int(local.split(":")[1], 16), int(remote.split(":")[1], 16)
        rx_queue = int(queues.split(":")[1], 16)
        entries.append((local_port, remote_port, state, rx_queue, int(inode)))
    return entries


def request_taken_by_worker(server_port: int, client_port: int) -> bool:
    """True when the server side of the connection from ``client_port`` exists and a worker
    has read every byte the client sent: the request is inside the app, not in a queue."""
    for local, remote, state, rx_queue, _ in tcp_entries():
        if local == server_port and remote == client_port and state == TCP_ESTABLISHED:
            return rx_queue == 0
    return False


def _listener_inode(port: int) -> int | None:
    for local, _, state, _, inode in tcp_entries():
        if local == port and state == TCP_LISTEN:
            return inode
    return None


def accepting_workers(server: Gunicorn) -> list[int]:
    """The workers whose event loop still watches the listening socket (epoll registration,
    read from /proc/<pid>/fdinfo). A gthread worker unregisters it the moment it starts its
    graceful shutdown, so an empty list means every worker has seen SIGTERM."""
    inode = _listener_inode(server.port)
    if inode is None:
        return []
    accepting = []
    for pid in server.worker_pids():
        with contextlib.suppress(OSError):
            listener_fds = set()
            epoll_fds = []
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target == f"socket:[{inode}]":
                    listener_fds.add(int(fd))
                elif target == "anon_inode:[eventpoll]":
                    epoll_fds.append(fd)
            for fd in epoll_fds:
                info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
                watched = {
                    int(line.split()[1]) for line in info.splitlines() if line.startswith("tfd:")
                }
                if watched & listener_fds:
                    accepting.append(pid)
                    break
    return accepting
