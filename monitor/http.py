"""The one HTTP fetch every source uses: shared aiohttp session, timeouts, size cap, clear errors."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from .errors import FetchError

MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
_ENCODING = re.compile(r"decode content-encoding: (\w+)", re.IGNORECASE)
_HINT = " (the site may refuse unknown clients: try user_agent)"


@dataclass(frozen=True, slots=True)
class Page:
    """A fetched response: body and what is needed to decode it and to ask again conditionally."""

    url: str  # final URL after redirects
    body: bytes  # b"" when not modified
    content_type: str | None = None
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    max_age: float | None = None  # Cache-Control max-age: the server's word on how long it stays fresh

    @property
    def not_modified(self) -> bool:
        """Whether the server answered 304: the page is as it was at the last fetch."""
        return self.status == 304


_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)", re.IGNORECASE)


def _max_age(cache_control: str) -> float | None:
    """Return Cache-Control's max-age in seconds, if the header gives one."""
    m = _MAX_AGE.search(cache_control)
    return float(m.group(1)) if m else None


def new_session(*, limit: int = 32, limit_per_host: int = 2) -> aiohttp.ClientSession:
    """Return the session all sources share (gzip/deflate accepted; proxies from env_proxy).

    limit caps connections in all, limit_per_host those to one host, so one slow host cannot take
    every connection from the others.
    """
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit_per_host)
    # Not trust_env: it sends every request through two worker threads (a ~/.netrc read and the proxy
    # lookup), a third of the CPU of a 304 poll. env_proxy makes the same proxy choice in the loop.
    return aiohttp.ClientSession(connector=connector, trust_env=False)


_PROXY_ENV = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY", "NETRC", "HOME")


def env_proxy(url: str) -> tuple[str | None, aiohttp.BasicAuth | None]:
    """Return the proxy (and its login) that HTTP(S)_PROXY and NO_PROXY name for url, as aiohttp's
    trust_env would, or (None, None)."""
    target = URL(url)
    return _env_proxy(target.scheme, target.host or "", tuple(os.environ.get(k) for k in _PROXY_ENV))


@functools.lru_cache(maxsize=256)
def _env_proxy(scheme: str, host: str, _env: tuple[str | None, ...]) -> tuple[str | None, aiohttp.BasicAuth | None]:
    # _env is only part of the cache key: a changed environment asks aiohttp again.
    try:
        proxy, auth = get_env_proxy_for_url(URL.build(scheme=scheme, host=host))
    except (LookupError, ValueError):
        return None, None
    return str(proxy), auth


async def fetch(
    session: aiohttp.ClientSession,
    url: str,
    *,
    timeout: float,
    headers: Mapping[str, str],
    max_bytes: int = MAX_BYTES,
    proxy: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Page:
    """GET a URL (conditionally when validators are given), raising FetchError with a plain reason."""
    sent = dict(headers)
    if etag:
        sent["If-None-Match"] = etag
    if last_modified:
        sent["If-Modified-Since"] = last_modified
    connect = min(timeout, 10.0)
    try:
        proxy_auth = None
        if proxy is None:
            proxy, proxy_auth = env_proxy(url)
        async with session.get(
            url,
            headers=sent,
            proxy=proxy,
            proxy_auth=proxy_auth,
            timeout=aiohttp.ClientTimeout(total=timeout, sock_connect=connect),
            max_redirects=MAX_REDIRECTS + 1,  # aiohttp fails on the max_redirects-th redirect
        ) as resp:
            final = str(resp.url)
            new_etag = resp.headers.get("ETag")
            new_modified = resp.headers.get("Last-Modified")
            max_age = _max_age(resp.headers.get("Cache-Control", ""))
            if resp.status == 304:
                return Page(final, b"", None, 304, new_etag or etag, new_modified or last_modified, max_age)
            if not 200 <= resp.status < 300:
                hint = _HINT if resp.status in (401, 403) else ""
                raise FetchError(f"HTTP {resp.status} {resp.reason or ''}".rstrip() + hint)
            if (resp.content_length or 0) > max_bytes:
                raise FetchError(f"response too large: {resp.content_length} bytes > {max_bytes}")
            body = bytearray()
            # resp.content yields decoded bytes, so a gzip bomb is cut off at max_bytes too
            async for chunk in resp.content.iter_any():
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(f"response too large: over {max_bytes} bytes")
            content_type = resp.headers.get("Content-Type")
            return Page(final, bytes(body), content_type, resp.status, new_etag, new_modified, max_age)
    except FetchError:
        raise
    except aiohttp.ConnectionTimeoutError as exc:
        raise FetchError(f"cannot connect to {_where(exc, url)}: timed out after {connect:g}s") from None
    except TimeoutError:
        raise FetchError(f"timed out after {timeout:g}s") from None
    except aiohttp.ClientError as exc:
        raise FetchError(_reason(exc, url)) from None
    except ValueError as exc:  # a malformed URL or proxy that aiohttp refuses before connecting
        raise FetchError(_line(f"invalid URL or proxy: {exc}")) from None


def _reason(exc: aiohttp.ClientError, url: str) -> str:
    """Return one plain line for an aiohttp error."""
    if isinstance(exc, aiohttp.TooManyRedirects):
        return f"more than {MAX_REDIRECTS} redirects"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return _line(f"TLS certificate of {_where(exc, url)} not accepted: {_tls(exc.certificate_error)}")
    if isinstance(exc, aiohttp.ClientSSLError):
        return _line(f"TLS error with {_where(exc, url)}: {_tls(exc.os_error)}")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"cannot resolve host name {exc.host}"
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return _line(f"cannot connect to proxy {_where(exc, url)}: {_os(exc.os_error)}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _line(f"cannot connect to {_where(exc, url)}: {_os(exc.os_error)}")
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return _line(f"proxy refused the connection: HTTP {exc.status} {exc.message}".rstrip())
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection before answering"
    if (coding := _ENCODING.search(str(exc))) is not None:
        return f"cannot decode the page's {coding.group(1)} compression (corrupt or unsupported)"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the connection dropped before the whole page arrived"
    if isinstance(exc, aiohttp.ClientOSError):
        return _line(f"connection error: {_os(exc)}")
    if isinstance(exc, aiohttp.InvalidURL):
        return _line(f"invalid URL: {exc.url}")
    if isinstance(exc, aiohttp.NonHttpUrlClientError):
        return _line(f"not an http(s) URL: {exc}")
    if isinstance(exc, aiohttp.ClientResponseError):
        return _line(f"invalid response: {exc.message}")
    return _line(f"request failed: {type(exc).__name__}")


def _where(exc: aiohttp.ClientError, url: str) -> str:
    """Return host:port of a connection error, else the URL."""
    host, port = getattr(exc, "host", None), getattr(exc, "port", None)
    if not host:
        parsed = URL(url)
        host, port = parsed.host, parsed.port
    return f"{host}:{port}" if host else url


def _os(error: BaseException) -> str:
    """Return the plain words of an OS error ("Connection refused"), without errno or repr."""
    if isinstance(error, OSError) and error.errno:
        return os.strerror(error.errno)
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _tls(error: BaseException) -> str:
    """Return the plain words of an ssl error ("certificate has expired", "wrong version number")."""
    words = getattr(error, "verify_message", None) or getattr(error, "reason", None)
    return str(words).lower().replace("_", " ") if words else _os(error)


def _line(text: str, limit: int = 200) -> str:
    """Return text on one line, cut to limit characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
