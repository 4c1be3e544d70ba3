"""Type detection from content: the accepted formats, and the look-alikes that must be refused
(told apart by their members or brands, never by a name)."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest

from coordinator.submissions import samples, types


def detect(data: bytes) -> types.FileType:
    return types.detect(io.BytesIO(data))


@pytest.mark.parametrize(
    "data, code",
    [
        (samples.pdf(["Slides"]), "pdf"),
        (samples.png(), "png"),
        (samples.jpeg(), "jpeg"),
        (samples.mp4(), "mp4"),
        (samples.ooxml("pptx"), "pptx"),
        (samples.ooxml("docx"), "docx"),
        (samples.ooxml("xlsx"), "xlsx"),
        (samples.odp(), "odp"),
    ],
)
def test_accepted_formats_are_recognised(data, code):
    found = detect(data)
    assert found.accepted and found.code == code
    assert found.extension and found.mime != "application/octet-stream"


@pytest.mark.parametrize(
    "data, label",
    [
        (samples.ooxml("pptm"), "macro-enabled PowerPoint presentation (PPTM)"),
        (samples.ooxml("ppsx"), "PowerPoint slide show (PPSX)"),
        (samples.odf("application/vnd.oasis.opendocument.text"), "OpenDocument text (ODT)"),
        (samples.odf("application/epub+zip"), "EPUB e-book"),
        (samples.plain_zip(), "ZIP archive"),
        (samples.ooxml("pptx")[:300], "damaged ZIP archive"),
        (b"Just some notes\n", "plain text"),
        (b"<!DOCTYPE html><html></html>", "HTML document"),
        (b"MZ\x90\x00" + bytes(60), "Windows executable"),
        (b"\x7fELF\x02\x01\x01" + bytes(60), "executable (ELF)"),
        (b"GIF89a" + bytes(20), "GIF image"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(50),
            "legacy Microsoft Office document (.ppt/.doc/.xls)",
        ),
        (struct.pack(">I", 20) + b"ftypqt  " + bytes(8), "QuickTime movie"),
        (struct.pack(">I", 24) + b"ftypheic" + bytes(12), "HEIC image"),
        (bytes(range(256)) * 4, "unknown binary data"),
    ],
)
def test_other_content_is_named_and_refused(data, label):
    found = detect(data)
    assert not found.accepted
    assert found.label == label


def test_a_pptx_is_recognised_by_its_main_part_not_its_member_names():
    # The members of a PPTX, but the content types say it is a Word document.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types><Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr("word/document.xml", "<doc/>")
        archive.writestr("ppt/presentation.xml", "<p/>")
    assert detect(out.getvalue()).code == "docx"


def test_an_ooxml_package_whose_main_part_is_missing_is_damaged():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types><Override ContentType="application/vnd.openxmlformats-officedocument.'
            'presentationml.presentation.main+xml" PartName="/ppt/presentation.xml"/></Types>',
        )
    found = detect(out.getvalue())
    assert not found.accepted and "damaged" in found.label


def test_an_mp4_with_another_major_brand_is_recognised_by_its_compatible_brands():
    box = b"ftyp" + b"XYZ1" + bytes(4) + b"mp42isom"
    data = struct.pack(">I", len(box) + 4) + box + bytes(100)
    assert detect(data).code == "mp4"


def test_the_sniffer_decides_from_the_head_alone_except_for_zip_containers():
    assert types.sniff(samples.pdf("x")[:64]) is types.PDF
    assert types.sniff(samples.ooxml("pptx")[:64]) is types.ZIP_CONTAINER
    assert types.sniff(b"").label == "empty file"


def test_a_compressed_bomb_in_content_types_is_read_only_up_to_the_limit():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types>" + " " * (50 * 2**20) + "</Types>")
    assert len(out.getvalue()) < 2**20  # 50 MiB of blanks compress to little
    found = detect(out.getvalue())
    assert found.label == "Office Open XML package of an unknown kind"
