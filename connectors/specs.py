"""Card declarations: what a card is called, what it takes, what it gives, and how it runs.

Cards are plain data. The catalog page, the REST catalog, the editor palette and flow validation
are all generated from these declarations; `connectors/checks.py` refuses bad ones at start-up.
"""

from __future__ import annotations

import dataclasses
import mimetypes
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

FIELD_TYPES = ("text", "number", "boolean", "date", "object", "list", "file")
CARD_KINDS = ("event", "action", "function")


@dataclass(frozen=True)
class Choice:
    value: str
    label: str

    def to_json(self) -> dict[str, str]:
        return {"value": self.value, "label": self.label}


def choices(*pairs: tuple[str, str] | str) -> tuple[Choice, ...]:
    """choices("GET", ("csv", "CSV")) -> Choice tuple; a bare string is its own label."""
    out = []
    for pair in pairs:
        value, label = (pair, pair) if isinstance(pair, str) else pair
        out.append(Choice(value=value, label=label))
    return tuple(out)


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    type: str = "text"
    required: bool = False
    default: Any = None
    help: str = ""
    group: str = ""
    choices: tuple[Choice, ...] | None = None
    source: str | None = None
    depends_on: tuple[str, ...] = ()
    # Credential fields only: stored encrypted, never shown again once saved.
    secret: bool = False

    def but(self, **changes: Any) -> Field:
        """A copy with some attributes changed (shared fields reused with another label, say)."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "type": self.type,
            "required": self.required,
            "default": self.default,
            "help": self.help,
            "group": self.group,
            "choices": [c.to_json() for c in self.choices] if self.choices is not None else None,
            "source": self.source,
            "depends_on": list(self.depends_on),
            **({"secret": True} if self.secret else {}),
        }


def _no_progress(percent: float) -> None:
    return None


def _open_media_file(value: Mapping[str, Any]) -> IO[bytes]:
    return open(file_path(value), "rb")


@dataclass
class RunContext:
    """What a card's run() may use. The engine builds one per step.

    `resolve(ref)` is given by the engine for function cards that read other outputs by
    reference (Compose's `{{step_id.output_key}}` placeholders); action cards never need it.
    In a run, `open_file` opens only files of the run's team, and `keep_files(outputs)` (applied
    by the engine to what a card returns) records the files it wrote so that later steps can.
    """

    client: Any = None
    files_dir: Path | None = None
    on_progress: Callable[[float], None] = _no_progress
    open_file: Callable[[Mapping[str, Any]], IO[bytes]] = _open_media_file
    resolve: Callable[[str], Any] | None = None
    keep_files: Callable[[dict[str, Any]], dict[str, Any]] | None = None


RunCallable = Callable[[RunContext, Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]
# dynamic_outputs(client, options) -> extra output fields for the chosen options.
DynamicOutputsCallable = Callable[[Any, Mapping[str, Any]], tuple[Field, ...]]


@dataclass(frozen=True)
class Card:
    key: str
    name: str
    description: str
    kind: str
    connector: str
    group: str
    options: tuple[Field, ...] = ()
    inputs: tuple[Field, ...] = ()
    outputs: tuple[Field, ...] = ()
    run: RunCallable | None = None
    dynamic_outputs: DynamicOutputsCallable | None = None
    # What the outputs added by dynamic_outputs look like, for the catalog page (may hold HTML tags
    # <code>; it is declared here, never taken from users).
    dynamic_outputs_help: str = ""
    # needs_configuration: the card cannot run without a connection of its connector; the engine
    # passes its client as ctx.client. optional_configuration: a connection may be chosen or not
    # (HTTP Request's shared auth header); ctx.client is its client when one is chosen, else None.
    # A card sets at most one of them; `takes_configuration` is either.
    needs_configuration: bool = False
    optional_configuration: bool = False
    # The engine fills `{{step.output}}` placeholders in text inputs before run(); a card that
    # fills them itself (inside JSON, say, or as its whole job, like Compose) sets this.
    renders_placeholders: bool = False
    # Example outputs, shown before the first real event; every key must be a declared output.
    sample_outputs: Mapping[str, Any] = field(default_factory=dict)
    # An action card changes something in its service (or sends a message) unless it only reads
    # (`safe`). `changes` says what a run of it changes, to finish "Testing this step really …"
    # ("creates a contact in the chosen mailing list"): the editor asks before a step test.
    safe: bool = False
    changes: str = ""

    @property
    def takes_configuration(self) -> bool:
        """Whether a connection can be chosen on the card (required or optional)."""
        return self.needs_configuration or self.optional_configuration

    def option(self, key: str) -> Field | None:
        return next((f for f in self.options if f.key == key), None)

    def input(self, key: str) -> Field | None:
        return next((f for f in self.inputs if f.key == key), None)

    def output(self, key: str) -> Field | None:
        return next((f for f in self.outputs if f.key == key), None)

    def changes_for(self, options: Mapping[str, Any] | None = None) -> str:
        """What running the card with these options changes, in words; "" when it only reads.
        A card with a `method` option (an HTTP request) only reads with GET or HEAD."""
        if self.kind != "action" or self.safe:
            return ""
        method = self.option("method")
        if method is not None:
            chosen = str((options or {}).get("method") or method.default or "").strip().upper()
            if chosen in ("GET", "HEAD"):
                return ""
            return self.changes or f"sends a {chosen} request, which may change something where it is sent"
        return self.changes or f"changes something ({self.description.rstrip('.')})"

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "description": self.description,
            "kind": self.kind,
            "connector": self.connector,
            "group": self.group,
            "needs_configuration": self.needs_configuration,
            "optional_configuration": self.optional_configuration,
            "changes": self.changes_for(),
            "options": [f.to_json() for f in self.options],
            "inputs": [f.to_json() for f in self.inputs],
            "outputs": [f.to_json() for f in self.outputs],
            "dynamic_outputs": self.dynamic_outputs is not None,
        }


class CardInputError(ValueError):
    """A card was given an input or option it cannot use; the message names the field."""


# File values -------------------------------------------------------------------------------


def _media_root() -> Path:
    from django.conf import settings

    return Path(settings.MEDIA_ROOT).resolve()


def file_path(value: Mapping[str, Any]) -> Path:
    """Absolute path of a file value, refusing anything outside MEDIA_ROOT."""
    if not isinstance(value, Mapping) or value.get("type") != "file" or not value.get("path"):
        raise CardInputError("Expected a file (an upload or a file output of an earlier card).")
    root = _media_root()
    path = (root / str(value["path"])).resolve()
    if not path.is_relative_to(root):
        raise CardInputError("That file is outside the file storage.")
    if not path.is_file():
        raise CardInputError(f"The file '{value.get('name') or value['path']}' no longer exists.")
    return path


def file_value(path: Path, *, name: str | None = None, content_type: str | None = None) -> dict[str, Any]:
    """The value a card returns for a file it wrote under MEDIA_ROOT."""
    path = Path(path).resolve()
    root = _media_root()
    if not path.is_relative_to(root):
        raise ValueError(f"{path} is not under MEDIA_ROOT")
    return {
        "type": "file",
        "path": path.relative_to(root).as_posix(),
        "name": name or path.name,
        "size": path.stat().st_size,
        "content_type": content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream",
    }


# Connectors ---------------------------------------------------------------------------------------


class CredentialsError(ValueError):
    """Credentials a person typed cannot be used; `field` names the form field to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Account:
    """Whom a connection's credentials belong to, as its service answered `authorize`."""

    id: str
    name: str
    details: Mapping[str, str] = field(default_factory=dict)


# load(client, **params) -> [{"value", "label"}]
SourceLoader = Callable[..., list[dict[str, str]]]


@dataclass(frozen=True)
class Source:
    """A list of choices loaded from the account (a connector's surveys, say) for an option picker.

    `params` are the keys of options that must be chosen first (a directory before its lists);
    `param_labels` names them for a person ("a directory").
    """

    key: str
    label: str
    load: SourceLoader
    params: tuple[str, ...] = ()
    param_labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """One thing that happened, as a trigger found it.

    `id` is unique within the flow: a second event with the same id never starts a second run.
    `data` is stored with the delivery and becomes the event card's inputs when the run starts.
    """

    id: str
    data: Mapping[str, Any] = field(default_factory=dict)
    topic: str = ""


@dataclass(frozen=True)
class InboundRequest:
    """An HTTP delivery to a trigger's webhook URL, as received (headers keyed in lower case)."""

    method: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    content_type: str = ""
    form: Mapping[str, str] | None = None  # the parsed body when it was a form post


class DeliveryRefused(Exception):
    """A delivery is not accepted; `status` is answered to the caller with `message`."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class TriggerContext:
    """What a trigger may use: the event card's options, a client for its connection (None for a
    connector without credentials), the state it saved when it was enabled, the public URL of
    this activation's webhook ("" when the server has none), a random key kept encrypted for this
    activation (to sign or check deliveries), when it was activated and the time now (aware
    datetimes)."""

    options: Mapping[str, Any]
    client: Any = None
    state: Mapping[str, Any] = field(default_factory=dict)
    webhook_url: str = ""
    shared_key: str = ""
    activated_at: Any = None
    now: Any = None


@dataclass(frozen=True)
class Enabled:
    """How a trigger was switched on: `mode` is "webhook" (the service calls us), "polling" (we
    ask it) or "schedule" (the clock starts runs); `state` is kept for disable() and parse();
    `message` tells a person what happens now."""

    mode: str
    state: Mapping[str, Any] = field(default_factory=dict)
    message: str = ""


@dataclass(frozen=True)
class Polled:
    """What one poll found, the cursor to start from next time, and when to poll next (None: the
    operator's poll interval)."""

    events: list[Event]
    cursor: str = ""
    next_poll_at: Any = None


TRIGGER_MODES = ("webhook", "polling", "schedule")


class Trigger:
    """How a connector's event card starts runs. Subclasses override what they support.

    - enable/disable: called on activation and deactivation (a service's event subscription).
    - parse: an inbound delivery to this activation's URL -> events (raise DeliveryRefused).
    - poll: events since a saved cursor; the scheduler calls it when the activation is due.
    - recent: recent events for the editor's Test button, newest first, as [{"id", "label"}].
    The event card's `run` turns an event's data into the card's outputs (fetching the full
    record from the service when the event only names it).
    """

    card: str = ""  # key of the event card this trigger serves
    accepts_deliveries: bool = False  # whether activations get a webhook URL
    csrf_exempt: bool = True

    def enable(self, ctx: TriggerContext) -> Enabled:
        return Enabled(mode="polling")

    def disable(self, ctx: TriggerContext) -> None:
        return None

    def parse(self, ctx: TriggerContext, request: InboundRequest) -> list[Event]:
        raise DeliveryRefused(404, "This flow does not take deliveries.")

    def poll(self, ctx: TriggerContext, cursor: str) -> Polled:
        return Polled(events=[], cursor=cursor)

    def recent(self, ctx: TriggerContext, limit: int = 20) -> list[dict[str, Any]]:
        return []

    def event(self, ctx: TriggerContext, event_id: str) -> Event:
        """The event with this id, to test the flow on (the Test button); by default one of
        `recent()`. Raise DeliveryRefused with a message for an id that cannot be one."""
        for item in self.recent(ctx):
            if item.get("id") == event_id:
                return Event(id=event_id, data=item.get("data") or {})
        raise DeliveryRefused(400, "Choose one of the recent events to test with.")

    def check(self, options: Mapping[str, Any]) -> list[str]:
        """Problems with the event card's options that stop activation, in words."""
        return []


# build_client(credentials, **options) -> a client; options are timeouts and retry limits.
ClientFactory = Callable[..., Any]


def _describe_any(exc: Exception, connection_name: str) -> str:
    return f"{connection_name}: {getattr(exc, 'message', None) or exc}"


@dataclass(frozen=True)
class Connector:
    """A service flows can use: its connection form, client, authorization, sources and triggers.

    Its cards declare `connector=<key>` and register themselves when `card_modules` are imported.
    A connector without `credentials` needs no connection (Schedule, the core functions).
    """

    key: str
    name: str
    description: str = ""
    credentials: tuple[Field, ...] = ()
    client: ClientFactory | None = None
    # authorize(client) -> Account, raising the client's errors when the credentials do not work.
    authorize: Callable[[Any], Account] | None = None
    # describe_error(exc, connection_name) -> a sentence for a person.
    describe_error: Callable[[Exception, str], str] = _describe_any
    # clean_credentials(dict) -> dict, raising CredentialsError; runs after the generic checks.
    clean_credentials: Callable[[dict[str, str]], dict[str, str]] | None = None
    sources: tuple[Source, ...] = ()
    # Output keys that start with one of these are added by a card's dynamic_outputs.
    output_prefixes: tuple[str, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    card_modules: tuple[str, ...] = ()
    connection_label: str = "connection"  # what the product calls one of its connections
    help: str = ""  # shown on the connection form
    # notify(client, subject, text): posts a short notice (a failure alert) through a connection;
    # connectors that declare it can be picked where people choose who hears about something.
    notify: Callable[[Any, str, str], None] | None = None

    @property
    def needs_connection(self) -> bool:
        return bool(self.credentials)

    @property
    def can_notify(self) -> bool:
        return self.notify is not None and self.needs_connection

    def source(self, key: str) -> Source | None:
        return next((s for s in self.sources if s.key == key), None)

    def credential(self, key: str) -> Field | None:
        return next((f for f in self.credentials if f.key == key), None)

    def trigger(self, card_key: str) -> Trigger | None:
        return next((t for t in self.triggers if t.card == card_key), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "description": self.description,
            "connection_label": self.connection_label,
            "help": self.help,
            "credentials": [f.to_json() for f in self.credentials],
            "sources": [{"key": s.key, "label": s.label, "params": list(s.params)} for s in self.sources],
            "triggers": [t.card for t in self.triggers],
        }
