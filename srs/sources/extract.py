"""Read a source's bytes into blocks of text with their section and page. Pure: bytes in,
blocks out (pypdf for PDF, lxml for HTML and EPUB); a file we cannot read raises
ExtractionError with a message for the learner."""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass, field

from lxml import etree
from lxml import html as lxml_html

from srs.sources.models import SourceFormat

# A PDF whose pages average fewer characters of text than this has no text layer to speak of
# (a scan): it is refused rather than turned into empty passages.
MIN_CHARS_PER_PAGE = 20
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
# Elements whose text is a paragraph of its own (when no such element is inside them).
BLOCKS = {"p", "li", "pre", "blockquote", "td", "th", "dd", "dt", "figcaption", "caption"}
DROPPED = {
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "button",
    "iframe",
    "object",
}
MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
SECTION_CHARS = 300


class ExtractionError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Block:
    """A paragraph (or a page's text) and where it sits in the document."""

    text: str
    section: str | None = None
    page: int | None = None


@dataclass
class Document:
    blocks: list[Block]
    headings: list[str] = field(default_factory=list)  # in order, without repeats
    pages: int | None = None
    title: str | None = None


def format_of(filename: str, content_type: str | None = None) -> SourceFormat:
    """The format from the file name's extension, else from the content type."""
    name = filename.lower()
    by_extension = {
        ".pdf": SourceFormat.PDF,
        ".md": SourceFormat.MARKDOWN,
        ".markdown": SourceFormat.MARKDOWN,
        ".txt": SourceFormat.PLAIN,
        ".text": SourceFormat.PLAIN,
        ".html": SourceFormat.HTML,
        ".htm": SourceFormat.HTML,
        ".xhtml": SourceFormat.HTML,
        ".epub": SourceFormat.EPUB,
    }
    for extension, found in by_extension.items():
        if name.endswith(extension):
            return found
    kind = (content_type or "").split(";")[0].strip().lower()
    by_type = {
        "application/pdf": SourceFormat.PDF,
        "text/markdown": SourceFormat.MARKDOWN,
        "text/plain": SourceFormat.PLAIN,
        "text/html": SourceFormat.HTML,
        "application/xhtml+xml": SourceFormat.HTML,
        "application/epub+zip": SourceFormat.EPUB,
    }
    if kind in by_type:
        return by_type[kind]
    raise ExtractionError(
        f"{filename or 'This file'} is not a format we read: upload a PDF, Markdown, plain text, "
        "HTML or EPUB file"
    )


def extract(data: bytes, fmt: SourceFormat, max_pages: int) -> Document:
    if fmt is SourceFormat.PDF:
        document = read_pdf(data, max_pages)
    elif fmt is SourceFormat.EPUB:
        document = read_epub(data)
    else:
        text = _decode(data)
        if fmt is SourceFormat.HTML:
            document = read_html(text)
        elif fmt is SourceFormat.MARKDOWN:
            document = read_markdown(text)
        else:
            document = read_plain(text)
    if not any(block.text.strip() for block in document.blocks):
        raise ExtractionError("No text could be read from this source")
    return document


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            continue
        return text
    raise ExtractionError("The text is not UTF-8: save it as UTF-8 and upload it again")


def _clean(text: str) -> str:
    """Control characters out (they break XML prompts), runs of spaces folded."""
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", " ", text)
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    return re.sub(r"\n\s*\n\s*", "\n\n", text).strip()


def _heading(text: str) -> str:
    return " ".join(text.split())[:SECTION_CHARS]


def _unique(names: list[str]) -> list[str]:
    seen: set[str] = set()
    kept = []
    for name in names:
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            kept.append(name)
    return kept


# -- PDF -------------------------------------------------------------------------------------


def read_pdf(data: bytes, max_pages: int) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ExtractionError(
                "This PDF is encrypted (password-protected): upload a copy without protection"
            )
        count = len(reader.pages)
    except ExtractionError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as error:
        raise ExtractionError(f"This file is not a readable PDF ({error})") from None
    if count > max_pages:
        raise ExtractionError(f"This PDF has {count} pages; a source may have at most {max_pages}")
    sections = _pdf_sections(reader, count)
    blocks = []
    for number, page in enumerate(reader.pages, start=1):
        try:
            text = _clean(page.extract_text() or "")
        except Exception as error:  # noqa: BLE001  (pypdf raises many types on damaged pages)
            raise ExtractionError(f"Page {number} of this PDF cannot be read ({error})") from None
        blocks.append(Block(text=text, section=sections.get(number), page=number))
    if sum(len(b.text) for b in blocks) < MIN_CHARS_PER_PAGE * max(1, count):
        raise ExtractionError(
            "This PDF has almost no text layer (a scan?): run it through OCR first, or paste "
            "its text"
        )
    title = (reader.metadata.title if reader.metadata else None) or None
    headings = _unique([s for s in sections.values() if s])
    return Document(blocks=blocks, headings=headings, pages=count, title=title)


def _pdf_sections(reader, count: int) -> dict[int, str]:
    """Page number -> the outline (bookmark) entry in force on that page, top level first."""
    starts: list[tuple[int, str]] = []

    def walk(items, depth: int) -> None:
        for item in items:
            if isinstance(item, list):
                if depth < 1:
                    walk(item, depth + 1)
                continue
            try:
                page = reader.get_destination_page_number(item) + 1
            except Exception:  # noqa: BLE001, S112  (a bookmark to nowhere is only skipped)
                continue
            starts.append((page, _heading(str(item.title))))

    try:
        walk(reader.outline, 0)
    except Exception:  # noqa: BLE001  (a damaged outline: the pages still read, unlabelled)
        return {}
    starts.sort(key=lambda pair: pair[0])
    sections: dict[int, str] = {}
    current = None
    index = 0
    for page in range(1, count + 1):
        while index < len(starts) and starts[index][0] <= page:
            current = starts[index][1]
            index += 1
        if current:
            sections[page] = current
    return sections


# -- text formats ----------------------------------------------------------------------------


def _paragraphs(text: str) -> list[str]:
    return [p for p in (_clean(part) for part in re.split(r"\n\s*\n", text)) if p]


def read_plain(text: str) -> Document:
    return Document(blocks=[Block(p) for p in _paragraphs(text)])


def read_markdown(text: str) -> Document:
    blocks: list[Block] = []
    headings: list[str] = []
    section = None
    buffer: list[str] = []
    in_fence = False

    def flush() -> None:
        blocks.extend(Block(p, section) for p in _paragraphs("\n".join(buffer)))
        buffer.clear()

    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        match = None if in_fence else MARKDOWN_HEADING.match(line)
        if match and len(match.group(1)) <= 3:
            flush()
            section = _heading(match.group(2))
            headings.append(section)
        else:
            buffer.append(line)
    flush()
    return Document(
        blocks=blocks, headings=_unique(headings), title=headings[0] if headings else None
    )


def read_html(text: str) -> Document:
    try:
        root = lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError) as error:
        raise ExtractionError(f"This HTML cannot be read ({error})") from None
    return _html_document(root)


def _html_document(root) -> Document:
    title_element = root.find(".//title")
    title = _heading(title_element.text_content()) if title_element is not None else None
    for element in list(root.iter(*DROPPED)):
        element.drop_tree()
    body = root.find("body")
    body = body if body is not None else root
    blocks: list[Block] = []
    headings: list[str] = []
    section = None
    for element in body.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag in HEADINGS:
            name = _heading(element.text_content())
            if name and element.tag in {"h1", "h2", "h3"}:
                section = name
                headings.append(name)
        elif element.tag in BLOCKS and not any(
            isinstance(inner.tag, str) and inner.tag in BLOCKS | HEADINGS
            for inner in element.iterdescendants()
        ):
            paragraph = _clean(element.text_content())
            if paragraph:
                blocks.append(Block(paragraph, section))
    if not blocks:
        blocks = [Block(p) for p in _paragraphs(body.text_content())]
    return Document(blocks=blocks, headings=_unique(headings), title=title)


# -- EPUB (a zip of XHTML chapters in the order its package file's spine gives) ---------------

_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF = "{http://www.idpf.org/2007/opf}"
EPUB_MAX_CHAPTER_BYTES = 20 * 1024 * 1024


def read_epub(data: bytes) -> Document:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            container = etree.fromstring(book.read("META-INF/container.xml"), parser)
            rootfile = container.find(f".//{_CONTAINER}rootfile").get("full-path")
            package = etree.fromstring(book.read(rootfile), parser)
            base = posixpath.dirname(rootfile)
            manifest = {item.get("id"): item.get("href") for item in package.iter(f"{_OPF}item")}
            documents = []
            for itemref in package.iter(f"{_OPF}itemref"):
                href = manifest.get(itemref.get("idref"))
                if not href:
                    continue
                info = book.getinfo(posixpath.normpath(posixpath.join(base, href)))
                if info.file_size > EPUB_MAX_CHAPTER_BYTES:
                    raise ExtractionError("A chapter of this EPUB is too large to read")
                documents.append(
                    _html_document(
                        lxml_html.document_fromstring(book.read(info).decode("utf-8", "replace"))
                    )
                )
            title_element = package.find(".//{http://purl.org/dc/elements/1.1/}title")
    except ExtractionError:
        raise
    except (
        zipfile.BadZipFile,
        KeyError,
        AttributeError,
        etree.XMLSyntaxError,
        etree.ParserError,
        ValueError,
    ) as error:
        raise ExtractionError(f"This file is not a readable EPUB ({error})") from None
    blocks = [block for doc in documents for block in doc.blocks]
    headings = _unique([name for doc in documents for name in doc.headings])
    title = title_element.text if title_element is not None else None
    return Document(blocks=blocks, headings=headings, title=title)
