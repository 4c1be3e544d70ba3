"""The SMTP client against a real SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.smtp import AuthResult

from coordinator.config import Settings
from coordinator.mail import Mailer, PermanentFailure, TemporaryFailure
from coordinator.mail_catcher import MailCatcher


def message(n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "secretariat@example.org"
    msg["To"] = f"d{n}@example.org"
    msg["Subject"] = f"リマインダー {n}"
    msg["Message-ID"] = f"<fixed-{n}@coordinator.example.org>"
    msg.set_content("本文 body")
    return msg


def send(mailer: Mailer, n: int, to: str | None = None) -> None:
    mailer.send(
        message(n), sender="secretariat@example.org", recipients=[to or f"d{n}@example.org"]
    )


def test_one_connection_serves_a_batch_and_message_ids_are_kept(tmp_path):
    with MailCatcher(tmp_path / "mail") as catcher, Mailer(Settings(smtp_port=catcher.port)) as m:
        for n in range(5):
            send(m, n)
        assert m.connections == 1
    assert [r.message_id for r in catcher.snapshot()] == [
        f"<fixed-{n}@coordinator.example.org>" for n in range(5)
    ]
    stored = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(stored) == 5
    parsed = message_from_bytes(stored[0].read_bytes(), policy=policy.default)
    assert (parsed["Subject"], parsed["Message-ID"]) == (
        "リマインダー 0",
        "<fixed-0@coordinator.example.org>",
    )


def test_refusals_and_absence_are_temporary_and_5xx_is_permanent():
    catcher = MailCatcher().start()
    try:
        with Mailer(Settings(smtp_port=catcher.port)) as m:
            catcher.refuse_with = "451 4.3.0 Try again later"
            with pytest.raises(TemporaryFailure) as refused:
                send(m, 1)
            assert refused.value.connection is False
            assert refused.value.reason == "451 4.3.0 Try again later"
            catcher.refuse_with = None
            with pytest.raises(PermanentFailure, match=r"^550 5\.1\.1 <bounce@example.org>"):
                send(m, 2, to="bounce@example.org")
            send(m, 3)  # the connection is still usable after both
            assert m.connections == 1

            catcher.stop()  # the server went away while we held a connection
            with pytest.raises(TemporaryFailure) as gone:
                send(m, 4)
            assert gone.value.connection is True
            catcher.start()
            send(m, 5)  # reconnects
            assert m.connections == 2
    finally:
        catcher.stop()
    assert [r.message_id for r in catcher.snapshot()] == [
        "<fixed-3@coordinator.example.org>",
        "<fixed-5@coordinator.example.org>",
    ]


@pytest.fixture
def certificate(tmp_path, monkeypatch):
    """A self-signed certificate for 127.0.0.1, trusted by this process's default context."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (auth_data.login, auth_data.password) in {(b"coordinator", b"s3cret")}
    return AuthResult(success=ok, handled=False)  # not handled: the server answers 535


def test_starttls_and_credentials_from_settings(certificate):
    options = {
        "tls_context": certificate,
        "require_starttls": True,
        "authenticator": authenticator,
        "auth_require_tls": True,
    }
    with MailCatcher(**options) as catcher:
        good = Settings(
            smtp_port=catcher.port,
            smtp_starttls=True,
            smtp_username="coordinator",
            smtp_password="s3cret",
        )
        with Mailer(good) as m:
            send(m, 1)
        with (
            pytest.raises(PermanentFailure, match=r"^535 "),
            Mailer(good.model_copy(update={"smtp_password": "wrong"})) as m,
        ):
            send(m, 2)
        with (
            pytest.raises(PermanentFailure, match=r"^530 "),
            Mailer(good.model_copy(update={"smtp_starttls": False, "smtp_username": None})) as m,
        ):
            send(m, 3)  # this server insists on STARTTLS first
    assert [r.message_id for r in catcher.snapshot()] == ["<fixed-1@coordinator.example.org>"]


def test_implicit_tls_from_settings(certificate):
    with (
        MailCatcher(ssl_context=certificate) as catcher,
        Mailer(Settings(smtp_port=catcher.port, smtp_ssl=True)) as m,
    ):
        send(m, 1)
    assert catcher.count() == 1
