"""Localized texts (English, Japanese) and the one helper that turns them into an email.

Three layers, so that a new kind of message (call for materials, receipt, chaser, …) adds only
its own words and blocks:

1. :data:`CATALOGUE` and :func:`t` — the message catalogue: ``t("ja", "subject.invite",
   title=…)``. Keys missing in a language fall back to English; unknown languages get English.
2. :class:`BodyBuilder` → :class:`Body` — one list of blocks (paragraph, labelled field, link,
   list) rendered at once as plain text and as an HTML fragment, escaping user text for HTML.
   :func:`session_details` adds the blocks every session message shares (when, join link,
   agenda, local time in each city, note).
3. :func:`compose_message` — wraps (subject, body, headers, optional calendar) into a MIME
   message: ``multipart/alternative`` (text, HTML[, text/calendar]) and, with a calendar, the
   ``invite.ics`` attachment in a ``multipart/mixed``.

Dates and times shown to a person are in that person's zone, converted by
:mod:`coordinator.timezones` and formatted by Babel in the person's language.

Performance: messages are built from pre-folded ASCII headers (``set_raw``) and pre-encoded
base64 payloads (a batch encodes the shared part of a body once: see :func:`encode_bodies`),
with a policy that memoizes header parsing and folding, and :class:`OutgoingMessage` writes its
tree directly. The bytes are exactly those the standard library's ``BytesGenerator`` writes for
the same tree (the tests compare them), and they parse with ``email.policy.default``.
"""

from __future__ import annotations

import binascii
import html
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime as _rfc5322_date
from email.utils import formataddr
from functools import lru_cache
from io import BytesIO
from typing import Any

from babel.dates import format_date, format_time, get_timezone_name

from coordinator import timezones
from coordinator.invites.snapshot import AgendaItem, Person, SessionSnapshot

SUPPORTED_LANGUAGES = ("en", "ja")

CATALOGUE: dict[str, dict[str, str]] = {
    "en": {
        "subject.invite": "Invitation: {title}",
        "subject.update": "Updated: {title}",
        "subject.cancel": "Cancelled: {title}",
        "subject.reminder": "Reminder: {title} starts {relative}",
        "greeting": "Dear {name},",
        "lead.invite": "You are invited to {session}.",
        "lead.update": "{session} has been updated; please check the new details.",
        "lead.cancel": "{session} has been cancelled.",
        "lead.reminder": "{session} starts {relative}.",
        "footer.invite": "Please answer with your calendar's Accept or Decline buttons.",
        "footer.update": "Please answer again with your calendar's Accept or Decline buttons.",
        "footer.cancel": "The session will be removed from your calendar.",
        "footer.reminder": "",
        "label.when": "When",
        "label.join": "Join",
        "label.agenda": "Agenda",
        "label.local_times": "Local time in each city",
        "label.note": "Note",
        "label.sep": ": ",
        "session.with_group": "{title} ({group})",
        "description.cancelled": "This session has been cancelled.",
        "agenda.item": "{position}. {city} — {body}: {title}",
        "agenda.presenter": " (presenter: {presenter})",
        "when.same_day": "{date}, {start} – {end} {zone_name} ({offset})",
        "when.other_day": "{date}, {start} – {end_date}, {end} {zone_name} ({offset})",
        "place.same_day": "{city}: {date} {start}–{end} ({offset})",
        "place.other_day": "{city}: {date} {start} – {end_date} {end} ({offset})",
        "place.date_pattern": "EEE d MMM",
        "place.unknown_zone": "{city}: time zone not known yet",
        "relative.tomorrow": "tomorrow",
        "relative.days": "in {n} days",
        "relative.hour": "in 1 hour",
        "relative.hours": "in {n} hours",
        "relative.minute": "in 1 minute",
        "relative.minutes": "in {n} minutes",
        "relative.now": "now",
    },
    "ja": {
        "subject.invite": "招待: {title}",
        "subject.update": "更新: {title}",
        "subject.cancel": "中止: {title}",
        "subject.reminder": "リマインダー: {title}（{relative}に開始）",
        "greeting": "{name} 様",
        "lead.invite": "{session}にご招待します。",
        "lead.update": "{session}の内容が更新されました。新しい詳細をご確認ください。",
        "lead.cancel": "{session}は中止になりました。",
        "lead.reminder": "{session}は{relative}に始まります。",
        "footer.invite": "カレンダーの「承諾」「辞退」ボタンでご回答ください。",
        "footer.update": "お手数ですが、カレンダーのボタンで改めてご回答ください。",
        "footer.cancel": "この会議はカレンダーから削除されます。",
        "footer.reminder": "",
        "label.when": "日時",
        "label.join": "参加リンク",
        "label.agenda": "議題",
        "label.local_times": "各都市の現地時間",
        "label.note": "備考",
        "label.sep": "：",
        "session.with_group": "{title}（{group}）",
        "description.cancelled": "この会議は中止になりました。",
        "agenda.item": "{position}. {city} — {body}：{title}",
        "agenda.presenter": "（発表者：{presenter}）",
        "when.same_day": "{date} {start}～{end} {zone_name}（{offset}）",
        "when.other_day": "{date} {start}～{end_date} {end} {zone_name}（{offset}）",
        "place.same_day": "{city}: {date} {start}～{end} ({offset})",
        "place.other_day": "{city}: {date} {start}～{end_date} {end} ({offset})",
        "place.date_pattern": "M月d日(EEE)",
        "place.unknown_zone": "{city}: タイムゾーン未登録",
        "relative.tomorrow": "明日",
        "relative.days": "{n}日後",
        "relative.hour": "1時間後",
        "relative.hours": "{n}時間後",
        "relative.minute": "1分後",
        "relative.minutes": "{n}分後",
        "relative.now": "まもなく",
    },
}


def language_of(code: str | None) -> str:
    """The supported language for a person's language tag: "ja-JP" → "ja", unknown → "en"."""
    if code:
        primary = code.replace("_", "-").split("-", 1)[0].lower()
        if primary in CATALOGUE:
            return primary
    return "en"


def t(language: str, key: str, /, **values: Any) -> str:
    """The catalogue text ``key`` in ``language`` (English when missing), formatted."""
    lang = CATALOGUE.get(language) or CATALOGUE["en"]
    template = lang.get(key)
    if template is None:
        template = CATALOGUE["en"][key]
    return template.format(**values) if values else template


def pick(english: str, japanese: str | None, language: str) -> str:
    """The Japanese variant for Japanese readers when there is one, else the English text."""
    return japanese if language == "ja" and japanese else english


def display_offset(offset: timedelta) -> str:
    """``UTC+09:00`` / ``UTC−06:00`` (with a real minus sign) for display."""
    text = timezones.format_offset(offset)
    if text.startswith("-"):
        text = "\u2212" + text[1:]
    return "UTC" + text


def relative_phrase(offset: timedelta, language: str) -> str:
    """How far ahead a reminder is: "in 7 days", "tomorrow", "in 1 hour" (and Japanese)."""
    seconds = int(offset.total_seconds())
    if seconds <= 0:
        return t(language, "relative.now")
    if seconds % 86400 == 0:
        days = seconds // 86400
        return (
            t(language, "relative.tomorrow") if days == 1 else t(language, "relative.days", n=days)
        )
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return (
            t(language, "relative.hour") if hours == 1 else t(language, "relative.hours", n=hours)
        )
    minutes = max(1, round(seconds / 60))
    if minutes % 60 == 0:
        return relative_phrase(timedelta(minutes=minutes), language)
    return (
        t(language, "relative.minute")
        if minutes == 1
        else t(language, "relative.minutes", n=minutes)
    )


# --- session texts shared by calendars and emails -----------------------------------------------


def session_title(s: SessionSnapshot, language: str) -> str:
    return pick(s.title, s.title_ja, language)


def group_name(s: SessionSnapshot, language: str) -> str:
    return pick(s.group, s.group_ja, language)


def session_label(s: SessionSnapshot, language: str) -> str:
    """The title, followed by the group's name unless the title already names it."""
    title = session_title(s, language)
    group = group_name(s, language)
    if not group or group in title:
        return title
    return t(language, "session.with_group", title=title, group=group)


def agenda_line(item: AgendaItem, language: str) -> str:
    """``1. Tokyo — Bureau of Construction: Urban flood control`` (and the presenter if known)."""
    line = t(
        language,
        "agenda.item",
        position=item.position,
        city=pick(item.city, item.city_ja, language),
        body=pick(item.body, item.body_ja, language),
        title=pick(item.title, item.title_ja, language),
    )
    if item.presenter:
        line += t(language, "agenda.presenter", presenter=item.presenter)
    return line


def agenda_lines(s: SessionSnapshot, language: str) -> list[str]:
    return [agenda_line(item, language) for item in sorted(s.agenda, key=lambda i: i.position)]


def _hhmm(local: datetime) -> str:
    return f"{local.hour:02d}:{local.minute:02d}"


def _offsets(start: datetime, end: datetime, zone: str) -> str:
    first = timezones.utc_offset(start, zone)
    last = timezones.utc_offset(end, zone)
    if first == last:
        return display_offset(first)
    return f"{display_offset(first)} → {display_offset(last)}"


def place_time_line(
    city: str, zone: str, start_utc: datetime, end_utc: datetime, language: str
) -> str:
    """``Tokyo: Tue 3 Oct 20:00–22:00 (UTC+09:00)``: the session's wall time in one city,
    computed for that very instant in that zone (so DST changes are honoured)."""
    if zone == timezones.UNKNOWN_ZONE:
        return t(language, "place.unknown_zone", city=city)
    start = timezones.to_local(start_utc, zone)
    end = timezones.to_local(end_utc, zone)
    pattern = t(language, "place.date_pattern")
    values = {
        "city": city,
        "date": format_date(start, pattern, locale=language),
        "start": _hhmm(start),
        "end": _hhmm(end),
        "offset": _offsets(start_utc, end_utc, zone),
    }
    if start.date() == end.date():
        return t(language, "place.same_day", **values)
    end_date = format_date(end, pattern, locale=language)
    return t(language, "place.other_day", end_date=end_date, **values)


def place_time_lines(s: SessionSnapshot, language: str) -> list[str]:
    return [
        place_time_line(pick(p.city, p.city_ja, language), p.zone, s.start_utc, s.end_utc, language)
        for p in s.places
    ]


def _zone_name(local: datetime, zone: str, language: str) -> str:
    try:
        return get_timezone_name(local, "long", locale=language)
    except Exception:  # Babel has no name for some zones; the IANA name will do
        return zone


def format_when(start_utc: datetime, end_utc: datetime, zone: str, language: str) -> str:
    """The session's date and time for one reader, in the reader's zone and locale (Babel):
    ``Tuesday, October 3, 2023, 5:00 AM – 7:00 AM Mountain Daylight Time (UTC−06:00)``.
    A reader whose zone is not known yet (``timezones.UNKNOWN_ZONE``) gets UTC."""
    if zone == timezones.UNKNOWN_ZONE:
        zone = "UTC"
    start = timezones.to_local(start_utc, zone)
    end = timezones.to_local(end_utc, zone)
    values = {
        "date": format_date(start, "full", locale=language),
        "start": format_time(start, "short", locale=language),
        "end": format_time(end, "short", locale=language),
        "zone_name": _zone_name(start, zone, language),
        "offset": _offsets(start_utc, end_utc, zone),
    }
    if start.date() == end.date():
        return t(language, "when.same_day", **values)
    end_date = format_date(end, "full", locale=language)
    return t(language, "when.other_day", end_date=end_date, **values)


# --- bodies: text and HTML from one list of blocks ----------------------------------------------


def _is_web_link(url: str) -> bool:
    return url.lower().startswith(("https://", "http://"))


def _html_text(text: str) -> str:
    return html.escape(text, quote=True).replace("\n", "<br>\n")


@dataclass(frozen=True)
class Body:
    """A message body as plain text and as an HTML fragment (the inside of ``<body>``)."""

    text: str
    html: str

    def __add__(self, other: Body) -> Body:
        if not self.text:
            return other
        if not other.text:
            return self
        return Body(self.text + "\n\n" + other.text, self.html + "\n" + other.html)


class BodyBuilder:
    """Collects blocks and renders them as text and HTML; every user text is HTML-escaped."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._text: list[str] = []
        self._html: list[str] = []

    def paragraph(self, text: str) -> BodyBuilder:
        if text:
            self._text.append(text)
            self._html.append(f"<p>{_html_text(text)}</p>")
        return self

    def field(self, label: str, value: str) -> BodyBuilder:
        sep = t(self.language, "label.sep")
        self._text.append(f"{label}{sep}{value}")
        self._html.append(f"<p><strong>{_html_text(label)}</strong>{sep}{_html_text(value)}</p>")
        return self

    def link(self, label: str, url: str) -> BodyBuilder:
        sep = t(self.language, "label.sep")
        self._text.append(f"{label}{sep}{url}")
        shown = html.escape(url, quote=True)
        value = f'<a href="{shown}">{shown}</a>' if _is_web_link(url) else shown
        self._html.append(f"<p><strong>{_html_text(label)}</strong>{sep}{value}</p>")
        return self

    def items(self, heading: str, lines: Iterable[str]) -> BodyBuilder:
        lines = list(lines)
        if not lines:
            return self
        self._text.append("\n".join([heading, *lines]))
        entries = "".join(f"<li>{_html_text(line)}</li>" for line in lines)
        self._html.append(
            f"<h3>{_html_text(heading)}</h3>\n"
            f'<ul style="list-style:none;padding-left:0">{entries}</ul>'
        )
        return self

    def build(self) -> Body:
        return Body("\n\n".join(self._text), "\n".join(self._html))


def greeting(name: str, language: str) -> Body:
    return BodyBuilder(language).paragraph(t(language, "greeting", name=name)).build()


def session_details(
    s: SessionSnapshot, language: str, zone: str, *, join_link: bool = True
) -> Body:
    """The blocks every session message shares, for a reader in ``zone``."""
    b = BodyBuilder(language)
    b.field(t(language, "label.when"), format_when(s.start_utc, s.end_utc, zone, language))
    if join_link and s.meeting_url:
        b.link(t(language, "label.join"), s.meeting_url)
    b.items(t(language, "label.agenda"), agenda_lines(s, language))
    b.items(t(language, "label.local_times"), place_time_lines(s, language))
    if s.note:
        b.field(t(language, "label.note"), s.note)
    return b.build()


# --- MIME plumbing -----------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _parse_header(factory: Callable[[str, str], Any], name: str, value: str) -> Any:
    return factory(name, "".join(re.split(r"\r\n|\r|\n", value)))


class _MessagePolicy(EmailPolicy):
    """``email.policy.SMTP`` whose header parsing is memoized: a batch of messages repeats the
    same Content-Type values thousands of times. Parsed headers are immutable, so sharing them
    is safe."""

    def header_fetch_parse(self, name: str, value: Any) -> Any:
        if hasattr(value, "name"):
            return value
        return _parse_header(self.header_factory, name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        if type(value) is str:
            return _fold_binary(self, name, value)
        return super().fold_binary(name, value)


@lru_cache(maxsize=1024)
def _fold_binary(policy: EmailPolicy, name: str, value: str) -> bytes:
    return EmailPolicy.fold_binary(policy, name, value)


MESSAGE_POLICY = _MessagePolicy(linesep="\r\n")


class WireText(str):
    """A payload already in wire form: ASCII lines each ending with CRLF."""

    __slots__ = ()


class _Generator(BytesGenerator):
    """Writes a payload in one piece instead of line by line (same bytes)."""

    def _write_lines(self, lines: str) -> None:
        # Same result as the base class's NLCRE split and line-by-line writes.
        if not lines:
            return
        if type(lines) is WireText and self._NL == "\r\n":
            self.write(lines)
            return
        text = lines.replace("\r\n", "\n").replace("\r", "\n")
        self.write(text.replace("\n", self._NL) if self._NL != "\n" else text)


_PLAIN_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,./:=?-]{1,70}")


def _flatten(part: Any, policy: Any, out: list[bytes]) -> bool:
    """Append the bytes :class:`BytesGenerator` writes for ``part`` to ``out``, for the plain
    trees this module builds (headers, then a text payload or subparts between boundaries).
    Returns False, having appended garbage, for anything else; the caller then falls back."""
    nl = policy.linesep
    for name, value in part.raw_items():
        out.append(policy.fold_binary(name, value))
    out.append(nl.encode("ascii"))
    payload = part._payload
    content_type = part.get("content-type")
    if not hasattr(content_type, "maintype"):  # missing, or a compat32 string
        return False
    maintype = content_type.maintype
    multipart = maintype == "multipart"
    if isinstance(payload, list):
        boundary = content_type.params.get("boundary")
        if not multipart or not boundary or not _PLAIN_BOUNDARY.fullmatch(boundary):
            return False
        if part.preamble is not None:
            return False
        if part.epilogue is not None:
            return False
        if not payload:
            out.append(f"--{boundary}{nl}".encode("ascii"))
        for i, sub in enumerate(payload):
            out.append(f"{nl if i else ''}--{boundary}{nl}".encode("ascii"))
            if not isinstance(sub, EmailMessage) or not _flatten(sub, policy, out):
                return False
        out.append(f"{nl}--{boundary}--{nl}".encode("ascii"))
        return True
    if payload is None:
        return not multipart
    if not isinstance(payload, str) or multipart or maintype == "message":
        return False
    if type(payload) is WireText and nl == "\r\n":
        out.append(payload.encode("ascii"))
        return True
    if not payload.isascii():
        return False
    text = payload.replace("\r\n", "\n").replace("\r", "\n")
    out.append((text.replace("\n", nl) if nl != "\n" else text).encode("ascii"))
    return True


class OutgoingMessage(EmailMessage):
    """An :class:`~email.message.EmailMessage` whose ``as_bytes()`` writes the trees built here
    directly (the same bytes as :class:`BytesGenerator`, checked by the tests) and falls back
    on the standard generator for anything else (e.g. after a caller changed the message)."""

    def as_bytes(self, unixfrom: bool = False, policy: Any = None) -> bytes:
        policy = policy or self.policy
        if not unixfrom and isinstance(policy, EmailPolicy) and policy.cte_type == "8bit":
            out: list[bytes] = []
            if _flatten(self, policy, out):
                return b"".join(out)
        fp = BytesIO()
        _Generator(fp, mangle_from_=False, policy=policy).flatten(self, unixfrom=unixfrom)
        return fp.getvalue()

    def __bytes__(self) -> bytes:
        return self.as_bytes()


_METHOD_RE = re.compile(rb"^METHOD:([A-Za-z-]+)\r?$", re.MULTILINE)


@dataclass(frozen=True)
class CalendarPart:
    """An iCalendar object ready to be put into a message: its METHOD and base64 text."""

    method: str
    base64: str


@lru_cache(maxsize=64)
def calendar_part(data: bytes) -> CalendarPart:
    """Encode a calendar once for any number of messages (cached on the bytes)."""
    match = _METHOD_RE.search(data)
    if not match:
        raise ValueError("calendar has no METHOD property; iMIP needs one")
    return CalendarPart(match.group(1).decode("ascii").upper(), _b64(data))


_LINE_OCTETS = 57  # base64 turns 57 octets into one 76-character line


def _b64(data: bytes) -> WireText:
    """Base64 in 76-character lines, each ending with CRLF."""
    encoded = binascii.b2a_base64(data, newline=False).decode("ascii")
    lines = [encoded[i : i + 76] for i in range(0, len(encoded), 76)]
    lines.append("")
    return WireText("\r\n".join(lines))


def _padded(prefix: str, newline: str) -> bytes:
    """``prefix`` + blanks + ``newline`` in UTF-8, a whole number of base64 lines long: the base64
    of (padded prefix + rest) is then base64(padded prefix) + base64(rest), so the rest, shared
    by a batch, is encoded once. The blanks trail the first line, invisible in text and HTML."""
    data = prefix.encode("utf-8")
    tail = newline.encode("ascii")
    return data + b" " * (-(len(data) + len(tail)) % _LINE_OCTETS) + tail


@lru_cache(maxsize=512)
def _encoded_rest(body: Body, language: str, html_document: bool) -> WireText:
    if html_document:
        return _b64(f"{body.html}\n</body>\n</html>\n".encode())
    return _b64(body.text.encode("utf-8"))


def _html_head(language: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{language}">\n<head><meta charset="utf-8"></head>\n'
        '<body style="font-family:sans-serif;line-height:1.5">\n'
    )


def encode_bodies(body: Body, language: str, opening: Body | None = None) -> tuple[str, str]:
    """Base64 of the text and the HTML document for ``opening`` (per recipient, e.g. a
    greeting) followed by ``body`` (shared, encoded once per batch)."""
    if opening is None or not opening.text:
        text = _encoded_rest(body, language, False)
    else:
        text = _b64(_padded(opening.text, "\n\n")) + _encoded_rest(body, language, False)
    head = _html_head(language) + (opening.html if opening is not None else "")
    html_doc = _b64(_padded(head, "\n")) + _encoded_rest(body, language, True)
    return WireText(text), WireText(html_doc)


def _fold(name: str, value: str) -> str:
    """A header value encoded (RFC 2047) and folded once; the policy then writes it as is."""
    folded = MESSAGE_POLICY.header_factory(name, value).fold(policy=MESSAGE_POLICY)
    return folded[len(name) + 2 : -len(MESSAGE_POLICY.linesep)]


def encode_text_header(name: str, value: str) -> str:
    """The raw (ASCII, folded) form of an unstructured header such as Subject."""
    if value.isascii() and len(name) + len(value) + 2 <= 78:
        return value
    return _fold(name, value)


def _encoded_words(text: str) -> list[str]:
    """RFC 2047 B-encoded words of at most 75 characters, never splitting a character."""
    words: list[str] = []
    chunk = bytearray()
    for char in text:
        data = char.encode("utf-8")
        if len(chunk) + len(data) > 45:  # 45 octets -> 60 base64 characters + 12 = 72
            words.append(chunk)
            chunk = bytearray()
        chunk += data
    words.append(chunk)
    return [f"=?utf-8?b?{binascii.b2a_base64(w, newline=False).decode('ascii')}?=" for w in words]


def _fold_tokens(name: str, tokens: list[str]) -> str:
    """Join tokens with blanks, folding before a token that would pass 78 characters."""
    lines: list[str] = []
    line = ""
    width = len(name) + 2
    for token in tokens:
        if line and width + len(line) + 1 + len(token) > 78:
            lines.append(line)
            line, width = token, 1
        else:
            line = f"{line} {token}" if line else token
    lines.append(line)
    return "\r\n ".join(lines)


def encode_address(person: Person, name: str = "To") -> str:
    """``"Name" <addr>``, a non-ASCII name as RFC 2047 encoded words, folded if long."""
    if not person.email.isascii():
        raise ValueError(f"email: non-ASCII addresses are not supported: {person.email!r}")
    if not person.name:
        return person.email
    if person.name.isascii():
        value = formataddr((person.name, person.email))
        return value if len(name) + 2 + len(value) <= 78 else _fold(name, value)
    return _fold_tokens(name, [*_encoded_words(person.name), f"<{person.email}>"])


@lru_cache(maxsize=64)
def _sender_address(person: Person) -> str:
    return encode_address(person, "Reply-To")


_MESSAGE_ID_RE = re.compile(r"<[!-;=?-~]+@[!-;=?-~]+>")


def normalize_message_id(message_id: str) -> str:
    """``<local@domain>``; an id without angle brackets gets them, anything else is refused."""
    value = message_id.strip()
    if not value.startswith("<"):
        value = f"<{value}>"
    if not _MESSAGE_ID_RE.fullmatch(value):
        raise ValueError(f"message_id: not a valid Message-ID: {message_id!r}")
    return value


# Every leaf part is base64, whose alphabet has no "_" and "=" only as final padding, so "=_"
# can never occur inside a part: fixed boundaries are safe, and keep a message's bytes stable.
MIXED_BOUNDARY = "=_coordinator_mixed"
ALTERNATIVE_BOUNDARY = "=_coordinator_alternative"


def _part(headers: Iterable[tuple[str, str]], payload: Any) -> EmailMessage:
    part = EmailMessage(policy=MESSAGE_POLICY)
    for name, value in headers:
        part.set_raw(name, value)
    part.set_payload(payload)
    return part


_TEXT_HEADERS = (
    ("Content-Type", 'text/plain; charset="utf-8"'),
    ("Content-Transfer-Encoding", "base64"),
)
_HTML_HEADERS = (
    ("Content-Type", 'text/html; charset="utf-8"'),
    ("Content-Transfer-Encoding", "base64"),
)
_ALTERNATIVE_HEADERS = (
    ("Content-Type", f'multipart/alternative; boundary="{ALTERNATIVE_BOUNDARY}"'),
)
_ATTACHMENT_HEADERS = (
    ("Content-Type", 'application/ics; name="invite.ics"'),
    ("Content-Disposition", 'attachment; filename="invite.ics"'),
    ("Content-Transfer-Encoding", "base64"),
)


@lru_cache(maxsize=16)
def _calendar_headers(method: str) -> tuple[tuple[str, str], ...]:
    return (
        ("Content-Type", f'text/calendar; charset="utf-8"; method={method}'),
        ("Content-Transfer-Encoding", "base64"),
    )


def compose_message(
    *,
    sender: Person,
    recipient: Person,
    subject: str,
    body: Body,
    message_id: str,
    language: str = "en",
    opening: Body | None = None,
    calendar: bytes | CalendarPart | None = None,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    date: datetime | None = None,
    encoded_subject: str | None = None,
) -> OutgoingMessage:
    """Wrap one message: From and Reply-To = ``sender``, To = ``recipient``, the localized
    ``subject``, ``opening`` (per recipient, e.g. :func:`greeting`) and ``body`` (shareable by a
    batch: its encoding is cached) as text and HTML, ``message_id`` exactly, ``date`` (default
    now) and any extra ``headers``.

    With a ``calendar`` (bytes or a :func:`calendar_part`), the message is iMIP (RFC 6047):
    ``multipart/mixed`` [``multipart/alternative`` [text, HTML, ``text/calendar;
    method=<METHOD>``], ``invite.ics`` attachment], and ``Content-Class`` marks it for Outlook.
    ``encoded_subject`` lets a batch pass the already encoded Subject.
    """
    msgid = normalize_message_id(message_id)
    when = date if date is not None else datetime.now(UTC)
    if when.tzinfo is None:
        raise ValueError("date: must be timezone-aware")
    text, html_doc = encode_bodies(body, language, opening)
    alternatives = [_part(_TEXT_HEADERS, text), _part(_HTML_HEADERS, html_doc)]
    cal = calendar_part(calendar) if isinstance(calendar, bytes) else calendar
    if cal is not None:
        alternatives.append(_part(_calendar_headers(cal.method), cal.base64))
    alternative = _part(_ALTERNATIVE_HEADERS, alternatives)
    top = OutgoingMessage(policy=MESSAGE_POLICY)
    if cal is not None:
        top.set_payload([alternative, _part(_ATTACHMENT_HEADERS, cal.base64)])
        content_type = f'multipart/mixed; boundary="{MIXED_BOUNDARY}"'
    else:
        top.set_payload(alternatives)
        content_type = f'multipart/alternative; boundary="{ALTERNATIVE_BOUNDARY}"'
    sender_address = _sender_address(sender)
    top.set_raw("From", sender_address)
    top.set_raw("Reply-To", sender_address)
    top.set_raw("To", encode_address(recipient))
    top.set_raw("Subject", encoded_subject or encode_text_header("Subject", subject))
    top.set_raw("Date", _rfc5322_date(when))
    top.set_raw("Message-ID", msgid)
    top.set_raw("MIME-Version", "1.0")
    if cal is not None:
        top.set_raw("Content-Class", "urn:content-classes:calendarmessage")
    items = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in items:
        top.set_raw(name, encode_text_header(name, value))
    top.set_raw("Content-Language", language)
    top.set_raw("Content-Type", content_type)
    return top


# --- a per-snapshot memo, so a batch derives each text once ---------------------------------------


class SnapshotMemo:
    """Remembers values derived from recent snapshots, keyed by (snapshot, key).

    The last snapshot is recognized by identity (no hashing of a large snapshot per message);
    other snapshots by value, so an equal snapshot loaded again hits the cache too.
    """

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._by_value: OrderedDict[SessionSnapshot, dict[Any, Any]] = OrderedDict()
        self._last: tuple[SessionSnapshot, dict[Any, Any]] | None = None
        self._lock = threading.Lock()

    def values(self, s: SessionSnapshot) -> dict[Any, Any]:
        last = self._last
        if last is not None and last[0] is s:
            return last[1]
        with self._lock:
            memo = self._by_value.get(s)
            if memo is None:
                memo = self._by_value[s] = {}
                while len(self._by_value) > self._size:
                    self._by_value.popitem(last=False)
            else:
                self._by_value.move_to_end(s)
            self._last = (s, memo)
            return memo

    def get(self, s: SessionSnapshot, key: Any, make: Callable[[], Any]) -> Any:
        memo = self.values(s)
        try:
            return memo[key]
        except KeyError:
            value = memo[key] = make()
            return value


memo = SnapshotMemo()
"""Shared by every message builder of this package."""


def _check_offset(offset: timedelta) -> None:
    if offset < timedelta(0):
        raise ValueError(f"offset: must not be negative, got {offset}")


def build_reminder_message(
    s: SessionSnapshot,
    recipient: Person,
    *,
    offset: timedelta,
    message_id: str,
    date: datetime | None = None,
) -> OutgoingMessage:
    """ "Reminder: … starts in 7 days / tomorrow / in 1 hour", in the recipient's language, with
    the local time, the join link and the agenda (no calendar part)."""
    if s.cancelled:
        raise ValueError(f"session {s.uid} is cancelled: no reminder is sent for it")
    _check_offset(offset)
    language = language_of(recipient.language)

    def make() -> tuple[str, Body]:
        relative = relative_phrase(offset, language)
        title = session_title(s, language)
        subject = t(language, "subject.reminder", title=title, relative=relative)
        lead = BodyBuilder(language)
        label = session_label(s, language)
        lead.paragraph(t(language, "lead.reminder", session=label, relative=relative))
        details = session_details(s, language, recipient.zone)
        return encode_text_header("Subject", subject), lead.build() + details

    subject, rest = memo.get(s, ("reminder", language, recipient.zone, offset), make)
    return compose_message(
        sender=s.organizer,
        recipient=recipient,
        subject="",
        encoded_subject=subject,
        opening=greeting(recipient.name, language),
        body=rest,
        message_id=message_id,
        language=language,
        date=date,
    )
