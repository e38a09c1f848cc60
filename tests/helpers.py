"""Test helpers, all in one module: config files, the command line, the service as a subprocess, waits, scrapes."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from fake_telegram import FakeTelegram

TOKEN = "123456:TEST-token-not-real"
CHATS = ("@alerts", "@second", -1001234567890)


def telegram_channel(
    tg: FakeTelegram, name: str = "alerts", chat_id: str | int = "@alerts", **kw: Any
) -> dict[str, Any]:
    """A channel entry for config.yaml that talks to the fake Bot API server, without rate pauses."""
    return {
        "name": name,
        "type": "telegram",
        "chat_id": chat_id,
        "token": "${TELEGRAM_BOT_TOKEN}",
        "api_base_url": tg.base_url,
        "per_second": 1000,
        "per_minute": 100000,
        **kw,
    }


def write_config(
    tmp_path: Path,
    *,
    sources: list[dict[str, Any]],
    channels: list[dict[str, Any]],
    rules: list[dict[str, Any]],
    **top: Any,
) -> Path:
    """Write a config.yaml into tmp_path, state beside it, and return its path."""
    data = {
        "state": {"path": str(tmp_path / "state" / "monitor.db")},
        "delivery": {"timeout": 15},
        "sources": sources,
        "channels": channels,
        "rules": rules,
        **top,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def run_monitor(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the monitor command line in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def wait(condition: Callable[[], Any], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


async def _holds(condition: Callable[[], Any]) -> bool:
    """condition(), awaited when it is a coroutine (a store query)."""
    result = condition()
    return bool(await result if inspect.isawaitable(result) else result)


async def until(condition: Callable[[], Any], what: str, timeout: float = 20) -> None:
    """wait() inside an event loop: the loop keeps running while condition() does not hold."""
    deadline = time.monotonic() + timeout
    while not await _holds(condition):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """`monitor --config PATH` as a subprocess, with a notify socket the test owns."""

    def __init__(self, tmp_path: Path, config: Path, **env: str) -> None:
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify_path = str(tmp_path / f"notify-{len(list(tmp_path.glob('notify-*')))}.sock")
        self.notify.bind(self.notify_path)
        self.messages: list[dict[str, str]] = []
        self.arrived = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.stderr = open(tmp_path / f"service-{len(list(tmp_path.glob('service-*')))}.log", "w+")  # noqa: SIM115
        env = {**os.environ, "NOTIFY_SOCKET": self.notify_path, **env}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
            env=env,
        )

    def _read(self) -> None:
        """Drain the notify socket as systemd would (its queue holds only ~10 datagrams)."""
        while True:
            try:
                data = self.notify.recv(4096).decode()
            except OSError:
                return  # closed
            with self.arrived:
                self.messages.append(dict(line.split("=", 1) for line in data.splitlines()))
                self.arrived.notify_all()

    def notified(self, key: str, timeout: float = 30) -> dict[str, str]:
        """Wait, with a deadline, for a notify message carrying key; take it off the list."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: any(key in m for m in self.messages), timeout=timeout):
                raise AssertionError(f"no {key} from the service; log:\n{self.log()}")
            found = next(m for m in self.messages if key in m)
            self.messages.remove(found)
            return found

    def log(self) -> str:
        self.stderr.flush()
        return Path(self.stderr.name).read_text()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def close(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            self.notify.shutdown(socket.SHUT_RDWR)  # wakes the reader thread
        self.notify.close()
        self.stderr.close()


def scrape(port: int, path: str = "/metrics") -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def metric(text: str, name: str, **labels: str) -> float:
    label = ",".join(f'{k}="{v}"' for k, v in labels.items())
    m = re.search(rf"^{name}\{{{label}\}} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0
