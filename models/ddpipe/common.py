"""Plumbing shared by the stages: threads and devices, atomic files, checkpoints, progress, metrics, EMA, DDP."""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn


class PipelineError(RuntimeError):
    """An error the user can act on: its message names the file, key or command involved."""


def training_device() -> torch.device:
    """CUDA when present (under torchrun: this process's GPU), else CPU. DDSTUDIO_DEVICE=cpu forces the CPU."""
    if os.environ.get("DDSTUDIO_DEVICE") == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def setup_torch(threads: int | None = None) -> torch.device:
    # Debian's torch starts with one thread; use every core unless told otherwise.
    torch.set_num_threads(threads or max(1, os.cpu_count() or 1))
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# ---------------------------------------------------------------- distributed (torchrun)


def dist_info() -> tuple[int, int]:
    """(rank, world size) under torchrun, (0, 1) otherwise."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def init_distributed(device: torch.device) -> tuple[int, int]:
    rank, world = dist_info()
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend=backend)
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return rank, world


def is_main_process() -> bool:
    return dist_info()[0] == 0


def barrier() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


# ---------------------------------------------------------------- files


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yields a temporary path beside `target`; it becomes `target` only if the block finishes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        # mkstemp creates 0600 files; outputs are ordinary files (0644 under the usual umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def save_json(path: Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def save_torch(path: Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_torch(path: Path, what: str) -> Any:
    if not path.exists():
        raise PipelineError(f"{what}: {path} does not exist")
    try:
        return torch.load(path, map_location="cpu")
    except Exception as err:  # a truncated or foreign file: say which one
        raise PipelineError(f"{what}: {path} is unreadable ({type(err).__name__}: {err}); delete it to redo the stage") from err


# ---------------------------------------------------------------- progress and metrics


class Progress:
    """A one-line progress bar on stderr (no dependency), with rate and ETA."""

    def __init__(self, total: int, label: str, start: int = 0):
        self.total = max(1, total)
        self.label = label
        self.done = start
        self.start_done = start
        self.t0 = time.time()
        self.last_print = 0.0
        # DDSTUDIO_PROGRESS=0 silences the bar (logs of unattended runs); stages still print their results.
        self.enabled = is_main_process() and os.environ.get("DDSTUDIO_PROGRESS", "1") != "0"

    def update(self, n: int = 1, **info: float) -> None:
        self.done += n
        now = time.time()
        if not self.enabled or (now - self.last_print < 0.5 and self.done < self.total):
            return
        self.last_print = now
        rate = (self.done - self.start_done) / max(1e-9, now - self.t0)
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        frac = self.done / self.total
        bar = "#" * int(frac * 24) + "-" * (24 - int(frac * 24))
        extras = " ".join(f"{k}={v:.4g}" for k, v in info.items())
        sys.stderr.write(f"\r{self.label} [{bar}] {self.done}/{self.total} {rate:.1f}/s eta {format_seconds(eta)} {extras}   ")
        if self.done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def format_seconds(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class MetricsLog:
    """Appends one JSON object per line to <stage dir>/metrics.jsonl (main process only)."""

    def __init__(self, path: Path):
        self.path = path

    def write(self, **record: Any) -> None:
        if not is_main_process():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps({"time": round(time.time(), 3), **record}) + "\n")


# ---------------------------------------------------------------- training helpers


def cosine_lr(step: int, total: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


class EMA:
    """Exponential moving average of a model's parameters (the weights that get exported)."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        state = model.state_dict()
        floats = [k for k, v in state.items() if v.dtype.is_floating_point]
        # One fused call per list instead of two kernels per tensor: on a GPU the per-tensor loop dominated small models.
        shadow = [self.shadow[k] for k in floats]
        torch._foreach_mul_(shadow, self.decay)
        torch._foreach_add_(shadow, [state[k].detach() for k in floats], alpha=1 - self.decay)
        for k, v in state.items():
            if not v.dtype.is_floating_point:
                self.shadow[k].copy_(v)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.shadow = {k: v.clone() for k, v in state.items()}

    def to(self, device: torch.device) -> "EMA":
        self.shadow = {k: v.to(device) for k, v in self.shadow.items()}
        return self


def resume_training(path: Path, what: str, model: nn.Module, opt: torch.optim.Optimizer, ema: "EMA | None" = None) -> int:
    """Loads a stage's checkpoint into the model, optimiser (and EMA) if there is one; returns the step to go on from."""
    if not path.exists():
        return 0
    state = load_torch(path, what)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    if ema is not None:
        ema.load_state_dict(state["ema"])
    return int(state["step"])


def clipped_step(model: nn.Module, opt: torch.optim.Optimizer, loss: torch.Tensor, ema: "EMA") -> None:
    """One optimiser step with the gradient norm clipped to 1, then the EMA update (teacher, student, refine)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    ema.update(unwrap(model))


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model
