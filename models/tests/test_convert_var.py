"""models/convert: the VAR-DD re-implementations (var_arch.py) and the safe, checked loading of official VAR files.

No official file is needed: files with the official structure are written here. Full-size (d16, d20, d24) layouts
are checked on the 'meta' device and through files of zero-stride tensors (a few bytes each); anything that runs
uses depth 2 (VAR_D2_TEST) and the narrow VQVAE (VAE_TINY).
"""

from __future__ import annotations

import argparse
import warnings
import zipfile
from collections import OrderedDict

import pytest
import torch
from torch.nn import functional as F

from convert.checkpoints import (
    BufferMismatch,
    CheckpointUnreadable,
    LayoutMismatch,
    UnsafeCheckpoint,
    WeightsNotFound,
    load_model,
    read_checkpoint,
)
from convert.llamagen_arch import LLAMAGEN_B
from convert.var_arch import (
    PATCH_NUMS,
    VAE,
    VAE_TINY,
    VAR_D2_TEST,
    VAR_D16,
    VAR_D16_SHALLOW,
    VAR_D20,
    VAR_D24,
    VARDDStudent,
    VARTeacher,
    VARVQVAE,
    ScaleResampler,
    assemble,
    attention_mask,
    expected_shapes,
    guided_logits,
    parameter_count,
    phi_index,
    recomputed_buffers,
    sample_dd,
    scale_starts,
)
from convert.var_pack import load_checked, write_test_checkpoints

from convert_helpers import fake_state, save

CFG = VAR_D2_TEST
STARTS = scale_starts()
# The student files' training arguments (floats) make torch 1.13's weights-only loading refuse them; the restricted
# reader then takes over and says so (asserted once below).
pytestmark = pytest.mark.filterwarnings("ignore:.*restricted unpickler")


def params_only(state: dict, kind: str, cfg) -> dict:
    skip = set(recomputed_buffers(kind, cfg))
    return {k: v for k, v in state.items() if k not in skip}


def student_file(state: dict, **trainer) -> dict:
    """The layout of VAR's training checkpoints, as the official VAR-DD files have it."""
    return {
        "epoch": 250,
        "iter": 0,
        "trainer": {"config": {"patch_nums": PATCH_NUMS, "prog_it": 0}, "ema_parameters": state, **trainer},
        "args": OrderedDict(depth=16, t_list="0,5", loss_split_t=5, tblr=1e-4, ema=True),
    }


# ---------------------------------------------------------------- layouts


def test_full_size_layouts_match_the_official_ones():
    for cfg, c, depth in ((VAR_D16, 1024, 16), (VAR_D20, 1280, 20), (VAR_D24, 1536, 24)):
        s = expected_shapes("student", cfg)
        assert cfg.heads == depth and cfg.width == c == 64 * depth
        assert s["pos_start"] == (1, 1, c) and s["pos_1LC"] == (1, 681, c)
        assert s["word_embed.weight"] == (c, 32) and s["word_embed.bias"] == (c,)
        assert s["class_emb.weight"] == (1001, c) and s["lvl_embed.weight"] == (11, c)
        last = f"blocks.{depth - 1}."
        assert s[last + "attn.mat_qkv.weight"] == (3 * c, c)
        assert s[last + "attn.q_bias"] == s[last + "attn.v_bias"] == (c,)
        assert s[last + "attn.scale_mul_1H11"] == (1, depth, 1, 1)
        assert s[last + "attn.proj.weight"] == (c, c) and s[last + "attn.proj.bias"] == (c,)
        assert s[last + "ffn.fc1.weight"] == (4 * c, c) and s[last + "ffn.fc2.weight"] == (c, 4 * c)
        assert s[last + "ada_lin.1.weight"] == (6 * c, c) and s[last + "ada_lin.1.bias"] == (6 * c,)
        assert s["head_nm.ada_lin.1.weight"] == (2 * c, c) and s["head.weight"] == (4096, c)
        assert s["n_d_embed.weight"] == (2, c)
        assert s[f"layerwise_n_d_embed.{depth}.weight"] == (c, c) and f"layerwise_n_d_embed.{depth + 1}.weight" not in s
        assert s["final_layer_conti.linear.weight"] == (32, c) and s["final_layer_conti.scale_shift_table"] == (2, c)
        assert f"blocks.{depth}.attn.proj.weight" not in s and not any("shared_ada_lin" in k for k in s)
        # The recomputed buffers: the level of each of the 681 positions, the mask, the zero key biases.
        assert s["lvl_1L"] == (1, 681) and s["attn_bias_for_masking"] == (1, 1, 681, 681)
        assert s[last + "attn.zero_k_bias"] == (c,)

        t = expected_shapes("teacher", cfg)
        assert t["pos_1LC"] == (1, 680, c) and t["lvl_embed.weight"] == (10, c) and t["lvl_1L"] == (1, 680)
        assert not any(k.startswith(("n_d_embed", "layerwise_n_d_embed", "final_layer_conti")) for k in t)
        assert all(s[k] == t[k] for k in t if k not in ("pos_1LC", "lvl_embed.weight", "lvl_1L", "attn_bias_for_masking"))

    # VAR-DD's README: 635M (d20) and 1.09B (d24) parameters (it gives 327M for d16, which counts 328.2M here, the
    # d20 and d24 counts agreeing to the digit); VAR's zoo: 310M, 600M and 1.0B for the teachers.
    assert round(parameter_count("student", VAR_D16) / 1e6, 1) == 328.2
    assert round(parameter_count("student", VAR_D20) / 1e6) == 635
    assert round(parameter_count("student", VAR_D24) / 1e9, 2) == 1.09
    assert [round(parameter_count("teacher", c) / 1e6) for c in (VAR_D16, VAR_D20, VAR_D24)] == [310, 601, 1033]

    v = expected_shapes("vae", VAE)
    assert v["quantize.embedding.weight"] == (4096, 32)
    assert [v[f"quantize.quant_resi.qresi_ls.{i}.weight"] for i in range(4)] == [(32, 32, 3, 3)] * 4
    assert v["post_quant_conv.weight"] == (32, 32, 3, 3)
    assert v["decoder.conv_in.weight"] == (640, 32, 3, 3) and v["decoder.conv_out.weight"] == (3, 160, 3, 3)
    assert v["decoder.mid.attn_1.qkv.weight"] == (1920, 640, 1, 1)
    assert v["decoder.up.4.block.2.conv2.weight"] == (640, 640, 3, 3) and "decoder.up.4.attn.2.qkv.weight" in v
    assert v["decoder.up.3.block.0.nin_shortcut.weight"] == (320, 640, 1, 1)
    assert v["decoder.up.0.block.0.conv1.weight"] == (160, 160, 3, 3)
    assert sorted(k for k in v if k.endswith("upsample.conv.weight")) == [f"decoder.up.{i}.upsample.conv.weight" for i in range(1, 5)]
    assert not any(".attn." in k for k in v if k.startswith("decoder.up.") and not k.startswith("decoder.up.4."))
    assert not any(k.startswith(("encoder.", "quant_conv.")) for k in v)


def test_built_models_have_the_expected_layout():
    for kind, cls, cfg in (("student", VARDDStudent, VAR_D16_SHALLOW), ("teacher", VARTeacher, CFG), ("vae", VARVQVAE, VAE_TINY)):
        model = cls(cfg, device="meta")
        assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == expected_shapes(kind, cfg)
    full = expected_shapes("student", VAR_D16)
    assert all(full[k] == s for k, s in expected_shapes("student", VAR_D16_SHALLOW).items())


def test_levels_masks_phi_indices_and_scale_positions():
    assert STARTS == [0, 1, 5, 14, 30, 55, 91, 155, 255, 424, 680]
    # Scale k uses Phi [0,0,1,1,1,2,2,3,3,3][k] (scale 2 lies exactly between the first two ticks).
    assert tuple(phi_index(k, 10, 4) for k in range(10)) == (0, 0, 1, 1, 1, 2, 2, 3, 3, 3)
    assert VARVQVAE(VAE_TINY, device="meta").phi_ids == (0, 0, 1, 1, 1, 2, 2, 3, 3, 3)

    student = attention_mask((1,) + PATCH_NUMS, strictly_lower=True)[0, 0]
    teacher = attention_mask(PATCH_NUMS, strictly_lower=False)[0, 0]
    assert student.shape == (681, 681) and teacher.shape == (680, 680)
    sees = student == 0
    # Student position 1 + 5 is the first token of scale 2 (level 3 counting the class slot): it sees the class
    # slot, scales 0 and 1, itself, and nothing else of scale 2.
    j = 1 + STARTS[2]
    assert sees[j, : 1 + STARTS[2]].all() and sees[j, j] and not sees[j, j + 1 :].any()
    assert sees[0].sum() == 1 and sees[0, 0]  # the class slot sees itself only
    # Teacher: every token of scale 2 sees all of scales 0..2, nothing after.
    assert (teacher[STARTS[2] : STARTS[3], : STARTS[3]] == 0).all() and torch.isinf(teacher[STARTS[2] : STARTS[3], STARTS[3] :]).all()

    model = VARDDStudent(CFG)
    assert model.lvl_1L[0, 0] == 0 and model.lvl_1L[0, 1] == 1 and model.lvl_1L[0, -1] == 10
    assert model.lvl_embed.weight.shape[0] == 11


# ---------------------------------------------------------------- reading official-structure files


def test_full_size_checkpoints_are_accepted(tmp_path):
    state = fake_state("student", VAR_D16)
    path = save(student_file(params_only(state, "student", VAR_D16), var_wo_ddp=state, var_opt={"lr": 0.5}), tmp_path / "var-d16.pth")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ckpt = read_checkpoint(path, "var-student", VAR_D16)
    if ckpt.loader == "restricted-unpickler":
        assert any("restricted unpickler" in str(w.message) for w in caught)
    assert ckpt.weights_key == "trainer.ema_parameters"
    assert ckpt.provenance()["weightsKey"] == "trainer.ema_parameters" and len(ckpt.sha256) == 64
    assert sorted(ckpt.absent_buffers) == sorted(recomputed_buffers("student", VAR_D16))

    teacher = save(fake_state("teacher", VAR_D24), tmp_path / "var_d24.pth")  # a raw state dict, buffers included
    ckpt = read_checkpoint(teacher, "var-teacher", VAR_D24)
    assert ckpt.weights_key == "(the whole file)" and ckpt.absent_buffers == [] and ckpt.loader == "weights-only"

    vae_state = {
        **fake_state("vae", VAE),
        "encoder.conv_in.weight": torch.zeros(()).expand(160, 3, 3, 3),
        "quant_conv.weight": torch.zeros(()).expand(32, 32, 3, 3),
        "quantize.ema_vocab_hit_SV": torch.zeros(()).expand(10, 4096),
    }
    ckpt = read_checkpoint(save(vae_state, tmp_path / "vae.pth"), "var-vae", VAE)
    assert ckpt.ignored_keys == ["encoder.conv_in.weight", "quant_conv.weight", "quantize.ema_vocab_hit_SV"]


def test_student_weights_fall_back_to_var_wo_ddp_only_when_ema_is_absent(tmp_path):
    state = fake_state("student", VAR_D16)
    path = save({"trainer": {"var_wo_ddp": state}}, tmp_path / "no-ema.pth")
    assert read_checkpoint(path, "var-student", VAR_D16).weights_key == "trainer.var_wo_ddp"
    damaged = save({"trainer": {"ema_parameters": [1, 2], "var_wo_ddp": state}}, tmp_path / "damaged.pth")
    with pytest.raises(WeightsNotFound, match=r"trainer\.ema_parameters holds a list, not a state dict") as info:
        read_checkpoint(damaged, "var-student", VAR_D16)
    assert str(damaged) in str(info.value)


def test_non_checkpoints_and_truncated_files_are_named(tmp_path):
    text = tmp_path / "var-d16.pth"
    text.write_text("<html>404 not found</html>\n")
    with pytest.raises(CheckpointUnreadable, match="not a PyTorch checkpoint") as info:
        read_checkpoint(text, "var-student", VAR_D16)
    assert str(text) in str(info.value)
    archive = tmp_path / "archive.pth"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(CheckpointUnreadable, match="no data.pkl"):
        read_checkpoint(archive, "var-teacher", VAR_D16)
    whole = save(fake_state("teacher", VAR_D16), tmp_path / "whole.pth").read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CheckpointUnreadable, match="truncated or damaged") as info:
        read_checkpoint(cut, "var-teacher", VAR_D16)
    assert str(cut) in str(info.value)


def test_llamagen_files_given_as_var_are_named(tmp_path):
    b = fake_state("student", LLAMAGEN_B)
    student = save({"ema": b, "args": argparse.Namespace(gpt_model="GPT-B")}, tmp_path / "llamagen-B.pt")
    with pytest.warns(UserWarning, match="restricted unpickler"), pytest.raises(WeightsNotFound) as info:
        read_checkpoint(student, "var-student", VAR_D16)
    message = str(info.value)
    assert str(student) in message and "'trainer.ema_parameters'" in message and "'ema'" in message
    assert "looks like the weights of a LlamaGen model" in message
    teacher = save({"model": b}, tmp_path / "c2i_B_256.pt")
    with pytest.raises(WeightsNotFound, match=r"expected a raw state dict .* VAR teacher, got a dict with keys 'model'.*LlamaGen"):
        read_checkpoint(teacher, "var-teacher", VAR_D16)
    # A raw LlamaGen state dict where a raw VAR one belongs: a layout error with a hint.
    with pytest.raises(LayoutMismatch, match=r"(?s)missing key.*hint: this file looks like the LlamaGen model"):
        load_checked(save(b, tmp_path / "raw.pt"), "teacher", VAR_D16)


def test_wrong_depth_and_swapped_files_get_hints(tmp_path):
    d20 = save(student_file(fake_state("student", VAR_D20)), tmp_path / "var-d20.pth")
    with pytest.raises(LayoutMismatch, match=r"hint: the file holds 20 blocks, a depth-20 model, not d16: convert it with depth 20") as info:
        load_checked(d20, "student", VAR_D16)
    assert str(d20) in str(info.value) and "class_emb.weight: expected [1001, 1024], got [1001, 1280]" in str(info.value)
    assert len(info.value.extra) == 4 * 13 + 4 * 2  # blocks 16..19 (13 keys each) and layerwise 17..20

    teacher = save(fake_state("teacher", VAR_D16), tmp_path / "var_d16.pth")
    with pytest.raises(WeightsNotFound, match="looks like the weights of a VAR teacher of depth 16"):
        load_checked(teacher, "student", VAR_D16)
    student_raw = save(fake_state("student", VAR_D16), tmp_path / "student-raw.pth")
    with pytest.raises(LayoutMismatch, match="hint: this file looks like the VAR-DD student, not the VAR teacher"):
        load_checked(student_raw, "teacher", VAR_D16)
    with pytest.raises(LayoutMismatch, match="hint: this file looks like the VAR teacher, not the VAR VQVAE"):
        load_checked(teacher, "vae", VAE)


def test_missing_and_extra_keys_are_named(tmp_path):
    state = fake_state("student", VAR_D16)
    gone = {k: v for k, v in state.items() if k not in ("head.bias", "blocks.3.ffn.fc2.weight")}
    path = save(student_file(gone), tmp_path / "missing.pth")
    with pytest.raises(LayoutMismatch, match=r"2 missing key\(s\): blocks\.3\.ffn\.fc2\.weight, head\.bias") as info:
        read_checkpoint(path, "var-student", VAR_D16)
    assert str(path) in str(info.value) and not info.value.extra
    extra = {**state, "blocks.0.attn.k_bias": torch.zeros(1024), "module.head.weight": torch.zeros(2)}
    with pytest.raises(LayoutMismatch, match=r"2 unexpected key\(s\): blocks\.0\.attn\.k_bias, module\.head\.weight"):
        read_checkpoint(save(student_file(extra), tmp_path / "extra.pth"), "var-student", VAR_D16)
    shape = {**state, "head.weight": torch.zeros(()).expand(4096, 512)}
    with pytest.raises(LayoutMismatch, match=r"head\.weight: expected \[4096, 1024\], got \[4096, 512\]"):
        read_checkpoint(save(student_file(shape), tmp_path / "shape.pth"), "var-student", VAR_D16)


def test_foreign_objects_and_wrong_buffers_are_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("never",))

    path = save({"trainer": {"ema_parameters": {"x": torch.zeros(1)}}, "stats": Payload()}, tmp_path / "payload.pth")
    with pytest.raises(UnsafeCheckpoint, match=r"asks to build __builtin__\.print"):
        read_checkpoint(path, "var-student", VAR_D16)

    state = VARTeacher(CFG).state_dict()
    state["attn_bias_for_masking"] = torch.zeros_like(state["attn_bias_for_masking"])  # no mask at all
    with pytest.raises(BufferMismatch, match=r"attn_bias_for_masking does not hold the values") as info:
        load_model(save(state, tmp_path / "nomask.pth"), "var-teacher", CFG)
    assert "nomask.pth" in str(info.value)


# ---------------------------------------------------------------- running the depth-2 models


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    files = write_test_checkpoints(tmp_path_factory.mktemp("official"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the restricted reader's notice, when this torch needs it
        student, s_info = load_checked(files["student"], "student", CFG)
    teacher, t_info = load_checked(files["teacher"], "teacher", CFG)
    vae, v_info = load_checked(files["vae"], "vae", VAE_TINY)
    return files, (student, teacher, vae), (s_info, t_info, v_info)


def test_official_structure_files_load_with_no_missing_or_unexpected_keys(loaded):
    files, (student, teacher, vae), (s_info, t_info, v_info) = loaded
    raw = torch.load(files["student"], map_location="cpu")
    ema = raw["trainer"]["ema_parameters"]
    assert s_info.weights_key == "trainer.ema_parameters"
    assert sorted(s_info.absent_buffers) == sorted(recomputed_buffers("student", CFG))  # EMA holds parameters only
    own = student.state_dict()
    assert set(own) == set(ema) | set(s_info.absent_buffers)
    assert all(torch.equal(own[k], v) for k, v in ema.items())
    assert t_info.absent_buffers == [] and v_info.ignored_keys == ["encoder.conv_in.weight", "quant_conv.bias", "quant_conv.weight", "quantize.ema_vocab_hit_SV"]
    assert all(torch.equal(teacher.state_dict()[k], v) for k, v in torch.load(files["teacher"]).items())


def _inputs(seed: int, b: int = 2):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 680, 32, generator=g), torch.tensor([3, 1000][:b])


@torch.no_grad()
def test_student_sees_lower_scales_and_itself_only(loaded):
    student = loaded[1][0]
    x, classes = _inputs(1)
    zero = torch.zeros(2, dtype=torch.long)
    base = student(x, zero, classes)
    moved = x.clone()
    k = STARTS[4] + 3  # a token of scale 4
    moved[:, k] += 1.0
    after = student(moved, zero, classes)
    for a, b in zip(base, after):
        changed = (a - b).abs().flatten(2).amax(-1).amax(0) > 0
        assert changed[k] and not changed[: STARTS[5]].clone().index_fill_(0, torch.tensor([k]), False).any()
        assert changed[STARTS[5] :].all()  # every token of the finer scales
    flagged = student(x, torch.full((2,), STARTS[3]), classes)  # scales 0..2 marked as data
    assert not torch.allclose(base[1][:, -1], flagged[1][:, -1])  # the last token sees the flagged ones


@torch.no_grad()
def test_forced_prefix_and_split_t_assembly(loaded):
    student, _, vae = loaded[1]
    book = vae.codebook()
    eps, classes = _inputs(2)
    prefix_ids = torch.randint(0, 4096, (2, 680), generator=torch.Generator().manual_seed(3))
    t = torch.tensor([0, STARTS[5]])
    x = torch.where((torch.arange(680) < t[:, None])[..., None], book[prefix_ids], eps)
    logits, latents = student.forward_forced(x, t, classes, book)
    assert torch.equal(logits[1, : STARTS[5]].argmax(-1), prefix_ids[1, : STARTS[5]])
    assert torch.isinf(logits[1, 0]).sum() == 4095 and torch.equal(latents[1, : STARTS[5]], x[1, : STARTS[5]])
    assert torch.equal(logits[0], student(x, t, classes)[0][0])  # t = 0: nothing forced

    ids, out = assemble(logits, latents, 5, book)
    assert torch.equal(out[:, : STARTS[5]], book[ids[:, : STARTS[5]]])  # codes before split_t's first token
    assert torch.equal(out[:, STARTS[5] :], latents[:, STARTS[5] :])  # the continuous head after

    ids1, out1 = sample_dd(student, eps, classes, [0], 5, book)
    ids2, out2 = sample_dd(student, eps, classes, [0, 5], 5, book)
    assert torch.equal(ids2[:, : STARTS[5]], ids1[:, : STARTS[5]]) and torch.equal(out2[:, : STARTS[5]], out1[:, : STARTS[5]])
    assert not torch.equal(out2[:, STARTS[5] :], out1[:, STARTS[5] :])
    ids0, out0 = sample_dd(student, eps, classes, [0], 0, book)  # split_t 0: all continuous
    assert torch.equal(ids0, ids1) and torch.equal(out0, student(eps, torch.zeros(2, dtype=torch.long), classes)[1])


@torch.no_grad()
def test_resampler_matrices_equal_f_interpolate(loaded):
    vae = loaded[1][2]
    resampler = ScaleResampler(vae)
    latents = torch.randn(2, 680, 32, generator=torch.Generator().manual_seed(5))
    # Five decoder levels of float32 after the resizing: the two orders of summation differ by rounding only.
    assert torch.allclose(resampler.decode_latents(latents), vae.decode_latents(latents), atol=1e-4)
    ids = torch.randint(0, 4096, (2, 680), generator=torch.Generator().manual_seed(6))
    assert torch.allclose(resampler.next_scale_inputs(vae.codebook()[ids]), vae.next_scale_inputs(ids), atol=1e-5)
    # Bicubic upsampling of a constant map is that constant (its weights sum to 1); area resizing the same.
    assert torch.allclose(resampler.up3.sum(1), torch.ones(256)) and torch.allclose(resampler.down8.sum(1), torch.ones(169))
    one = torch.randn(1, 32, 5, 5, generator=torch.Generator().manual_seed(7))
    ref = F.interpolate(one, size=(16, 16), mode="bicubic")
    assert torch.allclose((resampler.up4 @ one.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(1, 32, 16, 16), ref, atol=1e-6)


@torch.no_grad()
def test_teacher_full_forward_equals_the_kv_cached_loop(loaded):
    _, teacher, vae = loaded[1]
    ids = torch.randint(0, 4096, (2, 680), generator=torch.Generator().manual_seed(8))
    classes = torch.tensor([3, 1000])
    cached = teacher.logits_by_scale_cached(vae, ids, classes)
    full = teacher(vae.next_scale_inputs(ids), classes)
    assert full.shape == (2, 680, 4096) and [c.shape[1] for c in cached] == [p * p for p in PATCH_NUMS]
    for k, logits in enumerate(cached):
        assert torch.allclose(logits, full[:, STARTS[k] : STARTS[k + 1]], atol=1e-4), k
    # Scale k's logits depend on the ids of scales < k only.
    changed = ids.clone()
    changed[:, STARTS[6] :] = 0
    again = teacher.logits_by_scale_cached(vae, changed, classes, upto=6)
    assert torch.equal(again[6], cached[6]) and len(again) == 7
    # VAR's guidance ramps over the scales: none at scale 0, the full scale at the last.
    c, u = torch.ones(3), torch.zeros(3)
    assert torch.equal(guided_logits(c, u, 0, 2.0, 10), c) and torch.equal(guided_logits(c, u, 9, 2.0, 10), 3 * c)
