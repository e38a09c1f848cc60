"""One exception tree for the whole package; the CLI turns it into one line and an exit code."""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error monitor raises on purpose."""


class ConfigError(MonitorError):
    """The configuration is invalid: names the file, the key path and the fault."""

    def __init__(self, file: str, path: str, fault: str) -> None:
        # One line, whatever the config held: a key may contain a line break, a value be a megabyte.
        self.file, self.path, self.fault = file, _line(path, 200), _line(fault, 500)
        where = f"{file}: {self.path}: " if path else f"{file}: "
        super().__init__(where + self.fault)


def _line(text: str, limit: int) -> str:
    """Cut text to limit characters and escape what is not printable (line breaks, NUL)."""
    cut = text[:limit]
    cut = "".join(c if c.isprintable() else repr(c)[1:-1] for c in cut)
    return cut + "…" if len(text) > limit else cut


class FetchError(MonitorError):
    """A source could not be fetched (network fault, timeout, HTTP status)."""


class ExtractError(MonitorError):
    """A page was fetched but no ticker could be found in it."""


class StateError(MonitorError):
    """The state store failed (locked, disk full, I/O error, corrupt, deleted): names the file and what to do."""


class DeliveryError(MonitorError):
    """A channel refused or failed to take a message.

    ``permanent`` says whether trying again can help (chat not found, message refused) or not.
    ``unexpected`` marks a fault nobody planned for (a reply that is not what the API promises): it
    is retried, but only up to delivery.max_attempts, since the message may have gone out.
    ``parts_sent`` counts the parts of a long (split) message that the channel had accepted.
    ``blocked`` says in a few words why the channel itself cannot send anything ("token refused"):
    its alerts stay queued, since fixing the config (and a reload or restart) sends them.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        unexpected: bool = False,
        parts_sent: int = 0,
        blocked: str | None = None,
    ):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.unexpected = unexpected
        self.parts_sent = parts_sent
        self.blocked = blocked
