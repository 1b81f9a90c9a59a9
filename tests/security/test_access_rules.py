"""Access rules that were once wrong, each checked on its own (the matrix checks them all)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from accounts.models import Configuration

pytestmark = pytest.mark.scaleout


def test_the_configuration_authorize_address_only_authorizes(world):
    url = reverse("api_configuration_authorize", args=[world.configuration.pk])
    owner = world.client("owner")
    for method in ("GET", "PATCH", "DELETE"):
        response = owner.generic(method, url, json.dumps({"name": "Renamed"}), content_type="application/json")
        assert response.status_code == 405, method
    assert Configuration.objects.get(pk=world.configuration.pk).name == world.configuration.name
    assert owner.post(url).status_code == 200


def test_viewers_cannot_load_survey_responses_through_the_flows_configuration(world):
    url = reverse("api_flow_recent_events", args=[world.flow.pk])
    assert world.client("viewer").get(url).status_code == 403
    assert world.client("editor").get(url).status_code == 200
