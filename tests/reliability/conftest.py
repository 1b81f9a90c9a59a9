"""Fixtures of the fault-injection tests: real worker processes against the test database and the
Qualtrics sandbox, and a flow that creates a contact in a mailing list for each response."""

from __future__ import annotations

import os

import pytest

from accounts.models import Role
from designer import services
from tests.processes import database_env
from tests.reliability.support import Daphne


@pytest.fixture
def make_flow(team, sandbox_configuration, qualtrics_sandbox):
    """make_flow(extra_steps=[...]): New Response → Create Contact in Mailing List (step_1) → extra steps."""
    membership = team.memberships.get(role=Role.OWNER)

    def make(extra_steps=(), name="Newsletter"):
        definition = {
            "event": {
                "id": "trigger",
                "card": "qualtrics.new_response",
                "configuration": sandbox_configuration.pk,
                "options": {"survey_id": qualtrics_sandbox.survey_id},
            },
            "steps": [
                {
                    "id": "step_1",
                    "card": "qualtrics.create_contact_in_mailing_list",
                    "configuration": sandbox_configuration.pk,
                    "options": {
                        "directory_id": qualtrics_sandbox.directory_id,
                        "mailing_list_id": qualtrics_sandbox.mailing_list_id,
                    },
                    "inputs": {"email": {"ref": "trigger.recipient_email"}, "first_name": "Ada"},
                },
                *extra_steps,
            ],
        }
        flow = services.flow_create(membership=membership, name=name)
        services.flow_save(membership=membership, flow=flow, definition=definition, base_version=0)
        services.flow_publish(membership=membership, flow=flow)
        flow.refresh_from_db()
        return flow

    return make


@pytest.fixture
def daphne(transactional_db, qualtrics_sandbox):
    """daphne(close_timeout=10, **environment) serves the product as in production, on the test database with
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
    started: list[Daphne] = []

    def start(close_timeout: float = 10, **extra_env: str) -> Daphne:
        started.append(Daphne({**env, **extra_env}, close_timeout=close_timeout))
        return started[-1]

    yield start
    for server in started:
        server.stop()
