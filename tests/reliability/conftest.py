"""Fixtures of the fault-injection tests: real worker processes against the test database and the
Qualtrics sandbox, and a flow that creates a contact in a mailing list for each response."""

from __future__ import annotations

import os

import pytest

from accounts.models import Role
from designer import services
from tests.fixtures import newsletter_definition
from tests.processes import database_env
from tests.reliability.support import ProductServer


@pytest.fixture
def make_flow(team, sandbox_configuration, qualtrics_sandbox):
    """make_flow(extra_steps=[...]): New Response → Create Contact in Mailing List (step_1) → extra steps."""
    membership = team.memberships.get(role=Role.OWNER)

    def make(extra_steps=(), name="Newsletter"):
        definition = newsletter_definition(sandbox_configuration.pk, qualtrics_sandbox, extra_steps)
        flow = services.flow_create(membership=membership, name=name)
        services.flow_save(membership=membership, flow=flow, definition=definition, base_version=0)
        services.flow_publish(membership=membership, flow=flow)
        flow.refresh_from_db()
        return flow

    return make


@pytest.fixture
def product_server(transactional_db, qualtrics_sandbox):
    """product_server(**environment) serves the product as in production, on the test database with
    the database task backend (tasks are rows next to their runs). Stopped before the flush."""
    env = {k: v for k, v in os.environ.items() if k not in ("SQLITE_PATH", "DATABASE_URL", "REDIS_URL")}
    env.update(database_env())
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "QUALTRICS_API_BASE": qualtrics_sandbox.api_base_template,
            "LOG_LEVEL": "WARNING",
        }
    )
    started: list[ProductServer] = []

    def start(**extra_env: str) -> ProductServer:
        started.append(ProductServer({**env, **extra_env}))
        return started[-1]

    yield start
    for server in started:
        server.stop()
