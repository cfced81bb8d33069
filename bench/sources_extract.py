"""How fast a PDF source is read and split: a reportlab PDF of N pages (tests/support/pdfs.py),
extracted with pypdf and split into passages, timed over a few runs.

    PYTHONPATH=. python bench/sources_extract.py [pages] [runs]
"""

from __future__ import annotations

import io
import statistics
import sys
import time

from pypdf import PdfReader

from srs.sources.extract import extract
from srs.sources.models import SourceFormat
from srs.sources.passages import split
from tests.support import pdfs


def main() -> None:
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    data = pdfs.book(pages)
    times, floor = [], []
    for _ in range(runs):
        started = time.perf_counter()
        reader = PdfReader(io.BytesIO(data))
        for page in reader.pages:
            page.extract_text()
        floor.append(time.perf_counter() - started)
        started = time.perf_counter()
        document = extract(data, SourceFormat.PDF, max_pages=10_000)
        passages = split(document.blocks, 1500)
        times.append(time.perf_counter() - started)
    best = min(times)
    print(f"{pages} pages, {len(data)} bytes, {len(passages)} passages: "
          f"median {statistics.median(times):.3f} s, best {best:.3f} s, "
          f"{pages / best:.0f} pages/s; pypdf's extract_text alone (baseline) best "
          f"{min(floor):.3f} s: ratio {best / min(floor):.2f}")


if __name__ == "__main__":
    main()
