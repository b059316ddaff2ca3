"""Stage 1: the emoji dataset, rendered by models/dataset/render.ts and cached as one .npz file.

The Node renderer does the drawing (resvg, from the emoji packages in node_modules); this module runs it, packs
its output into one cache file and loads that file back with every check a stale or damaged cache could fail.

    cd models && /usr/bin/python3 -m ddpipe.dataset                      # the full set -> models/.cache/
    cd models && /usr/bin/python3 -m ddpipe.dataset --max-per-class 7    # a ~256-image smoke set

Cache layout (an .npz written by this module, readable with numpy.load(allow_pickle=False)):
    images     uint8 (N, 32, 32, 3)  RGB on the background colour in meta
    style      int64 (N,)            0..3: fluent-flat, fluent-3d, noto, twemoji
    category   int64 (N,)            0..8: the categories in meta
    flippable  bool  (N,)            whether a horizontal flip is a valid augmentation
    names      str   (N,)            emoji name (CLDR-like, e.g. "grinning-face", "baby-dark-skin-tone")
    meta_json  str   ()              the renderer's index.json minus items: sizes, labels, sources, licences,
                                     and imagesSha256 (sha256 of `images` in C order), checked on load
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .common import PipelineError, atomic_path

REPO_ROOT = Path(__file__).resolve().parents[2]
RENDER_SCRIPT = REPO_ROOT / "models" / "dataset" / "render.ts"
CACHE_DIR = REPO_ROOT / "models" / ".cache"

FORMAT = "ddstudio-emoji-dataset"
FORMAT_VERSION = 1
ARRAY_KEYS = ("images", "style", "category", "flippable", "names", "meta_json")
META_KEYS = ("format", "version", "count", "size", "channels", "background", "imagesSha256", "styles", "categories", "sources")
# Node runs render.ts directly only where TypeScript type stripping is on by default.
MIN_NODE = (22, 18)


class DatasetError(PipelineError):
    """The dataset cannot be built or loaded; the message names the file and what to run."""


def build_command(out_file: Path, max_per_class: int | None = None, seed: int = 0) -> str:
    """The shell command that (re)builds `out_file`, for error messages."""
    options = f" --max-per-class {max_per_class}" if max_per_class is not None else ""
    options += f" --seed {seed}" if seed else ""
    return f"cd {REPO_ROOT / 'models'} && /usr/bin/python3 -m ddpipe.dataset --out {out_file}{options}"


def default_cache_path(max_per_class: int | None = None, seed: int = 0, tones: int = 1) -> Path:
    """models/.cache/emoji32[-maxN][-seedS][-tonesK].npz: one file per option set, so they never overwrite each other."""
    name = "emoji32"
    name += f"-max{max_per_class}" if max_per_class is not None else ""
    name += f"-seed{seed}" if seed else ""
    name += f"-tones{tones}" if tones != 1 else ""
    return CACHE_DIR / f"{name}.npz"


# ---------------------------------------------------------------- the loaded dataset


@dataclass(frozen=True)
class Dataset:
    images: np.ndarray  # uint8 (N, S, S, 3)
    style: np.ndarray  # int64 (N,)
    category: np.ndarray  # int64 (N,)
    flippable: np.ndarray  # bool (N,)
    names: np.ndarray  # str (N,)
    meta: dict[str, Any]
    path: Path

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def style_names(self) -> list[str]:
        return list(self.meta["styles"])

    @property
    def category_names(self) -> list[str]:
        return list(self.meta["categories"])

    @property
    def n_styles(self) -> int:
        return len(self.meta["styles"])

    @property
    def n_categories(self) -> int:
        return len(self.meta["categories"])

    @property
    def n_classes(self) -> int:
        return self.n_styles * self.n_categories

    @property
    def class_id(self) -> np.ndarray:
        """The model's class label: style * n_categories + category (int64, (N,))."""
        return self.style * self.n_categories + self.category

    @property
    def class_names(self) -> list[str]:
        """Names indexed by class id, e.g. "noto / Animals & Nature"."""
        return [f"{s} / {c}" for s in self.style_names for c in self.category_names]

    @property
    def background(self) -> tuple[int, int, int]:
        r, g, b = self.meta["background"]
        return int(r), int(g), int(b)

    @property
    def sha256(self) -> str:
        return str(self.meta["imagesSha256"])


def class_id(style: int, category: int, n_categories: int) -> int:
    return style * n_categories + category


# ---------------------------------------------------------------- building


def find_node() -> str:
    """DDSTUDIO_NODE, else the repo's pinned node_modules/.bin/node (Node 22), else `node` on PATH."""
    explicit = os.environ.get("DDSTUDIO_NODE")
    if explicit:
        if not Path(explicit).is_file():
            raise DatasetError(f"DDSTUDIO_NODE={explicit} does not exist")
        return explicit
    pinned = REPO_ROOT / "node_modules" / ".bin" / "node"
    if pinned.is_file():
        return str(pinned)
    on_path = shutil.which("node")
    if on_path:
        return on_path
    raise DatasetError(f"no Node.js found: run `npm install` in {REPO_ROOT} (it provides node_modules/.bin/node) or set DDSTUDIO_NODE")


def check_node_version(node: str) -> None:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError) as err:
        raise DatasetError(f"cannot run Node.js at {node}: {err}") from err
    match = re.fullmatch(r"v(\d+)\.(\d+)\.\d+.*", out)
    if not match or (int(match[1]), int(match[2])) < MIN_NODE:
        need = ".".join(map(str, MIN_NODE))
        raise DatasetError(
            f"Node.js {out} at {node} cannot run {RENDER_SCRIPT.name} (needs >= {need} for TypeScript type stripping); "
            f"run `npm install` in {REPO_ROOT} for node_modules/.bin/node or set DDSTUDIO_NODE"
        )


def run_renderer(out_dir: Path, max_per_class: int | None, seed: int, tones: int, verbose: bool) -> None:
    node = find_node()
    check_node_version(node)
    command = [node, str(RENDER_SCRIPT), "--out", str(out_dir), "--seed", str(seed), "--tones", str(tones)]
    if max_per_class is not None:
        command += ["--max-per-class", str(max_per_class)]
    # Forward the renderer's progress as it comes, and keep the tail to explain a failure.
    tail: deque[str] = deque(maxlen=30)
    with subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            tail.append(line.rstrip("\n"))
            if verbose:
                sys.stderr.write(line)
                sys.stderr.flush()
        code = proc.wait()
    if code != 0:
        details = "\n".join(tail)
        raise DatasetError(f"the emoji renderer failed (exit status {code}): {' '.join(command)}\n{details}")


def read_render_output(out_dir: Path) -> tuple[dict[str, Any], np.ndarray]:
    index = json.loads((out_dir / "index.json").read_text(encoding="utf-8"))
    if index.get("format") != FORMAT or index.get("version") != FORMAT_VERSION:
        raise DatasetError(f"{out_dir / 'index.json'}: expected {FORMAT} version {FORMAT_VERSION}, got {index.get('format')} {index.get('version')}")
    n, size, channels = int(index["count"]), int(index["size"]), int(index["channels"])
    raw = np.fromfile(out_dir / "images.u8", dtype=np.uint8)
    if raw.size != n * size * size * channels:
        raise DatasetError(f"{out_dir / 'images.u8'}: {raw.size} bytes, expected {n} x {size} x {size} x {channels}")
    return index, raw.reshape(n, size, size, channels)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """numpy.savez, but byte-reproducible: fixed member timestamps (savez stamps the current time)."""
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for key, array in arrays.items():
                info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                with zf.open(info, "w", force_zip64=True) as member:
                    # np.asarray, not ascontiguousarray: the latter turns the 0-d meta_json into shape (1,).
                    np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)


def build_dataset(out_file: Path, max_per_class: int | None, seed: int, *, tones: int = 1, verbose: bool = True) -> dict[str, Any]:
    """Renders the emoji set and writes the cache file `out_file` atomically. Returns its meta (index minus items)."""
    out_file = Path(out_file)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ddstudio-emoji-") as tmp:
        out_dir = Path(tmp)
        run_renderer(out_dir, max_per_class, seed, tones, verbose)
        index, images = read_render_output(out_dir)

    sha = hashlib.sha256(images.tobytes()).hexdigest()
    if sha != index["imagesSha256"]:
        raise DatasetError(f"the renderer reported images sha256 {index['imagesSha256']}, but its images.u8 hashes to {sha}")
    items = index.pop("items")
    arrays = {
        "images": images,
        "style": np.array([it["style"] for it in items], dtype=np.int64),
        "category": np.array([it["category"] for it in items], dtype=np.int64),
        "flippable": np.array([it["flippable"] for it in items], dtype=bool),
        # A fixed-width unicode array, so that loading never needs pickle.
        "names": np.array([it["name"] for it in items], dtype=str),
        "meta_json": np.array(json.dumps(index, sort_keys=True)),
    }
    write_npz(out_file, arrays)
    if verbose:
        sys.stderr.write(f"dataset: {len(items)} images -> {out_file} ({time.monotonic() - started:.1f}s)\n")
    return index


# ---------------------------------------------------------------- loading


def load_dataset(path: Path) -> Dataset:
    """Loads and checks a cache file written by build_dataset; every failure names the file and the fix."""
    path = Path(path)
    rebuild = f"rebuild it with: {build_command(path)}"
    if not path.exists():
        raise DatasetError(f"dataset cache {path} does not exist; build it with: {build_command(path)}")

    def bad(problem: str) -> DatasetError:
        return DatasetError(f"dataset cache {path} is unusable: {problem}; delete it and {rebuild}")

    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
            if keys != set(ARRAY_KEYS):
                missing = sorted(set(ARRAY_KEYS) - keys)
                extra = sorted(keys - set(ARRAY_KEYS))
                raise bad(f"wrong arrays (missing {missing or 'none'}, unexpected {extra or 'none'})")
            for key in ARRAY_KEYS:  # reading each member checks its CRC: truncation shows up here
                arrays[key] = npz[key]
    except DatasetError:
        raise
    except Exception as err:  # not a zip, truncated, bad CRC, a pickled array: all say "corrupt"
        raise bad(f"corrupt or truncated ({type(err).__name__}: {err})") from err

    meta_json = arrays["meta_json"]
    if meta_json.shape != () or meta_json.dtype.kind != "U":
        raise bad(f"meta_json is {meta_json.dtype} {meta_json.shape}, expected a str scalar")
    try:
        meta = json.loads(str(meta_json[()]))
    except (ValueError, TypeError) as err:
        raise bad(f"meta_json is not valid JSON ({err})") from err
    if not isinstance(meta, dict) or any(k not in meta for k in META_KEYS):
        raise bad(f"meta_json lacks some of {', '.join(META_KEYS)}")
    if meta["format"] != FORMAT or meta["version"] != FORMAT_VERSION:
        raise bad(f"format {meta['format']!r} version {meta['version']!r}, expected {FORMAT!r} version {FORMAT_VERSION}")

    n, size = int(meta["count"]), int(meta["size"])
    expect: dict[str, tuple[tuple[int, ...], str]] = {
        "images": ((n, size, size, 3), "uint8"),
        "style": ((n,), "int64"),
        "category": ((n,), "int64"),
        "flippable": ((n,), "bool"),
    }
    for key, (shape, dtype) in expect.items():
        a = arrays[key]
        if a.shape != shape or a.dtype != np.dtype(dtype):
            raise bad(f"{key} is {a.dtype} {a.shape}, expected {dtype} {shape}")
    names = arrays["names"]
    if names.shape != (n,) or names.dtype.kind != "U":
        raise bad(f"names is {names.dtype} {names.shape}, expected str ({n},)")
    for key, limit in (("style", len(meta["styles"])), ("category", len(meta["categories"]))):
        a = arrays[key]
        if n and (a.min() < 0 or a.max() >= limit):
            raise bad(f"{key} labels outside 0..{limit - 1}")
    sha = hashlib.sha256(arrays["images"].tobytes()).hexdigest()
    if sha != meta["imagesSha256"]:
        raise bad(f"images sha256 {sha} does not match the recorded {meta['imagesSha256']}")

    return Dataset(
        images=arrays["images"],
        style=arrays["style"],
        category=arrays["category"],
        flippable=arrays["flippable"],
        names=names,
        meta=meta,
        path=path,
    )


def ensure_dataset(path: Path, max_per_class: int | None, seed: int, *, tones: int = 1, verbose: bool = True) -> Dataset:
    """Loads `path`, building it first when it is missing or was built with other options. A damaged file is an
    error, not silently replaced, so that a broken disk or an interrupted copy gets noticed."""
    path = Path(path)
    wanted = {"seed": seed, "maxPerClass": max_per_class, "tonesPerBase": tones}
    if path.exists():
        dataset = load_dataset(path)
        if dataset.meta.get("options") == wanted:
            return dataset
        if verbose:
            sys.stderr.write(f"dataset: {path} was built with {dataset.meta.get('options')}, want {wanted}: rebuilding\n")
    build_dataset(path, max_per_class, seed, tones=tones, verbose=verbose)
    return load_dataset(path)


def summary(dataset: Dataset) -> str:
    lines = [f"{len(dataset)} images of {dataset.meta['size']}x{dataset.meta['size']}, sha256 {dataset.sha256[:16]}…"]
    for label, names, values in (("style", dataset.style_names, dataset.style), ("category", dataset.category_names, dataset.category)):
        counts = np.bincount(values, minlength=len(names))
        lines.append(f"by {label}: " + ", ".join(f"{name} {count}" for name, count in zip(names, counts)))
    lines.append(f"flippable: {int(dataset.flippable.sum())}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m ddpipe.dataset", description="Render the emoji dataset into one .npz cache file.")
    parser.add_argument("--out", type=Path, help="cache file (default: models/.cache/emoji32[...].npz)")
    parser.add_argument("--max-per-class", type=int, default=None, help="at most N images per style x category class")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tones", type=int, default=1, help="skin-tone variants kept per base emoji (0..5)")
    args = parser.parse_args(argv)
    out = args.out or default_cache_path(args.max_per_class, args.seed, args.tones)
    try:
        build_dataset(out, args.max_per_class, args.seed, tones=args.tones)
        print(summary(load_dataset(out)))
    except DatasetError as err:
        print(f"dataset: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
