"""Hostile PDFs made on the fly: slow to parse, or a decompression bomb."""

from __future__ import annotations

import zlib
from pathlib import Path


def pdf_with_content(stream: bytes, *, filtered: bool = True) -> bytes:
    """A one-page PDF whose content stream is ``stream`` (already Flate-compressed if ``filtered``),
    with a correct cross-reference table."""
    filt = b"/Filter /FlateDecode " if filtered else b""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< " + filt + b"/Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def slow_pdf(path: Path, operators: int = 300_000) -> Path:
    """A ~20 KB PDF whose page holds ``operators`` text-drawing operators: pypdf needs
    about 10 s per 200,000 of them to extract its text (measured on a 2-core machine)."""
    content = b"BT /F1 12 Tf " + b"1 0 0 1 10 10 Tm (x) Tj " * operators + b"ET"
    path.write_bytes(pdf_with_content(zlib.compress(content, 9)))
    return path


def flate_bomb_pdf(path: Path, mebibytes: int = 1024) -> Path:
    """A ~1 MB PDF whose content stream inflates to ``mebibytes`` MiB of spaces."""
    packer = zlib.compressobj(9)
    block = b" " * (1 << 20)
    parts = [packer.compress(b"BT /F1 12 Tf (bomb) Tj ET\n")]
    parts += [packer.compress(block) for _ in range(mebibytes)]
    parts.append(packer.flush())
    path.write_bytes(pdf_with_content(b"".join(parts)))
    return path
