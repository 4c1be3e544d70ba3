"""A local SMTP server (aiosmtpd) on loopback that keeps what it receives: the mail catcher of
``make demo`` and ``coordinator serve``, and the real SMTP server of the tests and benchmarks.

Every accepted message is stored as an ``.eml`` file under ``directory`` (when given) and
recorded in :attr:`MailCatcher.received` (Message-ID, envelope recipients, size). For tests it
can be told to refuse for a while (:attr:`refuse_with`, e.g. ``"451 4.3.0 Try again later"``)
or be stopped and started again on the same port (absent for a while).

    python -m coordinator.mail_catcher --port 8025 --dir var/mail
"""

from __future__ import annotations

import argparse
import re
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.controller import Controller

_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Received:
    message_id: str | None
    mail_from: str
    recipients: tuple[str, ...]
    size: int
    path: Path | None


class _Handler:
    def __init__(self, catcher: MailCatcher) -> None:
        self.catcher = catcher

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = self.catcher.refuse_with
        if refusal:
            return refusal
        if address.split("@", 1)[0].startswith(self.catcher.bounce_prefix):
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        refusal = self.catcher.refuse_with
        if refusal:
            return refusal
        self.catcher._store(envelope)
        return "250 2.0.0 Message accepted for delivery"


class MailCatcher:
    """An aiosmtpd server in a background thread; :meth:`start` / :meth:`stop` (restartable)."""

    def __init__(
        self,
        directory: Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        bounce_prefix: str = "bounce",
        **controller_options,
    ) -> None:
        self.directory = Path(directory) if directory else None
        self.host = host
        self.port = port or free_port(host)
        self.bounce_prefix = bounce_prefix
        self.refuse_with: str | None = None
        # Passed to aiosmtpd's Controller: tls_context (STARTTLS), ssl_context (implicit TLS),
        # authenticator, auth_require_tls, require_starttls…
        self.controller_options = controller_options
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self._sequence = 0
        self._stamp = time.strftime("%Y%m%dT%H%M%S")

    def __enter__(self) -> MailCatcher:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> MailCatcher:
        if self._controller is None:
            if self.directory is not None:
                self.directory.mkdir(parents=True, exist_ok=True)
            controller = Controller(
                _Handler(self),
                hostname=self.host,
                port=self.port,
                data_size_limit=50 * 1024 * 1024,
                ready_timeout=10,
                **self.controller_options,
            )
            controller.start()
            self._controller = controller
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def _store(self, envelope) -> None:
        data: bytes = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        match = _MESSAGE_ID.search(data.split(b"\r\n\r\n", 1)[0])
        message_id = match.group(1).decode("ascii", "replace") if match else None
        with self._lock:
            self._sequence += 1
            sequence = self._sequence
        path = None
        if self.directory is not None:
            path = self.directory / f"{self._stamp}-{sequence:06d}.eml"
            path.write_bytes(data)
        item = Received(message_id, envelope.mail_from, tuple(envelope.rcpt_tos), len(data), path)
        with self._lock:
            self.received.append(item)

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def count(self) -> int:
        with self._lock:
            return len(self.received)


def main() -> None:  # pragma: no cover - a manual tool
    parser = argparse.ArgumentParser(description="A local SMTP server that keeps what it gets.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", type=Path, default=Path("var/mail"))
    parser.add_argument("--no-store", action="store_true", help="count only, write nothing")
    parser.add_argument(
        "--count-file", type=Path, help="on exit, write 'received N distinct M' (Message-IDs)"
    )
    args = parser.parse_args()
    directory = None if args.no_store else args.dir
    catcher = MailCatcher(directory, host=args.host, port=args.port).start()
    where = f"storing under {directory}/" if directory else "storing nothing"
    print(f"mail catcher on {args.host}:{args.port}, {where}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        catcher.stop()
        if args.count_file:
            received = catcher.snapshot()
            distinct = len({r.message_id for r in received})
            args.count_file.write_text(f"received {len(received)} distinct {distinct}\n")


if __name__ == "__main__":  # pragma: no cover
    main()
