"""`python -m convert` (models/convert/__main__.py): argument and input-file errors with exit status 2 and messages
that name the file, JSON progress lines for the app, the `check` report, the test-pack and llamagen commands, and
the VAR command's clear failure while its converter is missing.

Conversions that succeed run on the small official-structure files (2-layer B); the input-file errors use
full-size B layouts made of zero-stride tensors, which fail (or load) without building a full pack.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import convert.llamagen_pack as llamagen_pack
from convert.__main__ import check, main
from convert.llamagen_arch import LLAMAGEN_B, LLAMAGEN_B_SHALLOW, VQ16_TEST
from convert.llamagen_pack import write_test_checkpoints

from convert_helpers import fake_state

MODELS = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(MODELS), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "convert", *args], capture_output=True, text=True, env=env, cwd=MODELS.parent, timeout=300)


def json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # fails on any line that is not JSON


@pytest.fixture(scope="module")
def full_b(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("full-b")
    files = {"student": folder / "llamagen-B.pt", "teacher": folder / "c2i_B_256.pt", "text": folder / "notes.pt"}
    torch.save({"ema": fake_state("student", LLAMAGEN_B)}, files["student"])
    torch.save({"model": fake_state("teacher", LLAMAGEN_B)}, files["teacher"])
    files["text"].write_text("not a checkpoint\n")
    return files


def llamagen_args(student, teacher, vq, out, *extra: str, size: str = "B") -> list[str]:
    return ["llamagen", "--size", size, "--student", str(student), "--teacher", str(teacher), "--vq", str(vq), "--out", str(out), *extra]


# ---------------------------------------------------------------- check


def test_check_reports_this_python():
    run = run_cli("check")
    assert run.returncode == 0, run.stderr
    (info,) = json_lines(run.stdout)
    assert info == {"python": platform.python_version(), "torch": torch.__version__, "onnx": info["onnx"], "ok": True, "problems": []}
    assert info["onnx"]


def test_check_names_what_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    monkeypatch.setattr(torch, "__version__", "1.12.1")
    info = check()
    assert info["ok"] is False and info["onnx"] is None and info["torch"] == "1.12.1"
    assert any(p.startswith("torch 1.12.1 is too old: 1.13 or newer") for p in info["problems"])
    assert any(p.startswith("onnx cannot be imported") and "pip install onnx" in p for p in info["problems"])
    assert main(["check"]) == 1


# ---------------------------------------------------------------- argument errors


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["llamagen", "--student", "a", "--teacher", "b", "--vq", "c", "--out", "d"], "the following arguments are required: --size"),
        (["llamagen", "--size", "XL", "--student", "a", "--teacher", "b", "--vq", "c", "--out", "d"], "invalid choice: 'XL'"),
        (["llamagen", "--size", "B", "--student", "a", "--teacher", "b", "--vq", "c", "--out", "d", "--id", "My Pack"], "'My Pack' is not a pack id"),
        (["var", "--depth", "12", "--student", "a", "--teacher", "b", "--vae", "c", "--out", "d"], "invalid choice: '12'"),
        (["test-pack", "--out", "d"], "the following arguments are required: family"),
        (["convert-everything"], "invalid choice: 'convert-everything'"),
    ],
)
def test_argument_errors_exit_2(args, message, capfd, tmp_path):
    args = [str(tmp_path / "d") if a == "d" else a for a in args]
    assert main(args) == 2
    out, err = capfd.readouterr()
    assert out == "" and message in err and err.startswith("error: ")
    assert main([*args, "--progress", "json"]) == 2
    out, err = capfd.readouterr()
    (event,) = json_lines(out)
    assert event["event"] == "error" and message in event["message"]


def test_output_is_never_written_over(tmp_path, capfd):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    assert main(llamagen_args("a", "b", "c", taken)) == 2
    assert f"--out {taken}: is a folder that is not empty" in capfd.readouterr().err
    a_file = tmp_path / "file.txt"
    a_file.write_text("mine")
    assert main(["test-pack", "llamagen", "--out", str(a_file)]) == 2
    assert "is a file" in capfd.readouterr().err
    assert (taken / "keep.txt").read_text() == "mine" and a_file.read_text() == "mine"


# ---------------------------------------------------------------- input files


def test_bad_input_files_exit_2_and_name_the_file(full_b, tmp_path, capfd):
    out = tmp_path / "pack"
    cases = [
        (llamagen_args(full_b["text"], full_b["teacher"], full_b["text"], out), [f"{full_b['text']}: not a PyTorch checkpoint"]),
        (llamagen_args(full_b["student"], tmp_path / "absent.pt", full_b["text"], out), [f"{tmp_path / 'absent.pt'}: no such file (expected the LlamaGen c2i teacher)"]),
        (
            llamagen_args(full_b["student"], full_b["teacher"], full_b["text"], out, size="L"),
            [f"{full_b['student']}: does not match LlamaGen-DD student L", "hint: its width 768 is that of LlamaGen-B, not L: convert it as size B"],
        ),
        (
            llamagen_args(full_b["teacher"], full_b["student"], full_b["text"], out),
            ["missing key(s)", "hint: this file looks like the LlamaGen c2i teacher, not the LlamaGen-DD student"],
        ),
    ]
    for args, messages in cases:
        assert main([*args, "--progress", "json"]) == 2
        stdout, _ = capfd.readouterr()
        (event,) = json_lines(stdout)[-1:]
        assert event["event"] == "error", event
        for message in messages:
            assert message in event["message"], (message, event["message"])
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(full_b["student"].read_bytes()[:300])
    assert main(llamagen_args(truncated, full_b["teacher"], full_b["text"], out)) == 2
    assert f"{truncated}: the file is truncated or damaged" in capfd.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".*partial"))


def test_unexpected_errors_exit_1(monkeypatch, tmp_path, capfd):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(llamagen_pack, "write_llamagen_test_pack", broken)
    assert main(["test-pack", "llamagen", "--out", str(tmp_path / "x"), "--progress", "json"]) == 1
    stdout, stderr = capfd.readouterr()
    assert json_lines(stdout) == [{"event": "error", "message": "unexpected error: ZeroDivisionError: a bug"}]
    assert "Traceback" in stderr


# ---------------------------------------------------------------- conversions


def test_test_pack_command_reports_json_progress(tmp_path):
    out = tmp_path / "llamagen-test"
    run = run_cli("test-pack", "llamagen", "--out", str(out), "--progress", "json")
    assert run.returncode == 0, run.stderr
    events = json_lines(run.stdout)
    progress = [e for e in events[:-1]]
    assert all(e["event"] == "progress" and set(e) == {"event", "stage", "done", "total"} for e in progress)
    assert [e["done"] for e in progress] == list(range(9)) and {e["total"] for e in progress} == {8}
    assert events[-1] == {"event": "done", "pack": str(out.resolve()), "id": "llamagen-test"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["id"] == "llamagen-test" and manifest["image"]["width"] == 256


def test_test_pack_replace_removes_only_a_test_pack(monkeypatch, tmp_path, capfd):
    def fake_build(out, *, fp16=False, progress=None):  # stands for the real build, tested above
        out.mkdir()
        (out / "manifest.json").write_text(json.dumps({"id": "llamagen-test"}))
        return out

    monkeypatch.setattr(llamagen_pack, "write_llamagen_test_pack", fake_build)
    out = tmp_path / "llamagen-test"
    fake_build(out)
    (out / "stale.txt").write_text("from an older build")
    assert main(["test-pack", "llamagen", "--out", str(out)]) == 2  # without --replace: refused
    assert main(["test-pack", "llamagen", "--replace", "--out", str(out)]) == 0
    assert not (out / "stale.txt").exists() and (out / "manifest.json").exists()
    assert capfd.readouterr().out.splitlines()[-1] == f"Pack 'llamagen-test' written to {out.resolve()}"
    other = tmp_path / "mine"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"id": "my-pack"}))
    assert main(["test-pack", "llamagen", "--replace", "--out", str(other)]) == 2
    assert "this is not a test pack" in capfd.readouterr().err and (other / "manifest.json").exists()


def test_llamagen_command_converts_official_structure_files(monkeypatch, tmp_path, capfd):
    """The `llamagen` command end to end, on small files: the sizes' configs are swapped for the 2-layer ones."""
    monkeypatch.setitem(llamagen_pack.SIZES, "B", LLAMAGEN_B_SHALLOW)
    monkeypatch.setattr(llamagen_pack, "TOKENIZER", VQ16_TEST)
    files = write_test_checkpoints(tmp_path / "official")
    out = tmp_path / "packs" / "b"
    assert main(llamagen_args(files["student"], files["teacher"], files["vq"], out, "--fp16")) == 0
    stdout, stderr = capfd.readouterr()
    lines = stdout.splitlines()
    assert lines[0] == "[0/8] reading the student checkpoint" and lines[-2] == "[8/8] complete"
    assert lines[-1] == f"Pack 'llamagen-b-dd-fp16' written to {out.resolve()}"
    assert "note: llamagen-B.pt: weights-only loading refused the file" in stderr  # the training arguments
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["id"] == "llamagen-b-dd-fp16" and manifest["name"] == "LlamaGen-B DD (float16)"
    assert manifest["provenance"]["precision"]["weights"] == "float16"
    assert {s["file"] for s in manifest["provenance"]["sources"].values()} == {"llamagen-B.pt", "c2i_B_256.pt", "vq_ds16_c2i.pt"}
    assert [entry["license"] for entry in manifest["licenses"]] == ["MIT", "MIT", "Apache-2.0"]


def test_var_test_pack_command(tmp_path, capfd):
    out = tmp_path / "var-test"
    assert main(["test-pack", "var", "--out", str(out), "--progress", "json"]) == 0
    events = json_lines(capfd.readouterr().out)
    assert {e["event"] for e in events[:-1]} == {"progress"} and events[-2]["done"] == events[-2]["total"]
    assert events[-1] == {"event": "done", "pack": str(out.resolve()), "id": "var-test"}
    assert json.loads((out / "manifest.json").read_text())["family"] == "var"
    # The `var` command reaches convert_var, whose input errors exit 2 naming the file.
    absent = tmp_path / "var-d16.pth"
    assert main(["var", "--depth", "16", "--student", str(absent), "--teacher", "b", "--vae", "c", "--out", str(tmp_path / "v")]) == 2
    assert str(absent) in capfd.readouterr().err


@pytest.mark.parametrize(
    "family, flag, roles",
    [("llamagen", "--size", ("student", "teacher", "vq")), ("var", "--depth", ("student", "teacher", "vae"))],
)
def test_test_checkpoints_convert_with_the_test_size(family, flag, roles, tmp_path, capfd):
    """`test-checkpoints` prints its files by role and the size to pass; converting them makes a pack with the id asked for."""
    assert main(["test-checkpoints", family, "--out", str(tmp_path / "files")]) == 0
    files = json.loads(capfd.readouterr().out)
    assert files["size"] == "test" and all(Path(files[role]).is_file() for role in roles)
    out = tmp_path / "pack"
    args = [family, flag, "test", *(a for role in roles for a in (f"--{role}", files[role])), "--out", str(out)]
    assert main([*args, "--id", "from-test-files", "--progress", "json"]) == 0
    events = json_lines(capfd.readouterr().out)
    assert events[-1] == {"event": "done", "pack": str(out.resolve()), "id": "from-test-files"}
    assert json.loads((out / "manifest.json").read_text())["family"] == family
    # The folder is refused once it holds files.
    assert main(["test-checkpoints", family, "--out", str(tmp_path / "files")]) == 2
