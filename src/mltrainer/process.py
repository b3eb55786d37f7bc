"""Which process owns a piece of work, and whether that process is still alive.

Used where a crash must be told apart from work in progress: a trial row records its
owner (pid and host) and a temp file name carries its writer's. Liveness can only be
checked for a process on this host; work owned elsewhere is judged by its heartbeat.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

__all__ = ["Owner", "pid_alive", "this_host"]


def this_host() -> str:
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """True if a process with ``pid`` exists on this host (signal 0 probes, sends nothing)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


@dataclass(frozen=True)
class Owner:
    pid: int
    host: str

    @classmethod
    def me(cls) -> Owner:
        return cls(os.getpid(), this_host())

    def is_local(self) -> bool:
        return self.host == this_host()

    def known_dead(self) -> bool:
        """True only when the owner is on this host and its process is gone."""
        return self.is_local() and not pid_alive(self.pid)
