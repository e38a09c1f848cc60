"""Tests for monitor.config_edit and `monitor probe URL --add NAME`: a source entry added as text, the file's
comments and layout kept, refused (exit 2) when it cannot be, rolled back when the result does not load."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_monitor
from sites import Site, ticker_page

from monitor.config import load
from monitor.config_edit import add_source, entry_lines, scalar
from monitor.errors import ConfigError

LINES = [
    "Lebanon: Israeli drone strikes a car in Bint Jbeil",
    "Iraq: Explosions heard near a military base north of Baghdad",
    "Yemen: Sanaa airport resumes flights after a two-day halt",
]
MARQUEE = f'<html><body><div class="news-ticker">{" | ".join(LINES)}</div><p>About us.</p></body></html>'

CONFIG = """\
# My monitor. Check it with: monitor check-config
state:
  path: state/monitor.db   # beside this file

sources:
  # English ticker, found by its heading.
  - name: en
    url: {url}
    interval: 30           # seconds

  # - name: old-site      (switched off for now)
  #   url: https://old.example/

# Where alerts go.
channels:
  - {{name: console, type: console}}
rules:
  - {{name: all, channels: [console]}}
"""


def config(tmp_path: Path, site: Site, text: str = CONFIG) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text.format(url=site.url("/en")), encoding="utf-8")
    return path


def test_add_keeps_comments_and_layout_and_passes_check_config(tmp_path: Path, site: Site) -> None:
    path = config(tmp_path, site)
    before = path.read_text(encoding="utf-8")
    site.set("/wire", MARQUEE)
    out = run_monitor("probe", site.url("/wire"), "--add", "wire", "--config", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"Added source 'wire' to {path} at line 14." in out.stdout
    entry = f"""
  - name: wire
    url: {site.url("/wire")}
    selector: div.news-ticker
    split: "|"
"""
    anchor = "  #   url: https://old.example/\n"
    assert path.read_text(encoding="utf-8") == before.replace(anchor, anchor + entry)
    check = run_monitor("check-config", "--config", str(path))
    assert check.returncode == 0, check.stderr
    assert f"  wire: every 60s, selector 'div.news-ticker', split at '|', {site.url('/wire')}" in check.stdout
    assert [s.kind.split for s in load(path).sources] == [None, "|"]


def test_add_a_heading_source(tmp_path: Path, site: Site) -> None:
    path = config(tmp_path, site)
    site.set("/", ticker_page(LINES))
    out = run_monitor("probe", site.url("/"), "--add", "home", "--config", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    [_, added] = load(path).sources
    assert (added.name, added.url, added.kind.headings, added.kind.selector) == (
        "home",
        site.url("/"),
        ("BREAKING",),
        None,
    )


def test_add_refuses_a_taken_name_before_fetching(tmp_path: Path, site: Site) -> None:
    path = config(tmp_path, site)
    before = path.read_text(encoding="utf-8")
    site.set("/wire", MARQUEE)
    out = run_monitor("probe", site.url("/wire"), "--add", "en", "--config", str(path))
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"monitor: config error: {path}: sources[0].name: a source named 'en' exists: choose another name"
    )
    assert site.hits["/wire"] == 0 and path.read_text(encoding="utf-8") == before


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        (
            "sources: [{{name: en, url: '{url}'}}]\nchannels: []\n",
            "sources: no line 'sources:' at the margin to add under (a flow list such as sources: [] is not extended)",
        ),
        (
            "sources:\n  - {{name: en, url: '{url}'}}\nsources:\n  - {{name: fr, url: '{url}'}}\n",
            "sources: 'sources:' is at the margin twice: cannot tell where to add",
        ),
        (
            "sources:\n  - {{name: en, url: '{url}'}}\nchannels:\n  - {{name: x, type: sms}}\n",
            "channels[0].type: unknown channel type 'sms'",
        ),  # broken already: said before anything is fetched
        ("sources: [\n", "line 2, column 1: invalid YAML"),
    ],
    ids=["flow-list", "twice", "config-broken-already", "not-yaml"],
)
def test_add_refused_when_the_file_cannot_take_it(tmp_path: Path, site: Site, text: str, fault: str) -> None:
    path = config(tmp_path, site, text)
    before = path.read_bytes()
    site.set("/wire", MARQUEE)
    out = run_monitor("probe", site.url("/wire"), "--add", "wire", "--config", str(path))
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith(f"monitor: config error: {path}: {fault}")
    assert path.read_bytes() == before and site.hits["/wire"] == 0


def test_add_rolled_back_when_the_config_does_not_load_with_it(tmp_path: Path, site: Site) -> None:
    path = config(tmp_path, site)
    before = path.read_bytes()
    site.set("/wire", MARQUEE)
    # The extractor takes a selector of any length, the config one of at most 1000 characters.
    selector = "div.news-ticker" + ", div.other" * 100
    out = run_monitor("probe", site.url("/wire"), "--selector", selector, "--add", "wire", "--config", str(path))
    assert out.returncode == 2
    assert "Suggested source entry" in out.stdout and site.hits["/wire"] == 1  # found, then refused
    assert out.stderr.startswith(
        f"monitor: config error: {path}: sources[1].selector: source 'wire' not added, "
        "the file is as it was: invalid CSS selector 'div.news-ticker, div.other"
    )
    assert path.read_bytes() == before


def test_add_refuses_a_name_the_config_would_refuse_before_fetching(tmp_path: Path, site: Site) -> None:
    path = config(tmp_path, site)
    before = path.read_bytes()
    out = run_monitor("probe", site.url("/wire"), "--add", " ", "--config", str(path))
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip() == (
        f"monitor: config error: {path}: sources[1].name: expected a non-empty string, got a string"
    )
    assert path.read_bytes() == before and site.hits["/wire"] == 0


def test_add_nothing_found_exits_1_and_leaves_the_file(tmp_path: Path, site: Site) -> None:
    path = config(tmp_path, site)
    before = path.read_bytes()
    site.set("/plain", "<html><body><p>Nothing here.</p></body></html>")
    out = run_monitor("probe", site.url("/plain"), "--add", "plain", "--config", str(path))
    assert out.returncode == 1 and "Added" not in out.stdout
    assert run_monitor("probe", site.url("/gone"), "--add", "gone", "--config", str(path)).returncode == 1
    assert path.read_bytes() == before


# --- the text insertion itself -----------------------------------------------------------------

TAIL = "channels:\n  - {name: console, type: console}\n"
FIELDS = {"name": "new", "url": "https://new.example/", "selector": "ul.ticker > li"}


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            "sources:\n- name: a\n  url: https://a.example/\n" + TAIL,
            "sources:\n- name: a\n  url: https://a.example/\n"
            "- name: new\n  url: https://new.example/\n  selector: ul.ticker > li\n" + TAIL,
            id="dashes-at-the-margin",
        ),
        pytest.param(
            "sources:\n    -   name: a\n        url: https://a.example/\n" + TAIL,
            "sources:\n    -   name: a\n        url: https://a.example/\n"
            "    -   name: new\n        url: https://new.example/\n        selector: ul.ticker > li\n" + TAIL,
            id="wide-indentation",
        ),
        pytest.param(
            "sources:\r\n  - name: a\r\n    url: https://a.example/\r\n" + TAIL.replace("\n", "\r\n"),
            "sources:\r\n  - name: a\r\n    url: https://a.example/\r\n"
            "  - name: new\r\n    url: https://new.example/\r\n    selector: ul.ticker > li\r\n"
            + TAIL.replace("\n", "\r\n"),
            id="crlf",
        ),
        pytest.param(
            TAIL + "sources:\n  - name: a\n    url: https://a.example/    # no newline at the end",
            TAIL + "sources:\n  - name: a\n    url: https://a.example/    # no newline at the end\n"
            "  - name: new\n    url: https://new.example/\n    selector: ul.ticker > li\n",
            id="last-in-file",
        ),
        pytest.param(
            "sources:   # none yet\n  # - name: later\n\n" + TAIL,
            "sources:   # none yet\n  # - name: later\n"
            "  - name: new\n    url: https://new.example/\n    selector: ul.ticker > li\n\n" + TAIL,
            id="empty-block",
        ),
    ],
)
def test_add_source_text(tmp_path: Path, before: str, after: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(before.encode())
    line = add_source(str(path), FIELDS)
    text = path.read_bytes().decode()
    assert text == after
    assert text.splitlines()[line - 1].lstrip(" -") == "name: new"
    assert [s.name for s in load(path).sources][-1] == "new"


def test_add_source_with_no_sources_key(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(TAIL, encoding="utf-8")
    with pytest.raises(ConfigError, match="sources: no line 'sources:' at the margin"):
        add_source(str(path), FIELDS)
    assert path.read_text(encoding="utf-8") == TAIL


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain-name", "plain-name"),
        ("https://x.example/a?b=1&c=2", "https://x.example/a?b=1&c=2"),
        ("|", '"|"'),
        (" - ", '" - "'),
        ("div#a > p", "div#a > p"),
        ("a #b", '"a #b"'),
        ("yes", '"yes"'),
        ("123", '"123"'),
        ("*x", '"*x"'),
        ("[x]", '"[x]"'),
        ("عاجل", "عاجل"),
        ('a"b: c', '"a\\"b: c"'),
        ("", '""'),
    ],
)
def test_scalar_reads_back_as_itself(value: str, written: str) -> None:
    assert scalar(value) == written
    assert entry_lines({"k": value}, 0, 2) == [f"- k: {written}"]
