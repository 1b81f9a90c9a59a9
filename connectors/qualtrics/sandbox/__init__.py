"""A local stand-in for the Qualtrics v3 API, served over HTTP for tests, demos and benchmarks."""

from connectors.qualtrics.sandbox.seed import DATACENTER, DEMO_TOKEN, TEST_TOKEN, SeedInfo
from connectors.qualtrics.sandbox.server import Sandbox

__all__ = ["DATACENTER", "DEMO_TOKEN", "TEST_TOKEN", "Sandbox", "SeedInfo"]
