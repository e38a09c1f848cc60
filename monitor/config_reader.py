"""Reading a YAML mapping with key paths: typed getters that name file, path and fault."""

from __future__ import annotations

import os
import re
from typing import Any

from .errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Node:
    """A mapping being read, which knows its key path and refuses keys nobody read."""

    def __init__(self, file: str, path: str, value: Any) -> None:
        self.file, self.path = file, path
        if not isinstance(value, dict):
            raise self.error(f"expected a mapping, got {_kind(value)}")
        self.value: dict[str, Any] = value
        self.read: set[str] = set()

    def error(self, fault: str, key: str | None = None) -> ConfigError:
        return ConfigError(self.file, self.sub(key) if key else self.path or "(top level)", fault)

    def sub(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return self.value.get(key, default)

    def require(self, key: str) -> Any:
        self.read.add(key)
        if self.value.get(key) is None:
            raise self.error("is required", key)
        return self.value[key]

    def node(self, key: str) -> Node:
        return Node(self.file, self.sub(key), self.get(key) or {})

    def string(self, key: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self.require(key) if required else self.get(key, default)
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"expected a non-empty string, got {_kind(value)}", key)
        return expand_env(value, self, key)

    def strings(self, key: str) -> tuple[str, ...] | None:
        value = self.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.error(f"expected a list of strings, got {_kind(value)}", key)
        for i, v in enumerate(value):
            if not isinstance(v, (str, int, float)) or isinstance(v, bool) or not str(v).strip():
                raise ConfigError(self.file, f"{self.sub(key)}[{i}]", "expected a non-empty string")
        return tuple(str(v) for v in value)

    def duration(self, key: str, default: float) -> float:
        value = self.get(key)
        if value is None:
            return default
        seconds = parse_duration(value)
        if seconds is None or seconds <= 0:
            raise self.error(f"expected a duration such as 30, '30s', '5m' or '1h', got {value!r}", key)
        return seconds

    def number(self, key: str, default: float, *, minimum: float = 0) -> float:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
            raise self.error(f"expected a number >= {minimum}, got {value!r}", key)
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise self.error(f"expected true or false, got {value!r}", key)
        return value

    def items(self, key: str) -> list[Node]:
        value = self.get(key) or []
        if not isinstance(value, list):
            raise self.error(f"expected a list, got {_kind(value)}", key)
        return [Node(self.file, f"{self.sub(key)}[{i}]", v) for i, v in enumerate(value)]

    def done(self) -> None:
        """Refuse keys that were never read: a typo must not be silently ignored."""
        for key in self.value:
            if key not in self.read:
                raise self.error("unknown key", str(key))


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


def expand_env(value: str, node: Node, key: str) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in os.environ:
            raise node.error(f"environment variable {m.group(1)} is not set", key)
        return os.environ[m.group(1)]

    return _ENV.sub(sub, value)


def parse_duration(value: Any) -> float | None:
    """Return seconds for 30, 2.5, '30s', '5m', '1h' or '1d'; None when it is not a duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    m = _DURATION.match(str(value))
    return float(m.group(1)) * _UNITS[m.group(2)] if m else None
