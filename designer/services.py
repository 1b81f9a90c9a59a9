"""Flows: create, save (versioned), restore, duplicate, delete, import and export."""

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
    flows = Flow.objects.filter(team=configuration.team).select_related("activation")
    return [f for f in flows if _uses_configuration(f.definition, configuration.pk)]


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
        if definition:
            _version_add(flow=flow, definition=definition, user=membership.user, note="Imported")
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
    """The one validation of a definition about to become a version: on save, restore, duplicate
    and import. `flow` is the flow whose latest version it follows (None for a new flow)."""
    from designer.files import file_owned, upload_prefix

    allowed, private = _allowed_configurations(membership=membership, definition=definition)
    return definition_validate(
        definition, allowed_configurations=allowed, file_prefix=upload_prefix(membership.team_id),
        file_owned=lambda value: file_owned(team_id=membership.team_id, value=value) is not None,
        private=private, previous=steps_by_id(flow.definition) if flow is not None else {},
        missing_configuration_ok=importing,
    )


def _validated(*, membership: Membership, flow: Flow | None, definition: dict, importing: bool = False) -> None:
    problems = flow_validate(membership=membership, flow=flow, definition=definition, importing=importing)
    if problems:
        raise FlowInvalid(problems)


def _version_add(*, flow: Flow, definition: dict, user, note: str = "") -> FlowVersion:
    flow.version += 1
    version = FlowVersion.objects.create(flow=flow, number=flow.version, definition=definition, created_by=user, note=note)
    flow.definition = definition
    flow.updated_by = user
    flow.save()
    return version


def flow_save(
    *, membership: Membership, flow: Flow, definition: dict, base_version: int | None, name: str | None = None, note: str = ""
) -> FlowVersion:
    """Validates and saves a new immutable version; refuses to overwrite a newer one."""
    _validated(membership=membership, flow=flow, definition=definition)
    with transaction.atomic():
        locked = Flow.objects.select_for_update().get(pk=flow.pk)
        if base_version is None or int(base_version) != locked.version:
            latest = locked.versions.select_related("created_by").first()
            who = latest.created_by.username if latest and latest.created_by else "someone"
            when = timezone.localtime(latest.created_at).strftime("%Y-%m-%d %H:%M") if latest else ""
            raise StaleVersion(
                f"This flow was saved by {who} at {when} (version {locked.version}) after you opened it. "
                "Your changes were not saved: reload to see theirs, then make your changes again."
            )
        if name is not None and _flow_name(name):
            locked.name = _flow_name(name)[:200]
        version = _version_add(flow=locked, definition=definition, user=membership.user, note=note)
    flow.refresh_from_db()
    return version


def flow_rename(*, flow: Flow, name: str, user) -> Flow:
    name = _flow_name(name)
    if not name:
        raise ValueError("A flow needs a name.")
    flow.name = name[:200]
    flow.updated_by = user
    flow.save(update_fields=["name", "updated_by", "updated_at"])
    return flow


def flow_restore(*, membership: Membership, flow: Flow, number: int) -> FlowVersion:
    """Restores an old version as a new one (history is never rewritten)."""
    old = flow.versions.get(number=number)
    _validated(membership=membership, flow=flow, definition=old.definition)
    with transaction.atomic():
        locked = Flow.objects.select_for_update().get(pk=flow.pk)
        version = _version_add(flow=locked, definition=copy.deepcopy(old.definition), user=membership.user,
                               note=f"Restored from version {number}")
    flow.refresh_from_db()
    return version


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
