"""models/convert: the LlamaGen-DD re-implementations and the safe, checked loading of official checkpoints.

No official file is needed: checkpoints with the official structure are written here. Full-size (B, L) layouts
are checked on the 'meta' device and through files of zero-stride tensors (a few bytes each); anything that runs
uses the shallow variants (the same widths, 2 layers).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import math
import pickle

import pytest
import torch

from convert.checkpoints import (
    CheckpointNotFound,
    CheckpointUnreadable,
    LayoutMismatch,
    UnsafeCheckpoint,
    WeightsNotFound,
    load_model,
    read_checkpoint,
)
from convert.llamagen_arch import (
    LLAMAGEN_B,
    LLAMAGEN_B_SHALLOW,
    LLAMAGEN_L,
    VQ16,
    VQ16_TINY,
    LlamaGenDDStudent,
    LlamaGenTeacher,
    VQ16Decoder,
    assemble,
    expected_shapes,
    parameter_count,
    rope_2d,
    sample_dd,
)

from convert_helpers import fake_state, save

TRAIN_ARGS = argparse.Namespace(gpt_model="GPT-B", image_size=256, lr=1e-4, t_list=[0, 80])


# ---------------------------------------------------------------- layouts


def test_full_size_layouts_match_the_documented_ones():
    b, big = expected_shapes("student", LLAMAGEN_B), expected_shapes("student", LLAMAGEN_L)
    for shapes, dim, layers in ((b, 768, 12), (big, 1024, 24)):
        assert shapes["cls_embedding.embedding_table.weight"] == (1001, dim)
        assert shapes["tok_embeddings.weight"] == (dim, 8)
        assert shapes["tok_embeddings.bias"] == (dim,)
        assert shapes["output.weight"] == (16384, dim)
        assert shapes["final_layer_conti.scale_shift_table"] == (2, dim)
        assert shapes["final_layer_conti.linear.weight"] == (8, dim)
        assert shapes["final_layer_conti.linear.bias"] == (8,)
        assert shapes["n_d_embed.weight"] == (2, dim)
        assert shapes["norm.weight"] == (dim,)
        last = f"layers.{layers - 1}."
        assert shapes[last + "attention.wqkv.weight"] == (3 * dim, dim)
        assert shapes[last + "attention.wo.weight"] == (dim, dim)
        assert shapes[last + "attention_norm.weight"] == shapes[last + "ffn_norm.weight"] == (dim,)
        assert f"layers.{layers}.attention.wo.weight" not in shapes
        assert not any("freqs_cis" in k or "mask" in k for k in shapes)  # recomputed, never stored
    assert b["layers.0.feed_forward.w1.weight"] == (2048, 768)
    assert b["layers.0.feed_forward.w2.weight"] == (768, 2048)
    assert big["layers.0.feed_forward.w3.weight"] == (2816, 1024)
    assert round(parameter_count("student", LLAMAGEN_B) / 1e6, 1) == 98.3
    assert round(parameter_count("student", LLAMAGEN_L) / 1e6) == 326

    teacher = expected_shapes("teacher", LLAMAGEN_B)
    assert teacher["tok_embeddings.weight"] == (16384, 768)
    shared = set(teacher) - {"tok_embeddings.weight"}
    assert all(b[k] == teacher[k] for k in shared) and shared < set(b)

    vq = expected_shapes("vq", VQ16)
    assert vq["quantize.embedding.weight"] == (16384, 8)
    assert vq["post_quant_conv.weight"] == (256, 8, 1, 1)
    assert vq["decoder.conv_in.weight"] == (512, 256, 3, 3)
    assert vq["decoder.conv_out.weight"] == (3, 128, 3, 3)
    assert sum(k.startswith("decoder.conv_blocks.") and k.endswith(".upsample.conv.weight") for k in vq) == 4


def test_a_built_model_has_the_expected_layout():
    model = LlamaGenDDStudent(LLAMAGEN_B_SHALLOW, device="meta")
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == expected_shapes("student", LLAMAGEN_B_SHALLOW)
    full = expected_shapes("student", LLAMAGEN_B)
    assert all(full[k] == s for k, s in expected_shapes("student", LLAMAGEN_B_SHALLOW).items())


def test_rope_table_has_a_zero_class_row_and_row_column_halves():
    table = rope_2d(LLAMAGEN_B)
    assert table.shape == (257, 32, 2)
    assert torch.count_nonzero(table[0]) == 0
    r, c = 2, 5
    theta = 10000.0 ** (-2 * torch.arange(16, dtype=torch.float64) / 32)
    angles = torch.cat([r * theta, c * theta]).float()
    row = table[1 + r * 16 + c]
    assert torch.allclose(row[:, 0], torch.cos(angles), atol=1e-6)
    assert torch.allclose(row[:, 1], torch.sin(angles), atol=1e-6)


# ---------------------------------------------------------------- reading official-structure files


def test_full_size_checkpoints_are_accepted(tmp_path):
    student = save({"ema": fake_state("student", LLAMAGEN_B), "args": TRAIN_ARGS, "steps": 1000}, tmp_path / "llamagen-B.pt")
    # The argparse Namespace makes weights-only loading refuse the file: the fallback is announced.
    with pytest.warns(UserWarning, match="restricted unpickler"):
        ckpt = read_checkpoint(student, "student", LLAMAGEN_B)
    assert ckpt.weights_key == "ema" and ckpt.loader == "restricted-unpickler"
    assert "argparse.Namespace" in ckpt.notice
    assert ckpt.args == vars(TRAIN_ARGS)
    assert ckpt.sha256 == hashlib.sha256(student.read_bytes()).hexdigest()
    assert ckpt.provenance()["sha256"] == ckpt.sha256
    assert set(ckpt.state) == set(expected_shapes("student", LLAMAGEN_B))

    teacher = save({"model": fake_state("teacher", LLAMAGEN_L)}, tmp_path / "c2i_L_256.pt")
    ckpt = read_checkpoint(teacher, "teacher", LLAMAGEN_L)
    assert ckpt.loader == "weights-only" and ckpt.notice is None and ckpt.weights_key == "model"

    # The tokenizer's encoder side is in the file but not used: accepted and listed as ignored.
    vq_state = fake_state("vq", VQ16)
    vq_state.update(
        {
            "encoder.conv_in.weight": torch.zeros(()).expand(128, 3, 3, 3),
            "quant_conv.weight": torch.zeros(()).expand(8, 256, 1, 1),
            "quant_conv.bias": torch.zeros(()).expand(8),
            "quantize.codebook_used": torch.zeros(()).expand(65536),
        }
    )
    ckpt = read_checkpoint(save({"model": vq_state}, tmp_path / "vq_ds16_c2i.pt"), "vq", VQ16)
    assert ckpt.ignored_keys == ["encoder.conv_in.weight", "quant_conv.bias", "quant_conv.weight", "quantize.codebook_used"]

    # The documented fallbacks for the weights' top-level key, and the legacy (non-zip) format.
    ckpt = read_checkpoint(save({"model": fake_state("student", LLAMAGEN_B)}, tmp_path / "m.pt", legacy=True), "student", LLAMAGEN_B)
    assert ckpt.weights_key == "model"


@pytest.fixture(scope="module")
def b_state() -> dict[str, torch.Tensor]:
    return fake_state("student", LLAMAGEN_B)


def test_missing_key_is_named(tmp_path, b_state):
    state = {k: v for k, v in b_state.items() if k not in ("norm.weight", "layers.3.ffn_norm.weight")}
    path = save({"ema": state}, tmp_path / "missing.pt")
    with pytest.raises(LayoutMismatch) as info:
        read_checkpoint(path, "student", LLAMAGEN_B)
    assert sorted(info.value.missing) == ["layers.3.ffn_norm.weight", "norm.weight"]
    assert not info.value.extra and not info.value.mismatched
    assert str(path) in str(info.value) and "2 missing key(s)" in str(info.value) and "norm.weight" in str(info.value)


def test_extra_key_is_named(tmp_path, b_state):
    path = save({"ema": {**b_state, "layers.12.attention.wo.weight": torch.zeros(768, 768)}}, tmp_path / "extra.pt")
    with pytest.raises(LayoutMismatch, match=r"1 unexpected key\(s\): layers\.12\.attention\.wo\.weight") as info:
        read_checkpoint(path, "student", LLAMAGEN_B)
    assert info.value.extra == ["layers.12.attention.wo.weight"] and not info.value.missing


def test_wrong_shape_is_named_with_expected_and_got(tmp_path, b_state):
    state = {**b_state, "output.weight": torch.zeros(()).expand(16384, 1024)}
    path = save({"ema": state}, tmp_path / "shape.pt")
    with pytest.raises(LayoutMismatch, match=r"output\.weight: expected \[16384, 768\], got \[16384, 1024\]") as info:
        read_checkpoint(path, "student", LLAMAGEN_B)
    assert info.value.mismatched == [("output.weight", (16384, 768), (16384, 1024))]
    # A B file read as L: layers 12..23 are missing and every width-dependent shape differs; the first few are shown.
    with pytest.raises(LayoutMismatch, match="shape mismatch") as info:
        read_checkpoint(save({"ema": b_state}, tmp_path / "b.pt"), "student", LLAMAGEN_L)
    assert len(info.value.missing) == 12 * 7  # wqkv, wo, w1, w2, w3 and two norms per layer
    assert len(info.value.mismatched) == 12 * 7 + 8  # every width-dependent shape (linear.bias (8,) is the same)
    assert "and 76 more" in str(info.value)  # the missing keys beyond the first 8


def test_truncated_files_are_named(tmp_path, b_state):
    for legacy in (False, True):
        whole = save({"ema": b_state}, tmp_path / f"whole{legacy}.pt", legacy=legacy).read_bytes()
        cut = tmp_path / f"cut{legacy}.pt"
        cut.write_bytes(whole[: len(whole) // 2])
        with pytest.raises(CheckpointUnreadable, match="truncated or damaged") as info:
            read_checkpoint(cut, "student", LLAMAGEN_B)
        assert str(cut) in str(info.value)


def test_non_checkpoint_files_are_named(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("this is not a checkpoint\n")
    with pytest.raises(CheckpointUnreadable, match="not a PyTorch checkpoint"):
        read_checkpoint(text, "student", LLAMAGEN_B)
    import zipfile

    archive = tmp_path / "archive.pt"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(CheckpointUnreadable, match="no data.pkl"):
        read_checkpoint(archive, "student", LLAMAGEN_B)
    with pytest.raises(CheckpointNotFound):
        read_checkpoint(tmp_path / "absent.pt", "student", LLAMAGEN_B)
    # torch 1.13's weights-only loading refuses floats outside tensors: the restricted reader takes over.
    with pytest.warns(UserWarning), pytest.raises(WeightsNotFound, match="'optimizer'"):
        read_checkpoint(save({"optimizer": {"lr": 1.0}}, tmp_path / "opt.pt"), "student", LLAMAGEN_B)


class Payload:
    """Stands for arbitrary code in a pickle: the loader must refuse to build it, and never call it."""

    built = False

    def __reduce__(self):
        return (_mark_built, ())


def _mark_built():
    Payload.built = True
    return None


def test_objects_outside_the_allowed_set_are_refused(tmp_path):
    path = save({"ema": {"norm.weight": torch.zeros(2)}, "extra": Payload()}, tmp_path / "payload.pt")
    with pytest.raises(UnsafeCheckpoint, match="_mark_built"):
        read_checkpoint(path, "student", LLAMAGEN_B)
    assert not Payload.built
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps({"ema": Payload()}, protocol=2))  # a bare pickle, not torch.save's format
    with pytest.raises(UnsafeCheckpoint, match="_mark_built"):
        read_checkpoint(raw, "student", LLAMAGEN_B)
    # The legacy format is read by weights-only loading alone: training arguments there are refused too.
    legacy = save({"ema": {"norm.weight": torch.zeros(2)}, "args": TRAIN_ARGS}, tmp_path / "legacy.pt", legacy=True)
    with pytest.raises(UnsafeCheckpoint, match="legacy format and holds argparse.Namespace"):
        read_checkpoint(legacy, "student", LLAMAGEN_B)
    assert not Payload.built


def test_restricted_reader_rebuilds_tensors_like_torch_load(tmp_path):
    from convert.checkpoints import load_checkpoint_file

    g = torch.Generator().manual_seed(0)
    base = torch.randn(6, 5, generator=g)
    state = {
        "half": torch.randn(3, 4, generator=g).half(),
        "bf16": torch.randn(4, generator=g).bfloat16(),
        "ids": torch.arange(7),
        "flags": torch.tensor([True, False]),
        "base": base,
        "view": base[2:, 1:3],  # shares base's storage, with an offset and strides
        "transposed": base.t(),
        "param": torch.nn.Parameter(torch.randn(2, 2, generator=g)),
        "empty": torch.zeros(0, 3),
    }
    path = save({"ema": state, "args": TRAIN_ARGS, "step": 5, "lr": 0.5, "names": ("a", "b")}, tmp_path / "mix.pt")
    with pytest.warns(UserWarning, match="restricted unpickler"):
        obj, loader, _ = load_checkpoint_file(path)
    assert loader == "restricted-unpickler"
    assert obj["args"] == TRAIN_ARGS and obj["step"] == 5 and obj["lr"] == 0.5 and obj["names"] == ("a", "b")
    for key, value in state.items():
        got = obj["ema"][key]
        assert got.dtype == value.dtype and got.shape == value.shape and torch.equal(got, value.detach()), key
    assert obj["ema"]["view"].data_ptr() != obj["ema"]["base"].data_ptr()  # a view into the same storage
    assert obj["ema"]["view"].storage().data_ptr() == obj["ema"]["base"].storage().data_ptr()


# ---------------------------------------------------------------- running the shallow variants


@pytest.fixture(scope="module")
def student_file(tmp_path_factory):
    torch.manual_seed(0)
    model = LlamaGenDDStudent(LLAMAGEN_B_SHALLOW).eval()
    with torch.no_grad():  # non-trivial values for the parts that start at zero or one
        model.final_layer_conti.scale_shift_table.normal_(std=0.1)
        model.n_d_embed.weight.normal_(std=0.5)
    path = tmp_path_factory.mktemp("student") / "llamagen-B-shallow.pt"
    save({"ema": model.state_dict(), "args": TRAIN_ARGS}, path)
    return model, path


def inputs(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 256, 8, generator=g), torch.tensor([0, 40]), torch.tensor([3, 1000])


def test_student_forward_is_deterministic_with_documented_shapes(student_file):
    model, path = student_file
    with pytest.warns(UserWarning, match="restricted unpickler"):
        loaded, ckpt = load_model(path, "student", LLAMAGEN_B_SHALLOW)
    x, t, classes = inputs()
    with torch.no_grad():
        logits, latents = loaded(x, t, classes)
        again = loaded(x, t, classes)
        original = model(x, t, classes)
    assert logits.shape == (2, 256, 16384) and latents.shape == (2, 256, 8)
    assert torch.equal(logits, again[0]) and torch.equal(latents, again[1])
    assert torch.equal(logits, original[0]) and torch.equal(latents, original[1])
    assert torch.isfinite(logits).all() and torch.isfinite(latents).all()


def test_student_is_causal_and_sees_the_noise_data_flag(student_file):
    model, _ = student_file
    x, _, classes = inputs()
    zero = torch.zeros(2, dtype=torch.long)
    with torch.no_grad():
        base = model(x, zero, classes)
        changed = x.clone()
        changed[:, 100] += 1.0
        moved = model(changed, zero, classes)
        flagged = model(x, torch.full((2,), 50), classes)
    for a, b in zip(base, moved):
        assert torch.equal(a[:, :100], b[:, :100]) and not torch.allclose(a[:, 100:], b[:, 100:])
    assert not torch.allclose(base[1], flagged[1])


def test_points_settled_against_the_official_code(student_file):
    """The continuous head reads the last block's output (only the logits go through the final RMSNorm), and the
    noise/data embedding marks the class slot and the clean prefix j < t as data."""
    model, _ = student_file
    x, _, classes = inputs()
    t = torch.full((2,), 40)
    with torch.no_grad():
        logits, latents = model(x, t, classes)
        renormed = copy.deepcopy(model)
        renormed.norm.weight.mul_(3.0)
        logits3, latents3 = renormed(x, t, classes)
        noise_row = copy.deepcopy(model)
        noise_row.n_d_embed.weight[0] += 1.0
        moved = noise_row(x, t, classes)
    assert torch.allclose(logits3, 3 * logits, rtol=1e-4, atol=1e-4) and torch.equal(latents3, latents)
    # Outputs j < t see only the class slot and tokens < t (all data), so the noise row leaves them alone.
    for a, b in zip((logits, latents), moved):
        assert torch.equal(a[:, :40], b[:, :40]) and not torch.allclose(a[:, 40:], b[:, 40:])


def test_forced_prefix_assembly_and_two_step_sampling(student_file):
    model, _ = student_file
    codebook = torch.nn.functional.normalize(torch.randn(16384, 8, generator=torch.Generator().manual_seed(2)), dim=-1)
    eps, _, classes = inputs(3)
    prefix_ids = torch.randint(0, 16384, (2, 256), generator=torch.Generator().manual_seed(4))
    t = torch.tensor([0, 40])
    x = torch.where((torch.arange(256) < t[:, None])[..., None], codebook[prefix_ids], eps)
    with torch.no_grad():
        logits, latents = model.forward_forced(x, t, classes, codebook)
    assert torch.equal(logits[1, :40].argmax(-1), prefix_ids[1, :40])
    assert torch.equal(latents[1, :40], x[1, :40])
    ids, out = assemble(logits, latents, 80, codebook)
    assert torch.equal(out[:, :80], codebook[ids[:, :80]]) and torch.equal(out[:, 80:], latents[:, 80:])

    ids1, out1 = sample_dd(model, eps, classes, [0], LLAMAGEN_B.split_t, codebook)
    ids2, out2 = sample_dd(model, eps, classes, [0, 80], LLAMAGEN_B.split_t, codebook)
    assert ids2.shape == (2, 256) and out2.shape == (2, 256, 8)
    assert torch.equal(ids2[:, :80], ids1[:, :80]) and torch.equal(out2[:, :80], out1[:, :80])
    again = sample_dd(model, eps, classes, [0, 80], LLAMAGEN_B.split_t, codebook)
    assert torch.equal(again[1], out2)


def test_teacher_forward_shapes():
    torch.manual_seed(0)
    teacher = LlamaGenTeacher(LLAMAGEN_B_SHALLOW).eval()
    with torch.no_grad():
        first = teacher(torch.zeros(2, 0, dtype=torch.long), torch.tensor([1, 1000]))
        logits = teacher(torch.randint(0, 16384, (2, 255)), torch.tensor([1, 1000]))
    assert first.shape == (2, 1, 16384) and logits.shape == (2, 256, 16384)
    assert torch.allclose(first, logits[:, :1], atol=1e-4)  # causal: slot 0 sees only the class


def test_vq_decoder_round_trip_and_decode(tmp_path):
    torch.manual_seed(0)
    vq = VQ16Decoder(VQ16_TINY).eval()
    state = {**vq.state_dict(), "encoder.conv_in.weight": torch.zeros(32, 3, 3, 3), "quantize.codebook_used": torch.zeros(65536)}
    loaded, ckpt = load_model(save({"model": state}, tmp_path / "vq.pt"), "vq", VQ16_TINY)
    assert ckpt.ignored_keys == ["encoder.conv_in.weight", "quantize.codebook_used"]
    book = loaded.codebook()
    assert torch.allclose(book.norm(dim=-1), torch.ones(64), atol=1e-6)
    ids = torch.randint(0, 64, (2, 16), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        images = loaded.decode_ids(ids)
        same = vq.decode_latents(book[ids])
    side = 4 * 2 ** (len(VQ16_TINY.ch_mult) - 1)
    assert images.shape == (2, 3, side, side) and torch.equal(images, same)
    assert math.isfinite(images.abs().max().item())
