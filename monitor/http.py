"""The one HTTP fetch every source uses: shared aiohttp session, timeouts, size cap, clear errors."""

from __future__ import annotations

import contextvars
import functools
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from .config_types import MAX_PAGE_BYTES, DefaultsConfig
from .errors import FetchError

if TYPE_CHECKING:
    from aiohttp.abc import AbstractResolver
    from aiohttp.connector import Connection
    from aiohttp.tracing import Trace

MAX_BYTES = MAX_PAGE_BYTES  # fetch()'s cap when a caller names none: a source's max_bytes default
_DEFAULTS = DefaultsConfig()  # connections and per_host, as config.yaml's defaults: section has them
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


def new_session(
    *,
    limit: int = _DEFAULTS.connections,
    limit_per_host: int = _DEFAULTS.per_host,
    resolver: AbstractResolver | None = None,
) -> aiohttp.ClientSession:
    """Return the session all sources share (gzip/deflate accepted; proxies from env_proxy).

    limit caps connections in all, limit_per_host those to one host, so one slow host cannot take
    every connection from the others. Its connections are checked against private addresses (see
    fetch); resolver replaces the system's name lookup (tests).
    """
    connector = _GuardedConnector(limit=limit, limit_per_host=limit_per_host, resolver=resolver)
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
    allow_private: bool = False,
    private: Callable[[IPAddress], bool] | None = None,
) -> Page:
    """GET a URL (conditionally when validators are given), raising FetchError with a plain reason.

    A redirect from a public address to a private one (is_private, or `private` if given) is
    refused unless allow_private; when the URL itself is on a private address, its redirects may
    go to private addresses too. session must come from new_session(), whose connections do the check.
    """
    if not isinstance(session.connector, _GuardedConnector):
        raise TypeError("fetch() needs a session from new_session(): its connections check where redirects lead")
    guard = _GUARD.set(_Guard(allow_private, private or is_private))
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
    finally:
        _GUARD.reset(guard)


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT; also a cloud's metadata address


def is_private(address: IPAddress) -> bool:
    """Whether an address is off the public internet: loopback, private, link-local, unspecified..."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
        or address.is_multicast
        or address in _SHARED
    )


@dataclass(slots=True)
class _Guard:
    """One fetch's rule on private addresses, kept across its redirects."""

    allow: bool
    private: Callable[[IPAddress], bool]
    source_private: bool | None = None  # learnt at the first connection: is the URL itself private?

    def check(self, address: IPAddress, port: int | None, first: bool) -> None:
        """Note the source's own address (first), or refuse a later hop to a private one."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        private = self.private(address)
        if first:
            self.source_private = bool(self.source_private) or private
        elif private and not (self.allow or self.source_private):
            where = f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"
            raise FetchError(f"redirect to a private address {where} refused (set allow_private: true to allow)")


# The fetch under way, for the connector: aiohttp calls connect() in the task that called fetch().
_GUARD: contextvars.ContextVar[_Guard | None] = contextvars.ContextVar("monitor_fetch_guard", default=None)


class _GuardedConnector(aiohttp.TCPConnector):
    """A connector that holds each connection of a fetch to its _Guard before the request is sent."""

    async def connect(
        self, req: aiohttp.ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> Connection:
        guard = _GUARD.get()
        if guard is None:
            return await super().connect(req, traces, timeout)
        first = guard.source_private is None
        if (named := _named(req.url.host)) is not None:  # an address in the URL: refused without connecting
            guard.check(named, req.url.port, first)
        conn = await super().connect(req, traces, timeout)
        # The address connected to, not one looked up beforehand: a name that resolves to a private
        # address (or rebinds to one between two lookups), a hex 0x7f.1, a kept-alive connection,
        # all show here. Through a proxy this is the proxy: only the URL's address counts.
        peer = None if req.proxy else _peer(conn)
        if peer is not None:
            try:
                guard.check(peer, req.url.port, first)
            except FetchError:
                conn.close()
                raise
        if guard.source_private is None:
            guard.source_private = False  # a name behind a proxy: taken for public
        return conn


def _named(host: str | None) -> IPAddress | None:
    """Return the address a URL's host names without a lookup (an IP address, or localhost)."""
    if not host:
        return None
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return ipaddress.IPv4Address("127.0.0.1")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _peer(conn: Connection) -> IPAddress | None:
    """Return the remote address of an open connection, if it is an IP one."""
    peer = conn.transport.get_extra_info("peername") if conn.transport is not None else None
    if not isinstance(peer, tuple) or not peer or not isinstance(peer[0], str):
        return None
    try:
        return ipaddress.ip_address(peer[0].split("%", 1)[0])
    except ValueError:
        return None


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
