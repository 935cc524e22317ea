"""The hardened XML parser (CONTRACT sections 2 and 3): what it refuses, with which code, and
that refusing never fetches or reads anything a document names."""

import os
import resource
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

import pytest
from support.corpus import CORPUS

from gateway.codec.xml_parser import XmlRefused, check_encoding, parse
from gateway.standards.calendar import BusinessCalendar, CalendarSettings
from gateway.validation.pipeline import CheckSettings, check

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLES = PROJECT / "examples"
HOSTILE = CORPUS / "hostile-xml"
CALENDAR = BusinessCalendar(CalendarSettings())
RECEIVED_AT = datetime.fromisoformat("2026-11-23T14:05:00-05:00")
PADDING_BYTES = 70 * 1024
"""More than the parser's prolog scan (64 KiB): a DOCTYPE behind it must still be refused."""

DOCTYPE_FILES = [
    "cyclic.xml", "dtd.xml", "dtd_element.xml", "external.xml", "external_file.xml",
    "quadratic.xml", "xmlbomb.xml", "xmlbomb2.xml",
]
FOREIGN_FILES = [
    "simple.xml", "simple-ns.xml", "schema-include.xsd", "xalan_exec.xsl", "xalan_write.xsl",
]


def refusal(payload: bytes) -> list[tuple[str, int | None]]:
    """The (code, line) pairs of a refused document; fails the test when it is accepted."""
    with pytest.raises(XmlRefused) as refused:
        parse(payload)
    return [(item.code, item.line) for item in refused.value.problems]


def codes_of_check(payload: bytes, settings: CheckSettings | None = None) -> list[str]:
    checked = check(payload, settings=settings or CheckSettings(), sending=None,
                    received_at=RECEIVED_AT, calendar=CALENDAR)
    return [item.code for item in checked.problems]


@contextmanager
def listening_server() -> Iterator[tuple[str, socket.socket]]:
    """A TCP listener on a free loopback port; a connection attempt stays in its backlog."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", server
    finally:
        server.close()


def connection_arrived(server: socket.socket) -> bool:
    server.setblocking(False)
    try:
        connection, _ = server.accept()
    except BlockingIOError:
        return False
    connection.close()
    return True


@contextmanager
def watched_file(directory: Path) -> Iterator[tuple[Path, threading.Event]]:
    """A named pipe and an event set whenever anyone opens it for reading.

    Opening a pipe for writing without blocking succeeds only while a reader has it open, so a
    watcher that keeps trying sees every read attempt, and its open-and-close lets the reader
    go on (it reads end of file) instead of hanging the test.
    """
    path = directory / "secret.xml"
    os.mkfifo(path)
    opened = threading.Event()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                descriptor = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                stop.wait(0.001)
                continue
            opened.set()
            os.close(descriptor)

    watcher = threading.Thread(target=watch, name="fifo-watcher", daemon=True)
    watcher.start()
    try:
        yield path, opened
    finally:
        stop.set()
        watcher.join(timeout=5)


def billion_laughs(levels: int = 10) -> bytes:
    entities = ['<!ENTITY lol0 "lol">']
    for level in range(1, levels):
        entities.append(f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">')
    body = "\n".join(entities)
    return f"<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n{body}\n]>\n<lolz>&lol{levels - 1};</lolz>"\
        .encode()


# The hostile corpus


@pytest.mark.parametrize("name", DOCTYPE_FILES)
def test_hostile_doctype_files_are_refused_with_xml002(name: str) -> None:
    """Every DOCTYPE attack of the corpus is XML002, found before the content is parsed."""
    assert [code for code, _ in refusal((HOSTILE / name).read_bytes())] == ["XML002"]


@pytest.mark.parametrize("name", DOCTYPE_FILES)
def test_hostile_doctype_files_are_xml002_through_the_pipeline(name: str) -> None:
    """The pipeline reports the corpus' DOCTYPE files as XML002 alone."""
    assert codes_of_check((HOSTILE / name).read_bytes()) == ["XML002"]


@pytest.mark.parametrize("name", FOREIGN_FILES)
def test_hostile_foreign_files_are_refused_with_sch001(name: str) -> None:
    """Well-formed documents of another vocabulary (XSD, XSLT, plain XML) are SCH001."""
    assert codes_of_check((HOSTILE / name).read_bytes()) == ["SCH001"]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le"])
def test_utf16_and_utf32_without_a_byte_order_mark_are_xml001(encoding: str,
                                                               tmp_path: Path) -> None:
    """Without a byte order mark UTF-16 and UTF-32 look like ASCII with NUL bytes, and libxml2
    would read them by itself, DOCTYPE and external entities included (a file on disk read
    through a parameter entity): refused as not UTF-8 before any parsing."""
    secret = tmp_path / "secret.dtd"
    secret.write_text('<!ENTITY leak "read">', encoding="utf-8")
    text = f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY % x SYSTEM "{secret}"> %x;]>' \
           '<Declaration xmlns="urn:carm-gateway:message:1"/>'
    payload = text.encode(encoding)
    assert refusal(payload) == [("XML001", 1)]
    assert codes_of_check(payload) == ["XML001"]


def test_doctype_line_is_the_line_of_the_doctype() -> None:
    """The XML002 of a DOCTYPE names the line it starts on."""
    payload = (EXAMPLES / "invalid-xml002-doctype.xml").read_bytes()
    assert refusal(payload) == [("XML002", 4)]


def test_doctype_line_counts_lines_after_a_byte_order_mark() -> None:
    """A UTF-8 byte order mark does not shift the line reported for a DOCTYPE."""
    payload = b"\xef\xbb\xbf<!---->\n<!DOCTYPE a>\n<a/>"
    assert refusal(payload) == [("XML002", 2)]


# Nothing is fetched or read


def test_external_entity_over_http_is_refused_without_a_connection() -> None:
    """external.xml against a local server: XML002 and no connection is ever attempted."""
    with listening_server() as (url, server):
        payload = (HOSTILE / "external.xml").read_bytes().replace(
            b"http://www.w3schools.com/xml/note.xml", f"{url}/note.xml".encode()
        )
        assert f"{url}/note.xml".encode() in payload
        assert [code for code, _ in refusal(payload)] == ["XML002"]
        assert not connection_arrived(server)


def test_external_dtd_over_http_is_refused_without_a_connection() -> None:
    """A DOCTYPE naming an external DTD by URL is XML002; the DTD is never fetched."""
    with listening_server() as (url, server):
        payload = f'<!DOCTYPE a SYSTEM "{url}/a.dtd">\n<a/>'.encode()
        assert [code for code, _ in refusal(payload)] == ["XML002"]
        assert not connection_arrived(server)


def test_xinclude_over_http_is_refused_without_a_connection() -> None:
    """An XInclude element is XML002; what it points at is never fetched."""
    with listening_server() as (url, server):
        payload = (
            f'<a xmlns:xi="http://www.w3.org/2001/XInclude">\n'
            f'  <xi:include href="{url}/part.xml" parse="xml"/>\n</a>'
        ).encode()
        assert refusal(payload) == [("XML002", 2)]
        assert not connection_arrived(server)


def test_schema_imports_are_not_fetched() -> None:
    """schema-include.xsd with its imports on a local server: SCH001, no connection."""
    with listening_server() as (url, server):
        payload = (HOSTILE / "schema-include.xsd").read_bytes()
        payload = payload.replace(b"http://www.w3.org/2001/xml.xsd", f"{url}/xml.xsd".encode())
        payload = payload.replace(b"https://example.invalid/invalid.xsd", f"{url}/i.xsd".encode())
        assert codes_of_check(payload) == ["SCH001"]
        assert not connection_arrived(server)


def test_external_file_entity_does_not_read_the_file(tmp_path: Path) -> None:
    """external_file.xml naming a real file: XML002, and the file is never opened."""
    with watched_file(tmp_path) as (path, opened):
        payload = (HOSTILE / "external_file.xml").read_bytes().replace(
            b"file:///PATH/TO/xmltestdata/simple.xml", f"file://{path}".encode()
        )
        assert f"file://{path}".encode() in payload
        assert [code for code, _ in refusal(payload)] == ["XML002"]
    assert not opened.is_set()


def test_external_dtd_file_is_not_read(tmp_path: Path) -> None:
    """A DOCTYPE naming a local file as its external subset: XML002, the file is never opened."""
    with watched_file(tmp_path) as (path, opened):
        assert [code for code, _ in refusal(f'<!DOCTYPE a SYSTEM "{path}">\n<a/>'.encode())] \
            == ["XML002"]
    assert not opened.is_set()


def test_doctype_behind_a_long_prolog_is_still_refused() -> None:
    """A DOCTYPE after more than 64 KiB of comments is XML002 all the same (no DTD is parsed)."""
    padding = b"<!--" + b"x" * PADDING_BYTES + b"-->\n"
    payload = padding + b"<!DOCTYPE a [<!ELEMENT a (#PCDATA)>]>\n<a>text</a>"
    assert [code for code, _ in refusal(payload)] == ["XML002"]


def test_doctype_behind_a_long_prolog_reads_no_file(tmp_path: Path) -> None:
    """A long prolog must not open a way to make the parser read a local file."""
    padding = b"<!--" + b"x" * PADDING_BYTES + b"-->\n"
    with watched_file(tmp_path) as (path, opened):
        payload = padding + f'<!DOCTYPE a SYSTEM "{path}">\n<a/>'.encode()
        with suppress(XmlRefused):
            parse(payload)
    assert not opened.is_set(), "the parser opened the file named by the DOCTYPE"


def test_doctype_behind_a_long_prolog_makes_no_connection() -> None:
    """A long prolog must not open a way to make the parser fetch a URL."""
    padding = b"<!--" + b"x" * PADDING_BYTES + b"-->\n"
    with listening_server() as (url, server):
        with pytest.raises(XmlRefused):
            parse(padding + f'<!DOCTYPE a SYSTEM "{url}/a.dtd">\n<a/>'.encode())
        assert not connection_arrived(server)


def test_schema_location_is_ignored_not_fetched_not_rejected() -> None:
    """xsi:schemaLocation on a valid message: accepted as is, and the hint is never fetched."""
    original = (EXAMPLES / "declaration.xml").read_bytes()
    with listening_server() as (url, server):
        payload = original.replace(
            b'<Declaration xmlns="urn:carm-gateway:message:1">',
            b'<Declaration xmlns="urn:carm-gateway:message:1"'
            b' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
            b' xsi:schemaLocation="urn:carm-gateway:message:1 '
            + f'{url}/messages.xsd"'.encode() + b">",
        )
        assert payload != original
        assert codes_of_check(payload) == []
        assert not connection_arrived(server)


def test_stylesheet_processing_instruction_is_not_fetched() -> None:
    """An xml-stylesheet hint before a valid message is ignored: accepted, nothing fetched."""
    original = (EXAMPLES / "payment.xml").read_bytes()
    with listening_server() as (url, server):
        hint = f'<?xml-stylesheet type="text/xsl" href="{url}/style.xsl"?>\n'.encode()
        payload = original.replace(b"<Payment ", hint + b"<Payment ", 1)
        assert payload != original
        assert codes_of_check(payload) == []
        assert not connection_arrived(server)


# Entities


def test_billion_laughs_is_refused_quickly_without_memory_growth() -> None:
    """Ten levels of ten entities: XML002 at once; nothing is expanded."""
    before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    assert [code for code, _ in refusal(billion_laughs())] == ["XML002"]
    assert time.monotonic() - started < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kib < 64 * 1024


def test_undeclared_entity_reference_is_xml002() -> None:
    """A reference to an entity that no DTD declares is a forbidden construct, not XML001."""
    assert refusal(b"<a>\n  <b>&undeclared;</b>\n</a>") == [("XML002", 2)]


def test_predefined_entities_and_character_references_are_allowed() -> None:
    """The five predefined entities and character references are ordinary XML."""
    root = parse(b"<a>&amp;&lt;&gt;&quot;&apos; &#65;&#x42;&#233;</a>")
    assert root.text == "&<>\"' AB\u00e9"


def test_xinclude_element_is_xml002() -> None:
    """An XInclude element anywhere in the document is XML002 with its line."""
    payload = (
        b'<a xmlns:xi="http://www.w3.org/2001/XInclude">\n<b/>\n'
        b'<xi:include href="/etc/passwd" parse="text"/>\n</a>'
    )
    assert refusal(payload) == [("XML002", 3)]


# Encoding


@pytest.mark.parametrize("encoding", ["ISO-8859-1", "latin1", "UTF-16", "windows-1252", "ascii"])
def test_declared_non_utf8_encoding_is_xml001(encoding: str) -> None:
    """Only UTF-8 is accepted; another declared encoding is XML001 on line 1."""
    payload = f'<?xml version="1.0" encoding="{encoding}"?>\n<a/>'.encode()
    assert refusal(payload) == [("XML001", 1)]


@pytest.mark.parametrize("encoding", ["UTF-8", "utf-8", "utf8"])
def test_declared_utf8_is_accepted(encoding: str) -> None:
    """UTF-8 declared in any spelling, with or without a byte order mark, is accepted."""
    declaration = f"<?xml version='1.0' encoding='{encoding}'?>\n<a>\u00e9</a>".encode()
    assert parse(declaration).text == "\u00e9"
    assert parse(b"\xef\xbb\xbf" + declaration).text == "\u00e9"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_a_byte_order_mark_is_xml001(codec: str) -> None:
    """A UTF-16 document (byte order mark first) is XML001."""
    bom = {"utf-16": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[codec]
    payload = bom + '<?xml version="1.0"?><a/>'.encode(codec)
    assert refusal(payload) == [("XML001", 1)]
    assert check_encoding(payload) is not None


def test_invalid_utf8_bytes_are_xml001_on_their_line() -> None:
    """Bytes that are not UTF-8 are XML001, on the line where they are."""
    assert refusal(b"<a>\n<b>ok</b>\n<c>\xff\xfe</c>\n</a>") == [("XML001", 3)]


def test_latin1_bytes_without_a_declaration_are_xml001() -> None:
    """Undeclared Latin-1 text is not UTF-8: XML001."""
    assert [code for code, _ in refusal("<a>caf\u00e9</a>".encode("latin-1"))] == ["XML001"]


# Well-formedness and size


def test_not_well_formed_is_xml001_with_its_line() -> None:
    """A misspelt end tag is XML001 on the line of the error."""
    payload = (EXAMPLES / "invalid-xml001-not-well-formed.xml").read_bytes()
    assert refusal(payload) == [("XML001", 10)]


def test_empty_payload_is_xml001() -> None:
    """Nothing at all is not a document."""
    assert codes_of_check(b"") == ["XML001"]


def test_size_above_the_maximum_is_xml003_only() -> None:
    """One byte above max_message_bytes is XML003 and nothing else; at the maximum it passes."""
    payload = (EXAMPLES / "declaration.xml").read_bytes()
    assert codes_of_check(payload, CheckSettings(max_message_bytes=len(payload) - 1)) == [
        "XML003"
    ]
    assert codes_of_check(payload, CheckSettings(max_message_bytes=len(payload))) == []


def test_size_is_checked_before_forbidden_constructs() -> None:
    """A DOCTYPE document that is also too large is XML003 (stage 1 stops the rest)."""
    payload = (HOSTILE / "quadratic.xml").read_bytes()
    assert codes_of_check(payload, CheckSettings(max_message_bytes=1024)) == ["XML003"]


def test_forbidden_construct_is_reported_before_encoding() -> None:
    """A DOCTYPE in a document that also declares Latin-1 is XML002 (stage 2 before 3)."""
    payload = b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<!DOCTYPE a>\n<a/>'
    assert refusal(payload) == [("XML002", 2)]
