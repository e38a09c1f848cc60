import sqlite3
from pathlib import Path

from monitor.models import Item, Outgoing
from monitor.normalize import fingerprint
from monitor.store import SqliteStore


def item(text: str, source: str = "en") -> Item:
    return Item(source, text, None, fingerprint(text))


def test_record_marks_seen_and_queues_in_order(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "deep" / "state.db")
    a, b = item("first line"), item("second line")
    assert not store.has_baseline("en")
    assert store.unseen("en", [a, b]) == [a, b]
    assert store.record("en", [a, b], [Outgoing("alerts", a, False), Outgoing("alerts", b, True), Outgoing("other", b, False)]) == 3
    assert store.has_baseline("en") and not store.has_baseline("ar")
    assert store.unseen("en", [a, b, item("third")]) == [item("third")]
    assert store.unseen("ar", [a]) == [a]  # seen is per source
    assert [(x.text, x.silent) for x in store.queued("alerts")] == [("first line", False), ("second line", True)]
    # Queuing the same item for the same channel twice is ignored.
    assert store.record("en", [a], [Outgoing("alerts", a, False)]) == 0


def test_delivery_states_and_status(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    a, b, c = item("a a"), item("b b"), item("c c")
    store.record("en", [a, b, c], [Outgoing("alerts", a, False), Outgoing("alerts", b, False), Outgoing("alerts", c, False)])
    first, second, third = store.queued("alerts")
    store.delivered([first.id], "17")
    store.failed(second.id, "chat not found")
    store.retry(third.id, "timeout")
    assert [a.attempts for a in store.queued("alerts")] == [1]
    assert store.count_queued("alerts") == 1
    [status] = store.status()
    assert (status.queued, status.delivered, status.failed, status.last_error) == (1, 1, 1, "timeout")


def test_state_survives_reopen_and_readonly_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    store.record("en", [item("kept")], [])
    store.close()
    ro = SqliteStore.open_readonly(path)
    assert ro.has_baseline("en") and ro.unseen("en", [item("kept")]) == []
    try:
        ro.record("en", [item("new")], [])
        raise AssertionError("read-only store wrote")
    except sqlite3.OperationalError:
        pass
    ro.close()
    missing = SqliteStore.open_readonly(tmp_path / "absent.db")
    assert not missing.has_baseline("en")
    missing.close()
    assert not (tmp_path / "absent.db").exists()


def test_prune_forgets_old_items_only(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    store.record("en", [item("old")], [])
    store.db.execute("UPDATE seen SET last_seen = 0")
    store.record("en", [item("fresh")], [])
    assert store.prune(older_than=1000) == 1
    assert store.unseen("en", [item("old"), item("fresh")]) == [item("old")]


def test_expire_gives_up_on_old_queued_alerts(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    a, b = item("old alert"), item("new alert")
    store.record("en", [a], [Outgoing("alerts", a, False)])
    store.db.execute("UPDATE outbox SET created = 0, last_error = 'chat not found'")
    store.record("en", [b], [Outgoing("alerts", b, False)])
    assert store.expire("alerts", older_than=1000) == 1
    assert [x.text for x in store.queued("alerts")] == ["new alert"]
    [status] = store.status()
    assert status.failed == 1
