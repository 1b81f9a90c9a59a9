from __future__ import annotations

import pytest

from accounts.models import Configuration, Role


@pytest.fixture
def configuration(team):
    owner = team.memberships.get(role=Role.OWNER).user
    item = Configuration(team=team, owner=owner, connector="qualtrics", name="Main", shared=True)
    item.credentials = {"datacenter": "sandbox1", "api_token": "token-for-tests-0000000000", "username": ""}
    item.save()
    return item


@pytest.fixture
def definition(configuration):
    """New Response → Create Contact in Mailing List → If/Else → Add User to Group."""

    def build(cfg=None):
        cfg = cfg or configuration.pk
        return {
            "event": {"id": "trigger", "card": "qualtrics.new_response", "configuration": cfg,
                      "options": {"survey_id": "SV_1"}},
            "steps": [
                {"id": "step_1", "card": "qualtrics.create_contact_in_mailing_list", "configuration": cfg,
                 "options": {"directory_id": "POOL_1", "mailing_list_id": "CG_1"},
                 "inputs": {"email": {"ref": "trigger.recipient_email"}, "first_name": "Ada"}},
                {"id": "step_2", "card": "core.if_else",
                 "inputs": {"left": {"ref": "trigger.q.QID1"}, "operator": "equals", "right": "1"},
                 "then": [{"id": "step_3", "card": "qualtrics.add_user_to_group", "configuration": cfg,
                           "options": {"group_id": "GR_1"}, "inputs": {"user_id": "UR_1"}}],
                 "else": []},
            ],
        }

    return build


@pytest.fixture
def flow(team, definition):
    from designer import services

    membership = team.memberships.get(role=Role.OWNER)
    item = services.flow_create(membership=membership, name="Welcome")
    services.flow_save(membership=membership, flow=item, definition=definition(), base_version=0)
    services.flow_publish(membership=membership, flow=item)
    item.refresh_from_db()
    return item
