"""Text out of an uploaded file, chosen by its extension (as OpenAI does) and checked
against its content: plain text, Markdown, HTML, JSON and source code are decoded;
PDF through pypdf, DOCX through python-docx. Anything else, or a file that is not what
its name says, raises `ExtractionError` (the vector store file is `failed`, saying why).

Guards, because the bytes are a stranger's: a DOCX's declared unpacked size is summed
before anything is inflated (a zip bomb is refused unopened; `zipfile` never inflates a
member past its declared size), python-docx parses XML without entities, pypdf keeps its
own decompression limits and pages are capped, and the text kept is capped.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePosixPath
from typing import Literal

import orjson

ErrorCode = Literal["unsupported_file", "invalid_file", "server_error"]

_TEXT = {".txt", ".md", ".markdown", ".rst", ".text", ".csv", ".tsv", ".log", ".tex"}
_CODE = {
    ".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".css", ".go", ".java", ".js", ".mjs",
    ".jsx", ".ts", ".tsx", ".php", ".py", ".rb", ".rs", ".sh", ".bash", ".sql", ".swift",
    ".kt", ".scala", ".lua", ".pl", ".r", ".yaml", ".yml", ".toml", ".ini", ".xml",
}  # fmt: skip
_HTML = {".html", ".htm"}
_MAX_ZIP_MEMBERS = 10_000
SUPPORTED = sorted(_TEXT | _CODE | _HTML | {".json", ".pdf", ".docx"})


class ExtractionError(Exception):
    """The file cannot be turned into text: `code` as OpenAI's `last_error.code`."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Limits:
    max_text_chars: int = 20_000_000
    max_unzipped_bytes: int = 256 * 1024 * 1024
    max_pdf_pages: int = 5_000


def extract_text(data: bytes, filename: str, limits: Limits) -> str:
    """The file's text (blocking: call it in a worker thread)."""
    suffix = PurePosixPath(filename.lower()).suffix
    if suffix in _TEXT or suffix in _CODE:
        text = decode_text(data)
    elif suffix in _HTML:
        text = _html_text(decode_text(data))
    elif suffix == ".json":
        text = _json_text(data)
    elif suffix == ".pdf":
        text = _pdf_text(data, limits)
    elif suffix == ".docx":
        text = _docx_text(data, limits)
    else:
        shown = suffix or "(none)"
        raise ExtractionError(
            "unsupported_file",
            f"Files with extension {shown} are not supported for retrieval. Supported: "
            + ", ".join(SUPPORTED)
            + ".",
        )
    if len(text) > limits.max_text_chars:
        raise ExtractionError(
            "invalid_file",
            f"The file holds more than {limits.max_text_chars} characters of text.",
        )
    if not text.strip():
        raise ExtractionError("invalid_file", "The file contains no text to index.")
    return text


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with a BOM; else the encoding
    charset-normalizer finds. Bytes that are no text at all are refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = _guess_decode(data)
    if "\x00" in text:
        raise ExtractionError("invalid_file", "The file is binary, not text.")
    return text


def _guess_decode(data: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(data[: 1 << 20]).best()
    if best is None or best.encoding is None:
        raise ExtractionError("invalid_file", "The file is not text in a known encoding.")
    return data.decode(best.encoding, errors="replace")


def _json_text(data: bytes) -> str:
    text = decode_text(data)
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise ExtractionError("invalid_file", f"The file is not valid JSON: {error}.") from None
    return text


class _HtmlText(HTMLParser):
    """Visible text, with a line break at each block element; scripts and styles dropped."""

    _SKIP = frozenset({"script", "style", "noscript", "template", "head"})
    _BLOCK = frozenset({
        "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section",
        "article", "pre", "blockquote", "table", "ul", "ol", "hr", "title",
    })  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _html_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _pdf_text(data: bytes, limits: Limits) -> str:
    if not data.lstrip()[:5].startswith(b"%PDF-"):
        raise ExtractionError("invalid_file", "The file is not a PDF (no %PDF- header).")
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("invalid_file", "The PDF is encrypted with a password.")
        if len(reader.pages) > limits.max_pdf_pages:
            raise ExtractionError(
                "invalid_file", f"The PDF has more than {limits.max_pdf_pages} pages."
            )
        pages = [page.extract_text() or "" for page in reader.pages]
    except ExtractionError:
        raise
    except PyPdfError as error:
        raise ExtractionError("invalid_file", f"The PDF could not be read: {error}.") from None
    except Exception as error:  # malformed input trips pypdf in many ways: all a bad file
        raise ExtractionError("invalid_file", f"The PDF could not be read: {error!r}.") from None
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise ExtractionError(
            "invalid_file", "The PDF has no text layer (scanned pages need OCR first)."
        )
    return text


def _docx_text(data: bytes, limits: Limits) -> str:
    _check_zip(data, limits)
    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = Document(io.BytesIO(data))
    except PackageNotFoundError:
        raise ExtractionError("invalid_file", "The file is not a Word document.") from None
    except Exception as error:  # lxml's syntax errors, missing parts: a broken document
        raise ExtractionError("invalid_file", f"The DOCX could not be read: {error!r}.") from None
    blocks: list[str] = []
    for block in document.iter_inner_content():
        if hasattr(block, "rows"):  # a table: one line per row, cells tab-separated
            for row in block.rows:
                blocks.append("\t".join(cell.text for cell in row.cells))
        else:
            blocks.append(block.text)
    return "\n".join(blocks)


def _check_zip(data: bytes, limits: Limits) -> None:
    """A zip bomb is refused before anything is inflated: members and declared sizes."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile:
        raise ExtractionError("invalid_file", "The DOCX is not a valid zip package.") from None
    if len(members) > _MAX_ZIP_MEMBERS:
        raise ExtractionError("invalid_file", "The DOCX package has too many parts.")
    unpacked = sum(member.file_size for member in members)
    if unpacked > limits.max_unzipped_bytes:
        raise ExtractionError(
            "invalid_file",
            f"The DOCX would unpack to {unpacked} bytes, over the limit of "
            f"{limits.max_unzipped_bytes} (a zip bomb?).",
        )
