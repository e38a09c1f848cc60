"""Issue 11: one hostile page must not freeze the others. Each is refused or capped, quickly, while a
healthy source beside it delivers every line; a running service answers /healthz meanwhile and stops
on SIGTERM within stop_timeout."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path

import pytest
from fake_telegram import FakeTelegram
from helpers import telegram_channel, write_config
from sites import Site, ticker_page
from test_service import Service, free_port, wait

from monitor.config import load
from monitor.markup import MAX_DEPTH
from monitor.models import MAX_ITEMS
from monitor.runtime import open_runtime
from monitor.sources import pool


def nested(tag: str, depth: int) -> str:
    return ticker_page(["Hostile line"]).replace("</body>", f"<{tag}>" * depth + "x" + f"</{tag}>" * depth + "</body>")


HOSTILE = {
    # deep nesting of elements that make lexbor quadratic, under and over 1 MB
    "ul-0.8MB": (nested("ul", 200_000), "levels deep"),
    "ol-1.2MB": (nested("ol", 300_000), "levels deep"),
    "section-small": (nested("section", MAX_DEPTH + 100), "levels deep"),
    "blockquote-2MB": (nested("blockquote", 160_000), "levels deep"),
    "dl-dd": (ticker_page(["x"]).replace("</body>", "<dl><dd>" * 60_000 + "</body>"), "levels deep"),
    "span-then-unmatched-ends": (ticker_page(["x"]).replace("</body>", "<span>" * 15_000 + "</i>" * 200_000), "costly"),
    "b-5MB": (ticker_page(["x"]).replace("</body>", "<b>" * 1_500_000), "levels deep"),
    # many items: capped (360,000 found by heading may instead hit the 5 s parse deadline on a slow machine)
    "80k-items": (ticker_page([f"Item number {i}" for i in range(80_000)], links=False), "longer than"),
    "360k-tiny-items": (ticker_page([str(i) for i in range(360_000)], links=False), "longer than"),
}


@pytest.mark.timeout(120)
async def test_hostile_pages_are_refused_or_capped_beside_a_healthy_source(
    tmp_path: Path, site: Site, telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    site.set("/ok", ticker_page(["Old"]))
    for name, (page, _) in HOSTILE.items():
        site.set(f"/{name}", page)
    sources = [{"name": "ok", "url": site.url("/ok")}]
    sources += [{"name": name, "url": site.url(f"/{name}"), "max_bytes": 8 << 20} for name in HOSTILE]
    path = write_config(
        tmp_path,
        sources=sources,
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
    )
    async with open_runtime(load(path)) as rt:
        healthy, hostile = rt.sources[0], rt.sources[1:]
        await rt.poll(healthy)  # the baseline
        lines: list[str] = []
        started = time.monotonic()

        async def keep_changing() -> None:
            """The healthy ticker gets a new line every 50 ms while the hostile pages are polled."""
            for i in range(20):
                lines.insert(0, f"Healthy line {i} from the quiet source")
                site.set("/ok", ticker_page([*lines, "Old"]))
                await rt.poll(healthy)
                await asyncio.sleep(0.05)

        results, _ = await asyncio.gather(asyncio.gather(*(rt.poll(s) for s in hostile)), keep_changing())
        elapsed = time.monotonic() - started
        await rt.deliverer.run_until_empty(time.time() + 30)
    by_name = {r.source: r for r in results}
    for name, (_, refusal) in HOSTILE.items():
        result = by_name[name]
        if refusal is None:
            assert result.error is None and result.found == MAX_ITEMS, (name, result)
        elif result.error is None:
            assert refusal == "longer than" and result.found == MAX_ITEMS, (name, result)
        else:
            assert refusal in result.error, (name, result.error)
    assert elapsed < 60  # each hostile page costs at most the parse deadline (5 s); two at a time
    sent = "\n".join(m.plain for m in telegram.sent)
    assert all(line in sent for line in lines), sent  # every healthy line (maybe in a digest)
    capped = [r.getMessage() for r in caplog.records if "extract.capped" in r.getMessage()]
    assert all(f"kept={MAX_ITEMS}" in c for c in capped), capped


async def test_a_parse_past_its_deadline_is_killed(site: Site, tmp_path: Path, telegram: FakeTelegram) -> None:
    # Under the guard's limits but slow in the parse: lexbor is quadratic on this nesting.
    page = nested("div", 12_000)  # lexbor takes ~0.3 s (quadratic), the guard lets it through
    site.set("/slow", page)
    path = write_config(
        tmp_path,
        sources=[{"name": "slow", "url": site.url("/slow")}],
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
    )
    async with open_runtime(load(path)) as rt:
        started = time.monotonic()
        deadline, pool.PARSE_DEADLINE = pool.PARSE_DEADLINE, 0.05
        try:
            result = await rt.poll(rt.sources[0])
        finally:
            pool.PARSE_DEADLINE = deadline
    assert "longer than 0.05s to parse" in (result.error or ""), result
    assert time.monotonic() - started < 10


def healthz(port: int) -> tuple[float, dict[str, object]]:
    """Seconds /healthz took to answer, and its answer (503 while the hostile sources fail)."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read())
    return time.monotonic() - started, body


@pytest.mark.timeout(120)
def test_service_answers_healthz_while_parsing_and_stops_on_sigterm(
    tmp_path: Path, site: Site, telegram: FakeTelegram
) -> None:
    site.set("/ok", ticker_page(["Old"]))
    for name in ("ul-0.8MB", "b-5MB", "360k-tiny-items"):
        site.set(f"/{name}", HOSTILE[name][0])
    port = free_port()
    sources = [{"name": "ok", "url": site.url("/ok"), "interval": 1}]
    sources += [
        {"name": n, "url": site.url(f"/{n}"), "interval": 1, "max_bytes": 8 << 20}
        for n in ("ul-0.8MB", "b-5MB", "360k-tiny-items")
    ]
    path = write_config(
        tmp_path,
        sources=sources,
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
        http={"listen": f"127.0.0.1:{port}"},
        stop_timeout=3,
    )
    service = Service(tmp_path, path)
    try:
        service.notified("READY")
        wait(lambda: site.hits["/360k-tiny-items"] >= 2, "the hostile pages polled")
        answers = [healthz(port)[0] for _ in range(10)]
        assert max(answers) < 1.0, answers
        site.set("/ok", ticker_page(["Fresh line beside hostile pages", "Old"]))
        telegram.wait_for(1, timeout=30)
        started = time.monotonic()
        assert service.stop() == 0
        assert time.monotonic() - started < 3 + 2  # stop_timeout, plus margin for the exit itself
        assert "poll.crashed" not in service.log()
    finally:
        service.close()


def test_pages_the_scan_cannot_refuse_skip_it() -> None:
    from monitor.errors import ExtractError
    from monitor.markup import MAX_DEPTH, NEVER_REFUSED, _scan

    # The costliest shapes of NEVER_REFUSED tags (all nested; nested then unmatched end tags) pass the
    # scan, so skipping it for such pages changes no answer; one level past MAX_DEPTH is refused.
    _scan("<div>" * NEVER_REFUSED)
    half = NEVER_REFUSED // 2
    _scan("<span>" * half + "</x>" * half)
    with pytest.raises(ExtractError, match="levels deep"):
        _scan("<div>" * (MAX_DEPTH + 1))
