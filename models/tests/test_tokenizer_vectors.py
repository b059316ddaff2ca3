"""The shared word-tokenizer vectors from the Python side: the committed file is what the generator writes now,
and it still says what models/ddpipe/text.py does (the TypeScript side is test/unit/tokenizer.test.ts).

Run from the repository root: /usr/bin/python3 -m pytest models/tests/test_tokenizer_vectors.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parent.parent
if str(MODELS) not in sys.path:
    sys.path.insert(0, str(MODELS))

from ddpipe.noise_vectors import render  # noqa: E402
from ddpipe.text import BOS, NULL, PAD, UNK, Tokenizer, normalize_words  # noqa: E402
from ddpipe.tokenizer_vectors import DEFAULT_PATH, build_vectors  # noqa: E402

VECTORS = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
TOKENIZER = Tokenizer.from_json(VECTORS["tokenizer"])


def test_committed_vectors_are_current():
    # If this fails after an intended change: cd models && /usr/bin/python3 -m ddpipe.tokenizer_vectors
    assert DEFAULT_PATH.read_text(encoding="utf-8") == render(build_vectors())


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["case"])
def test_vector(vector):
    assert normalize_words(vector["prompt"]) == vector["words"]
    assert TOKENIZER.encode(vector["prompt"]) == vector["ids"]


def test_vectors_cover_the_edges():
    max_tokens = VECTORS["tokenizer"]["maxTokens"]
    vectors = VECTORS["vectors"]
    assert all(len(v["ids"]) == max_tokens for v in vectors)
    assert any(v["ids"][0] == NULL and v["prompt"] for v in vectors)  # text without words is the null prompt
    assert any(len(v["words"]) == max_tokens - 1 for v in vectors)  # exactly the limit
    assert any(len(v["words"]) > max_tokens - 1 for v in vectors)  # cut off
    assert any(UNK in v["ids"] for v in vectors)
    assert any(ord(ch) > 0xFFFF for v in vectors for ch in v["prompt"])  # surrogate pairs on the JavaScript side
    for v in vectors:
        body = v["ids"][1 : 1 + len(v["words"])]
        assert v["ids"][0] == (BOS if v["words"] else NULL)
        assert v["ids"][1 + len(body) :] == [PAD] * (max_tokens - 1 - len(body))


def test_tokenizer_file_round_trips():
    assert Tokenizer.from_json(TOKENIZER.to_json()) == TOKENIZER
