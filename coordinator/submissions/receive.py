"""Receiving one uploaded file from a request body, streamed: a ``multipart/form-data`` form
with a file part, or the raw bytes of the file.

:func:`receive` consumes the body chunk by chunk as the server hands it over (constant memory;
the multipart form is parsed incrementally with ``python_multipart``'s streaming parser, never
spooled), writes the file's bytes to an :class:`~coordinator.submissions.storage.Incoming`
temporary file, and refuses as early as it can:

- past the size limit → :class:`Rejected` 413 naming the limit (the temporary file removed);
- a type that is not accepted → 415 naming the detected type, decided from the first 4 KiB
  (a ZIP container once it is complete, by its members);
- an empty file, a form without a file, a malformed or incomplete form → 422.

The caller gets a finished (fsynced) temporary file, its type and its display name, and commits
it; if the client goes away, the exception propagates and the temporary file is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import unquote

import anyio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from coordinator.submissions import types
from coordinator.submissions.names import display_name
from coordinator.submissions.storage import Incoming, Storage, TooLarge

FIELD_LIMIT = 64 * 1024  # the other fields of a form are read and ignored, up to this
FORM_OVERHEAD = 1024 * 1024  # what a form may add to the file's bytes (boundaries, headers)
# Bytes hashed and written together (about: a batch ends on a chunk). Larger batches mean fewer
# hand-overs of the GIL between the event loop and the thread; 4 MiB measured best
# (bench/upload.py), and memory stays at about three batches.
BATCH_BYTES = 4 * 1024 * 1024


class Rejected(Exception):
    """The upload is refused: ``status`` (413, 415, 422), a code and a message for people."""

    def __init__(self, status: int, code: str, message: str, **extra) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def too_large(limit: int) -> Rejected:
    return Rejected(
        413,
        "too-large",
        f"the file is larger than the limit of {human_size(limit)} ({limit} bytes)",
        limit=limit,
    )


def not_accepted(found: types.FileType) -> Rejected:
    return Rejected(
        415,
        "unsupported-type",
        f"the file is a {found.label}, which is not accepted; accepted: {types.accepted_labels()}",
        detected_type=found.label,
    )


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            if unit == "bytes":
                return f"{size} bytes"
            text = f"{value:.1f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
        value /= 1024
    return f"{size} bytes"  # pragma: no cover


_PARAM = re.compile(
    r";\s*([A-Za-z0-9_.*-]+)\s*=\s*(\"(?:[^\"\\]|\\.)*\"|[^;]*)",
)


def disposition_filename(value: str | None) -> str | None:
    """The file name of a Content-Disposition value: ``filename*`` (RFC 5987/6266, UTF-8)
    first, else ``filename`` (quoted or not; raw UTF-8 as browsers send it)."""
    if not value:
        return None
    params: dict[str, str] = {}
    for name, raw in _PARAM.findall(";" + value.split(";", 1)[1] if ";" in value else ""):
        raw = raw.strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[name.lower()] = raw
    extended = params.get("filename*")
    if extended:
        charset, _, rest = extended.partition("'")
        _, _, encoded = rest.partition("'")
        try:
            return unquote(encoded, encoding=charset or "utf-8", errors="strict")
        except (LookupError, UnicodeDecodeError):
            pass
    return params.get("filename")


@dataclass
class Received:
    incoming: Incoming
    file_type: types.FileType
    filename: str


@dataclass
class _Part:
    headers: dict[str, bytes] = field(default_factory=dict)
    name: str | None = None
    filename: str | None = None
    is_file: bool = False
    size: int = 0


class _Form:
    """Callbacks of the streaming multipart parser: the first file part goes to ``sink``."""

    def __init__(self, sink: _Sink) -> None:
        self.sink = sink
        self.part: _Part | None = None
        self.header_name = bytearray()
        self.header_value = bytearray()
        self.file_seen = False
        self.file_done = False

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        assert self.part is not None
        self.part.headers[bytes(self.header_name).decode("latin-1").strip().lower()] = bytes(
            self.header_value
        )
        self.header_name.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        part = self.part
        assert part is not None
        raw = part.headers.get("content-disposition", b"")
        value = raw.decode("utf-8", "replace")
        _, options = parse_options_header(raw)
        part.name = options.get(b"name", b"").decode("utf-8", "replace")
        part.filename = disposition_filename(value)
        part.is_file = part.filename is not None or part.name == "file"
        if part.is_file:
            if self.file_seen:
                raise Rejected(422, "several-files", "send one file per upload")
            self.file_seen = True
            self.sink.filename = part.filename

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self.part
        assert part is not None
        if part.is_file:
            self.sink.write(memoryview(data)[start:end])
            return
        part.size += end - start
        if part.size > FIELD_LIMIT:
            raise Rejected(
                413, "field-too-large", f"the form field {part.name!r} is over {FIELD_LIMIT} bytes"
            )

    def on_part_end(self) -> None:
        if self.part is not None and self.part.is_file:
            self.file_done = True


class _Sink:
    """Takes the file's bytes as they come: counts them against the limit and checks the type
    once the first 4 KiB are in (in the event loop), and hands them on in batches of about
    4 MiB to a worker thread, which copies the batch into one reused buffer and hashes and
    writes it (SHA-256 and ``write`` release the GIL; one call each, not one per chunk, so the
    thread seldom waits for the GIL) while the next batch is being received. At most two
    batches are held: memory stays constant whatever the size of the file."""

    def __init__(self, incoming: Incoming) -> None:
        self.incoming = incoming
        self.filename: str | None = None
        self.sniffed: types.FileType | None = None
        self.pending: list[bytes | memoryview] = []
        self.pending_bytes = 0
        self.buffer = bytearray()  # reused by every batch: one batch is in flight at a time
        self.inflight: asyncio.Future | None = None

    def write(self, data: memoryview | bytes) -> None:
        if not len(data):
            return
        try:
            self.incoming.accept(data)
        except TooLarge as exc:
            raise too_large(exc.limit) from None
        self.pending.append(data)
        self.pending_bytes += len(data)
        if self.sniffed is None and len(self.incoming.head) >= types.HEAD_BYTES:
            self.sniff()

    def sniff(self) -> types.FileType:
        if self.sniffed is None:
            self.sniffed = types.sniff(self.incoming.head)
            if not self.sniffed.accepted and self.sniffed is not types.ZIP_CONTAINER:
                raise not_accepted(self.sniffed)
        return self.sniffed

    @property
    def batch_ready(self) -> bool:
        return self.pending_bytes >= BATCH_BYTES

    async def flush(self, *, wait: bool = False) -> None:
        """Wait for the batch in flight, then send the pending one off (and, with ``wait``,
        wait for it too)."""
        if self.inflight is not None:
            inflight, self.inflight = self.inflight, None
            await inflight
        if self.pending:
            chunks, size = self.pending, self.pending_bytes
            self.pending, self.pending_bytes = [], 0
            loop = asyncio.get_running_loop()
            self.inflight = loop.run_in_executor(None, self._store, chunks, size)
        if wait and self.inflight is not None:
            inflight, self.inflight = self.inflight, None
            await inflight

    def _store(self, chunks: list, size: int) -> None:
        """In the worker thread: the chunks, copied into one buffer (the copy holds the GIL
        while the event loop is mostly in ``recv``, which does not), hashed and written."""
        if len(self.buffer) < size:
            self.buffer = bytearray(max(size, 2 * BATCH_BYTES))
        view = memoryview(self.buffer)
        at = 0
        for chunk in chunks:
            view[at : at + len(chunk)] = chunk
            at += len(chunk)
        self.incoming.store(view[:size])

    async def settle(self) -> None:
        """After an error: let the batch in flight end before the file is removed."""
        if self.inflight is not None:
            inflight, self.inflight = self.inflight, None
            with contextlib.suppress(BaseException):
                await inflight


def _boundary(content_type: str) -> bytes:
    _, options = parse_options_header(content_type.encode("latin-1", "replace"))
    boundary = options.get(b"boundary")
    if not boundary:
        raise Rejected(422, "malformed-form", "multipart/form-data without a boundary")
    return boundary


def is_form(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == "multipart/form-data"


async def receive(
    chunks: AsyncIterator[bytes],
    *,
    storage: Storage,
    max_bytes: int,
    content_type: str | None,
    filename: str | None = None,
) -> Received:
    """Stream one file from ``chunks`` (see the module doc). ``filename`` is the name a raw
    body came with (a header or a query parameter); a form's file part carries its own."""
    incoming = storage.incoming(max_bytes)
    sink = _Sink(incoming)
    sink.filename = filename
    try:
        if is_form(content_type):
            form = _Form(sink)
            try:
                parser = MultipartParser(_boundary(content_type or ""), form.callbacks())
            except ValueError as exc:
                raise Rejected(422, "malformed-form", f"malformed multipart form: {exc}") from None
            try:
                async for chunk in chunks:
                    parser.write(chunk)
                    if sink.batch_ready:
                        await sink.flush()
            except MultipartParseError as exc:
                raise Rejected(422, "malformed-form", f"malformed multipart form: {exc}") from None
            if parser.state != MultipartState.END:
                raise Rejected(422, "malformed-form", "the multipart form is incomplete")
            if not form.file_seen:
                raise Rejected(
                    422, "no-file", "the form has no file (send it in a part named 'file')"
                )
        else:
            async for chunk in chunks:
                sink.write(chunk)
                if sink.batch_ready:
                    await sink.flush()
        if incoming.size == 0:
            raise Rejected(422, "empty-file", "the file is empty")
        found = sink.sniff()
        await sink.flush(wait=True)
        if found is types.ZIP_CONTAINER:
            found = await anyio.to_thread.run_sync(_inspect, incoming)
            if not found.accepted:
                raise not_accepted(found)
        await anyio.to_thread.run_sync(incoming.finish)
        return Received(incoming, found, display_name(sink.filename, found.extension))
    except BaseException:
        await sink.settle()
        incoming.abort()
        raise


def _inspect(incoming: Incoming) -> types.FileType:
    with incoming.open() as file:
        return types.inspect_container(file)
