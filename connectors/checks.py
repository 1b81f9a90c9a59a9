"""System check: refuse to start with a card declaration the rest of the product cannot trust."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from django.core import checks

from connectors.specs import CARD_KINDS, FIELD_TYPES, SOURCE_PARAMS, SOURCES, Card, Field

KEY_RE = re.compile(r"^[a-z][a-z0-9]*\.[a-z][a-z0-9_]*$")
FIELD_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def check_card_declarations(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from connectors.registry import registry

    return check_cards(registry.declarations())


def check_cards(cards: Iterable[Card]) -> list[checks.CheckMessage]:
    cards = list(cards)
    errors: list[checks.CheckMessage] = []
    for key, count in Counter(card.key for card in cards).items():
        if count > 1:
            errors.append(
                checks.Error(
                    f"Card key '{key}' is declared {count} times.",
                    hint="Give each card its own key.",
                    obj=key,
                    id="connectors.E001",
                )
            )
    for card in cards:
        errors.extend(_check_card(card))
    return errors


def _check_card(card: Card) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []

    def error(msg: str, code: str, hint: str | None = None) -> None:
        errors.append(checks.Error(f"{card.key}: {msg}", hint=hint, obj=card.key, id=code))

    if not KEY_RE.match(card.key) or card.key.split(".")[0] != card.connector:
        error(
            "the key must look like '<connector>.<snake_case_name>' and start with the card's connector "
            f"('{card.connector}').",
            "connectors.E009",
        )
    if card.kind not in CARD_KINDS:
        error(f"unknown kind '{card.kind}'.", "connectors.E007", hint=f"Use one of {', '.join(CARD_KINDS)}.")
    if card.kind in ("event", "action") and card.run is None:
        error(f"an {card.kind} card needs a run() function.", "connectors.E008")
    if not card.name.strip() or not card.group.strip():
        error("a card needs a name and a group.", "connectors.E011")

    seen: dict[str, str] = {}
    for section, fields in (("option", card.options), ("input", card.inputs), ("output", card.outputs)):
        section_keys: set[str] = set()
        for f in fields:
            if f.key in section_keys or (section != "output" and f.key in seen):
                where = section if f.key in section_keys else f"{seen[f.key]} and an {section}"
                error(f"field key '{f.key}' is declared twice ({where}).", "connectors.E002")
            section_keys.add(f.key)
            if section != "output":
                seen.setdefault(f.key, section)
            errors.extend(_check_field(card, section, f))

    option_keys = [f.key for f in card.options]
    for section, fields in (("option", card.options), ("input", card.inputs)):
        for f in fields:
            for dep in f.depends_on:
                earlier = option_keys[: option_keys.index(f.key)] if section == "option" else option_keys
                if dep not in earlier:
                    error(
                        f"{section} '{f.key}' depends on '{dep}', which is not an option declared before it.",
                        "connectors.E005",
                    )

    output_keys = {f.key for f in card.outputs}
    for key in card.sample_outputs:
        if key not in output_keys and not (card.dynamic_outputs and _is_dynamic_key(key)):
            error(f"sample output '{key}' is not a declared output.", "connectors.E006")
    return errors


def _is_dynamic_key(key: str) -> bool:
    return key.startswith(("q.", "ed."))


def _check_field(card: Card, section: str, f: Field) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []

    def error(msg: str, code: str, hint: str | None = None) -> None:
        errors.append(checks.Error(f"{card.key}: {section} '{f.key}' {msg}", hint=hint, obj=card.key, id=code))

    if not FIELD_KEY_RE.match(f.key):
        error("has a key that is not an identifier.", "connectors.E012")
    if f.type not in FIELD_TYPES:
        error(f"has unknown type '{f.type}'.", "connectors.E003", hint=f"Use one of {', '.join(FIELD_TYPES)}.")
    if f.source is not None:
        if f.source not in SOURCES:
            error(f"has unknown source '{f.source}'.", "connectors.E004", hint=f"Use one of {', '.join(SOURCES)}.")
        else:
            for param in SOURCE_PARAMS[f.source]:
                if param not in f.depends_on:
                    error(
                        f"loads {f.source}, which needs '{param}' chosen first; add it to depends_on.",
                        "connectors.E010",
                    )
        if section != "option":
            error("has a source; only options are loaded from the account.", "connectors.E004")
        if not card.needs_configuration:
            error("loads choices from an account, but the card does not need a configuration.", "connectors.E004")
    if f.choices is not None:
        values = [c.value for c in f.choices]
        if len(values) != len(set(values)):
            error("has the same choice value twice.", "connectors.E013")
        if f.default is not None and f.default not in values:
            error(f"has default '{f.default}', which is not one of its choices.", "connectors.E013")
    return errors
