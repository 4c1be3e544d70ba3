"""Pure rules of delivery: backoff with jitter, SMTP reply classes, the settable clock."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from coordinator import clock
from coordinator.mail import PermanentFailure, TemporaryFailure, classify
from coordinator.reminders.delivery import backoff
from coordinator.reminders.settings import OutboxSettings


def test_backoff_doubles_is_capped_and_jittered_within_half_to_full():
    settings = OutboxSettings(retry_base_seconds=10, retry_max_seconds=300)
    rng = random.Random(4)
    for attempt, ceiling in [(1, 10), (2, 20), (3, 40), (5, 160), (6, 300), (30, 300)]:
        waits = [backoff(attempt, settings, rng) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits), attempt
        assert max(waits) - min(waits) > ceiling / 10  # really jittered, not constant


@pytest.mark.parametrize(
    ("code", "kind", "connection"),
    [(421, TemporaryFailure, True), (450, TemporaryFailure, False), (451, TemporaryFailure, False),
     (550, PermanentFailure, None), (554, PermanentFailure, None)],
)  # fmt: skip
def test_smtp_replies_are_classified_with_the_servers_reason(code, kind, connection):
    error = classify(code, b"5.1.1 <x@example.org>:\r\n  mailbox unavailable")
    assert isinstance(error, kind)
    assert error.reason == f"{code} 5.1.1 <x@example.org>: mailbox unavailable"
    if connection is not None:
        assert error.connection is connection


def test_the_clock_is_real_unless_a_clock_file_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv(clock.ENV, raising=False)
    before = datetime.now(UTC)
    assert before <= clock.now() <= datetime.now(UTC)
    with pytest.raises(RuntimeError, match=clock.ENV):
        clock.set_now(datetime(2023, 9, 14, tzinfo=UTC))

    monkeypatch.setenv(clock.ENV, str(tmp_path / "clock.json"))
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)  # no file yet: real
    clock.set_now(datetime(2023, 9, 14, tzinfo=UTC))
    first = clock.now()
    assert datetime(2023, 9, 14, tzinfo=UTC) <= first < datetime(2023, 9, 14, 0, 1, tzinfo=UTC)
    assert clock.now() >= first  # it keeps running from where it was set
    moved = clock.advance(timedelta(days=7))
    assert moved - first >= timedelta(days=7) and clock.now() >= moved
    with pytest.raises(ValueError, match="naive"):
        clock.set_now(datetime(2023, 9, 14))
    clock.reset()
    assert clock.now().year == datetime.now(UTC).year


def test_a_message_leaves_with_exactly_its_rows_message_id():
    from email.message import EmailMessage

    from coordinator.reminders.delivery import message_bytes

    right = EmailMessage()
    right["Subject"] = "x"
    right["Message-ID"] = "<row-1@coordinator.example.org>"
    right.set_content("body\nMessage-ID: <row-1@coordinator.example.org>\n")
    assert message_bytes(right, "<row-1@coordinator.example.org>") == right.as_bytes()

    for wrong in ("<other@example.org>", None):
        message = EmailMessage()
        message["Subject"] = "x"
        if wrong:
            message["Message-ID"] = wrong
        message.set_content("Message-ID: <row-2@coordinator.example.org>\n")  # in the body only
        data = message_bytes(message, "<row-2@coordinator.example.org>")
        head = data.split(b"\n\n", 1)[0]
        assert b"Message-ID: <row-2@coordinator.example.org>" in head
        assert b"other@example.org" not in data
