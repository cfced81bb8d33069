"""Reading files: a PDF's pages and bookmarks, and clear refusals for encrypted, scanned and
oversized PDFs, and for files of other kinds."""

from __future__ import annotations

import io
import zipfile

import pytest

from srs.sources.extract import ExtractionError, extract, format_of
from srs.sources.models import SourceFormat
from tests.support import pdfs


def test_a_pdf_gives_one_block_a_page_under_its_chapter():
    document = extract(pdfs.book(12), SourceFormat.PDF, max_pages=100)
    assert document.pages == 12 and len(document.blocks) == 12
    assert document.headings == ["Chapter 1", "Chapter 2"]
    assert [b.page for b in document.blocks] == list(range(1, 13))
    assert document.blocks[10].section == "Chapter 2"
    assert "The capital of Norway is Oslo." in document.blocks[8].text
    assert document.title == "A small atlas"


@pytest.mark.parametrize(
    "data, message",
    [
        (pdfs.encrypted(), "encrypted"),
        (pdfs.scanned(), "OCR"),
        (b"%PDF-1.4 this is not really a pdf", "not a readable PDF"),
    ],
)
def test_pdfs_we_cannot_read_are_refused_clearly(data, message):
    with pytest.raises(ExtractionError, match=message):
        extract(data, SourceFormat.PDF, max_pages=100)


def test_a_pdf_with_too_many_pages_is_refused():
    with pytest.raises(ExtractionError, match="at most 5"):
        extract(pdfs.book(6), SourceFormat.PDF, max_pages=5)


def test_formats_come_from_the_name_or_the_content_type():
    assert format_of("notes.MD") is SourceFormat.MARKDOWN
    assert format_of("page", "text/html; charset=utf-8") is SourceFormat.HTML
    with pytest.raises(ExtractionError, match="not a format we read"):
        format_of("slides.pptx", "application/octet-stream")


def test_text_that_is_not_utf8_is_refused():
    with pytest.raises(ExtractionError, match="UTF-8"):
        extract("caf\u00e9".encode("latin-1"), SourceFormat.PLAIN, max_pages=1)


def test_an_epub_reads_its_chapters_in_spine_order():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:
        book.writestr("mimetype", "application/epub+zip")
        book.writestr(
            "META-INF/container.xml",
            '<container xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="OEBPS/book.opf"/></rootfiles></container>',
        )
        book.writestr(
            "OEBPS/book.opf",
            '<package xmlns="http://www.idpf.org/2007/opf"><metadata '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Tiny</dc:title>'
            '</metadata><manifest><item id="a" href="one.xhtml"/>'
            '<item id="b" href="two.xhtml"/></manifest>'
            '<spine><itemref idref="b"/><itemref idref="a"/></spine></package>',
        )
        book.writestr("OEBPS/one.xhtml", "<html><body><h1>One</h1><p>First.</p></body></html>")
        book.writestr("OEBPS/two.xhtml", "<html><body><h1>Two</h1><p>Second.</p></body></html>")
    document = extract(out.getvalue(), SourceFormat.EPUB, max_pages=1)
    assert document.title == "Tiny" and document.headings == ["Two", "One"]
    assert [b.text for b in document.blocks] == ["Second.", "First."]
