"""The smoke pipeline end to end: the pack validates, stages resume, bad state gives clear errors, DDP trains."""

import json
import os
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import MODELS
from ddpipe.common import PipelineError, setup_torch
from ddpipe.config import load_config
from ddpipe.export import validate_manifest, verify_pack_files
from ddpipe.pipeline import ablate_t2, build, run_eval, second_step_report


def copy_work(smoke_work, tmp_path, keep: list[str]):
    work = tmp_path / "work"
    work.mkdir()
    for name in keep:
        src = smoke_work / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, work / name)
    return work


def test_smoke_pack_validates_against_the_schema(smoke_build):
    _, pack = smoke_build
    verify_pack_files(pack)
    manifest = json.loads((pack / "manifest.json").read_text())
    assert manifest["tokens"]["count"] == 64
    assert manifest["flow"]["solver"] == "ab2-snr"
    broken = dict(manifest, formatVersion=2)
    with pytest.raises(PipelineError, match="formatVersion"):
        validate_manifest(broken, pack / "manifest.json")


def test_a_tampered_pack_is_caught(smoke_build, tmp_path):
    _, pack = smoke_build
    copy = tmp_path / "pack"
    shutil.copytree(pack, copy)
    with open(copy / "decoder.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(PipelineError, match="decoder.onnx does not match its sha256"):
        verify_pack_files(copy)


def test_finished_stages_are_skipped_and_training_resumes_from_its_checkpoint(smoke_build, tmp_path, capsys):
    smoke_work, _ = smoke_build
    work = copy_work(smoke_work, tmp_path, ["dataset.npz", "vq", "tokens.npz", "teacher", "pairs", "classifier", "student"])
    # An interrupted student run: its checkpoint is there, its final weights are not.
    (work / "student" / "final.pt").unlink()
    checkpoint = torch.load(work / "student" / "checkpoint.pt")
    checkpoint["step"] = 20
    torch.save(checkpoint, work / "student" / "checkpoint.pt")
    setup_torch()
    out = build("smoke", None, tmp_path / "pack", work, None, None)
    log = capsys.readouterr().err
    for stage in ("dataset", "vq", "tokens", "teacher", "pairs", "classifier"):
        assert f"[{stage}] done already" in log
    assert "[student] running" in log
    assert "student [" in log and " 20/40 " not in log.split("student [")[0]
    lines = [json.loads(line) for line in (work / "student" / "metrics.jsonl").read_text().splitlines()]
    assert min(r["step"] for r in lines if "step" in r and r.get("stage") == "student" and "final" not in r) >= 20
    verify_pack_files(out)


def test_a_corrupt_checkpoint_is_named(smoke_build, tmp_path):
    smoke_work, _ = smoke_build
    work = copy_work(smoke_work, tmp_path, ["dataset.npz", "vq", "tokens.npz"])
    (work / "teacher").mkdir()
    (work / "teacher" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    setup_torch()
    with pytest.raises(PipelineError, match=r"teacher checkpoint: .*checkpoint.pt is unreadable"):
        build("smoke", None, tmp_path / "pack", work, None, None)


def test_unknown_config_key_fails_the_command(tmp_path):
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"student": {"t3": 1}}))
    result = subprocess.run(
        [sys.executable, "-m", "ddpipe", "build", "bad", "--config", str(config), "--work", str(tmp_path / "w")],
        cwd=MODELS,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "student: unknown key 't3'" in result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_student_trains_under_torchrun_with_two_gloo_processes(smoke_build, tmp_path):
    smoke_work, _ = smoke_build
    work = copy_work(smoke_work, tmp_path, ["dataset.npz", "vq", "tokens.npz", "teacher", "pairs", "classifier"])
    env = {**os.environ, "PYTHONPATH": str(MODELS), "OMP_NUM_THREADS": "1"}
    # Explicit --redirects/--tee: torch 1.13's torchrun cannot parse its own default ("0") under Python 3.11.
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--redirects", "2", "--tee", "1", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
        "--master_port", str(free_port()), "-m", "ddpipe", "build", "smoke", "--work", str(work),
        "--out", str(tmp_path / "pack"), "--threads", "1",
    ]  # fmt: skip
    result = subprocess.run(cmd, cwd=MODELS, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((work / "student" / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    verify_pack_files(tmp_path / "pack")


def test_smoke_eval_reports_every_mode(smoke_build):
    _, pack = smoke_build
    if not (pack / "eval.json").exists():
        pytest.skip("the smoke pack was built without its eval step (npm run models:smoke runs both)")
    results = json.loads((pack / "eval.json").read_text())
    assert set(results["modes"]) == {"teacher_ar", "teacher_exact", "dd_1step", "dd_2step", "hybrid", "onestep"}
    assert results["modes"]["teacher_exact"]["token_agreement_with_exact_teacher"] == 1.0
    verify_pack_files(pack)


def test_split_t_is_chosen_by_fid_emoji_and_stored(smoke_build):
    smoke_work, pack = smoke_build
    # The last stage that trained the student chose it: refine when it ran, else the student stage.
    final_stage = "refine" if (smoke_work / "refine" / "metrics.json").exists() else "student"
    metrics = json.loads((smoke_work / final_stage / "metrics.json").read_text())
    ablation = metrics["split_t_ablation"]
    scores = {int(k): v["fid_emoji_1step"] + v["fid_emoji_2step"] for k, v in ablation.items()}
    assert metrics["chosen_split_t"] == min(scores, key=scores.get)
    manifest = json.loads((pack / "manifest.json").read_text())
    assert manifest["sampling"]["splitT"] == metrics["chosen_split_t"]


def test_t2_ablation_trains_one_variant_per_value(smoke_build, tmp_path):
    smoke_work, _ = smoke_build
    work = copy_work(smoke_work, tmp_path, ["dataset.npz", "vq", "tokens.npz", "teacher", "pairs", "classifier"])
    setup_torch()
    results = ablate_t2("smoke", None, work, tmp_path / "grids", [16, 40], 4)
    assert set(results["values"]) == {"16", "40"}
    assert results["best_t2_by_fid_emoji_2step"] in (16, 40)
    assert json.loads((tmp_path / "grids" / "t2_ablation.json").read_text()) == results
    assert (work / "ablation" / "t2-40" / "final.pt").exists()
    with pytest.raises(PipelineError, match="t2 = 64 is outside 1..63"):
        ablate_t2("smoke", None, work, tmp_path / "grids", [64], 4)


def test_eval_without_the_classifier_stage_says_so(smoke_build, tmp_path):
    smoke_work, pack = smoke_build
    work = copy_work(smoke_work, tmp_path, ["dataset.npz", "vq", "tokens.npz", "teacher", "pairs", "student", "refine"])
    setup_torch()
    with pytest.raises(PipelineError, match="classifier"):
        run_eval("smoke", None, pack, work, tmp_path / "grids", 8)


def test_the_teacher_keeps_its_best_validation_weights(smoke_build):
    smoke_work, _ = smoke_build
    metrics = json.loads((smoke_work / "teacher" / "metrics.json").read_text())
    checks = [json.loads(line) for line in (smoke_work / "teacher" / "metrics.jsonl").read_text().splitlines()]
    val = {r["step"]: r["val_loss"] for r in checks if "val_loss" in r and "step" in r}
    assert len(val) >= 2, "the smoke config checks validation loss at every checkpoint"
    assert metrics["selected_step"] == min(val, key=val.get)


def test_refine_trains_on_self_prefix_targets_and_becomes_the_exported_student(smoke_build):
    smoke_work, pack = smoke_build
    cfg = load_config(MODELS / "configs" / "smoke.json")
    targets = np.load(smoke_work / "refine" / "targets.npz")
    assert targets["tokens"].shape == (cfg.refine.prefix_pairs, 64)
    metrics = json.loads((smoke_work / "refine" / "metrics.json").read_text())
    assert metrics["steps"] == cfg.refine.steps and "split_t_ablation" in metrics
    manifest = json.loads((pack / "manifest.json").read_text())
    assert manifest["sampling"]["splitT"] == metrics["chosen_split_t"]


def test_second_step_report_names_the_ceiling(smoke_build, tmp_path):
    smoke_work, _ = smoke_build
    setup_torch()
    results = second_step_report("smoke", None, smoke_work, tmp_path / "second.json")
    for key in ("dd_1step", "dd_2step", "ceiling_student_prefix_teacher_continuation", "teacher_prefix_student_second_pass"):
        assert results[key]["fid_emoji"] >= 0
    assert json.loads((tmp_path / "second.json").read_text())["t2"] == 32
