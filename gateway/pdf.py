"""A minimal PDF writer: pages of monospaced text, enough for a statement a person reads.

Standard Type 1 font (Courier), so nothing is embedded; WinAnsi encoding, so accented Latin
letters print; every page A4 portrait.
"""

from collections.abc import Sequence

PAGE_WIDTH_PT = 595
PAGE_HEIGHT_PT = 842
MARGIN_PT = 50
FONT_SIZE_PT = 9
LEADING_PT = 11.5
LINES_PER_PAGE = int((PAGE_HEIGHT_PT - 2 * MARGIN_PT) // LEADING_PT)


def _escape(text: str) -> bytes:
    encoded = text.encode("cp1252", "replace")
    return encoded.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _page_stream(lines: Sequence[str], bold_first: bool) -> bytes:
    parts = [b"BT", f"{MARGIN_PT} {PAGE_HEIGHT_PT - MARGIN_PT} Td".encode(),
             f"{LEADING_PT} TL".encode()]
    for index, line in enumerate(lines):
        font = "/F2" if bold_first and index == 0 else "/F1"
        parts.append(f"{font} {FONT_SIZE_PT} Tf".encode())
        parts.append(b"(" + _escape(line) + b") Tj T*")
    parts.append(b"ET")
    return b"\n".join(parts)


def text_pdf(lines: Sequence[str], title: str) -> bytes:
    """The lines, split over as many pages as they need; the first line of each page bold."""
    pages = [list(lines[i:i + LINES_PER_PAGE]) for i in range(0, len(lines), LINES_PER_PAGE)]
    pages = pages or [[]]
    objects: list[bytes] = []
    page_ids = [5 + 2 * index for index in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{page_id} 0 R" for page_id in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier "
                   b"/Encoding /WinAnsiEncoding >>")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier-Bold "
                   b"/Encoding /WinAnsiEncoding >>")
    for index, page in enumerate(pages):
        stream = _page_stream(page, bold_first=True)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH_PT} {PAGE_HEIGHT_PT}] "
            f"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {page_ids[index] + 1}"
            " 0 R >>".encode()
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream
                       + b"\nendstream")
    objects.append(b"<< /Title (" + _escape(title) + b") /Producer (carm-gateway) >>")
    info_id = len(objects)
    output = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(output))
        output += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(output)
    output += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        output += f"{offset:010d} 00000 n \n".encode()
    output += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info_id} 0 R >>\n"
               f"startxref\n{xref}\n%%EOF\n").encode()
    return bytes(output)
