"""Tokens in links never reach the access log (coordinator.api.access_log)."""

from __future__ import annotations

import logging

import pytest

from coordinator.api.access_log import RedactTokens, redact


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/upload/v1.abc-DEF_123.sig", "/upload/…"),
        ("/upload/v1.abc/extra?x=1", "/upload/…/extra?x=1"),
        ("/api/v1/feeds/a.b.c.ics", "/api/v1/feeds/….ics"),
        ("/api/v1/feeds/abc?lang=ja", "/api/v1/feeds/…?lang=ja"),
        ("/sessions/3/grid?token=abc&lang=ja", "/sessions/3/grid?token=…&lang=ja"),
        ("/sessions/3/grid?lang=ja&token=abc", "/sessions/3/grid?lang=ja&token=…"),
        ("/api/v1/sessions/3?fields=tokenized", "/api/v1/sessions/3?fields=tokenized"),
        ("/presentations/12/materials", "/presentations/12/materials"),
    ],
)
def test_tokens_are_replaced_and_the_rest_kept(path, shown):
    assert redact(path) == shown


def test_the_filter_rewrites_uvicorns_access_record():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/upload/secret-token", "1.1", 403),
        None,
    )
    assert RedactTokens().filter(record) is True
    assert record.getMessage() == '127.0.0.1:5000 - "GET /upload/… HTTP/1.1" 403'
