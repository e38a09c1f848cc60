"""http.auth's password hashes: made, checked, verified; `monitor hash-password`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from monitor.passwords import check_hash, hash_password, verify_password

PASSWORD = "correct horse battery staple"
STORED = hash_password(PASSWORD)


def test_a_hash_verifies_its_password_only() -> None:
    assert STORED.startswith("scrypt$16384$8$1$")
    assert PASSWORD not in STORED
    assert check_hash(STORED) is None
    assert verify_password(PASSWORD, STORED)
    assert not verify_password(PASSWORD + " ", STORED)
    assert not verify_password("", STORED)


def test_two_hashes_of_one_password_differ_by_their_salt() -> None:
    assert hash_password(PASSWORD) != STORED


@pytest.mark.parametrize(
    ("stored", "fault"),
    [
        ("hunter2", "expected scrypt$N$r$p$salt$hash"),
        ("scrypt$1000$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==", "not valid"),
        ("scrypt$1048576$64$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==", "more than 256 MB"),
        ("scrypt$16384$8$1$c2E=$aGFzaGhhc2hoYXNoaGFzaA==", "too short"),
    ],
)
def test_unusable_hashes_are_named(stored: str, fault: str) -> None:
    assert fault in (check_hash(stored) or "")
    assert not verify_password(PASSWORD, stored)


def run(stdin: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "monitor.cli", "hash-password"]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=30)


def test_hash_password_reads_stdin_and_prints_a_hash() -> None:
    done = run(PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    printed = done.stdout.strip()
    assert check_hash(printed) is None and verify_password(PASSWORD, printed)
    assert PASSWORD not in done.stdout + done.stderr


@pytest.mark.parametrize(("stdin", "why"), [("\n", "empty password"), ("short\n", "shorter than 8")])
def test_hash_password_refuses_a_weak_password(stdin: str, why: str) -> None:
    done = run(stdin)
    assert done.returncode == 2 and why in done.stderr and done.stdout == ""
