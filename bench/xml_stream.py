"""Cost of parsing a model's reply, which runs on the event loop: 10 MB fed in 4 KB chunks.

    .venv/bin/python bench/xml_stream.py [--baseline PATH/TO/old/xml_stream.py] [--mb 10]

Three replies: cards as models write them (some `<`, `&`, entities), the worst case for the
escaper (every other character is `<`, `&` or `>`), and endless prose with no card (the
parser gives up at its prose bound). The baseline is another version of the parser module,
e.g. main's, loaded from its file and timed in the same run.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._machine import machine

CHUNK = 4096


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _replies(size: int) -> dict[str, str]:
    card = (
        "  <card>\n    <front>Question {i}: is a < b && c > d in x<y, caf&eacute;?</front>\n"
        "    <back>Answer {i}: "
        + "lorem ipsum dolor sit amet " * 20
        + "&amp; more</back>\n  </card>\n"
    )
    cards, total, i = [], 0, 0
    while total < size:
        text = card.format(i=i)
        cards.append(text)
        total += len(text)
        i += 1
    return {
        "cards": "Here you go:\n```xml\n<cards>\n" + "".join(cards) + "</cards>\n```",
        "dense markup": "<cards><card><front>" + "a<&>" * (size // 4),
        "endless prose": "Let me think about this. " * (size // 25),
    }


def _time(module: ModuleType, text: str, bounded: bool) -> tuple[float, int, float]:
    """(CPU seconds, cards, the 99th percentile of one chunk's CPU seconds). CPU time, not
    wall time: the machine is shared, and this is what the event loop pays. The bounds are
    lifted when asked, so that the whole text is parsed."""
    limits = {"max_card_chars": 1 << 40, "max_prose_chars": 1 << 40} if not bounded else {}
    try:
        parser = module.CardStreamParser(max_field_chars=10**9, **limits)
    except TypeError:  # a version without bounds
        parser = module.CardStreamParser(max_field_chars=10**9)
    cards, per_chunk = 0, []
    for start in range(0, len(text), CHUNK):
        before = time.process_time()
        cards += len(parser.feed(text[start : start + CHUNK]))
        per_chunk.append(time.process_time() - before)
    before = time.process_time()
    cards += len(parser.close())
    per_chunk.append(time.process_time() - before)
    per_chunk.sort()
    return sum(per_chunk), cards, per_chunk[int(len(per_chunk) * 0.99)]


def main() -> None:
    options = argparse.ArgumentParser()
    options.add_argument(
        "--baseline", type=Path, help="another xml_stream.py to time beside this one"
    )
    options.add_argument("--mb", type=float, default=10.0)
    args = options.parse_args()
    versions = {
        "this branch": _load(Path(__file__).parents[1] / "srs/generation/xml_stream.py", "xs_new")
    }
    if args.baseline:
        versions["baseline"] = _load(args.baseline, "xs_baseline")
    print(f"# {machine()}; {args.mb:g} MB per reply, {CHUNK} character chunks")
    print("| reply | version | bounds | CPU s | MB/s | p99 chunk ms | cards |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for reply, text in _replies(int(args.mb * 1_000_000)).items():
        for name, module in versions.items():
            for bounded in (False, True) if name == "this branch" else (False,):
                seconds, cards, worst = _time(module, text, bounded)
                print(
                    f"| {reply} | {name} | {'on' if bounded else 'off'} | {seconds:.2f} "
                    f"| {len(text) / seconds / 1e6:.1f} | {worst * 1000:.2f} | {cards} |"
                )


if __name__ == "__main__":
    main()
