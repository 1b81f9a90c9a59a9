"""Requests that once ended in a server error: each now gets its proper answer."""

from __future__ import annotations

import pytest
from django.urls import reverse

from designer.models import Flow, Run

pytestmark = pytest.mark.scaleout


def test_a_flow_with_runs_can_be_deleted_and_its_runs_go_with_it(world):
    response = world.client("editor").delete(reverse("api_flow", args=[world.flow.pk]))
    assert response.status_code == 204
    assert not Flow.objects.filter(pk=world.flow.pk).exists()
    assert not Run.objects.filter(pk=world.run.pk).exists()


def test_the_flow_list_page_deletes_a_flow_with_runs(world):
    response = world.client("editor").post(reverse("flow_action", args=[world.flow.pk, "delete"]))
    assert response.status_code == 302
    assert not Flow.objects.filter(pk=world.flow.pk).exists()
