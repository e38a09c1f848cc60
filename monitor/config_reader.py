"""Reading a YAML mapping with key paths: typed getters that name file, path and fault."""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

import yaml
from yarl import URL

from .errors import ConfigError

# A real config is a few KB (the shipped one is 4 KB); 1 MB holds thousands of sources or rules
# and parses in about a second with libyaml (7 s without it). Beyond that it is a mistake or an
# attack, refused before it is read whole.
MAX_BYTES = 1024 * 1024
# What the data grows to with every alias expanded, in characters: everything downstream (error
# messages, str() of a value, the rule index) may walk it whole, so aliases must not blow it up.
MAX_EXPANDED = 2 * MAX_BYTES
MAX_DEPTH = 50  # nesting, aliases followed; a real config nests about 6 deep
MAX_DURATION = 10 * 365 * 86400.0  # beyond this a timer or timedelta overflows, or it is a typo

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP token (RFC 9110)
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # what YAML counts as a line break
# Faults that libyaml (and PyYAML) report when a key or list entry sits at the wrong indentation.
_INDENTATION = (
    "mapping values are not allowed",
    "could not find expected ':'",
    "did not find expected key",
    "did not find expected '-' indicator",
    "expected <block end>",
    "bad indentation",
)


class Node:
    """A mapping being read, which knows its key path and refuses keys nobody read."""

    def __init__(self, file: str, path: str, value: Any) -> None:
        self.file, self.path = file, path
        if not isinstance(value, dict):
            raise self.error(f"expected a mapping, got {kind_of(value)}")
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
            raise self.missing(key)
        return self.value[key]

    def missing(self, key: str, fault: str = "is required") -> ConfigError:
        """The error for a required key left out, or for the misspelling of it that stands in its place."""
        if key not in self.value:
            unread = [str(k) for k in self.value if k not in self.read]
            typo = difflib.get_close_matches(key, unread, n=1)
            if typo:
                return self.unknown(typo[0], [key])
        return self.error(fault, key)

    def unknown(self, key: object, known: Iterable[str]) -> ConfigError:
        """Refuse a key nobody reads, naming the known key closest to it, or all of them."""
        hint = did_you_mean(str(key), sorted(known), or_list=True)
        return ConfigError(self.file, self.path, f"unknown key {str(key)!r}{hint}")

    def only(self, known: Iterable[str]) -> None:
        """Refuse unknown keys before reading any, so a misspelt key is reported before what it leaves out."""
        names = set(known)
        for key in self.value:
            if key not in names:
                raise self.unknown(key, names)

    def node(self, key: str) -> Node:
        return Node(self.file, self.sub(key), self.get(key) or {})

    def string(self, key: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self.require(key) if required else self.get(key, default)
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"expected a non-empty string, got {kind_of(value)}", key)
        value = expand_env(value, self, key)
        if "\0" in value:  # no file name, URL or name holds one; os and sqlite3 raise ValueError on it
            raise self.error("contains a NUL character", key)
        return value

    def strings(self, key: str) -> tuple[str, ...] | None:
        value = self.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.error(f"expected a list of strings, got {kind_of(value)}", key)
        for i, v in enumerate(value):
            if not isinstance(v, (str, int, float)) or isinstance(v, bool) or not str(v).strip():
                raise ConfigError(self.file, f"{self.sub(key)}[{i}]", "expected a non-empty string")
        return tuple(str(v) for v in value)

    def duration(self, key: str, default: float) -> float:
        value = self.get(key)
        if value is None:
            return default
        seconds = parse_duration(value)
        if seconds is None or not 0 < seconds <= MAX_DURATION:
            raise self.error(
                f"expected a duration such as 30, '30s', '5m' or '1h' (at most 10 years), got {value!r}", key
            )
        return seconds

    def number(self, key: str, default: float, *, minimum: float = 0, maximum: float = 1e9) -> float:
        value = self.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or not minimum <= value <= maximum
        ):
            raise self.error(f"expected a number from {minimum:g} to {maximum:g}, got {value!r}", key)
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise self.error(f"expected true or false, got {value!r}", key)
        return value

    def items(self, key: str) -> list[Node]:
        value = self.get(key) or []
        if not isinstance(value, list):
            raise self.error(f"expected a list, got {kind_of(value)}", key)
        return [Node(self.file, f"{self.sub(key)}[{i}]", v) for i, v in enumerate(value)]

    def url(self, key: str, *, required: bool = False, expected: str = "an http:// or https:// URL") -> Any:
        """An http(s) URL with a host that aiohttp can parse: anything else would fail at every request."""
        url = self.string(key, required=required)
        if url is None:
            return None
        if not re.match(r"^https?://[^/\s]+", url):
            raise self.error(f"expected {expected}, got {url!r}", key)
        try:
            host = URL(url).host  # yarl, as aiohttp parses it: a bad IPv6 address, a port over 65535
        except ValueError as exc:
            raise self.error(f"invalid URL {url!r}: {exc}", key) from None
        if not host or not url.isprintable() or any(c.isspace() for c in url):
            raise self.error(f"invalid URL {url!r}", key)
        return url

    def headers(self, key: str) -> tuple[tuple[str, str], ...]:
        """Extra HTTP request headers; ${VAR} in a value is read from the environment."""
        headers = self.get(key) or {}
        if not isinstance(headers, dict):
            raise self.error("expected a mapping of header names to strings", key)
        out = []
        for name, value in headers.items():
            if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
                raise self.error(f"not a header name: {name!r}", key)
            if not isinstance(value, str):
                raise self.error(f"expected a string, got {kind_of(value)}", f"{key}.{name}")
            value = expand_env(value, self, f"{key}.{name}")
            if any(c in value for c in "\r\n\0"):  # aiohttp would refuse it at every request
                raise self.error("a header value may not contain a line break or NUL", f"{key}.{name}")
            out.append((name, value))
        return tuple(out)

    def done(self) -> None:
        """Refuse keys that were never read: a typo must not be silently ignored."""
        for key in self.value:
            if key not in self.read:
                raise self.unknown(key, self.read)


def field_defaults(cls: type[Any]) -> Any:
    """The defaults a dataclass writes for its fields, as attributes: a reader writes none of its own."""
    fields = dataclasses.fields(cls)
    return SimpleNamespace(**{f.name: f.default for f in fields if f.default is not dataclasses.MISSING})


def did_you_mean(word: str, known: Iterable[str], *, or_list: bool = False) -> str:
    """Return " (did you mean 'x'?)" for the known name closest to a misspelt one; else "" or, with
    or_list, " (known: a, b, c)"."""
    names = list(known)
    close = difflib.get_close_matches(word, names, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known: {', '.join(names)})" if or_list and names else ""


def kind_of(value: Any) -> str:
    """Name the kind of a YAML value for an error message: a mapping, a list, a string..."""
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
    if not isinstance(value, str):
        return None  # str() of a list or mapping would walk all of it
    m = _DURATION.match(value)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else None


def read_yaml(file: str) -> Any:
    """Read a YAML file of bounded size, nesting and alias expansion; raise ConfigError on any fault."""
    try:
        with open(file, "rb") as f:
            raw = f.read(MAX_BYTES + 1)  # a FIFO or /dev/zero reports no size: read no more than this
    except FileNotFoundError:
        raise ConfigError(file, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(file, "", f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(file, "", f"larger than {MAX_BYTES // 1024} KB: that is not a config file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(file, "", f"cannot read: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _Expansion().measure(node, 1)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(file, text, exc) from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
        # PyYAML lets a bad !!int, !!float or date out as ValueError ("month must be in 1..12").
        raise ConfigError(file, "", f"invalid YAML: {exc}") from None
    except RecursionError:  # the pure-Python parser, on nesting deeper than Python's stack
        raise ConfigError(file, "", f"invalid YAML: nested more than {MAX_DEPTH} deep") from None
    finally:
        loader.dispose()


def _syntax_error(file: str, text: str, exc: yaml.MarkedYAMLError) -> ConfigError:
    """Name the line of a YAML syntax error, and say what to do when it is the indentation (or a tab)."""
    problem = str(exc.problem or exc.context or exc)
    mark = exc.problem_mark or exc.context_mark
    if problem.startswith("could not find expected ':'") and exc.context_mark:
        mark = exc.context_mark  # the key without its colon, not the next line, where the scanner gave up
    if mark is None:
        return ConfigError(file, "", f"invalid YAML: {problem}")
    lines = _LINE_BREAK.split(text)
    line = lines[mark.line] if mark.line < len(lines) else ""
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    if "\t" in indent or line[mark.column : mark.column + 1] == "\t":
        column = indent.find("\t") if "\t" in indent else mark.column
        return ConfigError(
            file,
            f"line {mark.line + 1}, column {column + 1}",
            "invalid YAML: a tab character: YAML indents with spaces only, so replace the tab with spaces",
        )
    hint = (
        "; check the indentation: use spaces, not tabs, and line up keys of the same level"
        if any(p in problem for p in _INDENTATION)
        else ""
    )
    return ConfigError(file, f"line {mark.line + 1}, column {mark.column + 1}", f"invalid YAML: {problem}{hint}")


# libyaml is about seven times faster, and refuses nesting beyond 1000 before Python recurses.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Expansion:
    """Measures a composed YAML node graph as if every alias were copied out, refusing the too big."""

    def __init__(self) -> None:
        self.seen: dict[int, tuple[int, int]] = {}  # node id -> (expanded size, height)
        self.open: set[int] = set()

    def measure(self, node: yaml.Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in self.open:
            raise self._error(node, "an alias refers to a node that contains it")
        if key not in self.seen:
            if depth > MAX_DEPTH:
                raise self._error(node, f"nested more than {MAX_DEPTH} deep (aliases followed)")
            size, height = 1, 1
            if isinstance(node, yaml.ScalarNode):
                size += len(node.value)
            else:
                self.open.add(key)
                children = node.value if isinstance(node, yaml.SequenceNode) else [n for kv in node.value for n in kv]
                for child in children:
                    child_size, child_height = self.measure(child, depth + 1)
                    size, height = size + child_size, max(height, child_height + 1)
                    if size > MAX_EXPANDED:
                        raise self._error(node, f"aliases expand this to more than {MAX_EXPANDED // 1024} KB")
                self.open.discard(key)
            self.seen[key] = (size, height)
        size, height = self.seen[key]
        if depth + height - 1 > MAX_DEPTH:
            raise self._error(node, f"nested more than {MAX_DEPTH} deep (aliases followed)")
        return size, height

    @staticmethod
    def _error(node: yaml.Node, problem: str) -> yaml.MarkedYAMLError:
        return yaml.MarkedYAMLError(problem=problem, problem_mark=node.start_mark)
