"""The embedded model's generation speed under the card grammar: llama.cpp's own grammar
sampler (every token of the vocabulary checked at every step) against the service's
(`srs.llm.local._grammar`: the 256 likeliest tokens first, the whole vocabulary only when none
fits), in the same run, on the same prompt and seeds.

Reports per seed and way: tokens a second after the first token, the cards written, whether
the text is well-formed card XML, and whether both ways wrote the same text.

    .venv/bin/python bench/grammar_speed.py [--topic "Capitals of European countries"] [--seeds 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _machine import machine

from srs.generation import prompts
from srs.llm.local import QWEN, LocalProvider, _answer_sharpener, _grammar, _new_llama

CARDS = r"<cards>\n(<card><front>[^<>&\n]+</front><back>[^<>&\n]+</back></card>\n)+(</cards>)?"


def llama_cpp_grammar(llama, gbnf: str):
    from llama_cpp.llama_grammar import LlamaGrammar

    return LlamaGrammar.from_string(gbnf, verbose=False)


def generate(llama, request, seed: int, service_grammar: bool) -> tuple[str, float]:
    """The text and its tokens a second, with either grammar (the service's sampling else)."""
    llama.reset()  # both ways evaluate the whole prompt: only generation is timed
    processors = [_answer_sharpener(llama, request.temperature, QWEN.answer_temperature)]
    grammar = None
    if service_grammar:
        processors.append(_grammar(llama, request.grammar))
    else:
        grammar = llama_cpp_grammar(llama, request.grammar)
    chunks = llama.create_chat_completion(
        messages=[{"role": "system", "content": request.system},
                  {"role": "user", "content": request.user}],
        max_tokens=request.max_tokens, temperature=request.temperature,
        repeat_penalty=QWEN.repeat_penalty, grammar=grammar,
        logits_processor=[p for p in processors if p], stream=True, seed=seed,
    )
    text, tokens, first = "", 0, None
    for chunk in chunks:
        if delta := chunk["choices"][0]["delta"].get("content"):
            text, tokens = text + delta, tokens + 1
            first = first or time.perf_counter()
    return text, (tokens - 1) / (time.perf_counter() - first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", default="Capitals of European countries")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=400, help="max_tokens of each reply")
    args = parser.parse_args()
    provider = LocalProvider()
    llama = _new_llama(str(provider._weights()), 4096, provider.threads)
    request = prompts.build_request(args.topic, 3, 10, [], max_tokens=args.tokens, temperature=0.7)
    print(f"machine: {machine()}; model {provider.model}, {provider.threads} threads")
    print(f"topic: {args.topic}; a batch of 10 asked, at most {args.tokens} tokens, temperature 0.7")
    print("| seed | grammar | tokens/s | cards | well-formed | same text |")
    print("|---|---|---|---|---|---|")
    speeds: dict[bool, list[float]] = {False: [], True: []}
    for seed in range(1, args.seeds + 1):
        texts = {}
        for service in (False, True):
            texts[service], speed = generate(llama, request, seed, service)
            speeds[service].append(speed)
            name = "the service's (256 first)" if service else "llama.cpp's (whole vocabulary)"
            same = "" if not service else ("yes" if texts[True] == texts[False] else "no")
            well_formed = re.fullmatch(CARDS, texts[service]) is not None
            print(f"| {seed} | {name} | {speed:.1f} | {texts[service].count('</card>')} | "
                  f"{well_formed} | {same} |")
    ratio = statistics.median(speeds[True]) / statistics.median(speeds[False])
    print(f"median tokens/s: llama.cpp's {statistics.median(speeds[False]):.1f}, the service's "
          f"{statistics.median(speeds[True]):.1f} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
