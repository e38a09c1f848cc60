"""A headless Chromium driven over the Chrome DevTools Protocol with aiohttp's websocket client.

No traffic beyond loopback: no sync, no component updates, no QUIC, no first-run fetches. The
browser picks its own debugging port (--remote-debugging-port=0) and writes it, with the browser's
websocket path, into DevToolsActivePort in its profile folder.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import time
from pathlib import Path
from typing import Any

import aiohttp

BINARY = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",  # as root, in a container: the sandbox needs user namespaces
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


class CdpError(Exception):
    """The browser answered a command with an error."""


class Chromium:
    """One browser process and one page (tab) in it; use as `async with Chromium(tmp_path) as page`."""

    def __init__(self, tmp_path: Path) -> None:
        self.profile = tmp_path / "chromium-profile"
        self.log = tmp_path / "chromium.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.http: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.ids = itertools.count(1)
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self.session: str | None = None  # the page's session on the browser's connection
        self.reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Chromium:
        self.profile.mkdir()
        with self.log.open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                str(BINARY),
                *FLAGS,
                f"--user-data-dir={self.profile}",
                "--remote-debugging-port=0",
                "about:blank",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )
        port, path = await self._active_port()
        self.http = aiohttp.ClientSession()
        self.ws = await self.http.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0)
        self.reader = asyncio.create_task(self._read())
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        self.session = attached["sessionId"]
        await self.send("Page.enable")
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.send("Browser.close", page=False), 5)
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        if self.http is not None:
            await self.http.close()
        if self.proc is not None and self.proc.returncode is None:
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    async def _active_port(self) -> tuple[str, str]:
        """Wait for the browser to say its port and path."""
        file, deadline = self.profile / "DevToolsActivePort", time.monotonic() + 30
        while time.monotonic() < deadline:
            lines = file.read_text().splitlines() if file.exists() else []
            if len(lines) >= 2:
                return lines[0], lines[1]
            assert self.proc is not None
            if self.proc.returncode is not None:
                raise AssertionError(f"chromium exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            await asyncio.sleep(0.05)
        raise AssertionError(f"chromium wrote no DevToolsActivePort: {self.log.read_text()[-2000:]}")

    async def _read(self) -> None:
        assert self.ws is not None
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            if "id" in data:
                future = self.waiting.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
            else:
                self.events.append(data)
                self.arrived.set()

    async def send(self, method: str, params: dict[str, Any] | None = None, *, page: bool = True) -> dict[str, Any]:
        """Send a command (to the page, or to the browser) and return its result."""
        assert self.ws is not None
        n = next(self.ids)
        message: dict[str, Any] = {"id": n, "method": method, "params": params or {}}
        if page and self.session is not None:
            message["sessionId"] = self.session
        self.waiting[n] = future = asyncio.get_running_loop().create_future()
        await self.ws.send_str(json.dumps(message))
        answer = await asyncio.wait_for(future, 30)
        if "error" in answer:
            raise CdpError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    async def event(self, method: str, timeout: float = 30) -> dict[str, Any]:
        """Wait for the next event of this kind (those before are dropped)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self.events):
                if event["method"] == method:
                    del self.events[: i + 1]
                    return event
            self.events.clear()
            self.arrived.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {method} within {timeout}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), left)

    async def open(self, url: str) -> None:
        """Load a page and wait for its load event."""
        self.events.clear()
        done = await self.send("Page.navigate", {"url": url})
        if done.get("errorText"):
            raise CdpError(f"{url}: {done['errorText']}")
        await self.event("Page.loadEventFired")

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        answer = await self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in answer:
            raise CdpError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    async def viewport(self, width: int, height: int, *, mobile: bool = False) -> None:
        """Show the page as a screen of this size (a phone: mobile, so the viewport meta counts)."""
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}
        await self.send("Emulation.setDeviceMetricsOverride", metrics)

    async def screenshot(self, path: Path) -> None:
        """Write what the screen shows as a PNG."""
        shot = await self.send("Page.captureScreenshot", {"format": "png"})
        path.write_bytes(base64.b64decode(shot["data"]))
