"""systemd's notify protocol over $NOTIFY_SOCKET: READY, STATUS, WATCHDOG, RELOADING, STOPPING.

Nothing happens when the variable is unset (not under systemd, or Type=simple).
"""

from __future__ import annotations

import logging
import os
import socket
import time

logger = logging.getLogger(__name__)


class Notifier:
    """Sends state changes to systemd, if it listens."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        path = env.get("NOTIFY_SOCKET", "")
        # "@name" is a socket in the abstract namespace.
        self.address = "\0" + path[1:] if path.startswith("@") else path
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_interval = int(usec) / 2e6 if usec.isdigit() and mine else None

    def send(self, **fields: str) -> None:
        """Send fields such as READY="1"; a lost datagram is logged, never fatal."""
        if not self.address:
            return
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            # Non-blocking: a reader that stops reading must never stall the event loop.
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK) as sock:
                sock.sendto(message, self.address)
        except OSError as exc:
            logger.debug("notify.failed error=%s", exc)

    def ready(self, status: str) -> None:
        """The service is up (again, after a reload)."""
        self.send(READY="1", STATUS=status)

    def status(self, status: str) -> None:
        """A one-line summary for `systemctl status`."""
        self.send(STATUS=status)

    def reloading(self) -> None:
        """A reload has begun (READY follows)."""
        self.send(RELOADING="1", MONOTONIC_USEC=str(time.monotonic_ns() // 1000))

    def stopping(self) -> None:
        """Shutdown has begun."""
        self.send(STOPPING="1")

    def watchdog(self) -> None:
        """The event loop is alive."""
        self.send(WATCHDOG="1")
