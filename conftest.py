"""Project-wide pytest fixtures."""

import pytest

pytest_plugins = ["tests.fixtures", "connectors.qualtrics.sandbox.pytest_plugin"]
