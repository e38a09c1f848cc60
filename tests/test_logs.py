"""Redaction: a secret never reaches the log, in any letter case, URL-encoded, or after a reload."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest

from monitor import logs
from monitor.channels.telegram import TelegramChannel
from monitor.config import ChannelConfig
from monitor.config_types import TelegramSettings

TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
NEW_TOKEN = "654321:BBHdqTcvCH1vGWJxfSeofSAs0K5PALDsbx"
SECRET_HALF = TOKEN.partition(":")[2]


@pytest.mark.parametrize(
    "text",
    [
        f"GET https://api.telegram.org/bot{TOKEN}/sendMessage",
        f"upstream said: bot{TOKEN.lower()} is unknown",
        f"upstream said: BOT{TOKEN.upper()}",
        f"proxy refused https://x/?next=%2Fbot{quote(TOKEN, safe='')}%2FsendMessage",
        f"lower-case escapes: {quote(TOKEN, safe='').lower()}",
        f"form body token={quote_plus(TOKEN)}&chat=1",
        f"only the secret half: {SECRET_HALF}",
    ],
    ids=["plain", "lower", "upper", "quoted", "quoted-lower", "quote-plus", "secret-half"],
)
def test_redact_every_form(text: str) -> None:
    clean = logs.redact(text, [TOKEN])
    assert "<token>" in clean
    assert SECRET_HALF.lower() not in clean.lower()


def test_redact_leaves_other_text_alone() -> None:
    text = "chat @alerts not found; bot 123456 is fine"
    assert logs.redact(text, [TOKEN]) == text
    assert logs.redact(text, []) == text


@pytest.fixture
def root_log() -> Iterator[io.StringIO]:
    """logs.setup() as the CLI calls it, writing to a buffer; the root logger restored after."""
    root = logging.getLogger()
    handlers, level, stderr = root.handlers[:], root.level, sys.stderr
    sys.stderr = buffer = io.StringIO()
    try:
        logs.setup("info", "text", [TOKEN])
        yield buffer
    finally:
        sys.stderr = stderr
        root.handlers[:] = handlers
        root.setLevel(level)


def test_log_records_and_tracebacks_are_redacted(root_log: io.StringIO) -> None:
    log = logging.getLogger("monitor.test")
    log.warning("send.failed url=%s", f"https://api.telegram.org/bot{TOKEN.lower()}/x")
    try:
        raise RuntimeError(f"echoed {quote(TOKEN, safe='')}")
    except RuntimeError:
        log.exception("send.crashed")
    out = root_log.getvalue()
    assert "RuntimeError: echoed <token>" in out and "Traceback" in out
    assert SECRET_HALF.lower() not in out.lower()


def test_secrets_follow_a_reload(root_log: io.StringIO) -> None:
    log = logging.getLogger("monitor.test")
    log.warning("before %s", NEW_TOKEN)  # not yet a secret
    logs.add_secrets([NEW_TOKEN])  # what the service does with config.secrets() after a reload
    log.warning("after %s and the old %s", NEW_TOKEN.lower(), TOKEN)
    before, after = root_log.getvalue().splitlines()
    assert NEW_TOKEN in before
    assert after.endswith("after <token> and the old <token>")


def test_telegram_errors_are_redacted_the_same_way() -> None:
    config = ChannelConfig(name="alerts", kind=TelegramSettings(chat_id="@alerts", token=TOKEN))
    channel = TelegramChannel(config)
    assert channel._redact(f"Not Found: /bot{TOKEN.lower()}/getMe") == "Not Found: /bot<token>/getMe"
