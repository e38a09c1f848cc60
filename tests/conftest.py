"""Shared fixtures: a local ticker site, the fake Bot API server, and config files in tmp_path."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_telegram import FakeTelegram
from helpers import Service
from sites import Site

# As monitor.channels.telegram does: RetryAfter.retry_after as a timedelta, without PTB's warning.
os.environ.setdefault("PTB_TIMEDELTA", "1")

TOKEN = "123456:TEST-token-not-real"
CHATS = ("@alerts", "@second", -1001234567890)


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as s:
        yield s


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN, chats=CHATS) as tg:
        yield tg


@pytest.fixture(autouse=True)
def bot_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)


def telegram_channel(tg: FakeTelegram, name: str = "alerts", chat_id: str | int = "@alerts", **kw: Any) -> dict[str, Any]:
    """A channel entry for config.yaml that talks to the fake Bot API server, without rate pauses."""
    return {"name": name, "type": "telegram", "chat_id": chat_id, "token": "${TELEGRAM_BOT_TOKEN}",
            "api_base_url": tg.base_url, "per_second": 1000, "per_minute": 100000, **kw}


def write_config(tmp_path: Path, *, sources: list[dict[str, Any]], channels: list[dict[str, Any]],
                 rules: list[dict[str, Any]], **top: Any) -> Path:
    """Write a config.yaml into tmp_path, state beside it, and return its path."""
    data = {"state": {"path": str(tmp_path / "state" / "monitor.db")}, "delivery": {"timeout": 15},
            "sources": sources, "channels": channels, "rules": rules, **top}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def run_monitor(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the monitor command line in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs (as root), to fill up and free again, or to remount read-only; skipped where none can be mounted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def services() -> Iterator[list[Service]]:
    started: list[Service] = []
    yield started
    for service in started:
        service.close()
