"""The poll memo: a quiet poll (new bytes, same lines) writes nothing; any change in the lines takes the full path."""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from helpers import write_config
from sites import Site, ticker_page

from monitor.config import load
from monitor.errors import StateError
from monitor.memo import HOUR, PollMemo, digest
from monitor.models import Entry, PollResult
from monitor.pipeline import poll_once
from monitor.runtime import Runtime, open_runtime
from monitor.store.sqlite import SqliteStore

LINES = ["Strike reported near the northern border", "Talks resume in the capital", "Oil prices fall again"]
_nonce = itertools.count()


def noisy(lines: list[str]) -> str:
    """The ticker page with new bytes outside the ticker on every call (a clock, a nonce)."""
    n = next(_nonce)
    return ticker_page(lines).replace("<title>News</title>", f'<title>News {n}</title><script nonce="{n}"></script>')


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (["x", "y"], ["x", "y"], True),
        (["x", "y"], ["y", "x"], False),  # order
        (["x", "y"], ["x"], False),  # a line gone
        (["x", "y"], ["x", "y", "z"], False),  # a line more
        (["xy"], ["x", "y"], False),  # the same characters, cut elsewhere
        (["x y"], ["x  y"], False),  # any difference in a text
        ([], [], True),
    ],
)
def test_digest_tells_every_change_of_the_texts(a: list[str], b: list[str], same: bool) -> None:
    assert (digest([Entry(t) for t in a]) == digest([Entry(t) for t in b])) is same


def test_digest_leaves_links_out() -> None:
    # A line is fingerprinted from its text: a tracking parameter in its link does not make it new.
    assert digest([Entry("x", "https://a.example/1?utm=1")]) == digest([Entry("x", "https://a.example/1?utm=2")])


def test_memo_trusts_only_the_same_entries_recorded_within_refresh() -> None:
    memo = PollMemo(refresh=60)
    key = digest([Entry("x")])
    assert memo.same("s", key, 100.0) is None  # nothing recorded yet: the full path
    memo.remember("s", key, 1, 100.0)
    assert memo.same("s", key, 159.0) == 1
    assert memo.same("s", digest([Entry("y")]), 110.0) is None
    assert memo.same("other", key, 110.0) is None
    assert memo.same("s", key, 160.0) is None  # stale: write last_seen again
    assert memo.same("s", key, 99.0) is None  # the clock went back
    memo.forget("s")
    assert memo.same("s", key, 110.0) is None and len(memo) == 0


@pytest.mark.parametrize(
    ("retention", "edit_window", "refresh"),
    [(30 * 86400, 6 * 3600, 2160), (30 * 86400, 20 * 3600, HOUR), (2 * 3600, 6 * 3600, 720), (0, 0, 0)],
)
def test_refresh_is_within_a_tenth_of_retention_and_edit_window(
    retention: float, edit_window: float, refresh: float
) -> None:
    assert PollMemo.for_state(retention, edit_window).refresh == refresh


# ---------------------------------------------------------------- on a real state: SQLite and PostgreSQL


def sqlite_config(tmp_path: Path, site: Site) -> Path:
    return write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/")}],
        channels=[{"name": "screen", "type": "console"}],
        rules=[{"name": "all", "channels": ["screen"]}],
    )


def writes_of(rt: Runtime, pg: str | None) -> Callable[[], Any]:
    """A reading that changes whenever anything is written to the state's lines, baselines or outbox."""
    if pg is None:
        store = rt.store
        assert isinstance(store, SqliteStore)
        return lambda: store.db.total_changes  # rows this connection inserted, updated or deleted

    def rows() -> Any:  # xmin changes with every write of a row
        with psycopg.connect(pg) as conn:
            return [
                conn.execute(f"SELECT xmin::text, * FROM {table} ORDER BY 2, 3").fetchall()
                for table in ("seen", "outbox", "baseline")
            ]

    return rows


@pytest.fixture(params=["sqlite", "postgresql"])
def state(request: pytest.FixtureRequest, tmp_path: Path, site: Site) -> tuple[Path, str | None]:
    """A config of one source on a SQLite file, or on a new PostgreSQL database; and that database's url."""
    path = sqlite_config(tmp_path, site)
    if request.param == "sqlite":
        return path, None
    url: str = request.getfixturevalue("pg_url")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["state"] = {"url": url}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path, url


async def poll(rt: Runtime) -> PollResult:
    result = await poll_once(rt.sources[0], rt.store, rt.matcher, dedup=rt.config.dedup, memo=rt.memo)
    assert result.error is None
    return result


async def test_a_quiet_poll_writes_nothing_and_a_new_line_still_alerts(
    site: Site, state: tuple[Path, str | None]
) -> None:
    path, pg = state
    site.set("/", noisy(LINES))
    async with open_runtime(load(path)) as rt:
        written = writes_of(rt, pg)
        assert (await poll(rt)).baseline
        for _ in range(3):  # the page's bytes differ every time, its ticker does not
            site.set("/", noisy(LINES))
            before = written()
            result = await poll(rt)
            assert written() == before
            assert (result.found, result.new, result.queued, result.unchanged) == (3, 0, 0, False)
        site.set("/", noisy(["A new line on top", *LINES]))
        result = await poll(rt)
        assert (result.found, result.new, result.queued) == (4, 1, 1)
        assert [i.text for i in result.lines] == ["A new line on top"]
        site.set("/", noisy(["A new line on top", *LINES]))
        before = written()
        assert (await poll(rt)).found == 4
        assert written() == before
        # A line that leaves and comes back is the full path, and still not new.
        site.set("/", noisy(LINES))
        assert (await poll(rt)).new == 0
        site.set("/", noisy(["A new line on top", *LINES]))
        result = await poll(rt)
        assert result.new == 0 and written() != before


async def test_last_seen_advances_once_the_memo_is_older_than_its_refresh(
    site: Site, state: tuple[Path, str | None]
) -> None:
    path, pg = state
    site.set("/", noisy(LINES))
    async with open_runtime(load(path)) as rt:
        assert rt.memo.refresh == 2160  # the defaults: 30 days of retention, a 6 h edit window
        rt.memo = PollMemo(refresh=0.3)
        written = writes_of(rt, pg)
        await poll(rt)
        last_seen = await rt.store.recent("en", 0)
        before = written()
        await poll(rt)
        assert written() == before
        time.sleep(0.35)
        await poll(rt)
        assert written() != before  # every line's last_seen written again
        assert sorted(await rt.store.recent("en", time.time() - 0.3)) == sorted(last_seen)  # all 3, seen just now


async def test_a_restart_and_a_failed_write_take_the_full_path(
    site: Site, state: tuple[Path, str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, pg = state
    site.set("/", noisy(LINES))
    async with open_runtime(load(path)) as rt:
        await poll(rt)
    async with open_runtime(load(path)) as rt:  # a restart: the memo is empty
        assert len(rt.memo) == 0
        written = writes_of(rt, pg)
        before = written()
        site.set("/", noisy(LINES))
        assert (await poll(rt)).new == 0
        assert written() != before
        # A poll whose write fails forgets the memo, whatever it found.
        record, calls = rt.store.record, []

        async def failing(*args: Any, **kwargs: Any) -> int:
            calls.append(args)
            if len(calls) == 1:
                raise StateError("database is locked")
            return await record(*args, **kwargs)

        monkeypatch.setattr(rt.store, "record", failing)
        site.set("/", noisy(["A line the state could not take", *LINES]))
        result = await poll_once(rt.sources[0], rt.store, rt.matcher, dedup=rt.config.dedup, memo=rt.memo)
        assert result.state_fault and len(rt.memo) == 0
        site.set("/", noisy(LINES))
        assert (await poll(rt)).new == 0
        assert len(calls) == 2  # the full path, not the memo
        site.set("/", noisy(["A line the state could not take", *LINES]))
        assert (await poll(rt)).queued == 1  # not lost: it alerts now


async def test_a_dry_run_keeps_no_memo(tmp_path: Path, site: Site) -> None:
    path = sqlite_config(tmp_path, site)
    site.set("/", noisy(LINES))
    async with open_runtime(load(path)) as rt:
        await poll(rt)
    async with open_runtime(load(path), dry_run=True) as rt:
        for lines in (LINES, ["A new line", *LINES], ["A new line", *LINES]):
            site.set("/", noisy(lines))
            result = await poll_once(
                rt.sources[0], rt.store, rt.matcher, dedup=rt.config.dedup, dry_run=True, memo=rt.memo
            )
            assert result.new == (1 if len(lines) == 4 else 0)
        assert len(rt.memo) == 0
    with sqlite3.connect(tmp_path / "state" / "monitor.db") as db:
        assert db.execute("SELECT count(*) FROM seen").fetchone() == (3,)
