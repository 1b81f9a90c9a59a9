"""Demo data: a shared configuration for the bundled Qualtrics sandbox, a Slack connection to the
local Slack stand-in, and two flows:

1. New Response → Create Contact in Mailing List ("Add respondents to the newsletter");
2. New Response → If/Else (NPS ≤ 6) → Send Email + Slack message ("Follow up on detractors"):
   the email goes to the local mail catcher (`manage.py mail_catcher`), the message to the Slack
   stand-in (`manage.py slack_standin`), both started by ./scripts/run.
"""

from __future__ import annotations

import os

from accounts.models import Configuration, Role
from designer import services as flow_services
from designer.models import Flow

NEWSLETTER_FLOW = "Add respondents to the newsletter"
DETRACTOR_FLOW = "Follow up on detractors"
SLACK_CONNECTION = "Demo Slack (local stand-in)"
# The demo survey's "How likely are you to recommend us…" question (0–10) in the sandbox seed.
NPS_QUESTION = "q.QID3"


def slack_standin_webhook_url() -> str:
    from connectors.slack.standin import WEBHOOK_PATH, WEBHOOK_SECRET

    port = os.environ.get("SLACK_STANDIN_PORT", "8002")
    return f"http://127.0.0.1:{port}{WEBHOOK_PATH}{WEBHOOK_SECRET}"


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
    membership = team.memberships.get(user=user, role=Role.OWNER)
    survey_id = fixed_id("SV_", f"{DEMO_BRAND_ID}:csat")
    event = {"id": "trigger", "card": "qualtrics.new_response", "configuration": configuration.pk,
             "options": {"survey_id": survey_id}}
    if not Flow.objects.filter(team=team, name=NEWSLETTER_FLOW).exists():
        definition = {
            "event": event,
            "steps": [
                {"id": "step_1", "card": "qualtrics.create_contact_in_mailing_list", "configuration": configuration.pk,
                 "options": {"directory_id": fixed_id("POOL_", f"{DEMO_BRAND_ID}:directory"),
                             "mailing_list_id": fixed_id("CG_", f"{DEMO_BRAND_ID}:newsletter")},
                 "inputs": {"email": {"ref": "trigger.recipient_email"}, "first_name": {"ref": "trigger.recipient_name"}}},
            ],
        }
        flow = flow_services.flow_create(membership=membership, name=NEWSLETTER_FLOW)
        flow_services.flow_save(membership=membership, flow=flow, definition=definition, base_version=0)
        flow_services.flow_publish(membership=membership, flow=flow)
    if not Flow.objects.filter(team=team, name=DETRACTOR_FLOW).exists():
        slack = demo_slack_connection(membership=membership)
        flow = flow_services.flow_create(membership=membership, name=DETRACTOR_FLOW)
        flow_services.flow_save(membership=membership, flow=flow, definition=detractor_definition(event, slack),
                                base_version=0)
        flow_services.flow_publish(membership=membership, flow=flow)


def demo_slack_connection(*, membership) -> Configuration | None:
    """The Slack connection posting to the local stand-in; None when its address is not allowed
    (OUTBOUND_ALLOWED_HOSTS, which ./scripts/run sets), and the flow then only emails."""
    from accounts.configurations import ConfigurationInputError, configuration_create

    found = Configuration.objects.filter(team=membership.team, name=SLACK_CONNECTION).first()
    if found is not None:
        return found
    try:
        return configuration_create(membership=membership, connector="slack", name=SLACK_CONNECTION, shared=True,
                                    credentials={"webhook_url": slack_standin_webhook_url(), "bot_token": ""})
    except ConfigurationInputError:
        return None


def detractor_definition(event: dict, slack: Configuration | None) -> dict:
    """New Response → If/Else (NPS ≤ 6) → Send Email + Slack message."""
    nps = "{{trigger.%s}}" % NPS_QUESTION
    who = "{{trigger.recipient_email}}"
    then = [
        {"id": "step_2", "card": "email.send",
         "inputs": {"to": "support@example.com", "subject": f"Detractor: {who} gave {nps}/10",
                    "text": f"{who} answered {nps} to “How likely are you to recommend us?”.\n"
                            f"What could we do better: {{{{trigger.q.QID2}}}}\n"
                            f"Response {{{{trigger.response_id}}}}"}},
    ]
    if slack is not None:
        then.append({"id": "step_3", "card": "slack.post_message", "configuration": slack.pk, "options": {},
                     "inputs": {"text": f":rotating_light: Detractor {who} scored *{nps}*/10: "
                                        f"“{{{{trigger.q.QID2}}}}”"}})
    return {
        "event": event,
        "steps": [
            {"id": "step_1", "card": "core.if_else",
             "inputs": {"left": {"ref": f"trigger.{NPS_QUESTION}"}, "operator": "less_than", "right": 7},
             "then": then, "else": []},
        ],
    }
