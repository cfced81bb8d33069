"""PDFs made in the tests with reportlab (a text layer, bookmarks), and pypdf (encryption)."""

from __future__ import annotations

import io

from tests.support.cards import COUNTRIES

PAGES_PER_CHAPTER = 10


def fact(page: int) -> tuple[str, str, str]:
    """Page N's fact: (front, back, the sentence that states it)."""
    country, city = COUNTRIES[(page - 1) % len(COUNTRIES)]
    return f"What is the capital of {country}?", city, f"The capital of {country} is {city}."


def chapter(page: int) -> str:
    return f"Chapter {(page - 1) // PAGES_PER_CHAPTER + 1}"


def book(pages: int = 30) -> bytes:
    """One fact a page, a few lines of text around it, and a bookmark per chapter."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    pdf.setTitle("A small atlas")
    for page in range(1, pages + 1):
        if (page - 1) % PAGES_PER_CHAPTER == 0:
            key = f"ch{page}"
            pdf.bookmarkPage(key)
            pdf.addOutlineEntry(chapter(page), key, level=0)
        _front, _back, sentence = fact(page)
        lines = [
            f"{chapter(page)}, page {page}.",
            sentence,
            f"This page is number {page} of the atlas and tells one thing only.",
            "Travellers reach it by train, by road or by air.",
        ]
        y = 780
        for line in lines:
            pdf.drawString(72, y, line)
            y -= 18
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def scanned(pages: int = 3) -> bytes:
    """Pages of drawings and no text layer, as a scanner makes them."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    for _ in range(pages):
        pdf.rect(72, 500, 300, 200, fill=1)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def encrypted(pages: int = 2) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(book(pages))))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
