"""What a file is, decided from its content, never from its name.

Accepted: PDF, PPTX, DOCX, XLSX, ODP, MP4, PNG, JPEG. Two steps, so that a wrong file is
refused while it is still arriving:

1. :func:`sniff` looks at the first bytes (:data:`HEAD_BYTES`): the signature of a PDF, PNG,
   JPEG or MP4 (ISO base media with an MP4 brand) decides at once; a ZIP container needs its
   members (step 2); anything else is named (``GIF image``, ``Windows executable``,
   ``plain text``…) and refused before the rest of the upload is read.
2. :func:`inspect_container` opens a complete ZIP with :mod:`zipfile` (its central directory is
   at the end) and tells the formats built on it apart by their members: OpenDocument by its
   ``mimetype`` member, Office Open XML by the main part's content type in
   ``[Content_Types].xml`` (so a macro-enabled ``.pptm`` or a template is not taken for a
   ``.pptx``). Only those two small members are read, each at most :data:`MEMBER_LIMIT` bytes,
   so a compressed bomb costs nothing.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

HEAD_BYTES = 4096
MEMBER_LIMIT = 1 << 20


@dataclass(frozen=True)
class FileType:
    code: str
    label: str
    mime: str = "application/octet-stream"
    extension: str = ""
    accepted: bool = False


def _accepted(code: str, label: str, mime: str, extension: str) -> FileType:
    return FileType(code, label, mime, extension, True)


PDF = _accepted("pdf", "PDF document", "application/pdf", ".pdf")
PPTX = _accepted(
    "pptx",
    "PowerPoint presentation (PPTX)",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".pptx",
)
DOCX = _accepted(
    "docx",
    "Word document (DOCX)",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".docx",
)
XLSX = _accepted(
    "xlsx",
    "Excel workbook (XLSX)",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xlsx",
)
ODP = _accepted(
    "odp",
    "OpenDocument presentation (ODP)",
    "application/vnd.oasis.opendocument.presentation",
    ".odp",
)
MP4 = _accepted("mp4", "MP4 video", "video/mp4", ".mp4")
PNG = _accepted("png", "PNG image", "image/png", ".png")
JPEG = _accepted("jpeg", "JPEG image", "image/jpeg", ".jpg")

ACCEPTED: dict[str, FileType] = {t.code: t for t in (PDF, PPTX, DOCX, XLSX, ODP, MP4, PNG, JPEG)}
ZIP_CONTAINER = FileType("zip", "ZIP archive", "application/zip", ".zip")


def by_code(code: str) -> FileType:
    return ACCEPTED[code]


def accepted_labels() -> str:
    return ", ".join(t.label for t in ACCEPTED.values())


def other(label: str) -> FileType:
    return FileType("other", label)


# ISO base media (ftyp) brands that are MP4 video; QuickTime, HEIF, audio-only are not.
MP4_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
    b"M4V ", b"M4VP", b"dash", b"mmp4", b"MSNV", b"XAVC", b"f4v ",
}  # fmt: skip
OTHER_BRANDS = {
    b"qt  ": "QuickTime movie",
    b"M4A ": "MPEG-4 audio (M4A)",
    b"M4B ": "MPEG-4 audiobook (M4B)",
    b"heic": "HEIC image",
    b"heix": "HEIC image",
    b"mif1": "HEIF image",
    b"msf1": "HEIF image sequence",
    b"avif": "AVIF image",
    b"3gp4": "3GPP video",
    b"3gp5": "3GPP video",
    b"3g2a": "3GPP2 video",
    b"crx ": "Canon raw image (CR3)",
}

SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Microsoft Office document (.ppt/.doc/.xls)"),
    (b"\x7fELF", "executable (ELF)"),
    (b"MZ", "Windows executable"),
    (b"\xca\xfe\xba\xbe", "Java class or macOS executable"),
    (b"\xcf\xfa\xed\xfe", "macOS executable"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"BZh", "bzip2 archive"),
    (b"\xfd7zXZ\x00", "xz archive"),
    (b"{\\rtf", "RTF document"),
    (b"\x1a\x45\xdf\xa3", "Matroska/WebM video"),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
    (b"OggS", "Ogg media"),
    (b"ID3", "MP3 audio"),
    (b"fLaC", "FLAC audio"),
    (b"PK\x05\x06", "empty ZIP archive"),
    (b"%!PS", "PostScript document"),
    (b"\x00\x00\x01\x00", "icon (ICO)"),
    (b"8BPS", "Photoshop image (PSD)"),
    (b"SQLite format 3\x00", "SQLite database"),
)


def _ftyp(head: bytes) -> FileType | None:
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    major = head[8:12]
    if major in OTHER_BRANDS:
        return other(OTHER_BRANDS[major])
    if major in MP4_BRANDS:
        return MP4
    size = int.from_bytes(head[0:4], "big")
    compatible = head[16 : min(size, len(head))]
    brands = {compatible[i : i + 4] for i in range(0, len(compatible) - 3, 4)}
    if brands & MP4_BRANDS:
        return MP4
    return other(f"ISO media ({major.decode('latin-1').strip() or '?'})")


def _text_kind(head: bytes) -> FileType:
    sample = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    lowered = sample[:256].lower()
    if lowered.startswith((b"<!doctype html", b"<html")):
        return other("HTML document")
    if lowered.startswith(b"<svg") or (lowered.startswith(b"<?xml") and b"<svg" in head.lower()):
        return other("SVG image")
    if lowered.startswith(b"<?xml"):
        return other("XML document")
    if sample.startswith(b"#!"):
        return other("script")
    return other("plain text")


def _is_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        if exc.start < len(head) - 3:
            return False
    return True


def sniff(head: bytes) -> FileType:
    """The type by the first bytes; :data:`ZIP_CONTAINER` means "look inside when complete"."""
    if head.startswith(b"%PDF-") or b"%PDF-" in head[:1024]:
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"PK\x03\x04"):
        return ZIP_CONTAINER
    found = _ftyp(head)
    if found is not None:
        return found
    if head.startswith(b"RIFF") and len(head) >= 12:
        return other({b"WEBP": "WebP image", b"AVI ": "AVI video", b"WAVE": "WAV audio"}.get(
            head[8:12], "RIFF data"
        ))  # fmt: skip
    if head.startswith(b"BM") and len(head) >= 14 and head[6:10] == b"\x00\x00\x00\x00":
        return other("BMP image")
    for signature, label in SIGNATURES:
        if head.startswith(signature):
            return other(label)
    if not head:
        return other("empty file")
    if _is_text(head):
        return _text_kind(head)
    return other("unknown binary data")


ODF_TYPES = {
    "application/vnd.oasis.opendocument.presentation": ODP,
    "application/vnd.oasis.opendocument.text": other("OpenDocument text (ODT)"),
    "application/vnd.oasis.opendocument.spreadsheet": other("OpenDocument spreadsheet (ODS)"),
    "application/vnd.oasis.opendocument.graphics": other("OpenDocument drawing (ODG)"),
    "application/vnd.oasis.opendocument.presentation-template": other(
        "OpenDocument presentation template (OTP)"
    ),
    "application/epub+zip": other("EPUB e-book"),
}

_OOXML = "application/vnd.openxmlformats-officedocument."
OOXML_MAIN = {
    _OOXML + "presentationml.presentation.main+xml": PPTX,
    _OOXML + "wordprocessingml.document.main+xml": DOCX,
    _OOXML + "spreadsheetml.sheet.main+xml": XLSX,
    _OOXML + "presentationml.slideshow.main+xml": other("PowerPoint slide show (PPSX)"),
    _OOXML + "presentationml.template.main+xml": other("PowerPoint template (POTX)"),
    _OOXML + "wordprocessingml.template.main+xml": other("Word template (DOTX)"),
    _OOXML + "spreadsheetml.template.main+xml": other("Excel template (XLTX)"),
    "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml": other(
        "macro-enabled PowerPoint presentation (PPTM)"
    ),
    "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml": other(
        "macro-enabled PowerPoint slide show (PPSM)"
    ),
    "application/vnd.ms-word.document.macroEnabled.main+xml": other(
        "macro-enabled Word document (DOCM)"
    ),
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": other(
        "macro-enabled Excel workbook (XLSM)"
    ),
    "application/vnd.ms-excel.sheet.binary.macroEnabled.main": other(
        "binary Excel workbook (XLSB)"
    ),
}
# The part each accepted OOXML type's main content type must belong to.
OOXML_PARTS = {"pptx": "ppt/", "docx": "word/", "xlsx": "xl/"}
_OVERRIDE = re.compile(
    r"<Override\b[^>]*?\bPartName\s*=\s*[\"']([^\"']+)[\"'][^>]*?\bContentType\s*=\s*[\"']([^\"']+)[\"']"
    r"|<Override\b[^>]*?\bContentType\s*=\s*[\"']([^\"']+)[\"'][^>]*?\bPartName\s*=\s*[\"']([^\"']+)[\"']",
    re.IGNORECASE,
)


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    with archive.open(name) as member:
        return member.read(MEMBER_LIMIT)


def _ooxml(archive: zipfile.ZipFile, names: set[str]) -> FileType:
    text = _read_member(archive, "[Content_Types].xml").decode("utf-8", "replace")
    for match in _OVERRIDE.finditer(text):
        part, content_type = (match.group(1), match.group(2))
        if part is None:
            content_type, part = match.group(3), match.group(4)
        found = OOXML_MAIN.get(content_type.strip())
        if found is None:
            continue
        part = part.lstrip("/")
        prefix = OOXML_PARTS.get(found.code)
        if prefix is not None and (not part.startswith(prefix) or part not in names):
            return other("damaged Office Open XML document (its main part is missing)")
        return found
    return other("Office Open XML package of an unknown kind")


def inspect_container(file: BinaryIO) -> FileType:
    """The type of a complete ZIP-based file (seekable), by its members."""
    try:
        with zipfile.ZipFile(file) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                mimetype = _read_member(archive, "mimetype")[:200].decode("ascii", "replace")
                mimetype = mimetype.strip()
                found = ODF_TYPES.get(mimetype)
                if found is not None:
                    return found
                if mimetype.startswith("application/vnd.oasis.opendocument."):
                    return other(f"OpenDocument file ({mimetype})")
            if "[Content_Types].xml" in names:
                return _ooxml(archive, names)
            if "META-INF/MANIFEST.MF" in names:
                return other("Java archive (JAR)")
            if "AndroidManifest.xml" in names:
                return other("Android package (APK)")
            return ZIP_CONTAINER
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError):
        return other("damaged ZIP archive")
    except RuntimeError:  # an encrypted member
        return other("encrypted ZIP archive")


def detect(file: BinaryIO) -> FileType:
    """The type of a complete, seekable file (both steps)."""
    file.seek(0)
    head = file.read(HEAD_BYTES)
    found = sniff(head)
    if found is ZIP_CONTAINER:
        file.seek(0)
        found = inspect_container(file)
    return found
