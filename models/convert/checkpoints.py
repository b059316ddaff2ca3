"""Reading official checkpoint files safely, and checking them against the expected layout.

Loading never runs code from the file. torch.load is called with weights_only=True (torch 1.13 has the argument).
The official LlamaGen-DD files also hold an argparse Namespace, which weights-only loading refuses; then, and only
then, a zip-format file is read again by this module's own restricted reader: its unpickler builds plain
containers, argparse Namespaces and numpy scalars, rebuilds tensors itself from the archive's storage records,
and refuses everything else, naming it. (It does not go through torch.load: torch 1.13 ignores a custom
pickle_module unless weights_only is set.) The fallback is announced: a warning, and `loader`/`notice` in the
result. A legacy-format (non-zip) file that weights-only loading refuses is refused. A torch without weights_only
gets the restricted reader directly, also announced.

After loading: the weights are taken from the documented place (a top-level key, a path of keys for VAR-DD's training
state, or the whole object for VAR's raw state dicts), then their key set and every shape are compared with the
expected config. Buffers that the re-implementation recomputes (VAR's position levels, attention mask and zero key
biases) may be absent; when present they must hold the recomputed values. Errors name the file and say what is
wrong.
"""

from __future__ import annotations

import argparse
import inspect
import io
import pickle
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ddpipe.export import sha256_file

from . import llamagen_arch, var_arch
from .llamagen_arch import VQ16_IGNORED_PREFIXES
from .var_arch import VAE_IGNORED_PREFIXES

# ---------------------------------------------------------------- errors


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message names the file."""


class CheckpointNotFound(CheckpointError):
    pass


class CheckpointUnreadable(CheckpointError):
    """Truncated, damaged, or not a PyTorch checkpoint at all."""


class UnsafeCheckpoint(CheckpointError):
    """The file asks to build an object outside the allowed set; it is not loaded."""


class WeightsNotFound(CheckpointError):
    """The file loads, but none of the documented top-level keys holds a state dict."""


class BufferMismatch(CheckpointError):
    """A buffer the architecture defines (e.g. VAR's attention mask) holds other values in the file."""


class LayoutMismatch(CheckpointError):
    """Keys or shapes differ from the expected config. `missing`, `extra`, `mismatched` hold the details."""

    def __init__(self, message: str, missing: list[str], extra: list[str], mismatched: list[tuple[str, tuple, tuple]]):
        super().__init__(message)
        self.missing = missing
        self.extra = extra
        self.mismatched = mismatched


# ---------------------------------------------------------------- what each kind of file looks like


@dataclass(frozen=True)
class CheckpointKind:
    kind: str  # a key of the family's MODEL_CLASSES (llamagen_arch or var_arch)
    description: str
    # Where the weights are, in order of preference: a top-level key, or a path of keys into nested dicts
    # (() is the loaded object itself: a raw state dict).
    weights_keys: tuple[str | tuple[str, ...], ...]
    ignored_prefixes: tuple[str, ...] = ()  # keys that are in official files but that DD Studio does not use
    family: str = "llamagen"  # "llamagen" or "var": which module defines the architecture
    # True: the first place that exists must hold the weights (a later one is used only when it is absent), so that
    # a damaged preferred entry is reported rather than silently replaced by the fallback.
    first_present: bool = False

    @property
    def arch(self):
        return var_arch if self.family == "var" else llamagen_arch

    def expected(self, cfg) -> dict[str, tuple[int, ...]]:
        return self.arch.expected_shapes(self.kind, cfg)

    def recomputed(self, cfg) -> list[str]:
        return var_arch.recomputed_buffers(self.kind, cfg) if self.family == "var" else []


KINDS = {
    # dd-method.md section 7: weights under "ema" (fallbacks "model", "module", "state_dict").
    "student": CheckpointKind("student", "LlamaGen-DD student", ("ema", "model", "module", "state_dict")),
    # LlamaGen's c2i checkpoints keep the weights under "model" (the official hybrid script reads "model", then
    # "module" / "state_dict"); "ema" as a further fallback.
    "teacher": CheckpointKind("teacher", "LlamaGen c2i teacher", ("model", "ema", "module", "state_dict")),
    # dd-method.md section 7: VQ-16 weights under "model".
    "vq": CheckpointKind("vq", "LlamaGen VQ-16 tokenizer", ("model", "ema", "state_dict"), VQ16_IGNORED_PREFIXES),
    # dd-method.md section 7 and the official VAR/sample.py: ckpt['trainer']['ema_parameters'] (the default, --ema),
    # else ckpt['trainer']['var_wo_ddp'] (the raw training weights).
    "var-student": CheckpointKind(
        "student",
        "VAR-DD student",
        (("trainer", "ema_parameters"), ("trainer", "var_wo_ddp")),
        family="var",
        first_present=True,
    ),
    # The VAR teacher (var_d16.pth ...) and the VQVAE (vae_ch160v4096z32.pth) are raw state dicts.
    "var-teacher": CheckpointKind("teacher", "VAR teacher", ((),), family="var"),
    "var-vae": CheckpointKind("vae", "VAR VQVAE", ((),), VAE_IGNORED_PREFIXES, family="var"),
}


# ---------------------------------------------------------------- loading


@dataclass
class LoadedCheckpoint:
    path: Path
    sha256: str
    bytes: int
    loader: str  # "weights-only" or "restricted-unpickler"
    notice: str | None  # why the restricted unpickler was needed, when it was
    top_level_keys: list[str]
    weights_key: str
    state: dict[str, torch.Tensor]  # emptied by load_model once the network holds the weights
    ignored_keys: list[str] = field(default_factory=list)
    args: dict[str, Any] | None = None  # the training arguments (argparse Namespace), when the file has them
    absent_buffers: list[str] = field(default_factory=list)  # recomputed buffers the file does not hold

    def provenance(self) -> dict:
        return {
            "file": self.path.name,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "weightsKey": self.weights_key,
            "loader": self.loader,
        }


def supports_weights_only() -> bool:
    return "weights_only" in inspect.signature(torch.load).parameters


# Globals the restricted unpickler may build: plain containers, argparse Namespaces (the official files' training
# arguments) and numpy scalars. Tensors are rebuilt by this module's own functions (_TENSOR_GLOBALS), never by
# whatever the file names.
_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"),
    ("torch", "device"),
    ("torch", "Size"),
    ("argparse", "Namespace"),
    ("copyreg", "_reconstructor"),
    ("builtins", "object"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "complex"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}

_STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


@dataclass(frozen=True)
class _StorageType:
    dtype: torch.dtype


def _rebuild_tensor(storage, offset, size, stride, *_rest):
    return torch.as_strided(storage, tuple(size), tuple(stride), offset)


def _rebuild_parameter(data, *_rest):
    return data  # weights are used as plain tensors


_TENSOR_GLOBALS = {
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}


class _RefusedGlobal(pickle.UnpicklingError):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class _RestrictedUnpickler(pickle.Unpickler):
    """Reads data.pkl of a zip-format checkpoint; tensor storages come from the archive's data/ records."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str):
        super().__init__(file, encoding="utf-8")
        self.archive = archive
        self.prefix = prefix
        self.storages: dict[str, torch.Tensor] = {}

    def find_class(self, module: str, name: str):
        if (module, name) in _TENSOR_GLOBALS:
            return _TENSOR_GLOBALS[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise _RefusedGlobal(f"{module}.{name}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r:.80}")
        _, storage_type, key, _location, numel = pid
        if key not in self.storages:
            raw = bytearray(self.archive.read(f"{self.prefix}/data/{key}"))
            flat = torch.frombuffer(raw, dtype=storage_type.dtype) if raw else torch.empty(0, dtype=storage_type.dtype)
            if flat.numel() != numel:
                raise pickle.UnpicklingError(f"storage {key} holds {flat.numel()} values, {numel} expected")
            self.storages[key] = flat
        return self.storages[key]


def _restricted_zip_load(path: Path) -> Any:
    """A zip-format checkpoint read without torch.load: only the globals above are ever built."""
    with zipfile.ZipFile(path) as archive:
        pkl = next(n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1)
        prefix = pkl.split("/", 1)[0]
        names = set(archive.namelist())
        if f"{prefix}/byteorder" in names and archive.read(f"{prefix}/byteorder").strip() != b"little":
            raise pickle.UnpicklingError("the file was written on a big-endian machine")
        return _RestrictedUnpickler(io.BytesIO(archive.read(pkl)), archive, prefix).load()


def _check_container(path: Path) -> bool:
    """Names truncated and foreign files before torch sees them (torch's own messages are cryptic).
    Returns whether the file is a zip-format checkpoint (the other one being torch's legacy format)."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError) as err:
            raise CheckpointUnreadable(
                f"{path}: the file is truncated or damaged (its zip archive cannot be read: {err}); download it again"
            ) from err
        if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
            raise CheckpointUnreadable(f"{path}: this is a TorchScript archive, not a checkpoint of weights")
        if not any(n.endswith("/data.pkl") and n.count("/") == 1 for n in names):
            raise CheckpointUnreadable(f"{path}: a zip archive, but not a PyTorch checkpoint (no data.pkl inside)")
        return True
    if head.startswith(b"\x80"):  # the legacy format starts with a pickle (protocol 2+)
        return False
    raise CheckpointUnreadable(
        f"{path}: not a PyTorch checkpoint (it starts with bytes {head!r}, neither a zip archive nor a pickle)"
    )


def _refused_name(err: BaseException) -> str | None:
    """What weights-only loading refused, from its message, when a refusal was the reason it failed."""
    found = re.search(r"(?:Unsupported class|unrecognized function) (\S+)", str(err))
    if found:
        return found.group(1)
    return "an unsupported pickle operation" if "Unsupported operand" in str(err) else None


def load_checkpoint_file(path: Path) -> tuple[Any, str, str | None]:
    """-> (the loaded object, loader name, notice or None). Tensors land on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFound(f"{path}: no such file")
    is_zip = _check_container(path)
    first_error: BaseException | None = None
    if supports_weights_only():
        try:
            return torch.load(path, map_location="cpu", weights_only=True), "weights-only", None
        except Exception as err:  # a refused object, or damage the container check did not catch
            first_error = err
        notice = f"weights-only loading refused the file ({_short(first_error)}); read with the restricted unpickler"
    else:
        notice = f"torch {torch.__version__} has no weights-only loading; read with the restricted unpickler"
    if not is_zip:
        refused = _refused_name(first_error) if first_error is not None else "any object"
        if first_error is not None and refused is None:
            raise CheckpointUnreadable(
                f"{path}: the file is truncated or damaged ({type(first_error).__name__}: {_short(first_error)})"
            ) from first_error
        raise UnsafeCheckpoint(
            f"{path}: refused to load: the file is in torch's legacy format and holds {refused}, which weights-only "
            "loading does not allow (only the zip format is read by the restricted unpickler). Re-save it with a "
            "current torch from a source you trust."
        )
    try:
        obj = _restricted_zip_load(path)
    except _RefusedGlobal as err:
        raise UnsafeCheckpoint(
            f"{path}: refused to load: the file asks to build {err.name}, which is neither a tensor, a plain container "
            "nor training arguments. Only load files from a source you trust; this converter never runs such code."
        ) from err
    except Exception as err:
        raise CheckpointUnreadable(f"{path}: the file is truncated or damaged ({type(err).__name__}: {_short(err)})") from err
    warnings.warn(f"{path.name}: {notice}", stacklevel=2)
    return obj, "restricted-unpickler", notice


def _short(err: BaseException, limit: int = 300) -> str:
    text = str(err).replace("Weights only load failed. ", "")
    if "WeightsUnpickler error: " in text:
        text = text.split("WeightsUnpickler error: ", 1)[1]
    return text if len(text) <= limit else text[:limit] + "..."


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and len(obj) > 0 and all(isinstance(v, torch.Tensor) for v in obj.values())


def _path_name(path: tuple[str, ...]) -> str:
    return ".".join(path) if path else "(the whole file)"


def _lookup(obj: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    for key in path:
        if not (isinstance(obj, dict) and key in obj):
            return False, None
        obj = obj[key]
    return True, obj


def looks_like(obj: Any) -> str | None:
    """What kind of official file a loaded object resembles, for error messages (None when unknown)."""
    if isinstance(obj, dict) and isinstance(obj.get("trainer"), dict):
        return "a VAR-DD student checkpoint (training state under 'trainer')"
    state = obj if _is_state_dict(obj) else None
    if state is None and isinstance(obj, dict):
        state = next((obj[k] for k in ("ema", "model", "module", "state_dict") if _is_state_dict(obj.get(k))), None)
    if state is None:
        return None
    keys = set(state)
    if "blocks.0.attn.mat_qkv.weight" in keys:
        depth = len({k.split(".")[1] for k in keys if k.startswith("blocks.")})
        role = "VAR-DD student" if "n_d_embed.weight" in keys else "VAR teacher"
        return f"the weights of a {role} of depth {depth}"
    if "quantize.quant_resi.qresi_ls.0.weight" in keys:
        return "the weights of VAR's VQVAE"
    if "cls_embedding.embedding_table.weight" in keys:
        return "the weights of a LlamaGen model (LlamaGen-DD student or c2i teacher)"
    if "quantize.embedding.weight" in keys:
        return "the weights of a LlamaGen VQ tokenizer"
    return None


def find_weights(obj: Any, kind: CheckpointKind, path: Path) -> tuple[str, dict[str, torch.Tensor]]:
    places = [p if isinstance(p, tuple) else (p,) for p in kind.weights_keys]
    if places == [()]:
        if _is_state_dict(obj):
            return _path_name(()), dict(obj)
        what = f"a {type(obj).__name__}"
        if isinstance(obj, dict):
            what += " with keys " + (", ".join(repr(k) for k in list(obj)[:20]) or "none")
        hint = looks_like(obj)
        raise WeightsNotFound(
            f"{path}: expected a raw state dict (parameter name -> tensor) for the {kind.description}, got {what}"
            + (f"; the file looks like {hint}" if hint else "")
        )
    if not isinstance(obj, dict):
        raise WeightsNotFound(f"{path}: expected a dict at the top level of a {kind.description} checkpoint, got {type(obj).__name__}")
    for place in places:
        found, value = _lookup(obj, place)
        if found and _is_state_dict(value):
            return _path_name(place), dict(value)
        if found and kind.first_present:
            raise WeightsNotFound(
                f"{path}: {_path_name(place)} holds a {type(value).__name__}, not a state dict (parameter name -> tensor) "
                f"of the {kind.description}"
            )
    wanted = ", ".join(repr(_path_name(p)) for p in places)
    if _is_state_dict(obj):
        top = f"the file is a raw state dict of {len(obj)} tensors"
    else:
        top = "its top-level keys are " + (", ".join(repr(k) for k in list(obj)[:20]) or "none")
    hint = looks_like(obj)
    raise WeightsNotFound(
        f"{path}: no {kind.description} weights under any of {wanted}; {top}" + (f"; the file looks like {hint}" if hint else "")
    )


# ---------------------------------------------------------------- checking


def check_layout(
    state: dict[str, torch.Tensor],
    expected: dict[str, tuple[int, ...]],
    path: Path,
    what: str,
    ignored_prefixes: tuple[str, ...] = (),
    show: int = 8,
    optional: tuple[str, ...] | list[str] = (),
) -> list[str]:
    """Raises LayoutMismatch unless `state` has exactly the expected keys and shapes (keys under
    `ignored_prefixes` aside, and the `optional` expected keys allowed to be absent); returns the ignored keys."""
    ignored = sorted(k for k in state if k.startswith(ignored_prefixes) and k not in expected)
    keys = set(state) - set(ignored)
    may_lack = set(optional)
    missing = [k for k in expected if k not in keys and k not in may_lack]
    extra = sorted(keys - set(expected))
    mismatched = [(k, shape, tuple(state[k].shape)) for k, shape in expected.items() if k in keys and tuple(state[k].shape) != shape]
    if not (missing or extra or mismatched):
        return ignored
    lines = [f"{path}: does not match {what}:"]
    if missing:
        lines.append(f"  {len(missing)} missing key(s): {_listing(missing, show)}")
    if extra:
        lines.append(f"  {len(extra)} unexpected key(s): {_listing(extra, show)}")
    if mismatched:
        lines.append(f"  {len(mismatched)} shape mismatch(es), first ones:")
        lines += [f"    {k}: expected {list(e)}, got {list(g)}" for k, e, g in mismatched[:show]]
    raise LayoutMismatch("\n".join(lines), missing, extra, mismatched)


def _listing(keys: list[str], show: int) -> str:
    more = f" and {len(keys) - show} more" if len(keys) > show else ""
    return ", ".join(keys[:show]) + more


def read_checkpoint(path: Path, kind: str, cfg) -> LoadedCheckpoint:
    """Loads an official checkpoint of `kind` (a key of KINDS: 'student', 'teacher', 'vq' for LlamaGen;
    'var-student', 'var-teacher', 'var-vae' for VAR) and checks it against `cfg`."""
    path = Path(path)
    spec = KINDS[kind]
    obj, loader, notice = load_checkpoint_file(path)
    weights_key, state = find_weights(obj, spec, path)
    expected = spec.expected(cfg)
    optional = spec.recomputed(cfg)
    ignored = check_layout(state, expected, path, f"{spec.description} {cfg.name}", spec.ignored_prefixes, optional=optional)
    args = obj.get("args") if isinstance(obj, dict) else None
    args = dict(vars(args)) if isinstance(args, argparse.Namespace) else None
    return LoadedCheckpoint(
        path=path,
        sha256=sha256_file(path),
        bytes=path.stat().st_size,
        loader=loader,
        notice=notice,
        top_level_keys=[str(k) for k in obj],
        weights_key=weights_key,
        state=state,
        ignored_keys=ignored,
        args=args,
        absent_buffers=[k for k in optional if k not in state],
    )


def load_model(path: Path, kind: str, cfg) -> tuple[torch.nn.Module, LoadedCheckpoint]:
    """read_checkpoint, then the re-implemented network with those weights (strict), in eval mode, float32.

    Recomputed buffers keep their recomputed values; a file that holds one with other values is refused."""
    ckpt = read_checkpoint(path, kind, cfg)
    spec = KINDS[kind]
    model = spec.arch.MODEL_CLASSES[spec.kind](cfg)
    ignored = set(ckpt.ignored_keys)
    weights = {k: (v.float() if v.is_floating_point() else v) for k, v in ckpt.state.items() if k not in ignored}
    own = model.state_dict()
    for key in spec.recomputed(cfg):
        if key in weights and not torch.equal(weights[key].to(own[key].dtype), own[key]):
            raise BufferMismatch(
                f"{ckpt.path}: {key} does not hold the values the {spec.description} architecture defines "
                f"({cfg.name}); the file may be damaged or made for another configuration"
            )
        weights[key] = own[key]
    model.load_state_dict(weights, strict=True)
    # The model now holds its own copy of every weight: keep only the file's description, so that three large
    # checkpoints are not held twice while the graphs are exported.
    del weights
    ckpt.state = {}
    return model.eval(), ckpt
