"""File names: shown to people, never used as paths.

:func:`display_name` turns whatever a client sent (``../../etc/passwd``, ``C:\\x\\slides.pptx``,
names with control or bidirectional-override characters, very long names) into a harmless name
for display: the last path component, NFC-normalized, without control/format characters,
at most :data:`MAX_LENGTH` characters with the extension kept; Japanese names pass unchanged.
:func:`slug` makes the ASCII pieces of the names inside a session pack, and
:func:`content_disposition` the header of a download (an ASCII fallback and RFC 6266/5987
``filename*``).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

MAX_LENGTH = 200


def display_name(raw: str | None, extension: str = "") -> str:
    text = unicodedata.normalize("NFC", raw or "")
    # Path separators of every system: only the last component is a name.
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(
        " " if ch in "\t\r\n" else ch
        for ch in text
        if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn") or ch in "\t\r\n"
    )
    text = re.sub(r"\s+", " ", text).strip().lstrip(".").strip()
    if len(text) > MAX_LENGTH:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            text = stem[: MAX_LENGTH - len(ext) - 1].rstrip() + "." + ext
        else:
            text = text[:MAX_LENGTH].rstrip()
    return text or f"upload{extension}"


def slug(text: str, limit: int = 60) -> str:
    """``Women's Empowerment in Rotterdam`` → ``women-s-empowerment-in-rotterdam``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return value[:limit].rstrip("-")


def content_disposition(name: str, disposition: str = "attachment") -> str:
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = re.sub(r"[^A-Za-z0-9._ ()-]+", "_", fallback).strip() or "download"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
