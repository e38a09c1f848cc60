"""Logging for journald and terminals: one line per record, secrets redacted."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable


class Redact(logging.Filter):
    """Replaces secret values (the bot token) in every record before it is written."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(s in message for s in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "<token>")
            record.msg, record.args = message, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            for secret in self.secrets:
                text = text.replace(secret, "<token>")
            record.exc_info, record.exc_text = None, text
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, event and its key=value fields."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        event, _, rest = message.partition(" ")
        fields = dict(_FIELD.findall(rest)) if "=" in rest else ({"detail": rest} if rest else {})
        data = {"time": round(record.created, 3), "level": record.levelname.lower(), "logger": record.name,
                "event": event, **fields}
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
    handler.addFilter(Redact(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO, and Bot API URLs carry the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("telegram").setLevel(logging.WARNING)
