"""SMTP delivery to the server in settings (host, port, STARTTLS or TLS, credentials).

One :class:`Mailer` per batch: it connects on first use and reuses the connection for every
message of the batch. Each send either returns (the server accepted the message) or raises

- :class:`TemporaryFailure` — a connection error, a timeout or a 4xx reply: try again later;
  ``connection`` tells whether the connection itself is gone (then the rest of the batch waits
  too) or only this message was refused for now;
- :class:`PermanentFailure` — a 5xx reply: the server's code and reason are in the message.

The message is sent exactly as given: its Message-ID (fixed per outbox row) is never changed
here, so a retried delivery is recognisably the same message.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from email.message import EmailMessage

from coordinator.config import Settings, get_settings

_BARE_LF = re.compile(rb"(?<!\r)\n")


class DeliveryError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TemporaryFailure(DeliveryError):
    def __init__(self, reason: str, *, connection: bool) -> None:
        super().__init__(reason)
        self.connection = connection


class PermanentFailure(DeliveryError):
    pass


def _reply_text(error: bytes | str) -> str:
    text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
    return " ".join(text.split())


def classify(code: int, error: bytes | str) -> DeliveryError:
    """An SMTP reply code and text → temporary (4xx; 421 closes the connection) or permanent."""
    reason = f"{code} {_reply_text(error)}".strip()
    if 400 <= code < 500:
        return TemporaryFailure(reason, connection=code == 421)
    if 500 <= code < 600:
        return PermanentFailure(reason)
    return TemporaryFailure(f"unexpected reply {reason}", connection=True)


class Mailer:
    """An SMTP session for one batch of messages (a context manager that closes it)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._smtp: smtplib.SMTP | None = None
        self.connections = 0

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        where = f"{s.smtp_host}:{s.smtp_port}"
        try:
            if s.smtp_ssl:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.smtp_host,
                    s.smtp_port,
                    timeout=s.smtp_timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
            smtp.ehlo()
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise classify(exc.smtp_code, exc.smtp_error) from None
        except smtplib.SMTPResponseException as exc:
            error = classify(exc.smtp_code, exc.smtp_error)
            if isinstance(error, TemporaryFailure):
                error.connection = True
            raise error from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(
                f"cannot connect to {where}: {exc or type(exc).__name__}", connection=True
            ) from None
        self.connections += 1
        return smtp

    def send(self, message: EmailMessage | bytes, *, sender: str, recipients: list[str]) -> None:
        """Send one message (or its bytes); raises :class:`TemporaryFailure` or
        :class:`PermanentFailure`."""
        data = message if isinstance(message, bytes) else message.as_bytes()
        if data.count(b"\n") != data.count(b"\r\n"):  # SMTP wants CRLF line ends
            data = _BARE_LF.sub(b"\r\n", data)
        # A connection that sat idle may have been closed by the server: reconnect once.
        for attempt in (1, 2):
            reused = self._smtp is not None
            if self._smtp is None:
                self._smtp = self._connect()
            try:
                refused = self._smtp.sendmail(sender, recipients, data)
            except smtplib.SMTPRecipientsRefused as exc:
                code, error = next(iter(exc.recipients.values()))
                raise classify(code, error) from None
            except smtplib.SMTPServerDisconnected as exc:
                self._smtp = None
                if reused and attempt == 1:
                    continue
                raise TemporaryFailure(f"connection lost: {exc}", connection=True) from None
            except smtplib.SMTPResponseException as exc:
                error = classify(exc.smtp_code, exc.smtp_error)
                if isinstance(error, TemporaryFailure) and error.connection:
                    self.close()
                raise error from None
            except (smtplib.SMTPException, OSError) as exc:
                self.close()
                raise TemporaryFailure(
                    f"connection error: {exc or type(exc).__name__}", connection=True
                ) from None
            if refused:  # only with several recipients: some accepted, these not
                code, error = next(iter(refused.values()))
                raise classify(code, error)
            return
