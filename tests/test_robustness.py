"""Robustness: decode, extract and the normaliser on hostile, broken and huge input never crash or hang.

tests/test_extract.py already throws random text, tag soup and short binary junk at extract; this file
adds charsets (header, <meta>, BOM) over random bodies, pages cut at every 37th byte, multi-megabyte
pages, deep nesting, lone surrogates and a memory bound. At the bottom: a proposed nesting pre-scan
for monitor/extract.py with its own tests (lexbor is quadratic in the depth of block nesting).
"""

from __future__ import annotations

import codecs
import html as htmlmod
import re
import tracemalloc
import unicodedata
from collections import defaultdict, deque
from collections.abc import Collection
from itertools import count
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

import monitor
from monitor.errors import ExtractError
from monitor.extract import decode, extract
from monitor.models import Entry
from monitor.normalize import clean, fingerprint, fold, words

BASE = "https://news.example/ar/section/"
MB = 1024 * 1024
DEMO_PAGES = sorted((Path(monitor.__file__).parent / "demo_pages").glob("*.html"))
DATA_PAGES = sorted((Path(__file__).parent / "data").glob("*.html"))
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BIG = pytest.mark.timeout(40)  # the multi-megabyte tests: a few seconds each on 2 cores


def checked(page: str, **kwargs: object) -> list[Entry]:
    """Extract; ExtractError is a fine answer, any other exception fails; entries must be sendable."""
    try:
        entries = extract(page, BASE, **kwargs)  # type: ignore[arg-type]
    except ExtractError as exc:
        assert str(exc)
        return []
    for entry in entries:
        assert isinstance(entry, Entry) and entry.text and entry.text == entry.text.strip()
        assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in entry.text)
        entry.text.encode("utf-8")  # no lone surrogates: Telegram and SQLite take UTF-8
        (entry.link or "").encode("utf-8")
        assert len(fingerprint(entry.text)) == 32
    assert len({e.text for e in entries}) == len(entries)
    return entries


def ticker(lines: list[str], *, heading: str = "عاجل", charset: str = "utf-8") -> str:
    """Return a news page: a menu, a ticker under its heading, an article."""
    items = "\n".join(f'<li><a href="/news/{i}">{htmlmod.escape(line)}</a></li>' for i, line in enumerate(lines))
    return f"""<!doctype html><html><head><meta charset="{charset}"><title>أخبار</title>
<script>var a = "<div><ul><li>not a line</li>";</script></head><body>
<nav class="menu"><ul><li><a href="/politics">سياسة</a></li><li><a href="/economy">اقتصاد</a></li>
<li><a href="/sports">رياضة</a></li></ul></nav>
<div class="breaking"><h3>{heading}</h3><ul>
{items}
</ul></div>
<article><h1>عنوان المقال</h1><p>نص المقال هنا. Body text of the article.</p></article>
</body></html>"""


LINES = [
    "الرئيس يصل إلى العاصمة في زيارة رسمية",
    "Explosion reported near the port, officials say",
    "ارتفاع أسعار النفط بنسبة 3% في التعاملات المبكرة",
    "Ministry: talks to resume on Monday",
    "زلزال بقوة 5.1 درجات يضرب المنطقة الشمالية",
]


# --- decode: any bytes, any charset ------------------------------------------------------------------

# fmt: off
LABELS = [
    "utf-8", "UTF8", "utf-16", "utf-16le", "UTF-16BE", "utf-32", "utf-7", "utf-8-sig", "cp1256", "windows-1256",
    "iso-8859-6", "ISO-8859-1", "latin1", "ascii", "us-ascii", "koi8-r", "shift_jis", "euc-jp", "gb18030", "big5",
    "x-user-defined", "bogus", "", " ", "rot13", "rot_13", "base64", "hex", "zlib", "bz2", "uu", "quopri", "idna",
    "punycode", "unicode-escape", "raw-unicode-escape", "undefined", "mbcs", "oem", "charmap", 'utf-8"; x=y',
    "'cp1256'", '"utf-16"', "😀", "utf\x00-8", "%s", "../../etc/passwd", "a" * 300,
]
# fmt: on
HEADER = st.one_of(
    st.none(),
    st.sampled_from(LABELS).map(lambda label: f"text/html; charset={label}"),
    st.sampled_from(LABELS).map(lambda label: f'text/html; charset="{label}"; charset=utf-8'),
    st.text(max_size=60),
)
META = st.one_of(st.none(), st.sampled_from(LABELS), st.text(max_size=20))
BOMS = [b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE]


@FAST
@given(
    body=st.one_of(st.binary(max_size=3000), st.text(max_size=500).map(lambda t: t.encode("utf-8"))),
    header=HEADER,
    meta=META,
    bom=st.sampled_from(BOMS),
)
def test_decode_any_body_with_any_charset(body: bytes, header: str | None, meta: str | None, bom: bytes) -> None:
    declared = f'<meta charset="{meta}">'.encode("utf-8", "surrogatepass") if meta is not None else b""
    text = decode(bom + declared + body, header)
    assert isinstance(text, str)
    checked(text)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (ticker(LINES).encode("cp1256", "replace"), "text/html; charset=utf-8"),  # cp1256 said to be UTF-8
        (ticker(LINES).encode("utf-8"), "text/html; charset=windows-1256"),  # UTF-8 said to be cp1256
        (ticker(LINES).encode("utf-8"), "text/html; charset=utf-16"),  # UTF-8 read as UTF-16: all CJK
        (ticker(LINES).encode("utf-16-le"), None),  # UTF-16 without a BOM, <meta> says utf-8
        (ticker(LINES).encode("utf-8")[::-1], None),  # reversed bytes
        (ticker(LINES, charset="utf-32").encode("utf-8"), None),  # <meta> names UTF-32, body is UTF-8
        (b"\xff\xfe" + ticker(LINES).encode("utf-8"), None),  # a UTF-16 BOM on a UTF-8 body
    ],
    ids=["cp1256-as-utf8", "utf8-as-cp1256", "utf8-as-utf16", "utf16-no-bom", "reversed", "meta-utf32", "wrong-bom"],
)
def test_wrong_charsets_give_text_not_crashes(body: bytes, content_type: str | None) -> None:
    checked(decode(body, content_type))


def test_utf7_lone_surrogates_never_reach_entries() -> None:
    # UTF-7 (which browsers refuse) can decode to lone surrogates; lexbor drops them, so the line
    # that held one comes out without it and every entry stays valid UTF-8.
    body = b'<meta charset="utf-7"><h3>BREAKING</h3><ul><li>one +2D0- line</li><li>+3gA-</li><li>two</li></ul>'
    assert [e.text for e in checked(decode(body, None))] == ["one line", "two"]


SURROGATE_SOUP = st.lists(
    st.one_of(
        st.sampled_from(["<h3>BREAKING</h3><ul>", "<li>", "</li>", "<a href='/x", "'>", "</a>", "</ul>", " "]),
        st.characters(categories=["Cs"]),
        st.text(max_size=8),
    ),
    max_size=60,
).map("".join)


@FAST
@given(SURROGATE_SOUP)
def test_lone_surrogates_in_text_only_extract_errors(page: str) -> None:
    checked(page)
    checked(page, selector="li")


# --- truncated pages -------------------------------------------------------------------------------


def cuts(body: bytes) -> list[int]:
    """Return every 37th byte offset of a body, and its end."""
    return [*range(0, len(body), 37), len(body)]


def assert_truncation(full: list[str], part: list[str]) -> None:
    """A cut page gives the full page's first lines, the last of them possibly cut short."""
    # a cut inside a character or a tag leaves U+FFFD or a bare "<" or "</" at the end of the text
    part = [re.sub(r"(?:\ufffd|\s|</?$)+$", "", text) for text in part]
    assert len(part) <= len(full)
    if part:
        assert part[:-1] == full[: len(part) - 1], (part, full)
        assert full[len(part) - 1].startswith(part[-1]), (part[-1], full[len(part) - 1])


@pytest.mark.parametrize("encoding", ["utf-8", "windows-1256", "utf-16"])
def test_truncated_ticker_page(encoding: str) -> None:
    body = ticker(LINES, charset=encoding).encode(encoding)
    content_type = f"text/html; charset={encoding}"
    assert [e.text for e in checked(decode(body, content_type))] == LINES
    seen = 0
    for cut in cuts(body):
        text = decode(body[:cut], content_type)
        entries = checked(text)
        assert_truncation(LINES, [e.text for e in entries])
        assert_truncation(LINES, [e.text for e in checked(text, selector=".breaking li")])
        assert len(entries) >= seen - 1  # a longer cut never loses more than the line it cut short
        seen = max(seen, len(entries))
        for i, entry in enumerate(entries[:-1]):
            assert entry.link == f"https://news.example/news/{i}"


@pytest.mark.parametrize("path", DEMO_PAGES + DATA_PAGES, ids=lambda p: p.name)
def test_truncated_demo_and_fixture_pages(path: Path) -> None:
    body = path.read_bytes()
    full = [e.text for e in checked(decode(body, None))]
    for cut in cuts(body):
        part = [e.text for e in checked(decode(body[:cut], None))]
        if full and part:
            assert_truncation(full, part)


# --- giant pages ----------------------------------------------------------------------------------


def giant_ticker(size: int) -> tuple[str, int]:
    """Return a page of `size` bytes whose ticker holds tens of thousands of lines, and their count."""
    head = '<html><body><div class="breaking"><h3>BREAKING</h3><ul>\n'
    item = '<li><a href="/news/{0}">Line {0} about the events in the region today, and more</a></li>\n'
    n = (size - len(head)) // len(item.format(99999))
    return head + "".join(item.format(i) for i in range(n)) + "</ul></div></body></html>", n


@BIG
def test_giant_ticker_page() -> None:
    page, n = giant_ticker(5 * MB)
    assert len(page.encode()) > 4.5 * MB
    entries = checked(page)
    assert len(entries) == n > 40_000
    assert entries[-1] == Entry(
        f"Line {n - 1} about the events in the region today, and more", f"https://news.example/news/{n - 1}"
    )


def news_page(size: int) -> str:
    """Return a realistic page of about `size` bytes: a small ticker amid many menus and paragraphs."""
    parts = ['<html><head><meta charset="utf-8"></head><body>']
    parts.append('<div class="breaking"><h3>عاجل</h3><ul>')
    parts += [f'<li><a href="/n/{i}">{htmlmod.escape(LINES[i % 5])} ({i})</a></li>' for i in range(50)]
    parts.append("</ul></div>")
    i, total = 0, sum(map(len, parts))
    while total < size:
        chunk = (
            f'<ul class="menu"><li><a href="/s/{i}/a">قسم {i}</a></li><li><a href="/s/{i}/b">Section {i}</a></li></ul>'
            f"<p>Paragraph {i}: {'النص والمزيد من النص ' * 3}</p>\n"
        )
        parts.append(chunk)
        total += len(chunk.encode())
        i += 1
    return "".join(parts) + "</body></html>"


def test_memory_worst_case_is_markup_density_not_a_leak() -> None:
    # The worst ratio is a page of bare tags: every 3 bytes of "<p>" are a DOM element (~64x measured).
    page = "<h3>BREAKING</h3><ul><li>a</li></ul>" + "<p>" * (MB // 3)
    tracemalloc.start()
    try:
        checked(page)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 * len(page), peak / len(page)


# --- deep nesting (what extract does today) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("opening", "closing", "depth"),
    [
        ("<div>", "</div>", 2_000),  # block nesting: lexbor's cost grows with depth squared
        ("<section><ul><li>", "</li></ul></section>", 700),
        ("<span>", "</span>", 100_000),  # inline nesting is linear in lexbor
        ("<b>", "</b>", 100_000),
        ("<table><tr><td>", "</td></tr></table>", 20_000),  # table cells bound lexbor's scope walks
        ("<li>", "</li>", 100_000),  # <li> closes its open sibling: no nesting at all
    ],
    ids=["div", "section-ul-li", "span", "b", "table", "bare-li"],
)
def test_deep_nesting_extracts(opening: str, closing: str, depth: int) -> None:
    page = opening * depth + "<h3>BREAKING</h3><ul><li>Deep one</li><li>Deep two</li></ul>" + closing * depth
    assert [e.text for e in checked(page)] == ["Deep one", "Deep two"]


# --- the normaliser ----------------------------------------------------------------------------------


@FAST
@given(st.text(alphabet=st.characters(codec=None, categories=None, exclude_categories=[]), max_size=300))
def test_normaliser_takes_any_text(text: str) -> None:
    shown = clean(text)
    assert shown == shown.strip() and "  " not in shown
    assert fold(text) is not None and all(isinstance(w, str) and w for w in words(text))
    assert fingerprint(text) == fingerprint(text) and len(fingerprint(text)) == 32
    fingerprint(text).encode("ascii")


@BIG
def test_normaliser_on_a_megabyte() -> None:
    text = ("عاجل: خبر\u200b مهم ‌جدا " * (MB // 40))[:MB]
    assert clean(text).startswith("عاجل: خبر مهم")
    assert len(words(text)) > 100_000
    assert fingerprint(text) == fingerprint(text + " ")


# ======================================================================================================
# PROPOSED for monitor/extract.py
#
# lexbor walks the stack of open elements on every block start tag ("is there a <p> in button
# scope?"), on stray end tags and when it remakes formatting elements, so parsing is quadratic in
# nesting depth: 10k nested <div>s take 0.15 s, 50k 3.7 s, 100k 17 s, and a 5 MB body holds ~1M.
# nesting_depth() sketches the parser's stack in one linear pass; extract() would start with
#
#     if html.count("<") > MAX_DEPTH and nesting_depth(html) > MAX_DEPTH:
#         raise ExtractError(f"page nested deeper than {MAX_DEPTH} levels")
#
# (a page with fewer tags than that cannot be deeper). Real pages are 10-30 deep (1517 HTML files on
# this machine: at most 25), and Chrome itself stops nesting at 512.
# ======================================================================================================

MAX_DEPTH = 1000
_LOOKBACK = 64  # how far down the stack an end tag looks for its element (the parser looks all the way)
_TOKEN = re.compile(
    r"<!--.*?(?:-->|\Z)"  # a comment
    r"|<(/?)([A-Za-z][^\s/>]*)([^>]*)>?",  # a start or end tag (`<` belongs to the name, as in browsers)
    re.DOTALL,
)


def _tags(names: str) -> frozenset[str]:
    """Return a set of tag names written with spaces between them."""
    return frozenset(names.split())


_RAW = _tags("script style textarea title xmp iframe noembed noframes plaintext")  # not noscript: no scripting
_RAW_END = {name: re.compile(f"</{name}", re.IGNORECASE) for name in _RAW}
_VOID = _tags(
    "area base basefont bgsound br col embed frame hr image img input keygen link meta param source track wbr"
)
_SCOPE = _tags(
    "applet caption html table td th marquee object template mi mo mn ms mtext annotation-xml foreignobject desc"
)
_CLOSES_P = _tags(
    "address article aside blockquote center details dialog dir div dl fieldset figcaption figure footer form h1 h2 "
    "h3 h4 h5 h6 header hgroup hr listing main menu nav ol p pre search section summary table ul li dd dt"
)
_SPECIAL = _SCOPE | _VOID | _CLOSES_P | _RAW | _tags("body button colgroup frameset head select tbody tfoot thead tr")
_FORMATTING = _tags("a b big code em font i nobr s small strike strong tt u")
_BREAKOUT = (_FORMATTING - {"a", "font"}) | _tags(
    "blockquote body br center dd div dl dt embed h1 h2 h3 h4 h5 h6 head hr img li listing menu meta ol p pre ruby "
    "span sub sup table ul var"
)
_INTEGRATION = _tags("foreignobject desc title mi mo mn ms mtext annotation-xml")  # SVG/MathML parts holding HTML
_FONT_BREAKOUT = re.compile(r"\b(?:color|face|size)\s*=", re.IGNORECASE)
_TABLE_PARTS = _tags("caption col colgroup tbody td tfoot th thead tr")
_NO_RECONSTRUCT = _CLOSES_P | _TABLE_PARTS | {"form", "html", "body", "head", "frameset", "template"}
_TABLE = frozenset({"table", "html", "template"})
_ITEM_STOP = _SPECIAL - {"address", "div", "p"}
# a start tag that ends the open element of its kind: (the names it ends, what stops the search)
_SIBLINGS: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "li": (("li",), _ITEM_STOP),
    **dict.fromkeys(("dd", "dt"), (("dd", "dt"), _ITEM_STOP)),
    "tr": (("tr",), _TABLE),
    **dict.fromkeys(("td", "th"), (("td", "th"), _TABLE | {"tr"})),
    **dict.fromkeys(("thead", "tbody", "tfoot"), (("thead", "tbody", "tfoot"), _TABLE)),
}
_END_STOP: dict[str, frozenset[str]] = {
    "p": _SCOPE | {"button"},
    "li": _SCOPE | {"ol", "ul"},
    **dict.fromkeys(("table", "tr", "td", "th", "thead", "tbody", "tfoot"), _TABLE),
}


def nesting_depth(html: str, limit: int = MAX_DEPTH) -> int:
    """Return about how deep the element tree an HTML parser builds from `html` goes, in linear time.

    A sketch of the tree builder's stack of open elements: start tags push; end tags pop back to
    their element when the parser would (scope rules); list items, table cells, options and
    paragraphs end their open siblings; comments and script/style text are skipped; and formatting
    elements that a block's end cuts short are made again at the next text (3 alike at most), as the
    parser does. An end tag whose element is more than 64 levels down is ignored, so a miss counts
    deeper, never shallower. Stops once past `limit`.
    """
    stack: list[str] = []  # tag names of the open elements
    ids: list[int] = []  # their identities, to follow formatting elements
    opened: defaultdict[str, int] = defaultdict(int)  # open elements by tag name
    listed: dict[str, deque[int]] = {}  # active formatting elements by tag and attributes ("Noah's Ark": 3)
    keyed: dict[int, str] = {}  # formatting element -> its tag and attributes
    pending: list[tuple[str, int]] = []  # formatting elements cut short, made again at the next text
    alien: set[int] = set()  # open SVG and MathML elements
    made = count(1)

    def push(name: str, key: str | None = None, replacing: int = 0) -> None:
        new = next(made)
        if name in ("svg", "math") or (alien and foreign()):
            alien.add(new)
        stack.append(name)
        ids.append(new)
        opened[name] += 1
        if key is not None:
            keyed[new] = key
            row = listed.setdefault(key, deque(maxlen=3))
            if replacing:
                row[row.index(replacing)] = new
            else:
                row.append(new)

    def close(names: Collection[str], stop: frozenset[str]) -> None:
        window = stack[-_LOOKBACK:][::-1]
        found = [window.index(n) for n in names if opened[n] > 0 and n in window]
        if not found or not stop.isdisjoint(window[: (at := min(found))]):
            return
        cut = len(stack) - at - 1
        popped = list(zip(stack[cut:], ids[cut:], strict=True))
        for name, old in popped:
            opened[name] -= 1
            alien.discard(old)
        del stack[cut:], ids[cut:]
        forget(popped[0][1])
        pending.extend((name, old) for name, old in popped[1:] if old in keyed)

    def pop() -> None:
        opened[stack.pop()] -= 1
        alien.discard(own := ids.pop())
        forget(own)

    def forget(own: int) -> None:
        # an element ended by its own end tag is no longer an active formatting element
        if (key := keyed.pop(own, None)) is not None and own in listed[key]:
            listed[key].remove(own)

    def foreign() -> bool:
        # inside SVG/MathML, unless in one of its elements that hold HTML
        return bool(ids) and ids[-1] in alien and stack[-1] not in _INTEGRATION

    def reconstruct() -> None:
        for name, old in pending:
            if old in listed[key := keyed.pop(old)]:
                push(name, key, replacing=old)
        pending.clear()

    deepest = end = 0
    while (token := _TOKEN.search(html, end)) is not None:
        if pending and token.start() > end:
            reconstruct()  # text before this tag
        end = token.end()
        slash, name, attrs = token.groups()
        if name is None:
            continue  # a comment
        name = name.lower()
        if slash:
            if name in ("br", "p") and alien and foreign():
                while foreign():  # these two end tags leave SVG/MathML as start tags do
                    pop()
            if not opened[name]:
                if name == "p":
                    deepest = max(deepest, len(stack) + 1)  # a stray </p> makes an empty <p> right here
            elif name == "form":  # the parser takes the form out, leaving what was opened inside it
                at = len(stack) - 1 - stack[::-1].index("form")
                del stack[at], ids[at]
                opened["form"] -= 1
            elif stack[-1] == name:  # the usual case: the element just opened
                pop()
            else:
                close((name,), _END_STOP.get(name, _SCOPE if name in _SPECIAL else _SPECIAL))
            continue
        inside = bool(alien) and foreign()
        if inside and (name in _BREAKOUT or (name == "font" and _FONT_BREAKOUT.search(attrs))):
            while foreign():  # an HTML tag inside SVG/MathML ends the foreign part
                pop()
            inside = False
        if name in _RAW_END and not inside:  # script, style...: text up to its end tag
            close_tag = _RAW_END[name].search(html, end)
            end = len(html) if close_tag is None else close_tag.start()
            continue
        if name in _VOID or ((inside or name in ("svg", "math")) and attrs.rstrip().endswith("/")):
            continue  # no children (`/>` counts only for SVG/MathML, as in browsers)
        if (name in _TABLE_PARTS and not opened["table"]) or (name == "form" and opened["form"]):
            continue  # dropped: table parts outside a table, a form inside a form
        if name in _SIBLINGS:
            close(*_SIBLINGS[name])
        elif name == "option" and stack[-1:] == ["option"]:
            close(("option",), frozenset())
        if name in _CLOSES_P and opened["p"]:
            close(("p",), _END_STOP["p"])
        if pending and name not in _NO_RECONSTRUCT:
            reconstruct()
        push(name, f"{name} {' '.join(attrs.split())}" if name in _FORMATTING and not inside else None)
        if len(stack) > deepest:
            deepest = len(stack)
            if deepest > limit:
                break
    return deepest


# --- tests of the proposal -------------------------------------------------------------------------------


def parsed_depth(page: str) -> int:
    """Return the depth of the deepest element lexbor builds (<html> is 1, <body> 2, void leaves count)."""
    best, todo = 0, [(LexborHTMLParser(page).root, 1)]
    while todo:
        node, depth = todo.pop()
        best = max(best, depth)
        child = node.child
        while child is not None:
            if child.is_element_node:
                todo.append((child, depth + 1))
            child = child.next
    return best


@pytest.mark.parametrize(
    ("page", "depth"),
    [
        ("", 0),
        ("<div>" * 5, 5),
        ("<div>" * 5 + "</div>" * 5 + "<div>", 5),
        ("<ul><li>one<li>two<li>three</ul>", 2),  # <li> ends its open sibling
        ("<p>one<p>two<p>three", 1),  # so does <p>
        ("<dl><dt>a<dd>b<dt>c<dd>d</dl>", 2),
        ("<table><tr><td>a<td>b<tr><td>c</table>", 3),
        ("<select><option>a<option>b<option>c</select>", 2),
        ("<br><img src=x><hr><input>" * 100, 0),  # void elements
        ("<!--" + "<div>" * 100 + "-->", 0),  # comments
        ("<script>" + "<div>" * 100 + "</script>", 0),  # script text
        ("<style>" + "<div>" * 100, 0),  # ... to the end when never closed
        ("<noscript>" + "<div>" * 100, 101),  # lexbor parses <noscript> content (no scripting)
        ("<div></span>" * 100, 100),  # stray end tags do not close anything
        ("<div/>" * 100, 100),  # "/>" does not end an HTML element
        ("<svg>" + "<path/>" * 100 + "</svg>", 1),  # ... but does end an SVG one
        ("<svg><style>" + "<g>" * 100, 102),  # inside SVG, <style> holds markup
        ("<svg><g>" + "<div/>" * 100, 100),  # an HTML tag leaves SVG, then "/>" is ignored again
        ("<td>" * 100, 0),  # table cells outside a table are dropped
        ("<form>" * 100, 1),  # a form inside a form is dropped
        ("<b><p>x</p>" * 100, 101),  # unclosed <b>s nest
        ("<p><i>x</p>" * 100, 5),  # remade formatting elements: 3 alike at most (Noah's Ark)
        ("</button><button><i>" * 100, 101),  # ... but each remade <i> holds the next button
        ("<x1><option>" * 100, 200),  # <option> ends only an <option> that is the current node
        ("</p>" * 100, 1),  # a stray </p> is an empty <p>
    ],
)
def test_nesting_depth(page: str, depth: int) -> None:
    assert nesting_depth(page, limit=10**6) == depth


@pytest.mark.parametrize("path", DEMO_PAGES + DATA_PAGES, ids=lambda p: p.name)
def test_nesting_depth_of_real_pages_matches_the_parser(path: Path) -> None:
    page = decode(path.read_bytes(), None)
    # the estimate leaves out void leaves (<br>, <img>): one less when the deepest element is one
    assert parsed_depth(page) - 1 <= nesting_depth(page) <= parsed_depth(page) < 30


def test_nesting_depth_of_generated_pages() -> None:
    for page in (ticker(LINES), news_page(200_000), giant_ticker(200_000)[0]):
        assert parsed_depth(page) - 1 <= nesting_depth(page) <= parsed_depth(page) < 30


@pytest.mark.parametrize(
    "unit",
    ["<div>", "<section><ul><li>", "<b><div>", "<div></span>", "<x><x1></b>", "</button><button><i>", "<li><ul>"],
)
def test_deep_pages_are_caught_early(unit: str) -> None:
    page = unit * (5 * MB // len(unit))  # up to a million levels: lexbor would take minutes to hours
    assert nesting_depth(page) > MAX_DEPTH
    assert nesting_depth(page[: 300 * len(unit)]) <= MAX_DEPTH  # and 300 units are fine


# fmt: off
TOKENS = [
    "<div>", "</div>", "<ul>", "</ul>", "<li>", "</li>", "<span>", "</span>", "<h3>", "</h3>", "<p>", "</p>",
    "<a href=x>", "</a>", "<marquee>", "<nav>", "<script>", "</script>", "<style>", "<title>", "<table>", "<td>",
    "<tr>", "</tr>", "</td>", "</table>", "<br>", "<!--", "-->", "x", " ", "<b>", "</b>", "<i>", "</i>", "<svg>",
    "<path/>", "</svg>", "<div/>", "<option>", "<select>", "<dl>", "<dt>", "<dd>", "<form>", "</form>", "<button>",
    "</button>", "<x1>", "</x1>", "<object>", "</object>", "<font>", "</font>", "<nobr>", "<em>", "</em>", "<math>",
    "<template>", "</template>", "<noscript>", "<textarea>",
]
# fmt: on


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=300).map("".join))
def test_nesting_depth_never_far_below_the_parser(page: str) -> None:
    # Random tag soup: measured worst case (below <body>) 2 x estimate + 7 over 12,000 soups.
    # Repeating any of ~12,000 random 1-7 tag patterns 8,000 times never made lexbor slow (quadratic)
    # while the estimate stayed under 1000.
    assert parsed_depth(page) <= 3 * nesting_depth(page, limit=10**6) + 12
