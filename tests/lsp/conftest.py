"""Every LSP test runs once per client profile (see lspkit.py)."""

from __future__ import annotations

import pytest
from lspkit import PROFILES


@pytest.fixture(params=PROFILES)
def profile(request) -> str:
    return request.param
