"""The one HTTP fetch every source uses: shared aiohttp session, timeouts, size cap, clear errors."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

from .errors import FetchError

MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5


@dataclass(frozen=True, slots=True)
class Page:
    """A fetched response body with what is needed to decode it."""

    url: str
    body: bytes
    content_type: str | None


def new_session() -> aiohttp.ClientSession:
    """Return the session all sources share (proxies from HTTP(S)_PROXY, a few connections per host)."""
    connector = aiohttp.TCPConnector(limit=32, limit_per_host=2)
    return aiohttp.ClientSession(connector=connector, trust_env=True)


async def fetch(
    session: aiohttp.ClientSession,
    url: str,
    *,
    timeout: float,
    headers: dict[str, str],
    max_bytes: int = MAX_BYTES,
) -> Page:
    """GET a URL and return its body, raising FetchError with a plain reason on any fault."""
    try:
        async with session.get(
            url,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 10)),
            max_redirects=MAX_REDIRECTS,
        ) as resp:
            if resp.status >= 400:
                hint = " (the site may refuse unknown clients: try user_agent)" if resp.status in (401, 403) else ""
                raise FetchError(f"HTTP {resp.status} {resp.reason or ''}".rstrip() + hint)
            if (resp.content_length or 0) > max_bytes:
                raise FetchError(f"response too large: {resp.content_length} bytes > {max_bytes}")
            body = bytearray()
            async for chunk in resp.content.iter_chunked(64 * 1024):
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(f"response too large: over {max_bytes} bytes")
            return Page(str(resp.url), bytes(body), resp.headers.get("Content-Type"))
    except asyncio.TimeoutError:
        raise FetchError(f"timed out after {timeout:g}s") from None
    except aiohttp.TooManyRedirects:
        raise FetchError(f"more than {MAX_REDIRECTS} redirects") from None
    except aiohttp.ClientConnectorError as exc:
        raise FetchError(f"cannot connect to {exc.host}:{exc.port}: {exc.os_error.strerror or exc.os_error}") from None
    except aiohttp.ClientError as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}") from None
