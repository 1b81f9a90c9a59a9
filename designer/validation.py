"""Server-side validation of a flow definition against the card catalog.

Every problem is reported with the step and field it concerns, so the editor can show it there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from collections.abc import Callable, Mapping
from typing import Any

from connectors import registry
from connectors.registry import UnknownCardError

STEP_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
PLACEHOLDER_RE = re.compile(r"\{\{\s*([a-z][a-z0-9_]*\.[A-Za-z0-9_.\-]+)\s*\}\}")
MAX_STEPS = 200
MAX_DEPTH = 6
# Output prefixes a card with dynamic outputs may produce (survey questions, embedded data).
# Which output types an input of a given type accepts.
ACCEPTS = {
    "text": {"text", "number", "date", "boolean"},
    "number": {"number"},
    "boolean": {"boolean"},
    "date": {"date", "text"},
    "object": {"object"},
    "list": {"list"},
    "file": {"file"},
}
NESTED_KEYS = ("then", "else", "steps")
# Labels the editor stores next to ids, so that whoever cannot list the account's choices (a
# viewer, a configuration that no longer works) still reads names: option_labels {option key:
# label} for options whose choices load from the account, output_labels {output key: {"label",
# "type"}} for outputs that exist only for the chosen options (a survey's questions).
MAX_LABEL_CHARS = 200
MAX_OUTPUT_LABELS = 200
OUTPUT_TYPES = frozenset(ACCEPTS)


@dataclass
class Problem:
    step: str
    field: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "field": self.field, "message": self.message}


@dataclass
class _Scope:
    """Outputs available to a step: {step id: (card, {output key: type})}."""

    outputs: dict[str, tuple[Any, dict[str, str]]] = field(default_factory=dict)

    def child(self) -> _Scope:
        return _Scope(outputs=dict(self.outputs))


def is_ref(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"ref"} and isinstance(value["ref"], str)


def walk_steps(steps: list[dict]):
    """Every step in document order, nested ones included."""
    for step in steps or []:
        if not isinstance(step, dict):
            continue
        yield step
        for key in NESTED_KEYS:
            yield from walk_steps(step.get(key) or [])


def configuration_ids(definition: dict) -> set[int]:
    ids = set()
    event = definition.get("event")
    steps = definition.get("steps")
    for node in [*([event] if isinstance(event, dict) else []), *walk_steps(steps if isinstance(steps, list) else [])]:
        if isinstance(node.get("configuration"), int):
            ids.add(node["configuration"])
    return ids


def step_unchanged(node: dict, previous: Mapping[str, dict] | None) -> bool:
    """Whether a card is exactly as in the previous version: the same id, card, connection, options
    and inputs (stored labels and nested cards aside)."""
    if not previous or not isinstance(node, dict) or node.get("id") not in previous:
        return False
    return _comparable(node) == _comparable(previous[node["id"]])


def _comparable(node: dict) -> dict:
    return {k: v for k, v in node.items() if k not in (*NESTED_KEYS, "option_labels", "output_labels")}


def steps_by_id(definition: Any) -> dict[str, dict]:
    """{card id: card} for the event card and every step of a definition."""
    if not isinstance(definition, dict):
        return {}
    event = definition.get("event")
    steps = definition.get("steps")
    nodes = [*([event] if isinstance(event, dict) else []), *walk_steps(steps if isinstance(steps, list) else [])]
    return {str(node.get("id")): node for node in nodes}


class Validator:
    def __init__(self, *, allowed_configurations: Mapping[int, str] | set[int], file_prefix: str | None = None,
                 file_owned: Callable[[Any], bool] | None = None, private: Mapping[int, str] | None = None,
                 previous: Mapping[str, dict] | None = None, missing_configuration_ok: bool = False):
        # {connection id: its connector}; a plain set of ids accepts them for any connector.
        self.allowed_configurations = allowed_configurations
        self.file_prefix = file_prefix
        # Whether a file value is one of the team's files (its StoredFile); None skips the check.
        self.file_owned = file_owned
        # Teammates' private connections {id: name}: a card may keep one only if it is unchanged
        # from `previous` ({card id: card} of the version this one replaces).
        self.private = private or {}
        self.previous = previous or {}
        # An import keeps cards whose connection it had to clear; a person chooses one later.
        self.missing_configuration_ok = missing_configuration_ok
        self.problems: list[Problem] = []
        self.seen_ids: set[str] = set()
        self.count = 0

    def error(self, step: str, field: str | None, message: str) -> None:
        self.problems.append(Problem(step, field, message))

    def validate(self, definition: Any) -> list[Problem]:
        if not isinstance(definition, dict):
            self.error("flow", None, "The flow definition must be an object with an event and steps.")
            return self.problems
        scope = _Scope()
        event = definition.get("event")
        if not event:
            self.error("trigger", None, "Add an event card first: it starts the flow.")
        elif not isinstance(event, dict):
            self.error("trigger", None, "The event card must be an object with an id, a card and its options.")
        else:
            card = self._node(event, scope, expect_event=True)
            if card is not None:
                scope.outputs["trigger"] = (card, {f.key: f.type for f in card.outputs})
        steps = definition.get("steps", [])
        if not isinstance(steps, list):
            self.error("flow", None, "Steps must be a list.")
        else:
            self._steps(steps, scope, depth=1)
        return self.problems

    def _steps(self, steps: list, scope: _Scope, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.error("flow", None, f"Cards are nested more than {MAX_DEPTH} levels deep.")
            return
        for step in steps:
            if self.count > MAX_STEPS:
                return  # said once
            self.count += 1
            if self.count > MAX_STEPS:
                self.error("flow", None, f"A flow can have at most {MAX_STEPS} cards.")
                return
            if not isinstance(step, dict):
                self.error("flow", None, "Each step must be an object.")
                continue
            card = self._node(step, scope, expect_event=False)
            if card is None:
                continue
            sid = step["id"]
            if card.key == "core.if_else":
                for branch in ("then", "else"):
                    nested = step.get(branch) or []
                    if not isinstance(nested, list):
                        self.error(sid, None, f"The {branch} branch must be a list of cards.")
                        continue
                    self._steps(nested, scope.child(), depth + 1)
            elif card.key == "core.for_each":
                nested = step.get("steps") or []
                inner = scope.child()
                inner.outputs[sid] = (card, {f.key: f.type for f in card.outputs})
                if isinstance(nested, list):
                    self._steps(nested, inner, depth + 1)
                continue  # item and index exist only inside the loop
            scope.outputs[sid] = (card, {f.key: f.type for f in card.outputs})

    def _node(self, node: dict, scope: _Scope, *, expect_event: bool):
        sid = node.get("id")
        if expect_event:
            if sid != "trigger":
                self.error("trigger", None, "The event card's id must be 'trigger'.")
                sid = "trigger"
        elif not isinstance(sid, str) or not STEP_ID_RE.match(sid):
            self.error(str(sid), None, "Each card needs an id of lowercase letters, digits and underscores.")
            return None
        if sid in self.seen_ids:
            self.error(sid, None, f"Two cards share the id '{sid}'.")
            return None
        self.seen_ids.add(sid)
        try:
            card = registry.get(str(node.get("card")))
        except UnknownCardError as exc:
            self.error(sid, None, str(exc))
            return None
        if expect_event and card.kind != "event":
            self.error(sid, None, f"“{card.name}” is not an event; a flow starts with an event card.")
            return None
        if not expect_event and card.kind == "event":
            self.error(sid, None, f"“{card.name}” is an event; a flow has only one, at the start.")
            return None
        self._configuration(sid, card, node.get("configuration"), node)
        options = node.get("options") or {}
        if not isinstance(options, dict):
            self.error(sid, None, "Options must be an object.")
            options = {}
        for opt in card.options:
            value = options.get(opt.key, opt.default)
            if opt.required and value in (None, ""):
                self.error(sid, opt.key, f"Choose {opt.label}.")
            elif opt.choices is not None and value not in (None, "") and value not in {c.value for c in opt.choices}:
                self.error(sid, opt.key, f"{opt.label}: “{value}” is not one of the choices.")
        for key in options:
            if card.option(key) is None:
                self.error(sid, key, f"“{card.name}” has no option '{key}'.")
        self._option_labels(sid, card, node.get("option_labels"), options)
        self._output_labels(sid, card, node.get("output_labels"))
        inputs = node.get("inputs") or {}
        if not isinstance(inputs, dict):
            self.error(sid, None, "Inputs must be an object.")
            inputs = {}
        for key in inputs:
            if card.input(key) is None:
                self.error(sid, key, f"“{card.name}” has no input '{key}'.")
        for spec in card.inputs:
            self._input(sid, spec, inputs.get(spec.key), scope)
        return card

    def _option_labels(self, sid: str, card, labels, options: dict) -> None:
        if labels is None:
            return
        if not isinstance(labels, dict):
            self.error(sid, "option_labels", "Option labels must be an object of option keys and their labels.")
            return
        unknown = [key for key in labels if not getattr(card.option(key), "source", None)]
        skip = set(unknown)
        if unknown:
            names = ", ".join(f"'{key[:50]}'" for key in unknown[:3]) + (" …" if len(unknown) > 3 else "")
            self.error(sid, "option_labels", f"“{card.name}” has no option {names} whose choices come from the account.")
        for key, label in labels.items():
            if key in skip:
                continue
            spec = card.option(key)
            if options.get(key) in (None, ""):
                self.error(sid, key, f"{spec.label} has a stored label but no value.")
            else:
                problem = label_problem(label)
                if problem:
                    self.error(sid, key, f"{spec.label}: the stored label {problem}")

    def _output_labels(self, sid: str, card, labels) -> None:
        if labels is None:
            return
        if not isinstance(labels, dict):
            self.error(sid, "output_labels", "Output labels must be an object of output keys and their labels.")
            return
        if len(labels) > MAX_OUTPUT_LABELS:
            self.error(sid, "output_labels", f"At most {MAX_OUTPUT_LABELS} output labels can be stored per card.")
            return
        unknown = [key for key in labels if not output_label_key_ok(card, key)]
        skip = set(unknown)
        if unknown:
            names = ", ".join(f"'{key[:50]}'" for key in unknown[:3]) + (" …" if len(unknown) > 3 else "")
            self.error(sid, "output_labels", f"“{card.name}” has no output {names} that depends on its options.")
        for key, record in labels.items():
            problem = None if key in skip else output_label_problem(record)
            if problem:
                self.error(sid, "output_labels", f"The label of output '{key}' {problem}")

    def _configuration(self, sid: str, card, value, node: dict) -> None:
        """A card that needs a connection has a usable one of its connector; a card whose connection
        is optional has none, or a usable one of its connector (checked like a required one)."""
        if not card.takes_configuration:
            return
        connector = registry.connector(card.connector)
        label = connector.connection_label
        if value in (None, ""):
            if card.needs_configuration and not self.missing_configuration_ok:
                self.error(sid, "configuration", f"Choose a {connector.name} {label} for this card.")
        elif value in self.private and not isinstance(value, bool) and not step_unchanged(node, self.previous):
            self.error(sid, "configuration", f"The {label} “{self.private[value]}” is private to its owner: "
                       f"only they can use it in a new or changed card. Ask them to share it, or choose another.")
        elif not isinstance(value, int) or isinstance(value, bool) or value not in self.allowed_configurations:
            self.error(sid, "configuration", f"That {label} does not exist in your team or is not shared with you.")
        elif isinstance(self.allowed_configurations, Mapping) and self.allowed_configurations[value] != connector.key:
            self.error(sid, "configuration", f"That {label} is not a {connector.name} {label}.")

    def _input(self, sid: str, spec, value, scope: _Scope) -> None:
        if is_ref(value):
            self._ref(sid, spec, value["ref"], scope)
            return
        if value in (None, "") or value == [] or value == {}:
            if spec.required and spec.default in (None, ""):
                self.error(sid, spec.key, f"{spec.label} is required: type a value or map an output.")
            return
        problem = _literal_problem(spec.type, value)
        if problem:
            self.error(sid, spec.key, f"{spec.label}: {problem}")
        elif spec.type == "file" and self.file_prefix is not None and not _within(value.get("path"), self.file_prefix):
            self.error(sid, spec.key, f"{spec.label}: that file is not one of your team's uploads; upload it again.")
        elif self.file_owned is not None and any(not self.file_owned(v) for v in _file_values(value)):
            self.error(sid, spec.key, f"{spec.label}: that file is not one of your team's files; upload it again.")
        if spec.type == "text" and isinstance(value, str):
            for ref in PLACEHOLDER_RE.findall(value):
                self._ref(sid, spec, ref, scope, placeholder=True)

    def _ref(self, sid: str, spec, ref: str, scope: _Scope, placeholder: bool = False) -> None:
        source_id, _, key = ref.partition(".")
        if source_id not in scope.outputs:
            self.error(sid, spec.key, f"{spec.label} uses an output of '{source_id}', which is not an earlier card here.")
            return
        card, outputs = scope.outputs[source_id]
        head = key.split(".", 1)[0]
        if key in outputs:
            out_type = outputs[key]
        elif head in outputs and outputs[head] in ("object", "list"):
            out_type = None  # a path into an object output, like step_3.item.email
        elif card.dynamic_outputs is not None and key.startswith(_prefixes(card)):
            out_type = None  # outputs added by the chosen options (survey questions) are typed then
        else:
            self.error(sid, spec.key, f"{spec.label} uses '{key}', which “{card.name}” does not output.")
            return
        if out_type and not placeholder and out_type not in ACCEPTS.get(spec.type, {spec.type}):
            self.error(sid, spec.key, f"{spec.label} takes {spec.type} but “{card.name}” gives {out_type} here.")


def _literal_problem(type_: str, value: Any) -> str | None:
    if type_ == "number":
        if isinstance(value, bool):
            return "expects a number."
        if isinstance(value, (int, float)):
            return None
        try:
            float(str(value))
        except ValueError:
            return f"“{value}” is not a number."
        return None
    if type_ == "boolean" and not isinstance(value, bool) and str(value).lower() not in ("true", "false"):
        return "expects true or false."
    if type_ == "object" and not isinstance(value, dict):
        return "expects an object (JSON like {\"key\": \"value\"})."
    if type_ == "list" and not isinstance(value, list):
        return "expects a list."
    if type_ == "file" and not (isinstance(value, dict) and value.get("type") == "file"):
        return "expects a file: upload one or map a file output."
    if type_ in ("text", "date") and isinstance(value, (dict, list)):
        return "expects text."
    return None


def label_problem(label: Any) -> str | None:
    if not isinstance(label, str):
        return "must be text."
    if len(label) > MAX_LABEL_CHARS:
        return f"is longer than {MAX_LABEL_CHARS} characters."
    return None


def output_label_key_ok(card, key: Any) -> bool:
    """Only outputs that come from the chosen options need a stored label; declared ones have theirs."""
    return (
        isinstance(key, str)
        and len(key) <= MAX_LABEL_CHARS
        and card.dynamic_outputs is not None
        and key.startswith(_prefixes(card))
        and card.output(key) is None
    )


def output_label_problem(record: Any) -> str | None:
    if not isinstance(record, dict) or not set(record) <= {"label", "type"} or "label" not in record:
        return 'must be an object {"label", "type"}.'
    problem = label_problem(record["label"])
    if problem:
        return problem
    if record.get("type") is not None and record["type"] not in OUTPUT_TYPES:
        return f"has an unknown type; use one of {', '.join(sorted(OUTPUT_TYPES))}."
    return None


def labels_clean(definition: Any) -> None:
    """Drops, in place, every stored label the validator would refuse (used on import, which
    keeps a flow as it came but must not keep labels a later save would refuse)."""
    if not isinstance(definition, dict):
        return
    event = definition.get("event")
    steps = definition.get("steps")
    nodes = [*([event] if isinstance(event, dict) else []), *walk_steps(steps if isinstance(steps, list) else [])]
    for node in nodes:
        try:
            card = registry.get(str(node.get("card")))
        except UnknownCardError:
            card = None
        options = node.get("options") if isinstance(node.get("options"), dict) else {}
        labels = node.get("option_labels")
        if isinstance(labels, dict) and card is not None:
            kept = {
                key: label
                for key, label in labels.items()
                if (spec := card.option(key)) is not None and spec.source
                and options.get(key) not in (None, "") and label_problem(label) is None
            }
        else:
            kept = {}
        _set_or_drop(node, "option_labels", kept)
        labels = node.get("output_labels")
        if isinstance(labels, dict) and card is not None:
            kept = {
                key: record
                for key, record in list(labels.items())[:MAX_OUTPUT_LABELS]
                if output_label_key_ok(card, key) and output_label_problem(record) is None
            }
        else:
            kept = {}
        _set_or_drop(node, "output_labels", kept)


def _set_or_drop(node: dict, key: str, value: dict) -> None:
    if value:
        node[key] = value
    else:
        node.pop(key, None)


def _file_values(value: Any, depth: int = 0):
    """Every file value in a typed value: itself, or inside a list or object (a For Each list)."""
    if depth > 20:
        return
    if isinstance(value, dict):
        if value.get("type") == "file":
            yield value
            return
        for item in value.values():
            yield from _file_values(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _file_values(item, depth + 1)


def _within(path: Any, prefix: str) -> bool:
    parts = str(path or "").split("/")
    return str(path or "").startswith(prefix) and ".." not in parts and "" not in parts[:-1]


def _prefixes(card) -> tuple[str, ...]:
    return registry.connector(card.connector).output_prefixes


def definition_validate(definition: Any, *, allowed_configurations: Mapping[int, str] | set[int],
                        file_prefix: str | None = None, **checks: Any) -> list[Problem]:
    return Validator(allowed_configurations=allowed_configurations, file_prefix=file_prefix, **checks).validate(definition)
