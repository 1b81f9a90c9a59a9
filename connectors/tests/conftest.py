from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def fresh_cache():
    """Choices and outputs are cached per configuration id, and ids repeat between tests."""
    cache.clear()
    yield
    cache.clear()
