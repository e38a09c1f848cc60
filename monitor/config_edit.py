"""Add a source entry to a config file as text, so that its comments and layout stay as they are.

The entry goes at the end of the top-level `sources:` block list, indented as its entries are. The
file is then loaded as the service would load it; if it does not load, it is written back as it was.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from .config import load, parse
from .config_reader import read_yaml
from .errors import ConfigError

_SOURCES = re.compile(r"^sources:[ \t]*(?:#.*)?$")
_ITEM = re.compile(r"^([ \t]*)-([ \t]+)\S")


def entry_lines(fields: dict[str, str], dash: int = 2, key: int = 4) -> list[str]:
    """Return a source entry as YAML lines: its dash at column `dash`, its keys at column `key`."""
    first = " " * dash + "-" + " " * max(1, key - dash - 1)
    return [f"{first if i == 0 else ' ' * len(first)}{k}: {scalar(v)}" for i, (k, v) in enumerate(fields.items())]


def scalar(value: str) -> str:
    """Return a string as a YAML scalar: plain when it reads back as itself, else double-quoted."""
    if value and value.strip() == value and value.isprintable():
        try:
            if yaml.safe_load(f"k: {value}") == {"k": value}:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False)


def check_addable(path: str, name: str, url: str) -> None:
    """Raise ConfigError unless a source called name can be added to the config file at path.

    The config is validated with a stand-in for the entry, so that one broken already is said before
    anything is fetched, and one with no source yet is fine.
    """
    text, data = _read(path)
    _place(path, text, data, name)
    if isinstance(data, dict) and isinstance(data.get("sources") or [], list):
        data = {**data, "sources": [*(data.get("sources") or []), {"name": name, "url": url}]}
    parse(data, file=path, base=Path(path).resolve().parent)


def add_source(path: str, fields: dict[str, str]) -> int:
    """Append a source entry to the config file's `sources:`; return its line number. ConfigError if it
    cannot be placed, or if the config does not load with it (the file is then left as it was)."""
    text, data = _read(path)
    after, dash, key, spaced = _place(path, text, data, fields["name"])
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    if after < len(lines) and not lines[after].endswith(("\n", "\r")):
        lines[after] += newline
    entry = [""] * spaced + entry_lines(fields, dash, key)  # entries apart as the others are
    lines[after + 1 : after + 1] = [line + newline for line in entry]
    _write(path, "".join(lines))
    try:
        load(path)
    except ConfigError as exc:
        _write(path, text)
        raise ConfigError(
            exc.file, exc.path, f"source {fields['name']!r} not added, the file is as it was: {exc.fault}"
        ) from None
    return after + 2 + spaced


def _read(path: str) -> tuple[str, Any]:
    """Return the file's text and its YAML data (bounded; a ConfigError naming the fault if it is no YAML)."""
    data = read_yaml(path)
    with open(path, encoding="utf-8", newline="") as f:
        return f.read(), data


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8", newline="") as f:  # in place: mode, owner and links kept
            f.write(text)
    except OSError as exc:
        raise ConfigError(path, "", f"cannot write: {exc.strerror or exc}") from None


def _place(path: str, text: str, data: Any, name: str) -> tuple[int, int, int, bool]:
    """Return the index of the last line of the `sources:` block, its entries' dash and key columns, and
    whether blank lines part them."""
    sources = data.get("sources") if isinstance(data, dict) else None
    for i, source in enumerate(sources if isinstance(sources, list) else []):
        if isinstance(source, dict) and source.get("name") == name:
            raise ConfigError(path, f"sources[{i}].name", f"a source named {name!r} exists: choose another name")
    lines = text.splitlines()
    heads = [i for i, line in enumerate(lines) if _SOURCES.match(line)]
    if len(heads) != 1:
        fault = (
            "'sources:' is at the margin twice: cannot tell where to add"
            if heads
            else "no line 'sources:' at the margin to add under (a flow list such as sources: [] is not extended)"
        )
        raise ConfigError(path, "sources", fault)
    last = heads[0]
    dash, key = 2, 4
    columns: tuple[int, int] | None = None
    spaced = False
    for i in range(heads[0] + 1, len(lines)):
        line = lines[i]
        if not line.strip() or line.startswith("#"):
            continue  # blank lines and comments at the margin may belong to what follows
        if line.startswith(("---", "...")) or (not line[0].isspace() and not line.startswith("-")):
            break  # the next top-level key, or the end of the document
        spaced = spaced or (columns is not None and not lines[i - 1].strip())
        last = i
        if columns is None and (m := _ITEM.match(line)):
            columns = len(m.group(1)), len(m.group(1)) + 1 + len(m.group(2))
    if columns is not None:
        dash, key = columns
    return last, dash, key, spaced
