"""The service as systemd runs it: notify socket, /metrics and /healthz, SIGHUP reload, SIGTERM, one instance."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from fake_telegram import FakeTelegram
from helpers import Service, free_port, metric, run_monitor, scrape, telegram_channel, wait, write_config
from sites import Site, ticker_page


def test_ready_metrics_health_and_clean_stop(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]
) -> None:
    site.set("/", ticker_page(["Old"]))
    port = free_port()
    path = write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/"), "interval": 1}],
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
        http={"listen": f"127.0.0.1:{port}"},
    )
    service = Service(tmp_path, path, WATCHDOG_USEC="200000")
    services.append(service)
    ready = service.notified("READY")
    assert ready["READY"] == "1" and "1 sources" in ready["STATUS"]
    service.notified("WATCHDOG")
    service.notified("WATCHDOG")  # pinged again: the loop is alive
    wait(lambda: metric(scrape(port)[1], "monitor_polls_total", source="en") >= 1, "a poll in /metrics")
    site.set("/", ticker_page(["Two", "One", "Old"]))
    telegram.wait_for(2, timeout=20)
    wait(lambda: metric(scrape(port)[1], "monitor_alerts_sent_total", channel="alerts") == 2, "sent in /metrics")
    text = scrape(port)[1]
    assert metric(text, "monitor_items_new_total", source="en") == 3  # "Old" on the baseline poll, then two
    assert metric(text, "monitor_last_success_timestamp_seconds", source="en") > time.time() - 60
    status, body = scrape(port, "/healthz")
    assert status == 200 and json.loads(body) == {"ok": True, "problems": []}
    out = run_monitor("status", "--config", str(path))  # read-only, while the service runs
    assert re.search(r"^en\s+\d+s ago\s+\d+s ago\s+0 ", out.stdout, re.M), out.stdout
    assert re.search(r"^alerts\s+0\s+2\s+0", out.stdout, re.M), out.stdout
    assert service.stop() == 0
    assert "STOPPING" in service.notified("STOPPING")


def test_sighup_reload_and_broken_config_refused(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]
) -> None:
    for p in ("/a", "/b"):
        site.set(p, ticker_page(["Old"]))
    channels = [telegram_channel(telegram)]
    rules = [{"name": "all", "channels": ["alerts"]}]
    path = write_config(
        tmp_path, sources=[{"name": "a", "url": site.url("/a"), "interval": 1}], channels=channels, rules=rules
    )
    service = Service(tmp_path, path)
    services.append(service)
    service.notified("READY")
    wait(lambda: site.hits["/a"] >= 2, "source a polling")
    good = path.read_text()
    data = yaml.safe_load(good)
    data["sources"] = [{"name": "b", "url": site.url("/b"), "interval": 1}]
    path.write_text(yaml.safe_dump(data))
    service.proc.send_signal(signal.SIGHUP)
    service.notified("RELOADING")
    service.notified("READY")
    a_after = site.hits["/a"]
    wait(lambda: site.hits["/b"] >= 3, "the new source polling")
    assert site.hits["/a"] <= a_after + 1  # the removed source stopped (one poll may have been under way)
    # A broken config is refused with check-config's error; the running one keeps going.
    path.write_text(good.replace("channels:\n  - alerts", "channels:\n  - alrets"))
    service.proc.send_signal(signal.SIGHUP)
    wait(lambda: "reload_refused" in service.log(), "the refusal")
    assert "rules[0].channels[0]: unknown channel 'alrets'" in service.log()
    b_before = site.hits["/b"]
    wait(lambda: site.hits["/b"] >= b_before + 2, "polling to go on")
    site.set("/b", ticker_page(["New on b", "Old"]))
    telegram.wait_for(1, timeout=20)
    assert service.stop() == 0


def test_hostile_configs_on_sighup_keep_the_running_config(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]
) -> None:
    site.set("/a", ticker_page(["Old"]))
    path = write_config(
        tmp_path,
        sources=[{"name": "a", "url": site.url("/a"), "interval": 1}],
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
    )
    good = path.read_text()
    service = Service(tmp_path, path)
    services.append(service)
    service.notified("READY")
    laughs = "x-lol:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"  {n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
    hostile = {
        "regex": good.replace("name: all", "name: all\n  any: ['/a{1,99999999999}/']"),
        "template": good.replace("name: alerts", "name: alerts\n  template: '{text!z}'"),
        "laughs": laughs + good.replace("interval: 1", "interval: *i"),
        "float tag": good.replace("interval: 1", "interval: !!float abc"),
    }
    for n, (name, text) in enumerate(hostile.items(), start=1):
        path.write_text(text)
        service.proc.send_signal(signal.SIGHUP)
        wait(lambda n=n: service.log().count("reload_refused") >= n, f"the {name} config refused", timeout=20)
        assert service.proc.poll() is None, service.log()
    with path.open("wb") as f:
        f.truncate(100 * 1024 * 1024)
    service.proc.send_signal(signal.SIGHUP)
    wait(lambda: "larger than 1024 KB" in service.log(), "the 100 MB config refused", timeout=20)
    hits = site.hits["/a"]
    wait(lambda: site.hits["/a"] >= hits + 2, "polling to go on")
    site.set("/a", ticker_page(["New on a", "Old"]))
    telegram.wait_for(1, timeout=20)
    assert "Traceback" not in service.log()
    assert service.stop() == 0


def test_sigterm_mid_burst_then_restart_delivers_rest_once(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]
) -> None:
    site.set("/", ticker_page(["Old"]))
    channel = telegram_channel(telegram, per_second=5, digest_after=1000)
    path = write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/"), "interval": 1}],
        channels=[channel],
        rules=[{"name": "all", "channels": ["alerts"]}],
        stop_timeout=5,
    )
    service = Service(tmp_path, path)
    services.append(service)
    service.notified("READY")
    wait(lambda: site.hits["/"] >= 1 and "baseline=yes" in service.log(), "the baseline")
    lines = [f"Burst line {i}: something happened in town {i}" for i in range(20, 0, -1)]
    site.set("/", ticker_page([*lines, "Old"]))
    telegram.wait_for(4, timeout=20)
    started = time.monotonic()
    assert service.stop() == 0
    assert time.monotonic() - started < 10  # stop_timeout 5 s, plus start-up margin
    stopped_at = len(telegram.sent)
    assert stopped_at < 20
    again = Service(tmp_path, path)
    services.append(again)
    telegram.wait_for(lambda sent: len({m.plain.split("\n")[0] for m in sent}) == 20, timeout=30)
    assert again.stop() == 0
    counts = Counter(m.plain.split("\n")[0] for m in telegram.sent)
    assert set(counts) == set(lines) and max(counts.values()) == 1  # a clean stop leaves no duplicate


def test_sigterm_while_a_poll_is_held_is_a_clean_stop(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]
) -> None:
    site.set("/", ticker_page(["Old"]))
    site.hold("/")  # the site never answers: the poll is under way when SIGTERM comes
    path = write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/"), "interval": 60}],
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
        stop_timeout=1,
    )
    service = Service(tmp_path, path)
    services.append(service)
    service.notified("READY")
    wait(lambda: site.hits["/"] >= 1, "the poll under way")
    assert service.stop() == 0
    log = service.log()
    assert "service.stopping polls_running=1" in log and "service.stopped" in log, log
    assert "ERROR" not in log and "Traceback" not in log, log  # a cancelled poll is a normal part of stopping


def test_a_source_slower_than_its_interval_is_one_line_of_ours(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]
) -> None:
    site.set("/slow", ticker_page(["Old"]))
    site.set("/fast", ticker_page(["Old"]))
    site.hold("/slow")
    sources = [
        {"name": "slow", "url": site.url("/slow"), "interval": 1},
        {"name": "fast", "url": site.url("/fast"), "interval": 1},
    ]
    path = write_config(
        tmp_path,
        sources=sources,
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
        stop_timeout=1,
    )
    service = Service(tmp_path, path)
    services.append(service)
    service.notified("READY")
    for n in range(1, 3):  # two polls of slow, each held over three of fast's (and its own) intervals
        wait(lambda n=n: site.hits["/slow"] >= n, f"slow poll {n} under way")
        fast = site.hits["/fast"]
        wait(lambda fast=fast: site.hits["/fast"] >= fast + 3, "three intervals")
        site.release("/slow")  # this poll answers; the next one is held again
        site.hold("/slow")
    wait(lambda: sum(1 for p, _, _ in site.requests if p == "/slow") >= 2, "both slow polls answered")
    assert service.stop() == 0
    log = service.log()
    overruns = re.findall(r"WARNING monitor\.service: poll\.overrun source=(\S+) took=\d+\.\ds interval=1s$", log, re.M)
    assert overruns == ["slow"], log  # once, not once per skipped turn nor per slow poll
    assert "maximum number of running instances" not in log, log


def test_second_instance_refused(tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]) -> None:
    site.set("/", ticker_page(["Old"]))
    path = write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/"), "interval": 5}],
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
    )
    service = Service(tmp_path, path)
    services.append(service)
    service.notified("READY")
    for args in ([], ["--once"]):
        second = run_monitor(*args, "--config", str(path))
        assert second.returncode == 1
        state = tmp_path / "state" / "monitor.db"
        assert f"another monitor (PID {service.proc.pid}) is already using {state};" in second.stderr
        assert "stop it first; several instances need a PostgreSQL state (state.url), see README" in second.stderr
    assert service.stop() == 0
    assert run_monitor("--once", "--config", str(path)).returncode == 0  # free again


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_units_sandboxing_rated_ok_and_alike() -> None:
    def exposure(name: str) -> float:
        unit = Path(__file__).parents[1] / "systemd" / name
        out = subprocess.run(
            ["systemd-analyze", "security", "--offline=true", str(unit)], capture_output=True, text=True, timeout=60
        )
        m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out.stdout)
        assert m, out.stdout + out.stderr
        return float(m.group(1))

    single, template = exposure("monitor.service"), exposure("monitor@.service")
    assert single <= 2.0
    assert template == single  # an instance per core gives up none of the single service's sandbox


def test_template_unit_is_the_service_unit_but_for_the_instance_names() -> None:
    def directives(name: str) -> list[str]:
        text = (Path(__file__).parents[1] / "systemd" / name).read_text()
        return [line for line in text.splitlines() if line and not line.startswith("#")]

    single, template = directives("monitor.service"), directives("monitor@.service")
    extra = [line for line in template if line not in single]
    assert extra == ["Description=monitor: breaking-news ticker alerts, instance %i", "SyslogIdentifier=monitor@%i"]
    assert [line for line in single if line not in template] == ["Description=monitor: breaking-news ticker alerts"]


def test_refused_token_holds_alerts_while_polling_goes_on_and_a_reload_sends_them(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]
) -> None:
    new_token = "123456:NEW-token-after-revoke"
    site.set("/", ticker_page(["Old"]))
    port = free_port()
    path = write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/"), "interval": 1}],
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
        http={"listen": f"127.0.0.1:{port}"},
        delivery={"retry_max": 120},
    )
    env = {"NEW_TOKEN": new_token}
    service = Service(tmp_path, path, **env)
    services.append(service)
    service.notified("READY")
    wait(lambda: "baseline=yes" in service.log(), "the baseline")
    site.set("/", ticker_page(["One", "Old"]))
    telegram.wait_for(1, timeout=20)
    telegram.token = new_token  # BotFather's /revoke: the service's token is refused from now on
    site.set("/", ticker_page(["Two", "One", "Old"]))
    wait(lambda: scrape(port, "/healthz")[0] == 503, "/healthz to report the channel")
    problems = json.loads(scrape(port, "/healthz")[1])["problems"]
    assert any(p.startswith("channel alerts: token refused") for p in problems), problems
    site.set("/", ticker_page(["Three", "Two", "One", "Old"]))
    wait(lambda: service.log().count("queued=1") >= 3, "the next line queued: polling goes on")
    polls = site.hits["/"]
    wait(lambda: site.hits["/"] >= polls + 2, "two more polls")
    assert [c.status for c in telegram.log if c.status != 200] == [401]  # no second try before retry_max
    out = run_monitor("status", "--config", str(path))
    assert re.search(r"^alerts\s+2\s+1\s+0\s+Telegram refused the bot token for channel 'alerts'", out.stdout, re.M), (
        out.stdout
    )
    data = yaml.safe_load(path.read_text())
    data["channels"][0]["token"] = "${NEW_TOKEN}"  # the operator puts the new token in, and reloads
    path.write_text(yaml.safe_dump(data))
    service.proc.send_signal(signal.SIGHUP)
    telegram.wait_for(3, timeout=20)
    wait(lambda: scrape(port, "/healthz")[0] == 200, "/healthz healthy again")
    wait(
        lambda: re.search(r"^alerts\s+0\s+3\s+0", run_monitor("status", "--config", str(path), env=env).stdout, re.M),
        "the sends recorded",
    )
    assert service.stop() == 0
    assert [m.plain.split("\n")[0] for m in telegram.sent] == ["One", "Two", "Three"]  # each once, in order
    log = service.log()
    assert log.count("refused the bot token") == 1 and "Traceback" not in log
    assert "TEST-token" not in log and "NEW-token" not in log
