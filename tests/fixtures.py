"""Shared fixtures: users, teams and memberships in each role; a configuration for the Qualtrics
sandbox; worker processes on the test database."""

from __future__ import annotations

import pytest

from accounts import services
from accounts.models import Configuration, Membership, Role
from tests.processes import Worker, worker_base_env


@pytest.fixture
def make_user(db, django_user_model):
    def make(username: str = "alice", password: str = "correct-horse-battery"):
        return django_user_model.objects.create_user(username=username, password=password, email=f"{username}@example.com")

    return make


@pytest.fixture
def team(make_user):
    owner = make_user("owner")
    return services.team_create(name="Acme Research", owner=owner)


@pytest.fixture
def member(team, make_user):
    """member(role) -> a user who holds `role` in `team`."""

    def make(role: str = Role.EDITOR, username: str | None = None):
        if role == Role.OWNER and username is None:
            return team.memberships.get(role=Role.OWNER).user
        user = make_user(username or f"{role}-user")
        Membership.objects.create(team=team, user=user, role=role)
        return user

    return make


@pytest.fixture
def other_team(make_user):
    stranger = make_user("stranger")
    return services.team_create(name="Other Co", owner=stranger)


@pytest.fixture
def owner_client(client, team):
    client.force_login(team.memberships.get(role=Role.OWNER).user)
    return client


def newsletter_definition(configuration_id: int, sandbox, extra_steps=()) -> dict:
    """New Response of the sandbox's survey → Create Contact in Mailing List (step_1) of its
    mailing list, with the respondent's email → `extra_steps`."""
    return {
        "event": {"id": "trigger", "card": "qualtrics.new_response", "configuration": configuration_id,
                  "options": {"survey_id": sandbox.survey_id}},
        "steps": [
            {"id": "step_1", "card": "qualtrics.create_contact_in_mailing_list", "configuration": configuration_id,
             "options": {"directory_id": sandbox.directory_id, "mailing_list_id": sandbox.mailing_list_id},
             "inputs": {"email": {"ref": "trigger.recipient_email"}, "first_name": "Ada"}},
            *extra_steps,
        ],
    }


@pytest.fixture
def sandbox_configuration(team, qualtrics_sandbox):
    """A shared configuration of the team for the Qualtrics sandbox."""
    owner = team.memberships.get(role=Role.OWNER).user
    item = Configuration(team=team, owner=owner, connector="qualtrics", name="Sandbox", shared=True)
    item.credentials = {"datacenter": qualtrics_sandbox.datacenter, "api_token": qualtrics_sandbox.token, "username": ""}
    item.save()
    return item


@pytest.fixture
def worker_env(settings, live_server, qualtrics_sandbox):
    """The environment of worker processes: the test database, the sandbox, a 2 s run lease."""
    from designer.tasks import execute_run, poll_activation

    # django-tasks-celery registers a task with Celery when it is defined or first enqueued. If an
    # earlier test defined them under another backend, the first enqueues from several server
    # threads at once race and some fail; registering here, before any thread enqueues, avoids it.
    for task in (execute_run, poll_activation):
        task.get_backend().validate_task(task)
    settings.PUBLIC_BASE_URL = live_server.url
    settings.RUN_LEASE_SECONDS = 2
    return worker_base_env(
        QUALTRICS_API_BASE=qualtrics_sandbox.api_base_template,
        PUBLIC_BASE_URL=live_server.url,
        RUN_LEASE_SECONDS="2",
        DJANGO_SETTINGS_MODULE="config.settings",
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        LOG_LEVEL="WARNING",
    )


@pytest.fixture
def workers(worker_env):
    """workers() starts one more worker process; all are stopped after the test. With
    `database_tasks=True` it is a database worker even when REDIS_URL is set; `scheduler_interval`
    turns its scheduler thread on (see tests.processes.Worker); `output` is a file for what it
    prints; other keywords are settings of its environment (RUN_MAX_STEPS="100000")."""
    started: list[Worker] = []

    def start(database_tasks: bool = False, scheduler_interval: int | None = None, output=None,
              **settings_env: str) -> Worker:
        env = {k: v for k, v in worker_env.items() if not (database_tasks and k == "REDIS_URL")}
        env.update(settings_env)
        worker = Worker(env, scheduler_interval=scheduler_interval, output=output).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
