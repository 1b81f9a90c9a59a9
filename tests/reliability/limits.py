"""Flows of the run-limit tests: a webhook event (Catch Webhook, no connection) and core cards."""

from __future__ import annotations

from accounts.models import Role
from designer import services
from designer.models import Run
from designer.runs import delivery_accept


def webhook_flow(team, steps: list[dict], name: str = "Limits"):
    membership = team.memberships.get(role=Role.OWNER)
    flow = services.flow_create(membership=membership, name=name)
    services.flow_save(membership=membership, flow=flow, base_version=0, definition={
        "event": {"id": "trigger", "card": "webhook.catch", "configuration": None, "options": {}},
        "steps": steps,
    })
    services.flow_publish(membership=membership, flow=flow)
    flow.refresh_from_db()
    return flow


def deliver(flow, body: dict, event_id: str = "") -> Run:
    return delivery_accept(flow=flow, version=flow.versions.first(), event_id=event_id, source="test",
                           payload={"body": body, "event_id": event_id})


def compose(step_id: str, template: str) -> dict:
    return {"id": step_id, "card": "core.compose", "inputs": {"template": template}}


def for_each(step_id: str, ref: str, steps: list[dict]) -> dict:
    return {"id": step_id, "card": "core.for_each", "inputs": {"list": {"ref": ref}}, "steps": steps}


def nested_loops(levels: int = 3) -> list[dict]:
    """For Each over the body's `items`, nested `levels` deep, with a Compose inside the last."""
    inner: list[dict] = [compose("inner", "item {{loop_%d.index}}" % levels)]
    for level in range(levels, 0, -1):
        inner = [for_each(f"loop_{level}", "trigger.body.items", inner)]
    return inner


def exploding_compose(copies: int = 40, levels: int = 4) -> list[dict]:
    """A 704-byte template, then Compose steps that each repeat the previous one's text `copies` times."""
    steps = [compose("c1", "x" * 704)]
    for level in range(2, levels + 1):
        steps.append(compose(f"c{level}", "{{c%d.text}}" % (level - 1) * copies))
    return steps
