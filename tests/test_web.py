"""The HTTP endpoint's guard: Basic auth on every endpoint, /healthz for load balancers, failures rate-limited."""

from __future__ import annotations

import base64
import json
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fake_telegram import FakeTelegram
from helpers import TOKEN, Service, free_port, telegram_channel, wait, write_config
from sites import Site, ticker_page

from monitor.passwords import hash_password
from monitor.web import Failures

PASSWORD = "correct horse battery staple"


def get(
    port: int, path: str = "/", *, auth: tuple[str, str] | None = None, method: str = "GET"
) -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def test_auth_on_every_endpoint(tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]) -> None:
    site.set("/", ticker_page(["Old"]))
    port = free_port()
    path = write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/"), "interval": 1}],
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
        http={"listen": f"127.0.0.1:{port}", "auth": {"user": "ops", "password_hash": hash_password(PASSWORD)}},
    )
    service = Service(tmp_path, path)
    services.append(service)
    service.notified("READY")
    wait(lambda: get(port, "/healthz", auth=("ops", PASSWORD))[0] == 200, "a healthy service")
    for endpoint in ("/", "/metrics"):
        status, _, headers = get(port, endpoint)
        assert status == 401 and headers["WWW-Authenticate"].startswith('Basic realm="monitor"'), endpoint
        assert get(port, endpoint, auth=("ops", "wrong password"))[0] == 401
        assert get(port, endpoint, auth=("root", PASSWORD))[0] == 401
        assert get(port, endpoint, auth=("ops", PASSWORD))[0] == 200
    status, body, headers = get(port, "/", auth=("ops", PASSWORD))
    assert "text/html" in headers["Content-Type"] and "default-src 'none'" in headers["Content-Security-Policy"]
    assert "<h2>Sources</h2>" in body
    # A load balancer without credentials: the status code alone, no problems named.
    status, body, _ = get(port, "/healthz")
    assert (status, json.loads(body)) == (200, {"ok": True})
    assert json.loads(get(port, "/healthz", auth=("ops", PASSWORD))[1]) == {"ok": True, "problems": []}
    # Read-only: HEAD works, anything else is refused.
    assert get(port, "/", auth=("ops", PASSWORD), method="HEAD")[0] == 200
    assert get(port, "/", auth=("ops", PASSWORD), method="POST")[0] == 405
    # Five wrong passwords in a row within the minute, and then even the right one must wait.
    assert [get(port, "/", auth=("ops", f"wrong {n}"))[0] for n in range(5)] == [401] * 5
    status, _, headers = get(port, "/", auth=("ops", PASSWORD))
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert "http.auth_failed client=127.0.0.1" in service.log()
    assert PASSWORD not in service.log()


@pytest.mark.parametrize(
    ("fails", "at", "wait_s"),
    [
        ([], 0.0, 0.0),
        ([0, 1, 2, 3], 4.0, 0.0),  # four: not yet
        ([0, 1, 2, 3, 4], 5.0, 55.0),  # the fifth within the window: until the first of the five is old
        ([0, 1, 2, 3, 4], 61.0, 0.0),  # the first left the window
        ([0, 10, 20, 30, 40, 50], 65.0, 5.0),  # the five in the window count: until 10 is old
    ],
)
def test_failures_per_client(fails: list[float], at: float, wait_s: float) -> None:
    failures = Failures(limit=5, window=60)
    for t in fails:
        failures.fail("10.0.0.1", t)
    assert failures.wait("10.0.0.1", at) == pytest.approx(wait_s)
    assert failures.wait("10.0.0.2", at) == 0  # per address
    failures.forget("10.0.0.1")
    assert failures.wait("10.0.0.1", at) == 0


def test_failures_remember_a_bounded_number_of_clients() -> None:
    failures = Failures(limit=1, window=60, clients=3)
    for n in range(5):
        failures.fail(f"10.0.0.{n}", 0)
    assert len(failures.seen) == 3 and failures.wait("10.0.0.4", 1) > 0 and failures.wait("10.0.0.0", 1) == 0


def test_the_page_of_a_postgresql_state_lists_its_instances(
    tmp_path: Path, site: Site, telegram: FakeTelegram, pg_url: str, services: list[Service]
) -> None:
    site.set("/", ticker_page(["Old"]))
    port = free_port()
    path = write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/"), "interval": 1}],
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
        http={"listen": f"127.0.0.1:{port}"},
        state={"url": pg_url},
    )
    service = Service(tmp_path, path)
    services.append(service)
    service.notified("READY")
    instance = f"{socket.gethostname()}:{service.proc.pid}"
    wait(lambda: instance in get(port)[1], "the instance on the page")
    status, body, _ = get(port)
    assert status == 200 and "<h2>Instances</h2>" in body and "telegram:@alerts" in body
    assert pg_url not in body and TOKEN not in body
