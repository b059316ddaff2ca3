"""The pack's examples sheet: real training images, a row per class, chosen the same way on every export."""

import json

import numpy as np
import pytest
from PIL import Image

from conftest import MODELS
from ddpipe.config import load_config
from ddpipe.export import choose_examples, validate_manifest, write_examples_sheet
from ddpipe.pipeline import Context


def test_the_smoke_packs_sheet_has_four_training_images_of_each_class_per_row(smoke_build):
    work, pack = smoke_build
    manifest = json.loads((pack / "manifest.json").read_text())
    assert manifest["examples"] == {"file": "examples.png", "perClass": 4, "cell": [32, 32]}
    assert manifest["files"]["examples.png"]["bytes"] == (pack / "examples.png").stat().st_size

    with Image.open(pack / "examples.png") as image:
        assert image.mode == "RGB"
        sheet = np.asarray(image)
    n_classes = len(manifest["conditioning"]["classes"])
    assert sheet.shape == (n_classes * 32, 4 * 32, 3)

    ctx = Context(load_config(MODELS / "configs" / "smoke.json"), work, pack)
    data = ctx.dataset()
    train = ~ctx.val_mask(len(data))
    for c in range(n_classes):
        row = []
        for k in range(4):
            cell = sheet[c * 32 : (c + 1) * 32, k * 32 : (k + 1) * 32]
            equal = (data.images == cell).all(axis=(1, 2, 3)) & (data.class_id == c) & train
            assert equal.any(), f"class {c}, cell {k} is not a training image of that class"
            row.append(int(np.flatnonzero(equal)[0]))
        assert len(set(row)) == 4, f"class {c} shows an image twice"


def test_the_choice_is_seeded_sorted_and_never_held_out():
    class_id = np.repeat(np.arange(3), 10)
    train = np.ones(30, dtype=bool)
    train[[0, 1, 2, 10]] = False
    a = choose_examples(class_id, train, 3, seed=0)
    assert a.shape == (3, 4)
    assert np.array_equal(a, choose_examples(class_id, train, 3, seed=0))
    assert not np.array_equal(a, choose_examples(class_id, train, 3, seed=1))
    for c in range(3):
        assert (class_id[a[c]] == c).all() and train[a[c]].all()
        assert (np.diff(a[c]) > 0).all()


def test_a_class_with_few_training_images_makes_rows_shorter_not_padded():
    class_id = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    train = np.array([True] * 5 + [True, True, False])
    assert choose_examples(class_id, train, 2, seed=0).shape == (2, 2)
    # A class without any training image: no sheet at all.
    assert choose_examples(class_id, train, 3, seed=0).shape == (3, 0)


def test_the_sheet_is_the_same_bytes_for_the_same_images_and_matches_the_schema(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 2, 8, 6, 3), dtype=np.uint8)
    entry = write_examples_sheet(images, tmp_path / "a.png")
    write_examples_sheet(images, tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert entry == {"file": "a.png", "perClass": 2, "cell": [6, 8]}
    with Image.open(tmp_path / "a.png") as image:
        sheet = np.asarray(image)
    assert sheet.shape == (3 * 8, 2 * 6, 3)
    assert np.array_equal(sheet[8:16, 6:12], images[1, 1])


@pytest.mark.parametrize(
    "examples, field",
    [
        ({"file": "examples.png", "perClass": 0, "cell": [32, 32]}, "perClass"),
        ({"file": "examples.jpg", "perClass": 4, "cell": [32, 32]}, "file"),
        ({"file": "examples.png", "perClass": 4, "cell": [32]}, "cell"),
        ({"file": "examples.png", "perClass": 4}, "cell"),
    ],
)
def test_the_schema_refuses_a_malformed_examples_entry(smoke_build, examples, field):
    from ddpipe.common import PipelineError

    _, pack = smoke_build
    manifest = json.loads((pack / "manifest.json").read_text())
    with pytest.raises(PipelineError, match=f"examples.*{field}"):
        validate_manifest(dict(manifest, examples=examples), pack / "manifest.json")
