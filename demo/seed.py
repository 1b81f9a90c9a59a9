"""Demo data: a shared configuration for the bundled Qualtrics sandbox and a first flow."""

from __future__ import annotations

from accounts.models import Configuration, Role
from designer import services as flow_services
from designer.models import Flow


def demo_data_create(*, team, user) -> None:
    from connectors.qualtrics.sandbox.seed import DATACENTER, DEMO_BRAND_ID, DEMO_TOKEN, fixed_id

    configuration = Configuration.objects.filter(team=team, name="Demo sandbox").first()
    if configuration is None:
        configuration = Configuration(
            team=team, owner=user, connector="qualtrics", name="Demo sandbox", shared=True,
        )
        configuration.credentials = {"datacenter": DATACENTER, "api_token": DEMO_TOKEN, "username": "dana@example.com"}
        configuration.save()
    if configuration.status != "authorized":
        from accounts.configurations import configuration_authorize

        configuration_authorize(configuration=configuration)
    if Flow.objects.filter(team=team).exists():
        return
    membership = team.memberships.get(user=user, role=Role.OWNER)
    definition = {
        "event": {"id": "trigger", "card": "qualtrics.new_response", "configuration": configuration.pk,
                  "options": {"survey_id": fixed_id("SV_", f"{DEMO_BRAND_ID}:csat")}},
        "steps": [
            {"id": "step_1", "card": "qualtrics.create_contact_in_mailing_list", "configuration": configuration.pk,
             "options": {"directory_id": fixed_id("POOL_", f"{DEMO_BRAND_ID}:directory"),
                         "mailing_list_id": fixed_id("CG_", f"{DEMO_BRAND_ID}:newsletter")},
             "inputs": {"email": {"ref": "trigger.recipient_email"}, "first_name": {"ref": "trigger.recipient_name"}}},
        ],
    }
    flow = flow_services.flow_create(membership=membership, name="Add respondents to the newsletter")
    flow_services.flow_save(membership=membership, flow=flow, definition=definition, base_version=0)
