"""Redirects after a form never leave the site."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.scaleout


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/flows/", "javascript:alert(1)"])
def test_switching_teams_never_redirects_off_site(world, target):
    response = world.client("owner").post(reverse("team_switch"), {"team": world.team.pk, "next": target})
    assert response.status_code == 302
    assert response["Location"] == reverse("flows")


def test_switching_teams_returns_to_the_page_it_came_from(world):
    response = world.client("owner").post(
        reverse("team_switch"), {"team": world.team.pk, "next": "/runs/?outcome=failed"}
    )
    assert response["Location"] == "/runs/?outcome=failed"


@pytest.mark.parametrize("route", ["login"])
def test_signing_in_never_redirects_off_site(world, route):
    from django.test import Client

    client = Client()
    response = client.post(
        reverse(route) + "?next=https://evil.example/", {"username": "owner", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("flows")
