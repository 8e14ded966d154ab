from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURE_TEMPLATE = Path(__file__).resolve().parent / "fixture" / "template.yaml"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
if str(REPO / "functions" / "common") not in sys.path:
    sys.path.insert(0, str(REPO / "functions" / "common"))


@pytest.fixture
def fixture_template() -> Path:
    return FIXTURE_TEMPLATE
