"""Every header value on the wire is written here: our text, our encoding, our folding.

The email package never parses a header value of ours: it decodes anything that looks like an
RFC 2047 encoded-word, and Python 3.11 before 3.11.10 then writes decoded line breaks raw, so a
tool named `=?utf-8?q?=0D=0AReply-To:_a@evil.io?=` became a Reply-To header. Here instead:

- `header_text`: the text a header may carry: one line, no control or invisible characters,
  and every `=?` broken by a zero-width space, so no reader decodes any of it as an
  encoded-word. Resend gets this text and encodes it itself.
- `header_line`: one header for SMTP and the outbox, as ASCII: plain words stay plain, other
  runs become our own UTF-8 Q-encoded words (whole characters each); lines folded at 78.
  From/To are mailboxes (address.py), List-Id a phrase and an id, URL-bearing headers
  (List-Unsubscribe, ...) plain `<url>` lists with IDNA hosts and percent-encoded paths.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import string
from collections.abc import Callable, Mapping
from urllib.parse import quote, unquote, urlsplit

from digest.text import one_line
from digest.transports.address import AddressError, Mailbox, ascii_domain, parse_mailbox

LINE_LIMIT = 78
MAX_TOKEN = 900  # a URL longer than this would break RFC 5322's 998-octet line limit
DEFUSED_START = "=\u200b?"  # "=?" with a zero-width space: never the start of an encoded-word
_Q_PREFIX, _Q_SUFFIX, _WORD_LIMIT = "=?utf-8?q?", "?=", 75
_Q_SAFE = frozenset(string.ascii_letters + string.digits + "!*+-/")  # safe even in a phrase
_ATEXT = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,75}")
_MSG_ID = re.compile(r"<[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+>")
_LIST_ID = re.compile(r"(?P<name>[^<>]*)<(?P<id>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)>")
_ANGLED = re.compile(r"\s*<([^<>]*)>\s*(?:,|$)")
_URL_SAFE = "/:@!$&'()*+,;=-._~%?"
URL_HEADERS = frozenset(
    {"list-unsubscribe", "list-subscribe", "list-help", "list-post", "list-owner", "list-archive"}
)
# Headers the transports write themselves: a caller's `headers` may not replace or add them.
RESERVED = frozenset(
    {"from", "to", "cc", "bcc", "subject", "date", "message-id", "reply-to", "sender"}
    | {"mime-version", "return-path", "received", "content-type", "content-transfer-encoding"}
)


class HeaderError(ValueError):
    """A header we will not write; the message says why."""


# What building one message may raise: that message cannot be sent, the others can.
UNSENDABLE = (HeaderError, AddressError)


def header_text(value: str) -> str:
    """What a header may say: one line, visible characters, no encoded-word look-alikes."""
    return one_line(value).replace("=?", DEFUSED_START)


def header_line(name: str, value: str) -> str:
    """`Name: value` on the wire, ASCII, folded, ending in CRLF."""
    return fold(checked_name(name), header_tokens(name, value))


def header_tokens(name: str, value: str) -> list[str]:
    """The header's value as wire tokens, separated by one space (where folding may go)."""
    return _KINDS.get(name.lower(), unstructured)(value)


def provider_value(name: str, value: str) -> str:
    """The value for a provider that encodes headers itself (Resend): structured headers in
    our ASCII form on one line, unstructured ones as header text."""
    kind = _KINDS.get(name.lower())
    return header_text(value) if kind is None else " ".join(kind(value))


def checked_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise HeaderError(f"not a header name we write: {one_line(name)[:80]!r}")
    return name


def custom_headers(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """A caller's extra headers, refused if a name is malformed, reserved or repeated."""
    seen: set[str] = set()
    for name in headers:
        key = checked_name(name).lower()
        if key in RESERVED or key.startswith("content-") or key in seen:
            raise HeaderError(f"header {name} is written by the transport, or given twice")
        seen.add(key)
    return list(headers.items())


def fold(name: str, tokens: list[str]) -> str:
    """Lines of at most 78 characters where the tokens allow; folds only at our own spaces."""
    lines, line = [], f"{name}:"
    for token in tokens:
        if len(token) > MAX_TOKEN:
            raise HeaderError(f"header {name} has a part too long for one line")
        if len(line) + 1 + len(token) > LINE_LIMIT and line != f"{name}:":
            lines.append(line)
            line = ""
        line += f" {token}"
    return "\r\n".join([*lines, line]) + "\r\n"


def unstructured(value: str) -> list[str]:
    """Plain ASCII words as they are; each run of other words as encoded-words."""
    tokens: list[str] = []
    run: list[str] = []
    for word in header_text(value).split(" "):
        if _plain(word):
            tokens += [*encoded_words(" ".join(run)), word]
            run = []
        elif word:
            run.append(word)
    return tokens + encoded_words(" ".join(run))


def phrase(text: str) -> list[str]:
    """A display name: atoms, one quoted string, or encoded-words."""
    words = header_text(text).split(" ")
    if all(word and set(word) <= _ATEXT for word in words):
        return words
    clean = " ".join(words)
    if clean.isascii() and clean.isprintable() and len(clean) <= 60:
        return ['"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"']
    return encoded_words(clean)


def encoded_words(text: str) -> list[str]:
    """`text` as UTF-8 Q-encoded words of at most 75 characters, never splitting a character."""
    room = _WORD_LIMIT - len(_Q_PREFIX) - len(_Q_SUFFIX)
    words, current = [], ""
    for ch in text:
        if ch == " ":
            piece = "_"
        elif ch in _Q_SAFE:
            piece = ch
        else:
            piece = "".join(f"={byte:02X}" for byte in ch.encode("utf-8", "replace"))
        if len(current) + len(piece) > room:
            words.append(_Q_PREFIX + current + _Q_SUFFIX)
            current = ""
        current += piece
    return [*words, _Q_PREFIX + current + _Q_SUFFIX] if current else words


def mailbox(value: str) -> list[str]:
    """`Name <local@xn--domain>` (or the bare address) from `Name <local@domain>`."""
    box = parse_mailbox(value)
    return [*phrase(box.display), f"<{box.address}>"] if box.display else [box.address]


def mailbox_text(box: Mailbox) -> str:
    """The same mailbox as text, for a provider that encodes headers itself (Resend)."""
    if not box.display:
        return box.address
    name = header_text(box.display)
    if set(name) & set('()<>[]:;@\\,."'):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{box.address}>"


def list_id(value: str) -> list[str]:
    """RFC 2919: `Newsletter name <label.sending-domain>`."""
    match = _LIST_ID.fullmatch(value.strip())
    if match is None:
        raise HeaderError("List-Id must look like 'Name <label.domain>' (ASCII id)")
    name = match["name"].strip()
    return [*(phrase(name) if name else []), f"<{match['id'].lower()}>"]


def url_list(value: str) -> list[str]:
    """`<url>, <url>` in plain ASCII; anything else in the value is refused."""
    found = list(_ANGLED.finditer(value))
    if not found or "".join(m.group(0) for m in found).strip() != value.strip():
        raise HeaderError("a URL header must be a list of <url>")
    urls = [f"<{ascii_url(m.group(1))}>" for m in found]
    return [f"{url}," for url in urls[:-1]] + urls[-1:]


def ascii_url(url: str) -> str:
    """An http(s) or mailto URL in ASCII: IDNA host, the rest percent-encoded."""
    parts = urlsplit(one_line(url))
    scheme = parts.scheme.lower()
    if scheme == "mailto":
        return "mailto:" + quote(parse_mailbox(unquote(parts.path)).address, safe="@!$'*+=-._~")
    if scheme not in ("http", "https") or not parts.hostname:
        raise HeaderError(f"not an http(s) or mailto URL: {one_line(url)[:80]!r}")
    try:
        port = parts.port
    except ValueError:
        raise HeaderError(f"not a valid port in {one_line(url)[:80]!r}") from None
    host = _ascii_host(parts.hostname)
    netloc = f"{host}:{port}" if port else host
    path = quote(parts.path or "/", safe=_URL_SAFE)
    query = f"?{quote(parts.query, safe=_URL_SAFE)}" if parts.query else ""
    fragment = f"#{quote(parts.fragment, safe=_URL_SAFE)}" if parts.fragment else ""
    return f"{scheme}://{netloc}{path}{query}{fragment}"


def message_id(value: str) -> list[str]:
    if not _MSG_ID.fullmatch(value):
        raise HeaderError(f"not a Message-ID: {one_line(value)[:80]!r}")
    return [value]


@functools.lru_cache(maxsize=256)  # a send names the same few hosts in every message
def _ascii_host(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            return ascii_domain(host)
        except AddressError as exc:
            raise HeaderError(str(exc)) from None
    return f"[{address}]" if address.version == 6 else str(address)


def _plain(word: str) -> bool:
    """A word that can go on the wire as it is: printable ASCII, short enough to fold."""
    return 0 < len(word) <= 70 and all("!" <= ch <= "~" for ch in word)


_KINDS: dict[str, Callable[[str], list[str]]] = {
    "from": mailbox,
    "to": mailbox,
    "list-id": list_id,
    "message-id": message_id,
    **dict.fromkeys(URL_HEADERS, url_list),
}
