"""System check: refuse to start with a card or connector declaration the rest of the product
cannot trust."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from django.core import checks

from connectors.specs import CARD_KINDS, FIELD_TYPES, Card, Connector, Field

KEY_RE = re.compile(r"^[a-z][a-z0-9]*\.[a-z][a-z0-9_]*$")
FIELD_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def check_card_declarations(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from connectors.registry import registry

    connectors = registry.connector_declarations()
    return check_connectors(connectors, registry.declarations()) + check_cards(registry.declarations(), connectors)


def check_connectors(connectors: Iterable[Connector], cards: Iterable[Card]) -> list[checks.CheckMessage]:
    connectors, cards = list(connectors), list(cards)
    errors: list[checks.CheckMessage] = []

    def error(key: str, msg: str, code: str, hint: str | None = None) -> None:
        errors.append(checks.Error(f"connector {key}: {msg}", hint=hint, obj=key, id=code))

    for key, count in Counter(c.key for c in connectors).items():
        if count > 1:
            error(key, f"declared {count} times.", "connectors.E020", hint="Give each connector its own key.")
    by_key = {c.key: c for c in connectors}
    for card in cards:
        if card.connector not in by_key:
            error(card.connector, f"card '{card.key}' names it, but no such connector is registered.", "connectors.E021",
                  hint="Add the connector to settings.CONNECTORS.")
    cards_by_key = {card.key: card for card in cards}
    for connector in connectors:
        if not re.match(r"^[a-z][a-z0-9]*$", connector.key):
            error(connector.key, "the key must be lower-case letters and digits.", "connectors.E022")
        if connector.credentials and (connector.client is None or connector.authorize is None):
            error(connector.key, "a connector with credentials needs client() and authorize().", "connectors.E023")
        for f in connector.credentials:
            if not FIELD_KEY_RE.match(f.key) or f.type not in ("text", "number", "boolean"):
                error(connector.key, f"credential '{f.key}' needs an identifier key and a text, number or "
                      "true/false type.", "connectors.E024")
        for trigger in connector.triggers:
            card = cards_by_key.get(trigger.card)
            if card is None or card.kind != "event" or card.connector != connector.key:
                error(connector.key, f"its trigger serves '{trigger.card}', which is not one of its event cards.",
                      "connectors.E025")
        for card in cards:
            if card.connector == connector.key and card.kind == "event" and connector.trigger(card.key) is None:
                error(connector.key, f"event card '{card.key}' has no trigger to start it.", "connectors.E026")
            if card.connector == connector.key and card.takes_configuration and not connector.needs_connection:
                error(connector.key, f"card '{card.key}' takes a connection, but the connector declares no "
                      "credentials.", "connectors.E027")
    return errors


def check_cards(cards: Iterable[Card], connectors: Iterable[Connector] | None = None) -> list[checks.CheckMessage]:
    if connectors is None:
        from connectors.registry import registry

        connectors = registry.connector_declarations()
    sources = {c.key: {s.key: s for s in c.sources} for c in connectors}
    prefixes = {c.key: c.output_prefixes for c in connectors}
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
        errors.extend(_check_card(card, sources.get(card.connector, {}), prefixes.get(card.connector, ())))
    return errors


def _check_card(card: Card, sources: dict, prefixes: tuple[str, ...]) -> list[checks.CheckMessage]:
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
    if card.needs_configuration and card.optional_configuration:
        error("a connection is either required (needs_configuration) or optional (optional_configuration), "
              "not both.", "connectors.E014")
    elif card.optional_configuration and card.kind == "event":
        error("an event card's connection cannot be optional: its trigger runs with it.", "connectors.E014")

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
            errors.extend(_check_field(card, section, f, sources))

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
        if key not in output_keys and not (card.dynamic_outputs and key.startswith(prefixes)):
            error(f"sample output '{key}' is not a declared output.", "connectors.E006")
    return errors


def _check_field(card: Card, section: str, f: Field, sources: dict) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []

    def error(msg: str, code: str, hint: str | None = None) -> None:
        errors.append(checks.Error(f"{card.key}: {section} '{f.key}' {msg}", hint=hint, obj=card.key, id=code))

    if not FIELD_KEY_RE.match(f.key):
        error("has a key that is not an identifier.", "connectors.E012")
    if f.type not in FIELD_TYPES:
        error(f"has unknown type '{f.type}'.", "connectors.E003", hint=f"Use one of {', '.join(FIELD_TYPES)}.")
    if f.source is not None:
        if f.source not in sources:
            error(f"has unknown source '{f.source}'.", "connectors.E004",
                  hint=f"Use one of its connector's sources: {', '.join(sources) or 'it declares none'}.")
        else:
            for param in sources[f.source].params:
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
