import json

import pytest

from ddpipe.common import PipelineError
from ddpipe.config import load_config
from conftest import MODELS


def write(tmp_path, data) -> object:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_shipped_configs_load():
    for path in (MODELS / "configs").glob("*.json"):
        load_config(path)


def test_unknown_keys_are_named(tmp_path):
    with pytest.raises(PipelineError, match=r"teacher: unknown key 'layerz'"):
        load_config(write(tmp_path, {"teacher": {"layerz": 3}}))
    with pytest.raises(PipelineError, match=r"unknown key 'extra'"):
        load_config(write(tmp_path, {"extra": 1}))


def test_wrong_types_and_bad_files(tmp_path):
    with pytest.raises(PipelineError, match=r"teacher.dim: expected int"):
        load_config(write(tmp_path, {"teacher": {"dim": "big"}}))
    with pytest.raises(PipelineError, match="not valid JSON"):
        load_config(write(tmp_path, "{oops"))
    with pytest.raises(PipelineError, match="does not exist"):
        load_config(tmp_path / "missing.json")
