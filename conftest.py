"""Project-wide pytest fixtures."""

import pytest

pytest_plugins = ["tests.fixtures"]
