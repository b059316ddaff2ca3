"""The emoji dataset: a small real build through the Node renderer, then the cache file's checks.

Run from the repository root: /usr/bin/python3 -m pytest models/tests/test_dataset.py
Needs `npm install` done (the emoji packages and resvg live in node_modules).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

MODELS = Path(__file__).resolve().parent.parent
if str(MODELS) not in sys.path:
    sys.path.insert(0, str(MODELS))

from ddpipe.dataset import DatasetError, build_dataset, load_dataset, write_npz  # noqa: E402

MAX_PER_CLASS = 3  # 4 styles x 9 categories x 3 = 108 images: a couple of seconds to render


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dataset") / "smoke.npz"
    build_dataset(path, MAX_PER_CLASS, seed=0, verbose=False)
    return path


def arrays_of(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def test_shapes_and_labels(smoke: Path) -> None:
    ds = load_dataset(smoke)
    n = len(ds)
    assert n == 4 * 9 * MAX_PER_CLASS
    assert ds.images.shape == (n, 32, 32, 3) and ds.images.dtype == np.uint8
    assert ds.style.dtype == np.int64 and ds.category.dtype == np.int64 and ds.flippable.dtype == bool
    assert ds.style_names == ["fluent-flat", "fluent-3d", "noto", "twemoji"]
    assert ds.n_categories == 9 and ds.n_classes == 36
    assert set(ds.style.tolist()) == set(range(4))
    assert set(ds.category.tolist()) == set(range(9))
    assert ds.class_id.min() >= 0 and ds.class_id.max() < ds.n_classes
    assert np.bincount(ds.class_id, minlength=36).tolist() == [MAX_PER_CLASS] * 36
    assert ds.class_names[2 * 9 + 2] == "noto / Animals & Nature"


def test_styles_show_the_same_concepts(smoke: Path) -> None:
    # The subset is chosen by concept name, so every style has the same emoji in every category.
    ds = load_dataset(smoke)
    per_style = [sorted(zip(ds.category[ds.style == s].tolist(), ds.names[ds.style == s].tolist())) for s in range(4)]
    assert per_style[0] == per_style[1] == per_style[2] == per_style[3]


def test_images_are_drawn_on_the_background(smoke: Path) -> None:
    ds = load_dataset(smoke)
    bg = np.array(ds.background, dtype=np.int16)
    differs = np.abs(ds.images.astype(np.int16) - bg).max(axis=-1) > 8  # (N, 32, 32)
    assert differs.any(axis=(1, 2)).all(), "an image is blank"
    # Corners are background (emoji are centred with a margin) in most images.
    corners = differs[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (~corners).all(axis=1).mean() > 0.7


def test_meta_records_sources_and_filters(smoke: Path) -> None:
    meta = load_dataset(smoke).meta
    sources = {s["package"]: s for s in meta["sources"]}
    assert set(sources) == {"@iconify-json/fluent-emoji-flat", "@iconify-json/fluent-emoji", "@iconify-json/noto", "@iconify-json/twemoji"}
    assert sources["@iconify-json/twemoji"]["license"] == "CC-BY-4.0"
    assert sources["@iconify-json/twemoji"]["attribution"] == "Twemoji by Twitter, Inc and other contributors, CC-BY 4.0"
    assert {"sos-button", "keycap-1", "input-latin-letters"} <= set(meta["dropped"]["textLike"])
    assert meta["options"] == {"seed": 0, "maxPerClass": MAX_PER_CLASS, "tonesPerBase": 1}


def test_no_flip_for_directional_names(smoke: Path) -> None:
    ds = load_dataset(smoke)
    for name, flippable in zip(ds.names.tolist(), ds.flippable.tolist()):
        if any(word in name for word in ("left", "right", "arrow")):
            assert not flippable, name


def test_deterministic(smoke: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.npz"
    build_dataset(again, MAX_PER_CLASS, seed=0, verbose=False)
    assert load_dataset(again).sha256 == load_dataset(smoke).sha256
    assert again.read_bytes() == smoke.read_bytes()
    other = tmp_path / "other-seed.npz"
    build_dataset(other, MAX_PER_CLASS, seed=1, verbose=False)
    assert set(load_dataset(other).names.tolist()) != set(load_dataset(smoke).names.tolist())


def test_missing_file_names_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.npz"
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    message = str(err.value)
    assert str(path) in message and "does not exist" in message
    assert "python3 -m ddpipe.dataset" in message


def corrupt_cases(smoke: Path) -> dict[str, bytes | dict[str, np.ndarray]]:
    data = smoke.read_bytes()
    good = arrays_of(smoke)
    no_names = {k: v for k, v in good.items() if k != "names"}
    flat = dict(good, images=good["images"].reshape(len(good["images"]), -1))
    tampered_images = good["images"].copy()
    tampered_images[0, 0, 0, 0] ^= 0xFF
    tampered = dict(good, images=tampered_images)
    bad_labels = dict(good, style=good["style"] + 10)
    return {
        "truncated": data[: len(data) // 2],
        "garbage": b"not a zip file at all" * 10,
        "empty": b"",
        "missing names": no_names,
        "wrong shape": flat,
        "sha mismatch": tampered,
        "labels out of range": bad_labels,
    }


EXPECTED_PROBLEM = {
    "truncated": "corrupt or truncated",
    "garbage": "corrupt or truncated",
    "empty": "corrupt or truncated",
    "missing names": "missing ['names']",
    "wrong shape": "images is uint8",
    "sha mismatch": "sha256",
    "labels out of range": "style labels outside",
}


@pytest.mark.parametrize("case", sorted(EXPECTED_PROBLEM))
def test_corrupt_file_is_a_clear_error(smoke: Path, tmp_path: Path, case: str) -> None:
    content = corrupt_cases(smoke)[case]
    path = tmp_path / f"{case.replace(' ', '-')}.npz"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        write_npz(path, content)
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    message = str(err.value)
    assert str(path) in message
    assert EXPECTED_PROBLEM[case] in message, message
    assert "python3 -m ddpipe.dataset" in message


def test_sha_is_of_the_images(smoke: Path) -> None:
    ds = load_dataset(smoke)
    assert ds.sha256 == hashlib.sha256(np.ascontiguousarray(ds.images).tobytes()).hexdigest()
