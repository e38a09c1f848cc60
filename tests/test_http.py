"""Tests for monitor.http: a local origin server and a local proxy play each fault; nothing leaves 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from multidict import CIMultiDict

from monitor.errors import FetchError
from monitor.http import MAX_REDIRECTS, fetch, is_private, new_session

try:
    from sites import BackgroundServer
except ImportError:  # run from elsewhere than pytest's rootdir-based import
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from sites import BackgroundServer

PAGE = b"<html><body><h3>BREAKING</h3><ul><li>One</li><li>Two</li></ul></body></html>"
HUGE = 50 * 1024 * 1024
CAP = 1024 * 1024  # max_bytes the size-cap tests fetch with
BOMB_DECODED = 64 * 1024 * 1024
LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"
PROXY_VARS = (
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
)


def gzip_bomb(size: int) -> bytes:
    """Return a gzip stream of `size` zero bytes, compressed piecewise so it never exists whole."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1024 * 1024)
    parts = [packer.compress(zeros) for _ in range(size // len(zeros))]
    return b"".join([*parts, packer.flush()])


@dataclass
class Origin:
    """What the origin server saw and did, shared with its thread."""

    server: BackgroundServer
    release: asyncio.Event  # held-up handlers (slow, declared-huge) wait on it; set at teardown
    seen: dict[str, CIMultiDict[str]] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    written: int = 0  # bytes the 50 MB handler got into the connection
    huge_done: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://{self.server.host}:{self.server.port}{path}"


def origin_app(state: Callable[[], Origin]) -> web.Application:
    """Return the origin site: one route per fault."""

    def record(request: web.Request) -> None:
        origin = state()
        origin.seen[request.path] = CIMultiDict(request.headers)
        origin.hits[request.path] = origin.hits.get(request.path, 0) + 1

    async def ok(request: web.Request) -> web.Response:
        record(request)
        return web.Response(body=PAGE, content_type="text/html", charset="utf-8")

    async def slow(request: web.Request) -> web.Response:
        record(request)
        await state().release.wait()
        return web.Response(body=PAGE)

    async def status(request: web.Request) -> web.Response:
        record(request)
        return web.Response(status=int(request.match_info["code"]), text="no")

    async def hop(request: web.Request) -> web.Response:
        record(request)
        left = int(request.match_info["n"])
        if left == 0:
            return web.Response(body=PAGE)
        raise web.HTTPFound(f"/hop/{left - 1}")

    async def loop(request: web.Request) -> web.Response:
        record(request)
        raise web.HTTPFound("/loop")

    async def to(request: web.Request) -> web.Response:
        record(request)
        raise web.HTTPFound(request.query["url"])

    async def huge(request: web.Request) -> web.StreamResponse:
        record(request)
        origin = state()
        resp = web.StreamResponse(headers={"Content-Type": "text/html"})  # chunked: no Content-Length
        chunk = b"<li>x</li>" * 6554
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if sock is not None:  # a small send buffer: what the kernel holds does not blur the count
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        try:
            await resp.prepare(request)
            while origin.written < HUGE:
                await resp.write(chunk)
                origin.written += len(chunk)
        except ConnectionError:
            pass  # the client hung up: the point of the test
        finally:
            origin.huge_done.set()
        return resp

    async def declared(request: web.Request) -> web.StreamResponse:
        record(request)
        resp = web.StreamResponse(headers={"Content-Type": "text/html"})
        resp.content_length = HUGE
        await resp.prepare(request)
        await state().release.wait()  # never sends the body: the client must not wait for it
        return resp

    async def gzipped(request: web.Request) -> web.Response:
        record(request)
        headers = {"Content-Encoding": "gzip", "Content-Type": "text/html; charset=utf-8"}
        return web.Response(body=gzip.compress(PAGE), headers=headers)

    bomb = gzip_bomb(BOMB_DECODED)

    async def bombed(request: web.Request) -> web.Response:
        record(request)
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "text/html"})

    async def etag(request: web.Request) -> web.Response:
        record(request)
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.Response(body=PAGE, headers={"ETag": '"v1"', "Content-Type": "text/html"})

    async def modified(request: web.Request) -> web.Response:
        record(request)
        if request.headers.get("If-Modified-Since") == LAST_MODIFIED:
            return web.Response(status=304)  # no validators repeated: the client keeps its own
        return web.Response(body=PAGE, headers={"Last-Modified": LAST_MODIFIED, "Content-Type": "text/html"})

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/slow", slow)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/hop/{n}", hop)
    app.router.add_get("/loop", loop)
    app.router.add_get("/to", to)
    app.router.add_get("/huge", huge)
    app.router.add_get("/declared", declared)
    app.router.add_get("/gzip", gzipped)
    app.router.add_get("/bomb", bombed)
    app.router.add_get("/etag", etag)
    app.router.add_get("/modified", modified)
    return app


def serve_origin(host: str = "127.0.0.1") -> Iterator[Origin]:
    holder: list[Origin] = []
    server = BackgroundServer(origin_app(lambda: holder[0]), host)
    holder.append(Origin(server, asyncio.Event()))
    server.start()
    try:
        yield holder[0]
    finally:
        server.loop.call_soon_threadsafe(holder[0].release.set)  # let held-up handlers finish
        server.stop()


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    yield from serve_origin()


@pytest.fixture(scope="module")
def inner() -> Iterator[Origin]:
    """The same site on 127.0.0.2: the private address of the redirect tests (see only_inner)."""
    yield from serve_origin("127.0.0.2")


@dataclass
class Proxy:
    """A forward proxy that answers every request itself, recording the request line it got."""

    server: BackgroundServer
    targets: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"


@pytest.fixture(scope="module")
def proxy() -> Iterator[Proxy]:
    holder: list[Proxy] = []

    async def answer(request: web.Request) -> web.Response:
        # aiohttp sends a plain-http request to a proxy in absolute form: GET http://host:port/path
        holder[0].targets.append(request.raw_path)
        if "url" in request.query:  # as the origin's /to would
            raise web.HTTPFound(request.query["url"])
        return web.Response(text="via proxy")

    app = web.Application()
    app.router.add_route("*", "/{any:.*}", answer)
    server = BackgroundServer(app)
    holder.append(Proxy(server))
    server.start()
    try:
        yield holder[0]
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def no_env_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's proxy settings from routing these loopback tests elsewhere."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with new_session() as shared:
        yield shared


async def fails(request: Awaitable[object]) -> str:
    """Await a fetch that must fail; return its FetchError message after checking it is one plain line."""
    with pytest.raises(FetchError) as caught:
        await request
    message = str(caught.value)
    assert message and "\n" not in message and len(message) <= 200, message
    assert "aiohttp" not in message and "Traceback" not in message and "Error(" not in message, message
    assert "RequestInfo" not in message and "<" not in message, message
    assert caught.value.__cause__ is None  # raised `from None`: no chained aiohttp traceback
    return message


async def get(session: aiohttp.ClientSession, url: str, **kwargs: object):  # type: ignore[no-untyped-def]
    kwargs.setdefault("timeout", 20.0)
    kwargs.setdefault("headers", {})
    return await fetch(session, url, **kwargs)  # type: ignore[arg-type]


# --- plain success ----------------------------------------------------------------------------------


async def test_page_fields(session: aiohttp.ClientSession, origin: Origin) -> None:
    page = await get(session, origin.url("/ok"))
    assert (page.url, page.body, page.status) == (origin.url("/ok"), PAGE, 200)
    assert page.content_type == "text/html; charset=utf-8"
    assert not page.not_modified and page.etag is None and page.last_modified is None


async def test_user_agent_and_extra_headers_reach_the_server(session: aiohttp.ClientSession, origin: Origin) -> None:
    headers = {"User-Agent": "Mozilla/5.0 (monitor test)", "X-Extra": "yes", "Accept-Language": "ar"}
    await get(session, origin.url("/ok"), headers=headers)
    seen = origin.seen["/ok"]
    assert seen["User-Agent"] == "Mozilla/5.0 (monitor test)"
    assert seen["X-Extra"] == "yes" and seen["Accept-Language"] == "ar"
    assert {"gzip", "deflate"} <= {c.strip() for c in seen["Accept-Encoding"].split(",")}


# --- HTTP faults --------------------------------------------------------------------------------------


async def test_slow_response_times_out(session: aiohttp.ClientSession, origin: Origin) -> None:
    message = await fails(get(session, origin.url("/slow"), timeout=0.5))
    assert message == "timed out after 0.5s"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (500, "HTTP 500 Internal Server Error"),
        (403, "HTTP 403 Forbidden (the site may refuse unknown clients: try user_agent)"),
        (401, "HTTP 401 Unauthorized (the site may refuse unknown clients: try user_agent)"),
        (404, "HTTP 404 Not Found"),
        (503, "HTTP 503 Service Unavailable"),
    ],
)
async def test_http_error_status(session: aiohttp.ClientSession, origin: Origin, code: int, message: str) -> None:
    assert await fails(get(session, origin.url(f"/status/{code}"))) == message


async def test_redirects_up_to_the_cap_are_followed(session: aiohttp.ClientSession, origin: Origin) -> None:
    page = await get(session, origin.url(f"/hop/{MAX_REDIRECTS}"))
    assert page.body == PAGE and page.url == origin.url("/hop/0")


async def test_one_redirect_too_many(session: aiohttp.ClientSession, origin: Origin) -> None:
    message = await fails(get(session, origin.url(f"/hop/{MAX_REDIRECTS + 1}")))
    assert message == "more than 5 redirects"


async def test_redirect_loop(session: aiohttp.ClientSession, origin: Origin) -> None:
    assert await fails(get(session, origin.url("/loop"))) == "more than 5 redirects"


# --- size cap -----------------------------------------------------------------------------------------


async def test_50mb_stream_is_cut_off_early(session: aiohttp.ClientSession, origin: Origin) -> None:
    message = await fails(get(session, origin.url("/huge"), max_bytes=CAP))
    assert message == f"response too large: over {CAP} bytes"
    assert await asyncio.to_thread(origin.huge_done.wait, 30), "the server kept writing"
    # What the server got into the connection: the cap plus whatever socket buffers took (about
    # 1.3 MB measured on loopback), never the 50 MB.
    assert CAP < origin.written < 10 * 1024 * 1024, origin.written


async def test_declared_huge_body_is_refused_before_reading(session: aiohttp.ClientSession, origin: Origin) -> None:
    # The server sends headers only and then holds: reading any of the body would run into the timeout.
    message = await fails(get(session, origin.url("/declared"), max_bytes=CAP, timeout=30.0))
    assert message == f"response too large: {HUGE} bytes > {CAP}"


async def test_gzip_response_is_decoded(session: aiohttp.ClientSession, origin: Origin) -> None:
    page = await get(session, origin.url("/gzip"))
    assert page.body == PAGE
    assert "gzip" in origin.seen["/gzip"]["Accept-Encoding"]


async def test_gzip_bomb_is_cut_off_at_the_decoded_size(session: aiohttp.ClientSession, origin: Origin) -> None:
    tracemalloc.start()
    try:
        message = await fails(get(session, origin.url("/bomb"), max_bytes=CAP))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message == f"response too large: over {CAP} bytes"
    # aiohttp inflates piecewise as the body is read, so the 64 MB never exist at once
    # (peak measured ~ 2.5 MB, including the server thread's allocations).
    assert peak < 16 * 1024 * 1024, peak


# --- conditional GET ----------------------------------------------------------------------------------


async def test_etag_conditional_get(session: aiohttp.ClientSession, origin: Origin) -> None:
    first = await get(session, origin.url("/etag"))
    assert first.status == 200 and first.body == PAGE and first.etag == '"v1"'
    assert "If-None-Match" not in origin.seen["/etag"]
    second = await get(session, origin.url("/etag"), etag=first.etag)
    assert origin.seen["/etag"]["If-None-Match"] == '"v1"'
    assert second.status == 304 and second.not_modified and second.body == b""
    assert second.etag == '"v1"' and second.url == origin.url("/etag")


async def test_last_modified_conditional_get_keeps_validators(session: aiohttp.ClientSession, origin: Origin) -> None:
    first = await get(session, origin.url("/modified"))
    assert first.status == 200 and first.last_modified == LAST_MODIFIED and first.etag is None
    assert "If-Modified-Since" not in origin.seen["/modified"]
    second = await get(session, origin.url("/modified"), last_modified=first.last_modified, etag='"old"')
    assert origin.seen["/modified"]["If-Modified-Since"] == LAST_MODIFIED
    assert origin.seen["/modified"]["If-None-Match"] == '"old"'
    # the 304 carries no validators: the ones sent are kept for the next poll
    assert second.not_modified and second.body == b""
    assert (second.etag, second.last_modified) == ('"old"', LAST_MODIFIED)


# --- connection faults --------------------------------------------------------------------------------


def closed_port() -> int:
    """Return a loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_connection_refused(session: aiohttp.ClientSession) -> None:
    port = closed_port()
    message = await fails(get(session, f"http://127.0.0.1:{port}/"))
    assert message == f"cannot connect to 127.0.0.1:{port}: Connection refused"


async def raw_server(reply: bytes, *, read: bool = True) -> tuple[asyncio.Server, int]:
    """Start a TCP server in this loop: read a request head (if `read`), send `reply`, hang up."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if read:
                await reader.readuntil(b"\r\n\r\n")
            writer.write(reply)
            await writer.drain()
            while not read and await reader.read(65536):
                pass  # hang up only after the client: closing with its bytes unread would send a reset
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"", "the server closed the connection before answering"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n<html>",
            "the connection dropped before the whole page arrived",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100\r\n<html>",
            "the connection dropped before the whole page arrived",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 6\r\n\r\n<html>",
            "cannot decode the page's gzip compression (corrupt or unsupported)",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 6\r\n\r\n<html>",
            "cannot decode the page's brotli compression (corrupt or unsupported)",
        ),
    ],
    ids=["closed", "short-body", "short-chunk", "bad-gzip", "brotli"],
)
async def test_dropped_or_broken_responses(session: aiohttp.ClientSession, reply: bytes, message: str) -> None:
    server, port = await raw_server(reply)
    async with server:
        assert await fails(get(session, f"http://127.0.0.1:{port}/")) == message


async def test_tls_error_is_plain(session: aiohttp.ClientSession) -> None:
    # a plain-HTTP server on an https:// URL: the TLS handshake fails
    server, port = await raw_server(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", read=False)
    async with server:
        message = await fails(get(session, f"https://127.0.0.1:{port}/"))
    assert message.startswith(f"TLS error with 127.0.0.1:{port}: "), message


@pytest.mark.parametrize(
    ("url", "message"),
    [("ftp://127.0.0.1/x", "not an http(s) URL: ftp://127.0.0.1/x"), ("http://", "invalid URL: http://")],
)
async def test_bad_urls(session: aiohttp.ClientSession, url: str, message: str) -> None:
    assert await fails(get(session, url)) == message


# --- proxies ------------------------------------------------------------------------------------------


async def test_per_source_proxy(session: aiohttp.ClientSession, origin: Origin, proxy: Proxy) -> None:
    before = origin.hits.get("/ok", 0)
    page = await get(session, origin.url("/ok?via=source"), proxy=proxy.url)
    assert page.body == b"via proxy"
    assert proxy.targets[-1] == origin.url("/ok?via=source")  # absolute-form request line
    assert origin.hits.get("/ok", 0) == before  # the origin never saw it


async def test_unreachable_proxy(session: aiohttp.ClientSession, origin: Origin) -> None:
    port = closed_port()
    message = await fails(get(session, origin.url("/ok"), proxy=f"http://127.0.0.1:{port}"))
    assert message == f"cannot connect to proxy 127.0.0.1:{port}: Connection refused"


async def test_http_proxy_env_is_honoured(monkeypatch: pytest.MonkeyPatch, origin: Origin, proxy: Proxy) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("http_proxy", proxy.url)  # urllib prefers the lower-case name when both exist
    before = origin.hits.get("/ok", 0)
    async with new_session() as session:
        page = await get(session, origin.url("/ok?via=env"))
    assert page.body == b"via proxy" and proxy.targets[-1] == origin.url("/ok?via=env")
    assert origin.hits.get("/ok", 0) == before


async def test_no_proxy_env_is_honoured(monkeypatch: pytest.MonkeyPatch, origin: Origin, proxy: Proxy) -> None:
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, proxy.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1")
    sent = len(proxy.targets)
    async with new_session() as session:
        page = await get(session, origin.url("/ok"))
    assert page.body == PAGE and len(proxy.targets) == sent


# --- redirects to private addresses -------------------------------------------------------------------
# Every server here is on loopback, so these tests call 127.0.0.2 (the `inner` site) the one private
# address and 127.0.0.1 (`origin`) a public one: fetch takes the test of privacy as `private`.


def only_inner(address: IPv4Address | IPv6Address) -> bool:
    return address == IPv4Address("127.0.0.2")


def refused(server: Origin) -> str:
    return f"redirect to a private address 127.0.0.2:{server.server.port} refused (set allow_private: true to allow)"


class Names(AbstractResolver):
    """A name lookup from a table, in place of DNS."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.names:
            raise OSError(f"no such name {host}")
        return [
            ResolveResult(
                hostname=host,
                host=self.names[host],
                port=port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        pass


def to(server: Origin, target: str) -> str:
    return server.url(f"/to?url={quote(target, safe='')}")


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.2:{port}/ok",  # refused before connecting: the URL names the address
        "http://[::ffff:127.0.0.2]:{port}/ok",  # the same, IPv4-mapped
        "http://0x7f.2:{port}/ok",  # 127.0.0.2 as the system's lookup reads it: only the connection shows it
    ],
    ids=["address", "ipv4-mapped", "hex"],
)
async def test_redirect_from_public_to_private_is_refused(
    session: aiohttp.ClientSession, origin: Origin, inner: Origin, target: str
) -> None:
    before = inner.hits.get("/ok", 0)
    message = await fails(get(session, to(origin, target.format(port=inner.server.port)), private=only_inner))
    assert message == refused(inner)
    assert inner.hits.get("/ok", 0) == before  # the request was never sent


async def test_allow_private_follows_the_redirect(
    session: aiohttp.ClientSession, origin: Origin, inner: Origin
) -> None:
    page = await get(session, to(origin, inner.url("/ok")), private=only_inner, allow_private=True)
    assert page.body == PAGE and page.url == inner.url("/ok")


async def test_a_private_source_may_redirect_to_private_addresses(
    session: aiohttp.ClientSession, origin: Origin, inner: Origin
) -> None:
    # inner -> origin (public) -> inner: the source's own address is private, so its redirects may be
    page = await get(session, to(inner, to(origin, inner.url("/hop/1"))), private=only_inner)
    assert page.body == PAGE and page.url == inner.url("/hop/0")


async def test_redirect_from_public_to_public_is_followed(session: aiohttp.ClientSession, origin: Origin) -> None:
    page = await get(session, to(origin, origin.url("/ok")), private=only_inner)
    assert page.body == PAGE and page.url == origin.url("/ok")


async def test_a_name_that_resolves_to_a_private_address_is_refused_at_the_connection(
    origin: Origin, inner: Origin
) -> None:
    names = Names({"news.test": "127.0.0.1", "inside.test": "127.0.0.2"})
    async with new_session(resolver=names) as session:
        before = inner.hits.get("/ok", 0)
        source = f"http://news.test:{origin.server.port}/to?url=" + quote(f"http://inside.test:{inner.server.port}/ok")
        assert await fails(get(session, source, private=only_inner)) == refused(inner)
    assert names.asked == ["news.test", "inside.test"]
    assert inner.hits.get("/ok", 0) == before  # connected to, but asked nothing


async def test_a_kept_alive_connection_to_a_private_address_is_refused_too(origin: Origin, inner: Origin) -> None:
    # The first fetch (allowed) leaves a pooled connection to inside.test and its address in the
    # DNS cache; the second, not allowed, finds them there: no lookup to check, still refused.
    names = Names({"news.test": "127.0.0.1", "inside.test": "127.0.0.2"})
    async with new_session(resolver=names) as session:
        source = f"http://news.test:{origin.server.port}/to?url=" + quote(f"http://inside.test:{inner.server.port}/ok")
        assert (await get(session, source, private=only_inner, allow_private=True)).body == PAGE
        assert await fails(get(session, source, private=only_inner)) == refused(inner)
    assert names.asked == ["news.test", "inside.test"]


async def test_redirect_to_private_through_a_proxy_is_refused(
    session: aiohttp.ClientSession, origin: Origin, inner: Origin, proxy: Proxy
) -> None:
    # Through a proxy the connection is the proxy's: the URL's own address is what is checked.
    sent = len(proxy.targets)
    message = await fails(get(session, to(origin, inner.url("/ok")), proxy=proxy.url, private=only_inner))
    assert message == refused(inner)
    assert len(proxy.targets) == sent + 1  # the source's request only


async def test_the_default_private_test_refuses_loopback_after_a_public_source(
    session: aiohttp.ClientSession, origin: Origin, proxy: Proxy
) -> None:
    # A "public" source (a name the proxy serves) redirecting to this machine's loopback.
    source = "http://public.example/to?url=" + quote(origin.url("/ok"))
    message = await fails(get(session, source, proxy=proxy.url))
    port = origin.server.port
    assert message == f"redirect to a private address 127.0.0.1:{port} refused (set allow_private: true to allow)"


async def test_fetch_wants_a_session_from_new_session(origin: Origin) -> None:
    async with aiohttp.ClientSession() as plain:
        with pytest.raises(TypeError, match="new_session"):
            await get(plain, origin.url("/ok"))


@pytest.mark.parametrize(
    ("address", "private"),
    [
        ("127.0.0.1", True),
        ("127.255.255.254", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("172.31.255.255", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),  # cloud metadata
        ("100.100.100.200", True),  # shared address space; a cloud's metadata too
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("255.255.255.255", True),
        ("::1", True),
        ("::", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("fd12:3456::1", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:10.0.0.1", True),
        ("::ffff:169.254.169.254", True),
        ("8.8.8.8", False),
        ("172.32.0.1", False),
        ("93.184.215.14", False),
        ("2606:4700:4700::1111", False),
        ("::ffff:8.8.8.8", False),
    ],
)
def test_is_private(address: str, private: bool) -> None:
    assert is_private(ip_address(address)) is private
