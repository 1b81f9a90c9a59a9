"""Sample data and step tests: the editor's "Load sample" on the event card and "Test step" on
every other card.

The event card's sample is a real event run through the event card (the latest response of the
survey, one the person picks, the next tick of a schedule, or data pasted for a webhook); a step
test runs one card once with its inputs resolved against the samples pinned for the steps before
it. Both run the card as a run does (designer/engine.py `step_test`) and are recorded as a run of
their own whose delivery's source is "test", which alerts and dedupe leave out. What succeeds is
pinned as the step's sample (`StepSample`).

The definition tested is the editor's (the card may not be saved yet), validated as a save is,
for the person testing: problems of the tested card refuse the test, those of other cards do not.
A card that changes something (`Card.changes_for`) is tested only when the request confirms it.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Membership
from config.parsers import json_problem
from connectors import registry
from connectors.http import ConnectorError
from connectors.specs import DeliveryRefused, Event
from designer import engine
from designer.models import Activation, Delivery, DeliverySource, Flow, Run, RunStatus, StepSample
from designer.services import FlowInvalid, flow_validate
from designer.triggers import TriggerError, connection_client, event_ready, trigger_context
from designer.validation import Problem, steps_by_id

EVENT_STEP = "trigger"


class StepTestError(Exception):
    """A test that cannot be made as asked; the message says why."""


class StepNotFound(StepTestError):
    """The definition has no card with that id."""


class ConfirmationNeeded(StepTestError):
    """The card changes something: the person must confirm the test first. The message says what."""

    def __init__(self, message: str, changes: str):
        super().__init__(message)
        self.changes = changes


def _definition(flow: Flow, definition: Any) -> dict:
    if definition is None:
        return flow.definition or {}
    if not isinstance(definition, dict):
        raise StepTestError("definition must be the flow's definition, an object with an event and steps.")
    return definition


def _validated(*, membership: Membership, flow: Flow, definition: dict, step_id: str) -> dict:
    """The card `step_id` of `definition`, once it passes the save's validation for this person."""
    node = steps_by_id(definition).get(step_id)
    if node is None or not isinstance(node.get("card"), str):
        raise StepNotFound(f"The flow has no card “{step_id[:50]}”: add it in the editor first.")
    problems: list[Problem] = [
        p for p in flow_validate(membership=membership, flow=flow, definition=definition)
        if p.step in (step_id, "flow")
    ]
    if problems:
        raise FlowInvalid(problems)
    return node


def step_samples(*, flow: Flow) -> dict[str, dict]:
    """{step id: {"card", "outputs", "event_id", "run", "updated_at"}} pinned for the flow."""
    return {
        s.step_id: {"card": s.card, "outputs": s.outputs, "event_id": s.event_id, "run": s.run_id,
                    "updated_at": s.updated_at}
        for s in StepSample.objects.filter(flow=flow)
    }


def _run_for(flow: Flow, step_id: str, event_id: str = "") -> Run:
    """A run for one test, running. It has no version: it runs the draft's card (maybe never
    published, maybe not even saved), not a published version."""
    now = timezone.now()
    with transaction.atomic():
        delivery = Delivery.objects.create(
            flow=flow, event_id=f"{engine.STEP_TEST_EVENT_PREFIX}{step_id}", topic=event_id[:300],
            source=DeliverySource.TEST, payload={},
        )
        return Run.objects.create(flow=flow, team_id=flow.team_id, version=None, delivery=delivery,
                                  status=RunStatus.RUNNING, attempts=1, started_at=now)


def _pin(*, flow: Flow, step_id: str, card: str, result: dict, run: Run, event_id: str = "") -> None:
    if result["status"] != RunStatus.SUCCEEDED:
        return
    StepSample.objects.update_or_create(
        flow=flow, step_id=step_id,
        defaults={"card": card, "outputs": result["outputs"], "event_id": event_id[:200], "run": run},
    )


def step_test(*, membership: Membership, flow: Flow, step_id: str, definition: Any = None,
              confirm: bool = False) -> dict:
    """Runs one card of the flow once on the pinned samples and pins what it gives. The event
    card loads its sample instead (the latest event). Raises ConfirmationNeeded for a card that
    changes something unless `confirm`."""
    definition = _definition(flow, definition)
    if step_id == EVENT_STEP:
        return sample_load(membership=membership, flow=flow, definition=definition)
    node = _validated(membership=membership, flow=flow, definition=definition, step_id=step_id)
    card = registry.get(node["card"])
    if card.kind == "event":
        return sample_load(membership=membership, flow=flow, definition=definition)
    changes = card.changes_for(node.get("options") if isinstance(node.get("options"), dict) else {})
    if changes and not confirm:
        raise ConfirmationNeeded(f"Testing “{card.name}” ({step_id}) really runs it: it {changes}. "
                                 f"Confirm to test it.", changes)
    samples = {key: value["outputs"] for key, value in step_samples(flow=flow).items() if key != step_id}
    allowed = {node["configuration"]} if isinstance(node.get("configuration"), int) else set()
    run = _run_for(flow, step_id)
    result = engine.step_test(run, node, samples=samples, allowed=allowed)
    _pin(flow=flow, step_id=step_id, card=card.key, result=result, run=run)
    return {**result, "run": run.pk}


def sample_load(*, membership: Membership, flow: Flow, definition: Any = None, event_id: str = "",
                data: Any = None) -> dict:
    """Loads the event card's sample: the event `event_id` (one of the trigger's recent events),
    the event's `data` as pasted (the event card's inputs, for a webhook), or else the latest
    event (the survey's latest response, the schedule's next tick); runs the event card on it and
    pins its outputs."""
    definition = _definition(flow, definition)
    node = _validated(membership=membership, flow=flow, definition=definition, step_id=EVENT_STEP)
    try:
        event, configuration = event_ready(flow, definition)
    except TriggerError as exc:
        raise StepTestError(str(exc)) from None
    if data is not None:
        if not isinstance(data, dict):
            raise StepTestError(f"data must be an object: the {event.card.name} card's inputs.")
        problem = json_problem(data)
        if problem:
            raise StepTestError(f"The sample {problem}.")
        found = Event(id=str(event_id or "sample")[:200], data=data)
    else:
        found = _event(flow, event, configuration, str(event_id or "").strip())
    run = _run_for(flow, EVENT_STEP, found.id)
    allowed = {configuration.pk} if configuration is not None else set()
    result = engine.step_test(run, node, samples={}, allowed=allowed, event_inputs=dict(found.data))
    _pin(flow=flow, step_id=EVENT_STEP, card=event.card.key, result=result, run=run, event_id=found.id)
    return {**result, "run": run.pk, "event_id": found.id}


def _event(flow: Flow, event, configuration, event_id: str) -> Event:
    """The trigger's event with this id, or its latest one."""
    client = connection_client(configuration) if configuration is not None else None
    probe = Activation(flow=flow, trigger=event.card.key, options=event.options, activated_at=timezone.now())
    ctx = trigger_context(probe, client=client)
    try:
        if event_id:
            return event.trigger.event(ctx, event_id)
        items = event.trigger.recent(ctx, 1)
        if not items:
            raise StepTestError(f"The {event.card.name} card has no recent event to use as a sample"
                                f"{': paste one' if event.trigger.accepts_deliveries else ''}.")
        latest = items[0]
        return Event(id=str(latest.get("id") or "sample"), data=latest.get("data") or {})
    except DeliveryRefused as exc:
        raise StepTestError(exc.message) from None
    except ConnectorError as exc:
        raise StepTestError(f"Could not read the sample event: {exc.message}") from exc
    finally:
        if client is not None and hasattr(client, "close"):
            client.close()
