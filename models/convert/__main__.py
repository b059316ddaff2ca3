"""python -m convert: official Distilled Decoding checkpoints -> DD Studio packs (see README.md).

  llamagen --size {B,L} --student F --teacher F --vq F --out DIR [--id ID] [--fp16] [--progress json]
  var --depth {16,20,24} --student F --teacher F --vae F --out DIR [--id ID] [--fp16] [--progress json]
  test-pack {llamagen,var} --out DIR [--replace] [--fp16] [--progress json]
  test-checkpoints {llamagen,var} --out DIR
  check

`test-checkpoints` writes small random-weight files in the official structure (for testing the conversion end to
end, e.g. from the app's "Import official checkpoint" dialog) and prints one JSON object with their paths by role
and the size to convert them with: `--size test` (llamagen) or `--depth test` (var).

Exit status: 0 done, 2 bad arguments or input files (the message names the file and what was expected), 1 anything
else. `check` prints one JSON object {python, torch, onnx, ok, problems} and exits 0 when ok, 1 when not. The
conversion commands import torch only when they run, so `check` works where torch is missing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import re
import shutil
import sys
import traceback
import warnings
from pathlib import Path

from .progress import JsonReporter, Reporter

EXIT_OK, EXIT_UNEXPECTED, EXIT_INPUT = 0, 1, 2
MIN_PYTHON = (3, 9)
MIN_TORCH = (1, 13)  # torch.load(weights_only=True), which the safe loading starts with
PACK_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
TEST_PACK_IDS = {"llamagen-test", "llamagen-test-fp16", "var-test", "var-test-fp16"}


class UsageError(Exception):
    """Bad command-line arguments (exit status 2)."""


class Unavailable(Exception):
    """A converter that this copy of DD Studio does not have (exit status 1)."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print and exit; the caller reports instead
        raise UsageError(f"{message} (see {self.prog} --help)")


def _pack_id(value: str) -> str:
    if not PACK_ID.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a pack id: 1..64 lower-case letters, digits and dashes")
    return value


def _common(p: argparse.ArgumentParser, ids: bool = True) -> None:
    p.add_argument("--out", type=Path, required=True, help="the pack folder to write (must not exist, or be empty)")
    if ids:
        p.add_argument("--id", type=_pack_id, help="the pack id (default: from the model, e.g. llamagen-l-dd)")
    p.add_argument("--fp16", action="store_true", help="store the graphs' weights as float16 (for GPU providers)")
    p.add_argument("--progress", choices=["json", "text"], default="text", help="json: JSON lines on stdout, for the app")


def build_parser() -> Parser:
    p = Parser(prog="python -m convert", description="Convert official Distilled Decoding checkpoints into DD Studio packs.")
    sub = p.add_subparsers(dest="command", required=True, metavar="{llamagen,var,test-pack,test-checkpoints,check}", parser_class=Parser)

    ll = sub.add_parser("llamagen", help="LlamaGen-DD B or L, its c2i teacher and the VQ-16 tokenizer")
    ll.add_argument("--size", choices=["B", "L", "test"], required=True, help="test: the files of test-checkpoints")
    ll.add_argument("--student", type=Path, required=True, help="the DD student: llamagen-B.pt or llamagen-L.pt")
    ll.add_argument("--teacher", type=Path, required=True, help="LlamaGen's c2i GPT: c2i_B_256.pt or c2i_L_256.pt")
    ll.add_argument("--vq", type=Path, required=True, help="LlamaGen's VQ-16 tokenizer: vq_ds16_c2i.pt")
    _common(ll)

    var = sub.add_parser("var", help="VAR-DD d16, d20 or d24, its VAR teacher and the multi-scale VQVAE")
    var.add_argument("--depth", choices=["16", "20", "24", "test"], required=True, help="test: the files of test-checkpoints")
    var.add_argument("--student", type=Path, required=True, help="the DD student: var-d16.pth, var-d20.pth or var-d24.pth")
    var.add_argument("--teacher", type=Path, required=True, help="VAR's model: var_d16.pth, var_d20.pth or var_d24.pth")
    var.add_argument("--vae", type=Path, required=True, help="VAR's VQVAE: vae_ch160v4096z32.pth")
    _common(var)

    tp = sub.add_parser("test-pack", help="a small pack with random weights in the official structure, for tests")
    tp.add_argument("family", choices=["llamagen", "var"])
    tp.add_argument("--replace", action="store_true", help="replace --out if it holds a test pack (and only then)")
    _common(tp, ids=False)

    tc = sub.add_parser("test-checkpoints", help="small random-weight files in the official structure, for tests")
    tc.add_argument("family", choices=["llamagen", "var"])
    tc.add_argument("--out", type=Path, required=True, help="the folder to write them into (must not exist, or be empty)")

    sub.add_parser("check", help="print whether this Python can convert (one JSON object)")
    return p


def _wants_json(argv: list[str]) -> bool:
    """Whether to report in JSON, read before parsing so that argument errors are reported as JSON too."""
    for i, arg in enumerate(argv):
        if arg == "--progress=json" or (arg == "--progress" and i + 1 < len(argv) and argv[i + 1] == "json"):
            return True
    return False


# ---------------------------------------------------------------- check


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:2])


def check() -> dict:
    """Whether this Python can convert: torch >= 1.13, onnx, numpy and jsonschema importable."""
    problems: list[str] = []
    info: dict = {"python": platform.python_version(), "torch": None, "onnx": None}
    if sys.version_info[:2] < MIN_PYTHON:
        problems.append(f"Python {info['python']} is too old: {'.'.join(map(str, MIN_PYTHON))} or newer is needed")
    try:
        import torch

        info["torch"] = torch.__version__
        if _version(torch.__version__) < MIN_TORCH:
            problems.append(
                f"torch {torch.__version__} is too old: 1.13 or newer is needed (for safe weights-only loading); "
                "see https://pytorch.org/get-started/locally/"
            )
    except Exception as err:  # ImportError, or a torch that fails to load its libraries
        problems.append(f"torch cannot be imported ({err}); install PyTorch 1.13 or newer: https://pytorch.org/get-started/locally/")
    try:
        import onnx

        info["onnx"] = onnx.__version__
    except Exception as err:
        problems.append(f"onnx cannot be imported ({err}); install it with: python -m pip install onnx")
    for module in ("numpy", "jsonschema"):
        try:
            __import__(module)
        except Exception as err:
            problems.append(f"{module} cannot be imported ({err}); install it with: python -m pip install {module}")
    info["ok"] = not problems
    info["problems"] = problems
    return info


# ---------------------------------------------------------------- conversions


def _clear_test_pack(out: Path) -> None:
    """test-pack --replace: removes `out` when it holds a test pack, and refuses anything else."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return
    try:
        pack_id = json.loads((out / "manifest.json").read_text())["id"]
    except (OSError, ValueError, KeyError, TypeError):
        pack_id = None
    if pack_id not in TEST_PACK_IDS:
        raise UsageError(f"--replace {out}: this is not a test pack (no manifest.json of one); nothing was removed")
    shutil.rmtree(out)


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "a file" if not out.is_dir() else "a folder that is not empty"
        raise UsageError(f"--out {out}: is {what}; name a new folder (a conversion never writes over anything)")


def _quiet_torch_warnings() -> None:
    """The exporter's tracing notes are about our own graphs and say nothing to the person converting."""
    import torch

    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    warnings.filterwarnings("ignore", module=r"torch(\.|$)")


def _var_pack():
    try:
        var_pack = importlib.import_module(f"{__package__}.var_pack")
    except ModuleNotFoundError as err:
        if err.name == f"{__package__}.var_pack":
            raise Unavailable(
                "the VAR-DD converter (models/convert/var_pack.py) is not in this copy of DD Studio yet; "
                "only `llamagen` conversions are available"
            ) from None
        raise
    return var_pack


def _pack_id_of(pack: Path) -> str:
    return str(json.loads((Path(pack) / "manifest.json").read_text())["id"])


def run(args: argparse.Namespace, report: Reporter) -> int:
    if args.command == "check":
        info = check()
        report.result(info)
        return EXIT_OK if info["ok"] else EXIT_UNEXPECTED
    if args.command == "test-checkpoints":
        _check_out(args.out)
        _quiet_torch_warnings()
        return _write_test_checkpoints(args.family, args.out, report)
    if args.command == "test-pack" and args.replace:
        _clear_test_pack(args.out)
    _check_out(args.out)
    _quiet_torch_warnings()
    progress = report.progress
    if args.command == "llamagen" and args.size == "test":
        from .llamagen_pack import convert_test_checkpoints

        files = {"student": args.student, "teacher": args.teacher, "vq": args.vq}
        pack = convert_test_checkpoints(files, args.out, pack_id=args.id, fp16=args.fp16, progress=progress)
    elif args.command == "llamagen":
        from .llamagen_pack import convert_llamagen

        pack = convert_llamagen(
            args.student, args.teacher, args.vq, args.size, args.out, pack_id=args.id, fp16=args.fp16, progress=progress
        )
    elif args.command == "var" and args.depth == "test":
        files = {"student": args.student, "teacher": args.teacher, "vae": args.vae}
        pack = _var_pack().convert_test_checkpoints(files, args.out, pack_id=args.id, fp16=args.fp16, progress=progress)
    elif args.command == "var":
        pack = _var_pack().convert_var(
            args.student, args.teacher, args.vae, int(args.depth), args.out, pack_id=args.id, fp16=args.fp16, progress=progress
        )
    elif args.family == "llamagen":
        from .llamagen_pack import write_llamagen_test_pack

        pack = write_llamagen_test_pack(args.out, fp16=args.fp16, progress=progress)
    else:
        pack = _var_pack().write_var_test_pack(args.out, fp16=args.fp16, progress=progress)
    report.done(str(Path(pack).resolve()), _pack_id_of(pack))
    return EXIT_OK


def _write_test_checkpoints(family: str, out: Path, report: Reporter) -> int:
    """Writes the family's random-weight official-structure files and prints their paths and the size to use."""
    if family == "llamagen":
        from .llamagen_pack import write_test_checkpoints

        files = write_test_checkpoints(out)
    else:
        files = _var_pack().write_test_checkpoints(out)
    result: dict[str, str] = {role: str(Path(path).resolve()) for role, path in files.items()}
    result["size"] = "test"
    report.result(result)
    return EXIT_OK


def _is_input_error(err: BaseException) -> bool:
    """Errors about the user's arguments or files. Their modules are imported lazily (they need torch), and only
    looked up here once loaded: an error raised before they were imported cannot be one of theirs."""
    kinds: list[type] = [UsageError]
    for module, name in ((f"{__package__}.checkpoints", "CheckpointError"), ("ddpipe.common", "PipelineError")):
        found = getattr(sys.modules.get(module), name, None)
        if found is not None:
            kinds.append(found)
    return isinstance(err, tuple(kinds))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    with JsonReporter() if _wants_json(argv) else Reporter() as report:
        try:
            return run(build_parser().parse_args(argv), report)
        except KeyboardInterrupt:
            report.error("interrupted; nothing was written")
            return 130
        except Unavailable as err:
            report.error(str(err))
            return EXIT_UNEXPECTED
        except Exception as err:
            if _is_input_error(err):
                report.error(str(err))
                return EXIT_INPUT
            traceback.print_exc(file=sys.stderr)
            report.error(f"unexpected error: {type(err).__name__}: {err}")
            return EXIT_UNEXPECTED


if __name__ == "__main__":
    sys.exit(main())
