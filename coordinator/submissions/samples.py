"""Small sample files made in code, for the demo and the tests (no binary fixtures).

:func:`pdf` writes a real one-page PDF (with a correct cross-reference table) showing a few lines
of text; :func:`png` a real RGB image; the Office and OpenDocument samples are minimal packages
whose members are what type detection looks at (and what a real file holds); :func:`mp4` is a
box structure with an MP4 brand, :func:`jpeg` the markers of a tiny baseline JPEG.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib


def pdf(lines: list[str] | str, *, title: str = "Coordinator sample") -> bytes:
    """A one-page A4 landscape PDF showing ``lines`` (Latin-1 text) in Helvetica."""
    if isinstance(lines, str):
        lines = [lines]

    def escape(text: str) -> str:
        text = text.encode("latin-1", "replace").decode("latin-1")
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    ops = ["BT", "/F1 28 Tf", "60 520 Td"]
    for i, line in enumerate(lines):
        if i:
            ops.append("0 -40 Td")
        ops.append(f"({escape(line)}) Tj")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 842 595] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Title (" + escape(title).encode("latin-1") + b") /Producer (Coordinator) >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, len(objects), xref)
    )
    return out.getvalue()


def png(width: int = 64, height: int = 48, color: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    """A ``width`` × ``height`` RGB PNG with a diagonal gradient over ``color``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            shade = (x + y) * 255 // max(1, width + height - 2)
            rows += bytes(((color[0] + shade) % 256, (color[1] + shade) % 256, color[2]))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


# The markers of a 1×1 baseline JPEG (SOI, JFIF, quantization and Huffman tables, SOF, SOS, EOI).
JPEG_1X1 = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b"
    "0b0c1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e3334"
    "32ffc0000b080001000101011100ffc4001f0000010501010101010100000000000000000102030405060708"
    "090a0bffc400b5100002010303020403050504040000017d01020300041105122131410613516107227114"
    "328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748"
    "494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999a"
    "a2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8"
    "e9eaf1f2f3f4f5f6f7f8f9faffda0008010100003f00fbd3ffd9"
)


def jpeg() -> bytes:
    return JPEG_1X1


def mp4(payload: int = 2048) -> bytes:
    """An ISO base media file with an ``isom`` brand: ``ftyp``, ``free`` and an ``mdat``."""
    ftyp = b"ftyp" + b"isom" + struct.pack(">I", 0x200) + b"isomiso2avc1mp41"
    mdat = b"mdat" + bytes(payload)
    free = b"free"
    return b"".join(struct.pack(">I", len(box) + 4) + box for box in (ftyp, free, mdat))


_CT = "application/vnd.openxmlformats-officedocument."
_OOXML_MAIN = {
    "pptx": ("ppt/presentation.xml", _CT + "presentationml.presentation.main+xml"),
    "docx": ("word/document.xml", _CT + "wordprocessingml.document.main+xml"),
    "xlsx": ("xl/workbook.xml", _CT + "spreadsheetml.sheet.main+xml"),
    "pptm": (
        "ppt/presentation.xml",
        "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml",
    ),
    "ppsx": ("ppt/presentation.xml", _CT + "presentationml.slideshow.main+xml"),
}


SAMPLE_TIME = (2023, 9, 14, 0, 0, 0)  # every entry's date: the same bytes on every call


def _entry(name: str, compress: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name, date_time=SAMPLE_TIME)
    entry.compress_type = compress
    entry.external_attr = 0o644 << 16  # -rw-r--r-- once extracted
    return entry


def ooxml(kind: str = "pptx", text: str = "Coordinator sample") -> bytes:
    """A minimal Office Open XML package (``pptx``, ``docx``, ``xlsx``; ``pptm`` and ``ppsx``
    for refusals): content types, relationships and the main part."""
    part, content_type = _OOXML_MAIN[kind]
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/{part}" ContentType="{content_type}"/>'
        "</Types>"
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        f'relationships/officeDocument" Target="{part}"/></Relationships>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_entry("[Content_Types].xml"), content_types)
        archive.writestr(_entry("_rels/.rels"), rels)
        archive.writestr(_entry(part), f'<?xml version="1.0" encoding="UTF-8"?><doc>{text}</doc>')
    return out.getvalue()


def odf(mimetype: str = "application/vnd.oasis.opendocument.presentation") -> bytes:
    """A minimal OpenDocument package: ``mimetype`` first and stored, then the manifest."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_entry("mimetype", zipfile.ZIP_STORED), mimetype)
        archive.writestr(
            _entry("META-INF/manifest.xml"),
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
            'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>',
        )
        archive.writestr(_entry("content.xml"), '<?xml version="1.0" encoding="UTF-8"?><content/>')
    return out.getvalue()


def odp() -> bytes:
    return odf()


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(_entry("notes.txt", zipfile.ZIP_STORED), "not a presentation")
    return out.getvalue()
