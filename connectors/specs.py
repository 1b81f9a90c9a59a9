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

# Option sources loaded from the account, and the option each one needs to be chosen first.
SOURCES = ("surveys", "directories", "mailing_lists", "groups")
SOURCE_PARAMS: Mapping[str, tuple[str, ...]] = {
    "surveys": (),
    "directories": (),
    "mailing_lists": ("directory_id",),
    "groups": (),
}


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
    """

    client: Any = None
    files_dir: Path | None = None
    on_progress: Callable[[float], None] = _no_progress
    open_file: Callable[[Mapping[str, Any]], IO[bytes]] = _open_media_file
    resolve: Callable[[str], Any] | None = None


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
    needs_configuration: bool = False
    # Event cards: event_outputs(record, definition) turns the provider's record of the event
    # (a Qualtrics response) into this card's outputs.
    event_outputs: Callable[..., dict[str, Any]] | None = None
    # Example outputs, shown before the first real event; every key must be a declared output.
    sample_outputs: Mapping[str, Any] = field(default_factory=dict)

    def option(self, key: str) -> Field | None:
        return next((f for f in self.options if f.key == key), None)

    def input(self, key: str) -> Field | None:
        return next((f for f in self.inputs if f.key == key), None)

    def output(self, key: str) -> Field | None:
        return next((f for f in self.outputs if f.key == key), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "description": self.description,
            "kind": self.kind,
            "connector": self.connector,
            "group": self.group,
            "needs_configuration": self.needs_configuration,
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
