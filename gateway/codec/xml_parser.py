"""The hardened XML parser: no DTD, no entities, no network, no XInclude, UTF-8 only.

Refusals happen in the contract's order of stages: forbidden constructs (XML002) are found by a
scan of the prolog before any content is parsed; well-formedness and encoding (XML001) next.
"""

import re
import threading

from lxml import etree

from gateway.validation.problems import Problem, problem

XINCLUDE_NAMESPACE = "http://www.w3.org/2001/XInclude"
_XINCLUDE_BYTES = XINCLUDE_NAMESPACE.encode("ascii")

_PROLOG_DECLARATION = re.compile(rb"<\?xml\s[^>]*?\?>", re.DOTALL)
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class XmlRefused(Exception):
    """The document is refused before or while parsing; `problems` says why."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].text)
        self.problems = problems


_PARSERS = threading.local()


def _parser() -> etree.XMLParser:
    """The hardened parser, one per thread (an lxml parser serves one thread at a time).

    Comments and processing instructions are dropped while parsing: the schema ignores
    them, and without them an element's `text` is all of its text and its children are
    elements only. So is the whitespace between elements, which no element of the schema
    may hold as content: a smaller tree to build, validate and walk (an element whose
    content is only whitespace keeps it)."""
    parser: etree.XMLParser | None = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = _new_parser()
    return parser


def _new_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        remove_comments=True,
        remove_pis=True,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        collect_ids=False,
        remove_blank_text=True,
    )


def _doctype_offset(payload: bytes) -> int | None:
    """Offset of a `<!DOCTYPE` in the prolog (before the root element), if any."""
    position = 0
    limit = len(payload)  # the whole prolog: the payload is already bounded by the size limit
    while position < limit:
        if payload[position] in b" \t\r\n":
            position += 1
        elif payload.startswith(b"<?", position):
            end = payload.find(b"?>", position + 2)
            position = limit if end < 0 else end + 2
        elif payload.startswith(b"<!--", position):
            end = payload.find(b"-->", position + 4)
            position = limit if end < 0 else end + 3
        elif payload.startswith((b"<!DOCTYPE", b"<!ENTITY"), position):
            return position
        else:
            return None
    return None


def _line_at(payload: bytes, offset: int) -> int:
    return payload.count(b"\n", 0, offset) + 1


def check_encoding(payload: bytes) -> Problem | None:
    """XML001 unless the document is UTF-8 (declared or by default) and decodes as such."""
    if payload.startswith(_UTF16_BOMS):
        return problem("XML001", "the document is UTF-16; only UTF-8 is accepted", line=1)
    body = payload.removeprefix(_UTF8_BOM)
    declaration = _PROLOG_DECLARATION.match(body)
    if declaration:
        encoding = _ENCODING.search(declaration[0])
        if encoding and encoding[1].decode("ascii").lower() not in ("utf-8", "utf8"):
            declared = encoding[1].decode("ascii")
            text = f"declared encoding {declared}; only UTF-8 is accepted"
            return problem("XML001", text, line=1)
    nul = body.find(b"\x00")
    if nul >= 0:  # never in XML; UTF-16 or UTF-32 without a byte order mark is full of them
        text = f"NUL byte at byte {nul}: not UTF-8 (UTF-16 or UTF-32 without a byte order mark?)"
        return problem("XML001", text, line=_line_at(body, nul))
    if body.isascii():  # ASCII is UTF-8, and is checked many times faster
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        line = _line_at(body, error.start)
        return problem("XML001", f"invalid UTF-8 at byte {error.start}", line=line)
    return None


def parse(payload: bytes) -> etree._Element:
    """Parse a document under the hardened rules, or raise XmlRefused."""
    body = payload.removeprefix(_UTF8_BOM)
    doctype = _doctype_offset(body)
    if doctype is not None:
        line = _line_at(body, doctype)
        raise XmlRefused([problem("XML002", "DOCTYPE or entity declaration", line=line)])
    encoding_problem = check_encoding(payload)
    if encoding_problem is not None:
        raise XmlRefused([encoding_problem])
    try:
        root = etree.fromstring(payload, _parser())
    except etree.XMLSyntaxError as error:
        raise XmlRefused([_syntax_problem(error)]) from None
    if root is None:
        raise XmlRefused([problem("XML001", "empty document", line=1)])
    if b"&" in payload or _XINCLUDE_BYTES in payload:
        _refuse_inclusions(root)
    return root


def _refuse_inclusions(root: etree._Element) -> None:
    """XML002 for an XInclude element or an entity reference node. Only documents with an
    `&` or the XInclude namespace can have either, so the others skip this walk."""
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith("{" + XINCLUDE_NAMESPACE + "}"):
            text = "XInclude is not allowed"
            raise XmlRefused([problem("XML002", text, line=source_line(element))])
        if isinstance(element, etree._Entity):
            text = f"entity reference &{element.name}; is not allowed"
            raise XmlRefused([problem("XML002", text, line=source_line(element))])


def source_line(element: etree._Element) -> int | None:
    line = element.sourceline
    return line if isinstance(line, int) else None


def _syntax_problem(error: etree.XMLSyntaxError) -> Problem:
    message = str(error.msg or error)
    line = error.lineno if isinstance(error.lineno, int) else None
    if "Entity" in message and "not defined" in message:
        return problem("XML002", message, line=line)
    return problem("XML001", message, line=line)
