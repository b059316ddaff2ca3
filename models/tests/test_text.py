"""Text conditioning: captions, the word tokenizer, the text-conditioned teacher and student, and the smoke text
pack built end to end (export and evaluation included)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import MODELS

from ddpipe.config import load_config
from ddpipe.student import student_from_teacher
from ddpipe.teacher import build_teacher, judge_classes, sample_ar
from ddpipe.text import BOS, NULL, PAD, UNK, TextSpec, Tokenizer, build_captions, build_tokenizer, normalize_words

REPO = MODELS.parent
SMOKE_TEXT_WORK = MODELS / ".cache" / "work" / "smoke-text"
SMOKE_TEXT_PACK = MODELS / ".cache" / "packs" / "smoke-text"


def test_words_are_normalised_to_lower_case_ascii_words():
    assert normalize_words("  Café, NOTO-style: 3D  cat!  ") == ["cafe", "noto", "style", "3d", "cat"]
    assert normalize_words("😀 ★ 猫") == []
    assert normalize_words("ﬁsh") == ["fish"]  # NFKD splits the ligature


def test_encoding_adds_bos_pads_truncates_and_marks_unknown_words():
    tok = build_tokenizer(["red apple", "cat face", "red cat"], max_tokens=5)
    ids = tok.ids
    assert tok.encode("Red APPLE") == [BOS, ids["red"], ids["apple"], PAD, PAD]
    assert tok.encode("red dragon") == [BOS, ids["red"], UNK, PAD, PAD]
    assert tok.encode("red cat face apple red") == [BOS, ids["red"], ids["cat"], ids["face"], ids["apple"]]
    assert tok.encode("") == [NULL, PAD, PAD, PAD, PAD]
    assert tok.encode("😀!!") == [NULL, PAD, PAD, PAD, PAD]


def test_the_vocabulary_is_ordered_by_frequency_then_alphabetically():
    tok = build_tokenizer(["b a", "b c", "b a"], max_tokens=4)
    assert list(tok.words[4:]) == ["b", "a", "c"]
    again = Tokenizer.from_json(json.loads(json.dumps(tok.to_json())))
    assert again == tok


def test_captions_carry_style_name_keywords_and_category():
    captions = build_captions(["grinning-face"], np.array([2]), np.array([0]), ["fluent-flat", "fluent-3d", "noto", "twemoji"], ["Smileys & Emotion"], REPO)
    assert captions.annotated == 1
    assert captions.prompt(0, 1) == "noto grinning face"
    full = captions.prompt(0, 5)
    assert full.startswith("noto grinning face ") and full.endswith(" smileys emotion")
    assert "cheerful" in full.split()  # a CLDR keyword (six at most per caption)


def tiny_text_teacher(max_tokens: int = 6):
    cfg = load_config(MODELS / "configs" / "smoke-text.json")
    spec = TextSpec(vocab=20, max_tokens=max_tokens, layers=1, heads=2, word_dropout=0.0, n_prompts=3)
    torch.manual_seed(0)
    teacher = build_teacher(cfg, 64, 3, 8, spec)
    teacher.prompt_table.copy_(torch.tensor([[BOS, 5, 6, PAD, PAD, PAD], [BOS, 7, PAD, PAD, PAD, PAD], [BOS, 8, 9, 10, 11, 12], [NULL] + [PAD] * 5]))
    teacher.prompt_class.copy_(torch.tensor([4, 0, 35]))
    return cfg, teacher.eval()


def test_text_teacher_steps_match_teacher_forcing():
    cfg, teacher = tiny_text_teacher()
    tokens = torch.randint(0, 64, (4, 64), generator=torch.Generator().manual_seed(1))
    conditions = torch.tensor([0, 1, 2, 3])
    with torch.no_grad():
        full = teacher(tokens, conditions)
        logits, past = teacher.step(None, conditions, 0, None)
        assert torch.allclose(logits, full[:, 0], atol=1e-5)
        for pos in range(1, 6):
            logits, past = teacher.step(tokens[:, pos - 1], conditions, pos, past)
            assert torch.allclose(logits, full[:, pos], atol=1e-5)
        # The cached sampler (prefill + one slot per token) picks what teacher forcing scores.
        import dataclasses

        greedy = dataclasses.replace(cfg, mapping=dataclasses.replace(cfg.mapping, cfg_scale=1.0, top_k=0))
        ids = sample_ar(teacher, conditions, greedy, lambda p, _pos: p.argmax(-1), stop=8)
        assert torch.equal(teacher(torch.cat([ids, torch.zeros(4, 56, dtype=torch.long)], 1), conditions)[:, :8].argmax(-1), ids)


def test_padding_slots_are_zero_and_the_null_prompt_has_no_class():
    _, teacher = tiny_text_teacher()
    cond = teacher.condition(torch.tensor([1]))
    assert cond[0, 2:].abs().max() == 0 and cond[0, :2].abs().max() > 0
    assert judge_classes(teacher, torch.tensor([0, 2, 3])).tolist() == [4, 35, -1]


def test_text_student_reads_the_teachers_frozen_encoder_without_word_dropout():
    _, teacher = tiny_text_teacher()
    teacher.text_encoder.word_dropout = 0.5
    book = torch.nn.functional.normalize(torch.randn(64, 8), dim=-1)
    student = student_from_teacher(teacher, book).train()
    assert not student.text_encoder.training
    assert all(not p.requires_grad for p in student.text_encoder.parameters())
    conditions = torch.tensor([0, 1, 2])
    with torch.no_grad():
        a = student.condition(conditions)
        b = student.condition(conditions)
        assert torch.equal(a, b)
        assert torch.allclose(a, teacher.eval().condition(conditions), atol=1e-6)
        x = torch.randn(3, 64, 8)
        t = torch.tensor([0, 32, 0])
        assert torch.equal(student.eval()(x, t, conditions)[0], student.forward_cond(x, t, a)[0])


@pytest.fixture(scope="session")
def smoke_text_build(smoke_build):
    """The smoke text pack (reuses the smoke pack's dataset, VQ, tokens and classifier), built and evaluated."""
    from ddpipe.common import setup_torch
    from ddpipe.pipeline import build, run_eval

    if not (SMOKE_TEXT_PACK / "eval.json").exists():
        setup_torch()
        build("smoke-text", None, SMOKE_TEXT_PACK, SMOKE_TEXT_WORK, "teacher", None)
        run_eval("smoke-text", None, SMOKE_TEXT_PACK, SMOKE_TEXT_WORK, MODELS / ".cache" / "eval" / "smoke-text", None)
    return SMOKE_TEXT_WORK, SMOKE_TEXT_PACK


def test_smoke_text_pack_has_the_text_graphs_tokenizer_and_fixtures(smoke_text_build):
    from ddpipe.export import verify_pack_files

    _, pack = smoke_text_build
    verify_pack_files(pack)
    manifest = json.loads((pack / "manifest.json").read_text())
    assert manifest["conditioning"]["kind"] == "text"
    assert manifest["conditioning"]["maxTokens"] == 8
    assert len(manifest["conditioning"]["examplePrompts"]) > 10
    assert set(manifest["graphs"]) == {"textEncoder", "generator", "decoder", "teacherPrefill", "teacherStep"}
    assert any(entry["package"] == "emojibase-data" for entry in manifest["licenses"])
    tokenizer = Tokenizer.from_json(json.loads((pack / "tokenizer.json").read_text()))
    assert tokenizer.max_tokens == 8
    parity = json.loads((pack / "parity.json").read_text())
    assert {"text_encoder", "teacher_prefill", "teacher_step", "generator", "decoder", "sampling"} <= set(parity)
    rows = parity["sampling"]["student"]["promptIds"]
    assert all(len(row) == 8 for row in rows) and rows[-1][0] == NULL


def test_smoke_text_eval_reports_modes_and_the_heldout_pairs(smoke_text_build):
    _, pack = smoke_text_build
    results = json.loads((pack / "eval.json").read_text())
    assert set(results["modes"]) == {"teacher_ar", "teacher_exact", "dd_1step", "dd_2step", "hybrid"}
    for row in results["modes"].values():
        assert 0 <= row["style_accuracy"] <= 1 and 0 <= row["category_accuracy"] <= 1
    held = results["heldout_style_concept"]
    assert held["prompts"] > 0 and held["prompts"] == held["control_prompts"]
    assert set(held["modes"]["dd_1step"]) == {"heldout", "control"}


def test_heldout_pairs_never_reach_training_or_the_pairs(smoke_text_build):
    from ddpipe.pipeline import Context
    from ddpipe.text import TEMPLATES
    from ddpipe.text_data import heldout_images

    work, _ = smoke_text_build
    cfg = load_config(MODELS / "configs" / "smoke-text.json")
    ctx = Context(cfg, work, Path("/nonexistent"))
    data = ctx.dataset()
    held = heldout_images(cfg, data)
    assert held.sum() > 0
    pairs = np.load(work / "pairs" / "pairs.npz")
    images = pairs["classes"] // len(TEMPLATES)
    assert not held[images].any()
    assert not ctx.val_mask(len(data))[images].any()
