import sys
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parents[1]
if str(MODELS) not in sys.path:
    sys.path.insert(0, str(MODELS))

SMOKE_WORK = MODELS / ".cache" / "work" / "smoke"
SMOKE_PACK = MODELS / ".cache" / "packs" / "smoke"


@pytest.fixture(scope="session")
def smoke_build() -> tuple[Path, Path]:
    """The smoke pipeline's work folder and pack (built by `npm run models:smoke`; built here if missing)."""
    if not (SMOKE_PACK / "manifest.json").exists():
        from ddpipe.common import setup_torch
        from ddpipe.pipeline import build

        setup_torch()
        build("smoke", None, SMOKE_PACK, SMOKE_WORK, "dataset", None)
    return SMOKE_WORK, SMOKE_PACK
