"""The status page of a running service, in a real headless Chromium: what it shows, on a desktop and a phone.

Skipped where /usr/bin/chromium is missing (`.ci/run` installs Debian's). MONITOR_SCREENSHOTS=DIR also
writes the screenshots there (the README's are made so: MONITOR_SCREENSHOTS=docs).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
from chromium import BINARY, Chromium
from fake_telegram import FakeTelegram
from helpers import TOKEN, Service, free_port, scrape, telegram_channel, until, write_config
from sites import Site, ticker_page

ENGLISH = "Lebanon: Israeli drone strikes a motorcycle in Aitaroun, one killed"
ARABIC = "عاجل: غارة إسرائيلية على بلدة عيتا الشعب في جنوب لبنان"
HOSTILE = 'Markup in a line: <img src=x onerror="document.title=1"><i>shown as text</i>'

pytestmark = pytest.mark.skipif(not BINARY.exists(), reason=f"no {BINARY}: apt-get install chromium")


@pytest.mark.timeout(120)
async def test_status_page_in_a_browser(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]
) -> None:
    site.set("/en", ticker_page(["Old line"]))
    site.set("/ar", ticker_page(["خبر قديم"], heading="عاجل"))
    port = free_port()
    path = write_config(
        tmp_path,
        sources=[
            {"name": "mayadeen-en", "url": site.url("/en"), "interval": 1},
            {"name": "mayadeen-ar", "url": site.url("/ar"), "interval": 1},
            {"name": "gone-site", "url": site.url("/gone"), "interval": 1, "alarm_after": 2},
        ],
        channels=[telegram_channel(telegram), telegram_channel(telegram, "admin", "@second")],
        rules=[{"name": "all", "channels": ["alerts"]}],
        admin_channel="admin",
        http={"listen": f"127.0.0.1:{port}"},
    )
    service = Service(tmp_path, path)
    services.append(service)
    await asyncio.to_thread(service.notified, "READY")
    await until(lambda: site.hits["/en"] and site.hits["/ar"], "the baseline polls", timeout=30)
    site.set("/en", ticker_page([HOSTILE, ENGLISH, "Old line"]))
    site.set("/ar", ticker_page([ARABIC, "خبر قديم"], heading="عاجل"))
    # Both lines to @alerts, and the alarm about gone-site to the admin chat.
    await telegram.await_for(
        lambda sent: {s.chat_id for s in sent} >= {"@alerts", "@second"} and len(sent) >= 4, timeout=30
    )
    await until(lambda: "ALARM" in scrape(port, "/")[1], "the alarm on the page (written within a second)")

    async with Chromium(tmp_path) as page:
        await page.viewport(1280, 800)
        await page.open(f"http://127.0.0.1:{port}/")
        text = await page.evaluate("document.body.innerText")
        for shown in ("mayadeen-en", "mayadeen-ar", "gone-site", "ALARM", "HTTP 404", ENGLISH, ARABIC, "telegram"):
            assert shown in text, shown
        direction = """[...document.querySelectorAll('td.line')]
            .filter(td => td.textContent.includes(%r)).map(td => getComputedStyle(td).direction)"""
        assert await page.evaluate(direction % ARABIC) == ["rtl"]
        assert await page.evaluate(direction % ENGLISH) == ["ltr"]
        assert await page.evaluate("document.documentElement.dir || getComputedStyle(document.body).direction") in (
            "ltr",
            "",
        )
        assert await page.evaluate("document.scripts.length") == 0
        # A line's markup is text on the page, never markup: no image, no italics, no title change.
        assert HOSTILE in text
        assert await page.evaluate("[document.images.length, document.querySelectorAll('i').length]") == [0, 0]
        assert await page.evaluate("document.title") == "monitor status"
        html = await page.evaluate("document.documentElement.outerHTML")
        for secret in (TOKEN, TOKEN.split(":")[1], telegram.base_url, "@second"):
            assert secret not in html, secret
        await page.screenshot(tmp_path / "status-page-desktop.png")

        await page.viewport(390, 844, mobile=True)
        await page.open(f"http://127.0.0.1:{port}/")
        assert await page.evaluate("window.innerWidth") == 390
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        await page.screenshot(tmp_path / "status-page-phone.png")

    for name in ("status-page-desktop.png", "status-page-phone.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
        if into := os.environ.get("MONITOR_SCREENSHOTS"):
            shutil.copyfile(tmp_path / name, Path(into) / name)
    assert service.stop() == 0
