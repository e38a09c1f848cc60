"""A state path that cannot be used is one line naming the path and the fault, and exit 2, for every command;
check-config says whether the state file is usable, and changes nothing to find out."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from helpers import run_monitor, write_config
from sites import Site, ticker_page

COMMANDS = (["--once"], [], ["status"], ["check-config"])  # [] runs the service


def config(where: Path, site: Site, state: Path) -> Path:
    where.mkdir(exist_ok=True)
    return write_config(
        where,
        sources=[{"name": "en", "url": site.url("/")}],
        channels=[{"name": "c", "type": "console"}],
        rules=[{"name": "all", "channels": ["c"]}],
        state={"path": str(state)},
    )


def refused(path: Path, *args: str) -> str:
    """Run a command that must refuse the state path; return its one line."""
    done = run_monitor(*args, "--config", str(path), timeout=30)
    assert done.returncode == 2, (args, done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, (args, done.stderr)
    return done.stderr


@pytest.mark.parametrize("case", ["parent is a file", "grandparent is a file", "state path is a folder", "in /proc"])
def test_unusable_state_path_is_one_line_and_exit_2(tmp_path: Path, site: Site, case: str) -> None:
    site.set("/", ticker_page(["Old line"]))
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "adir" / "monitor.db").mkdir(parents=True)
    state, fault = {
        "parent is a file": (tmp_path / "afile" / "monitor.db", f"{tmp_path / 'afile'} is a file, not a folder"),
        "grandparent is a file": (
            tmp_path / "afile" / "sub" / "monitor.db",
            f"{tmp_path / 'afile'} is a file, not a folder",
        ),
        "state path is a folder": (tmp_path / "adir" / "monitor.db", "is a folder, not a file"),
        "in /proc": (Path("/proc/self/monitor.db"), "/proc/self is not writable"),
    }[case]
    path = config(tmp_path, site, state)
    for args in COMMANDS:
        line = refused(path, *args)
        assert str(state) in line and fault in line, (args, line)
    assert (tmp_path / "afile").read_text() == "not a folder"
    assert os.listdir(tmp_path / "adir" / "monitor.db") == []
    assert site.hits.total() == 0  # refused before anything ran


def test_read_only_file_system(tmp_path: Path, site: Site, small_disk: Path) -> None:
    site.set("/", ticker_page(["Old line"]))
    used, new = small_disk / "monitor.db", small_disk / "new" / "monitor.db"
    used_config, new_config = config(tmp_path / "used", site, used), config(tmp_path / "new", site, new)
    assert run_monitor("--once", "--config", str(used_config)).returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)  # even root cannot write now
    for args in COMMANDS:  # no state yet, and none can be created
        line = refused(new_config, *args)
        assert str(new) in line and "Read-only file system" in line, (args, line)
    for args in (["--once"], [], ["check-config"]):  # a state file that cannot be written
        line = refused(used_config, *args)
        assert str(used) in line and "Read-only file system" in line, (args, line)
    status = run_monitor("status", "--config", str(used_config))  # reading needs no writing
    assert status.returncode == 0 and "\nsource " in status.stdout, status.stderr
    assert "en " in status.stdout


def test_lock_file_in_the_way(tmp_path: Path, site: Site) -> None:
    state = tmp_path / "state" / "monitor.db"
    (tmp_path / "state" / "monitor.db.lock").mkdir(parents=True)
    path = config(tmp_path, site, state)
    for args in (["--once"], []):
        line = refused(path, *args)
        assert f"cannot open the lock file {state}.lock beside the state file: Is a directory" in line, line


def test_check_config_says_whether_the_state_file_is_usable_and_changes_nothing(tmp_path: Path, site: Site) -> None:
    site.set("/", ticker_page(["Old line"]))
    state = tmp_path / "state" / "monitor.db"
    path = config(tmp_path, site, state)
    fresh = run_monitor("check-config", "--config", str(path))
    assert fresh.returncode == 0 and f"state: {state} (will be created)\n" in fresh.stdout, fresh.stderr
    assert not state.parent.exists()  # checked, not created
    assert run_monitor("--once", "--config", str(path)).returncode == 0
    files, stat = sorted(os.listdir(state.parent)), state.stat()
    used = run_monitor("check-config", "--config", str(path))
    assert used.returncode == 0 and f"state: {state} (ok)\n" in used.stdout, used.stderr
    assert sorted(os.listdir(state.parent)) == files  # no -wal or -shm left beside it
    assert (state.stat().st_mtime_ns, state.stat().st_size) == (stat.st_mtime_ns, stat.st_size)
    # A SQLite database of something else: monitor would have added its tables to it.
    state.unlink()
    with sqlite3.connect(state) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    db.close()
    for args in COMMANDS:
        line = refused(path, *args)
        assert f"state file {state} is a SQLite database of something else" in line, (args, line)
    with sqlite3.connect(state) as db:
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("notes",)]
    db.close()
