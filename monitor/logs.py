"""Logging for journald and terminals: one line per record, secrets redacted."""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import sys
from collections.abc import Iterable
from urllib.parse import quote, quote_plus


class Redact(logging.Filter):
    """Replaces secret values (the bot token) in every record before it is written."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: tuple[str, ...] = ()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Redact these too. Secrets added before stay redacted: a token replaced by a reload may
        still be valid, and the old channels log while they stop."""
        self.secrets = tuple(sorted({*self.secrets, *(s for s in secrets if s)}))

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # bad %-arguments: the handler reports those itself
            return True
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, redact(text, self.secrets)
        elif record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace each secret in text with <token>, in any letter case and URL-encoded too."""
    pattern = _pattern(tuple(sorted(set(secrets))))
    return pattern.sub("<token>", text) if pattern else text


@functools.lru_cache(maxsize=16)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    forms: set[str] = set()
    for secret in filter(None, secrets):
        # Upstreams echo a token lower-cased, or inside a URL they quoted (":" as %3A or %3a).
        forms |= {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}
        _, colon, tail = secret.partition(":")
        if colon and len(tail) >= 8:  # a bot token is "<bot id>:<secret>"; the id alone is public
            forms |= {tail, quote(tail, safe=""), quote_plus(tail)}
    if not forms:
        return None
    return re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)), re.IGNORECASE)


def add_secrets(secrets: Iterable[str]) -> None:
    """Redact these secrets too in everything logged from now on (call it after a reload)."""
    _redactor.add(secrets)


_redactor = Redact()


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, event and its key=value fields."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        event, _, rest = message.partition(" ")
        fields = dict(_FIELD.findall(rest)) if "=" in rest else ({"detail": rest} if rest else {})
        data = {
            "time": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": event,
            **fields,
        }
        if record.exc_text or record.exc_info:
            data["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(data, ensure_ascii=False)


_FIELD = re.compile(r"(\w+)=(\S+)")


def setup(level: str = "info", fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """Log to stderr; journald adds its own timestamps, so they are left out under systemd."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        line = "%(levelname)s %(name)s: %(message)s"
        handler.setFormatter(logging.Formatter(line if "JOURNAL_STREAM" in os.environ else "%(asctime)s " + line))
    _redactor.add(secrets)
    handler.addFilter(_redactor)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO, and Bot API URLs carry the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Apprise logs each failure with the service's address; the apprise channel reads the same lines
    # from its result and reports them itself, redacted.
    # Its own level, not the root's: the channel reads the WARNING lines of each send from Apprise,
    # also when monitor's log shows only errors (`--once`).
    apprise_log = logging.getLogger("apprise")
    apprise_log.propagate = False
    apprise_log.setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("telegram").setLevel(logging.WARNING)
