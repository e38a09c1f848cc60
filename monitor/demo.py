"""`monitor demo`: bundled ticker pages served on 127.0.0.1, run through the whole pipeline."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from importlib import resources

from aiohttp import web

from .config import parse
from .runtime import open_runtime

ROUNDS = 3


def _pages(prefix: str) -> list[bytes]:
    folder = resources.files("monitor") / "demo_pages"
    return [(folder / f"{prefix}-{n}.html").read_bytes() for n in range(1, ROUNDS + 1)]


async def _serve(pages: dict[str, list[bytes]], served: dict[str, int]) -> web.AppRunner:
    """Serve each page path; every fetch of it returns the next snapshot, then stays on the last."""

    async def page(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        n = served.get(name, 0)
        served[name] = n + 1
        # The Arabic page declares windows-1256 in its <meta> only, as many Arabic sites do.
        return web.Response(body=pages[name][min(n, ROUNDS - 1)], content_type="text/html")

    app = web.Application()
    app.router.add_get("/{name}", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


def _config(base: str, state: str) -> dict[str, object]:
    return {
        "state": {"path": state},
        "sources": [
            {"name": "demo-en", "url": f"{base}/en"},
            {"name": "demo-ar", "url": f"{base}/ar", "heading": "عاجل"},
        ],
        "channels": [{"name": "console", "type": "console"}],
        "rules": [
            {"name": "lebanon", "any": ["Lebanon", "لبنان"], "none": ["football"], "channels": ["console"]},
            {"name": "iran", "any": ["Iran", "Tehran", "ايران"], "channels": ["console"]},
            {"name": "iraq", "any": ["Iraq", "Baghdad", "العراق"], "channels": ["console"]},
        ],
    }


def say(text: str) -> None:
    """Narrate on stderr; the alerts themselves go to stdout."""
    print(text, file=sys.stderr, flush=True)


async def run_demo() -> int:
    """Run three polls of two bundled tickers into the console; return 0."""
    pages = {"en": _pages("en"), "ar": _pages("ar")}
    runner = await _serve(pages, {})
    port = runner.addresses[0][1]
    with tempfile.TemporaryDirectory(prefix="monitor-demo-") as tmp:
        config = parse(_config(f"http://127.0.0.1:{port}", f"{tmp}/demo.db"), file="(demo config)")
        say(f"demo: two tickers served at http://127.0.0.1:{port}/en and /ar (the Arabic one in windows-1256)")
        say("demo: rules send lines about Lebanon (not football), Iran or Iraq to the console")
        try:
            async with open_runtime(config) as rt:
                for n in range(1, ROUNDS + 1):
                    say(f"\n--- poll {n} ---")
                    for source in rt.sources:
                        r = await rt.poll(source)
                        what = "baseline recorded, nothing sent" if r.baseline else f"{r.new} new, {r.queued} sent"
                        say(f"{r.source}: {r.error or f'{r.found} lines on the ticker, {what}'}")
                    await rt.deliverer.run_until_empty(time.time() + 10)
                    if n < ROUNDS:
                        await asyncio.sleep(1)  # let a reader follow the rounds
        finally:
            await runner.cleanup()
    say("\ndemo: done. Next: export TELEGRAM_BOT_TOKEN, edit config.yaml, run `monitor check-config`,")
    say("then `monitor --once --dry-run`.")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(run_demo()))
