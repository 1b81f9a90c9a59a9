"""Shared fixtures: users, teams and memberships in each role."""

from __future__ import annotations

import pytest

from accounts import services
from accounts.models import Membership, Role


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
