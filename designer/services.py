"""Flows: create, save the draft, publish (versions), discard, restore, duplicate, delete, import and export."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Configuration
from designer.models import Activation, Flow


def _uses_configuration(definition: dict, configuration_id: int) -> bool:
    def walk(steps):
        for step in steps or []:
            if step.get("configuration") == configuration_id:
                return True
            if any(walk(step.get(k)) for k in ("then", "else", "steps")):
                return True
        return False

    event = definition.get("event") or {}
    return event.get("configuration") == configuration_id or walk(definition.get("steps"))


def flows_using_configuration(*, configuration: Configuration) -> list[Flow]:
    flows = Flow.objects.filter(team=configuration.team).select_related("activation", "live_version")
    return [
        f for f in flows if _uses_configuration(f.definition, configuration.pk)
        or (f.live_version_id and _uses_configuration(f.live_version.definition, configuration.pk))
    ]


def flows_detach_configuration(*, configuration: Configuration) -> list[str]:
    """Before a configuration is deleted: its flows are made inactive with a clear reason.

    Their triggers are disabled first (a subscription removed), while the credentials still exist.
    """
    from designer.activation import flow_deactivate

    names = []
    for flow in flows_using_configuration(configuration=configuration):
        names.append(flow.name)
        reason = f"Deactivated: the configuration “{configuration.name}” it used was deleted. Pick another one and activate again."
        activation, _ = Activation.objects.get_or_create(flow=flow)
        if activation.is_active:
            flow_deactivate(flow=flow, reason=reason)
        else:
            activation.reason = reason
            activation.save(update_fields=["reason", "updated_at"])
    return names


# Flows ---------------------------------------------------------------------------------------

import copy  # noqa: E402

from django.utils import timezone  # noqa: E402

from accounts.models import Membership  # noqa: E402
from accounts.selectors import configurations_usable  # noqa: E402
from config.parsers import json_problem  # noqa: E402
from designer.models import FlowVersion  # noqa: E402
from designer.validation import (  # noqa: E402
    Problem, configuration_ids, definition_validate, labels_clean, steps_by_id,
)

EXPORT_FORMAT = "qflows.flow/1"
EMPTY_DEFINITION: dict = {"event": None, "steps": []}


class FlowInvalid(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__(f"The flow has {len(problems)} problem(s).")
        self.problems = problems


class StaleVersion(Exception):
    """The flow was saved by someone else after the editor loaded it."""


def _flow_name(name: str | None) -> str:
    """NUL characters dropped: PostgreSQL cannot store them, and a name never needs one."""
    return (name or "").replace("\x00", "").strip()


def flow_create(*, membership: Membership, name: str, definition: dict | None = None) -> Flow:
    name = _flow_name(name) or "Untitled flow"
    with transaction.atomic():
        flow = Flow.objects.create(
            team=membership.team, name=name[:200], created_by=membership.user, updated_by=membership.user,
            definition=definition or copy.deepcopy(EMPTY_DEFINITION),
        )
        Activation.objects.create(flow=flow)
        if definition:  # a duplicate or an import: a validated draft, not published yet
            flow.revision = 1
            flow.draft_updated_at = timezone.now()
            flow.save(update_fields=["revision", "draft_updated_at"])
    return flow


def _allowed_configurations(*, membership: Membership, definition: dict) -> tuple[dict[int, str], dict[int, str]]:
    """({connection id: its connector} a card may name, {id: name} of those among them that are
    teammates' private connections named in `definition`).

    A private connection is used only in cards its owner wrote: another editor may keep such a
    card exactly as it is in the flow's latest version (same id, card, connection, options and
    inputs), but not add one, change one, bring one back (a restore) or copy one (a duplicate,
    an import). The engine checks the same at run time (designer/engine.py `_private_allowed`).
    """
    usable = dict(configurations_usable(membership=membership).values_list("pk", "connector"))
    held = {
        pk: (connector, name) for pk, connector, name in Configuration.objects.filter(
            team_id=membership.team_id, pk__in=configuration_ids(definition) if isinstance(definition, dict) else []
        ).exclude(pk__in=usable).values_list("pk", "connector", "name")
    }
    return {**{pk: c for pk, (c, _) in held.items()}, **usable}, {pk: name for pk, (_, name) in held.items()}


def flow_validate(*, membership: Membership, flow: Flow | None, definition: dict, importing: bool = False) -> list[Problem]:
    """The one validation of a definition: on save (its problems kept with the draft), publish
    (refused with any), restore, duplicate and import. `flow` is the flow whose latest published
    version it follows (None for a new flow): a teammate's private connection may be kept only on
    a card unchanged from that version, as the engine checks at run time."""
    from designer.files import file_owned, upload_prefix

    allowed, private = _allowed_configurations(membership=membership, definition=definition)
    latest = flow.versions.values_list("definition", flat=True).first() if flow is not None and flow.pk else None
    return definition_validate(
        definition, allowed_configurations=allowed, file_prefix=upload_prefix(membership.team_id),
        file_owned=lambda value: file_owned(team_id=membership.team_id, value=value) is not None,
        private=private, previous=steps_by_id(latest) if latest is not None else {},
        missing_configuration_ok=importing,
    )


def _validated(*, membership: Membership, flow: Flow | None, definition: dict, importing: bool = False) -> None:
    problems = flow_validate(membership=membership, flow=flow, definition=definition, importing=importing)
    if problems:
        raise FlowInvalid(problems)


def _version_add(*, flow: Flow, definition: dict, user, note: str = "") -> FlowVersion:
    """Publishes `definition` as the flow's next version, which becomes its live version."""
    flow.version += 1
    version = FlowVersion.objects.create(flow=flow, number=flow.version, definition=definition, created_by=user, note=note)
    flow.definition = definition
    flow.live_version = version
    flow.draft_problems = []
    flow.updated_by = user
    flow.save()
    return version


def _shape_problems(problems: list[Problem]) -> list[Problem]:
    """Problems of the definition as a whole (not an object, steps not a list, too many cards or
    too deeply nested): such a draft is refused, not stored. The others are stored with the draft."""
    return [p for p in problems if p.step == "flow"]


def _stale(locked: Flow) -> StaleVersion:
    who = locked.updated_by.username if locked.updated_by_id else "someone"
    when = timezone.localtime(locked.draft_updated_at or locked.updated_at).strftime("%Y-%m-%d %H:%M")
    return StaleVersion(
        f"This flow's draft was saved by {who} at {when} (revision {locked.revision}) after you opened it. "
        "Your changes were not saved: reload to see theirs, then make your changes again."
    )


def _draft_store(*, locked: Flow, definition: dict, problems: list[Problem], user) -> None:
    locked.definition = definition
    locked.draft_problems = [p.to_json() for p in problems]
    locked.revision += 1
    locked.draft_updated_at = timezone.now()
    locked.updated_by = user
    locked.save()


def flow_save(
    *, membership: Membership, flow: Flow, definition: dict, base_version: int | None, name: str | None = None, note: str = ""
) -> list[Problem]:
    """Stores the draft, problems and all (they are kept on the flow and returned); it never runs
    until it is published, which validates it again. `base_version` is the draft revision the
    editor opened: a save over a newer draft is refused. A definition that is not a flow at all
    (or over the size limits) is refused and nothing is stored."""
    problems = flow_validate(membership=membership, flow=flow, definition=definition)
    if _shape_problems(problems):
        raise FlowInvalid(_shape_problems(problems))
    with transaction.atomic():
        locked = Flow.objects.select_for_update(of=("self",)).select_related("updated_by").get(pk=flow.pk)
        if base_version is None or int(base_version) != locked.revision:
            raise _stale(locked)
        if name is not None and _flow_name(name):
            locked.name = _flow_name(name)[:200]
        _draft_store(locked=locked, definition=definition, problems=problems, user=membership.user)
    flow.refresh_from_db()
    return problems


def flow_publish(
    *, membership: Membership, flow: Flow, base_revision: int | None = None, note: str = "", switch_trigger: bool = True,
) -> FlowVersion:
    """Publishes the draft as a new version, after the full validation a save runs (for the person
    publishing); FlowInvalid with the problems otherwise, which are kept on the draft.

    An active flow switches to the new version in the same transaction, with its activation's row
    locked: a delivery is stored either before (it runs the old version) or after (the new one),
    never both and never neither (designer/webhooks.py `_store` reads the version under the same
    lock). When the event card's trigger changed, the flow is activated again for the new one
    (unless `switch_trigger` is False: flow_activate, which publishes first, does it itself).
    A draft that is the live version already publishes nothing: the live version is returned."""
    from designer import live
    from designer.triggers import TriggerError, event_ready

    reactivate = False
    with transaction.atomic():
        locked = Flow.objects.select_for_update(of=("self",)).select_related("live_version", "updated_by").get(pk=flow.pk)
        if base_revision is not None and int(base_revision) != locked.revision:
            raise _stale(locked)
        if not locked.has_unpublished_changes:
            flow.refresh_from_db()
            return locked.live_version
        definition = locked.definition
        problems = flow_validate(membership=membership, flow=locked, definition=definition)
        if problems:
            # Kept on the draft for the cards to show (the transaction commits; then it is refused).
            Flow.objects.filter(pk=locked.pk).update(draft_problems=[p.to_json() for p in problems])
        else:
            version = _version_add(flow=locked, definition=copy.deepcopy(definition), user=membership.user, note=note)
            activation = Activation.objects.select_for_update().filter(flow_id=locked.pk).first()
            if activation is not None and activation.is_active:
                try:
                    event, configuration = event_ready(locked, definition)
                    same = (activation.trigger == event.card.key and activation.options == event.options
                            and activation.configuration_id == (configuration.pk if configuration else None))
                except TriggerError:
                    same = False
                if same:
                    # One UPDATE under the row lock: the switch.
                    activation.version = version
                    activation.save(update_fields=["version", "updated_at"])
                    transaction.on_commit(lambda: live.publish_activation(activation))
                else:
                    reactivate = switch_trigger
    if problems:
        flow.refresh_from_db()
        raise FlowInvalid(problems)
    if reactivate:
        from designer.activation import ActivationError, flow_activate

        try:
            flow_activate(flow=locked, user=membership.user, membership=membership)
        except ActivationError:
            pass  # the activation keeps the reason; the version is published
    flow.refresh_from_db()
    return version


def flow_discard(*, membership: Membership, flow: Flow) -> Flow:
    """Puts the live version back in the draft (unsaved work in the draft is dropped)."""
    with transaction.atomic():
        locked = Flow.objects.select_for_update(of=("self",)).select_related("live_version").get(pk=flow.pk)
        if locked.live_version_id is None:
            raise ValueError("Nothing is published yet, so there is no live version to go back to.")
        _draft_store(locked=locked, definition=copy.deepcopy(locked.live_version.definition), problems=[],
                     user=membership.user)
    flow.refresh_from_db()
    return flow


def flow_rename(*, flow: Flow, name: str, user) -> Flow:
    name = _flow_name(name)
    if not name:
        raise ValueError("A flow needs a name.")
    flow.name = name[:200]
    flow.updated_by = user
    flow.save(update_fields=["name", "updated_by", "updated_at"])
    return flow


def flow_restore(*, membership: Membership, flow: Flow, number: int) -> list[Problem]:
    """Loads an old version into the draft (history is never rewritten; Publish makes it live
    again as a new version). It is validated as a save is, and its problems are kept with it."""
    old = flow.versions.get(number=number)
    definition = copy.deepcopy(old.definition)
    problems = flow_validate(membership=membership, flow=flow, definition=definition)
    if _shape_problems(problems):  # stored before today's limits: refused as a save would be
        raise FlowInvalid(_shape_problems(problems))
    with transaction.atomic():
        locked = Flow.objects.select_for_update().get(pk=flow.pk)
        _draft_store(locked=locked, definition=definition, problems=problems, user=membership.user)
    flow.refresh_from_db()
    return problems


def flow_duplicate(*, membership: Membership, flow: Flow) -> Flow:
    # A new flow: nothing in it is "unchanged", so teammates' private connections are refused.
    _validated(membership=membership, flow=None, definition=flow.definition)
    return flow_create(membership=membership, name=f"{flow.name} (copy)", definition=copy.deepcopy(flow.definition))


def flow_delete(*, flow: Flow) -> None:
    from designer.activation import flow_deactivate

    if hasattr(flow, "activation") and flow.activation.is_active:
        flow_deactivate(flow=flow, reason="Flow deleted.")
    with transaction.atomic():
        # Runs protect the version they ran from deletion, so they go first; they belong to the flow.
        flow.runs.all().delete()
        flow.delete()


def flow_export(*, flow: Flow) -> dict:
    ids = configuration_ids(flow.definition)
    configurations = {
        str(c.pk): {"name": c.name, "connector": c.connector}
        for c in Configuration.objects.filter(team=flow.team, pk__in=ids)
    }
    return {"format": EXPORT_FORMAT, "name": flow.name, "definition": flow.definition, "configurations": configurations}


def flow_import(*, membership: Membership, document: dict) -> tuple[Flow, list[str]]:
    """Creates a flow from an export; configuration references are remapped by name or cleared."""
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        raise ValueError(f"This is not a flow export (expected format “{EXPORT_FORMAT}”).")
    problem = json_problem(document)
    if problem:
        raise ValueError(f"The export {problem}.")
    definition = document.get("definition")
    if not isinstance(definition, dict):
        raise ValueError("The export has no flow definition.")
    if not isinstance(definition.get("event"), dict | None) or not isinstance(definition.get("steps", []), list):
        raise ValueError("The export's definition needs an event card (or none) and a list of steps.")
    definition = copy.deepcopy(definition)
    # The stored names of chosen options come along; any a save would refuse are dropped.
    labels_clean(definition)
    exported = document.get("configurations")
    exported = exported if isinstance(exported, dict) else {}
    usable = {c.name.casefold(): c for c in configurations_usable(membership=membership)}
    usable_ids = {c.pk for c in usable.values()}
    warnings: list[str] = []
    mapping: dict[int, int | None] = {}
    for old_id in configuration_ids(definition):
        info = exported.get(str(old_id))
        info = info if isinstance(info, dict) else {}
        name = str(info.get("name") or "")
        match = usable.get(name.casefold()) if name else None
        if match is not None and info.get("connector") not in (None, match.connector):
            match = None  # the same name, but a connection of another service
        if match is not None:
            mapping[old_id] = match.pk
            if match.pk != old_id:
                warnings.append(f"Configuration “{name}” was matched by name to yours.")
        elif old_id in usable_ids and not name:
            mapping[old_id] = old_id
        else:
            mapping[old_id] = None
            warnings.append(f"Configuration “{name or old_id}” is not in your team: choose one on the cards that used it.")

    def remap(node):
        if isinstance(node.get("configuration"), int):
            node["configuration"] = mapping.get(node["configuration"])

    event = definition.get("event")
    if isinstance(event, dict):
        remap(event)
    from designer.validation import walk_steps

    for step in walk_steps(definition.get("steps") or []):
        remap(step)
    # Validated as a save is, except that cards whose connection could not be matched stay
    # without one (the warnings above name them).
    _validated(membership=membership, flow=None, definition=definition, importing=True)
    flow = flow_create(membership=membership, name=str(document.get("name") or "Imported flow"), definition=definition)
    return flow, warnings
