"""Links are secrets: keep them out of the access log.

A presenter's upload link (``/upload/{token}``), a delegate's calendar feed
(``/api/v1/feeds/{token}.ics``) and a shared grid (``…/grid?token=…``) carry their token in the
URL, and uvicorn writes every request's path to its access log, where whoever reads the logs
could use it. :class:`RedactTokens` replaces each token with ``…`` before the line is written;
:func:`install` puts it on uvicorn's access logger (the app does at start, in every worker).
"""

from __future__ import annotations

import logging
import re

HIDDEN = "…"
_PATTERNS = (
    (re.compile(r"(/upload/)[^/?#\s]+"), rf"\g<1>{HIDDEN}"),
    (re.compile(r"(/feeds/)[^/?#\s]+?(\.ics)?(?=[/?#\s]|$)"), rf"\g<1>{HIDDEN}\g<2>"),
    (re.compile(r"([?&]token=)[^&#\s]*"), rf"\g<1>{HIDDEN}"),
)


def redact(path: str) -> str:
    """``path`` (with its query) with every token replaced by ``…``."""
    for pattern, replacement in _PATTERNS:
        path = pattern.sub(replacement, path)
    return path


class RedactTokens(logging.Filter):
    """For uvicorn's access records: ``args`` are (client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install(logger_name: str = "uvicorn.access") -> None:
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())
