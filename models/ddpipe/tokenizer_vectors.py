"""Write the shared word-tokenizer test vectors, models/spec/tokenizer-vectors.json.

Run from models/:  /usr/bin/python3 -m ddpipe.tokenizer_vectors          (writes the file)
                   /usr/bin/python3 -m ddpipe.tokenizer_vectors --check  (exit 1 if the file differs)

A small fixed vocabulary and prompts chosen for the places where Python and JavaScript could disagree: NFKD
compatibility forms (ligatures, full-width and mathematical letters, the Kelvin sign), which marks count as
combining (canonical combining class above 0, not the same as \\p{M}), lower case, emoji sequences, other scripts,
and the length limit. test/unit/tokenizer.test.ts checks main/engine/text/tokenizer.ts against every vector and
models/tests/test_tokenizer_vectors.py checks that the committed file is what this module writes now.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .noise_vectors import render
from .spec_files import spec_main
from .text import SPECIAL_TOKENS, Tokenizer, normalize_words

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "spec" / "tokenizer-vectors.json"
MAX_TOKENS = 8  # BOS and 7 words

# Caption-like words, roughly most frequent first as build_tokenizer orders them, plus the pieces that the edge
# cases below split into ("stra" and "e" of "straße", "ab" and "cd" around a mark).
WORDS = (
    "face", "cat", "red", "heart", "smiling", "apple", "noto", "twemoji", "fluent", "flat",
    "3d", "a", "in", "style", "emoji", "grinning", "with", "eyes", "dog", "green",
    "blue", "star", "fish", "cafe", "pizza", "sun", "moon", "1", "2", "x2",
    "kg", "k", "tm", "dz", "ij", "stra", "e", "ab", "cd", "abcd",
)  # fmt: skip

# (what the case is about, prompt): escapes where the character itself would be invisible or ambiguous.
PROMPTS = (
    ("empty", ""),
    ("only spaces", "   "),
    ("only an emoji", "\U0001f600"),
    ("only emoji", "\U0001f600\U0001f431\u2605"),
    ("emoji between words, no spaces", "red\U0001f600apple"),
    ("accent, upper case", "Caf\u00e9"),
    ("decomposed accents", "ca\u0301fe\u0300 ca\u0327t"),
    ("upper case", "RED APPLE Face"),
    ("digits", "Fluent 3D heart"),
    ("punctuation", "cat, dog! face? (red) apple..."),
    ("hyphen and underscore separate", "red-apple_face"),
    ("tabs and newlines", "cat\tdog\nface\r\nred"),
    ("unknown words", "a dragn with blu eyes"),
    ("the same unknown word twice", "dragn dragn cat"),
    ("special token names are plain text", "<unk> <pad> <bos>"),
    ("exactly the limit", "noto red apple face with smiling eyes"),
    ("over the limit", "a red cat face with smiling eyes in noto style"),
    ("over the limit, repeated word", "apple apple apple apple apple apple apple apple apple"),
    ("sharp s is not a letter here: it separates", "Stra\u00dfe"),
    ("ligatures", "\ufb01sh \ufb00 \u0133 \u01c5"),
    ("ae ligature is not decomposed: it separates", "\u00c6ble cat"),
    ("CJK", "\u732b cat \u732b\u732b"),
    ("Hangul decomposes into jamo, still not a-z", "\ud55c\uad6d face"),
    ("ZWJ emoji sequence", "\U0001f468\u200d\U0001f469\u200d\U0001f467 face"),
    ("ZWJ between words", "cat\u200dface"),
    ("skin tone modifier", "\U0001f44d\U0001f3fd heart"),
    ("keycaps keep their digit", "1\ufe0f\u20e3 2\ufe0f\u20e3"),
    ("spacing mark U+0903 (class 0) separates", "ab\u0903cd"),
    ("acute U+0301 (class 230) is removed", "ab\u0301cd"),
    ("keycap U+20E3 (enclosing, class 0) separates", "ab\u20e3cd"),
    ("variation selector U+FE0F (class 0) separates", "ab\ufe0fcd"),
    ("U+0345 (class 240) is removed", "ab\u0345cd"),
    ("U+1D165 (class 216, outside the BMP) is removed", "ab\U0001d165cd"),
    ("Kelvin sign and full-width K", "\u212a \uff2b"),
    ("compatibility digits and units", "x\u00b2 \u00bd \u2460 \u338f \u2122"),
    ("full-width words, ideographic space", "\uff32\uff25\uff24\u3000\uff41\uff50\uff50\uff4c\uff45"),
    ("no-break spaces", "\u00a0red\u00a0apple\u00a0"),
    ("mathematical bold", "\U0001d411\U0001d41e\U0001d41d apple"),
    ("dotted capital I", "\u0130stanbul cat"),
    ("Greek with final sigma", "\u03a3\u0391\u03a3 cat"),
    ("star symbol", "\u2605 star \u2605"),
)


def build_vectors() -> dict:
    tokenizer = Tokenizer(tuple(SPECIAL_TOKENS) + WORDS, MAX_TOKENS)
    return {
        "generatedBy": "cd models && /usr/bin/python3 -m ddpipe.tokenizer_vectors",
        "tokenizer": tokenizer.to_json(),
        "vectors": [
            {"case": case, "prompt": prompt, "words": normalize_words(prompt), "ids": tokenizer.encode(prompt)}
            for case, prompt in PROMPTS
        ],
    }


def main(argv: list[str] | None = None) -> int:
    return spec_main(
        argv, __doc__.splitlines()[0], DEFAULT_PATH, "ddpipe.tokenizer_vectors", lambda: render(build_vectors())
    )


if __name__ == "__main__":
    sys.exit(main())
