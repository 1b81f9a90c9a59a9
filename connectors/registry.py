"""The one place cards are registered and looked up.

Connectors are named in `settings.CONNECTORS`; `ConnectorsConfig.ready()` registers each one,
which imports its card modules, and card modules call `register(Card(...))` when imported.
A second card with a key already taken is kept aside so the system check can report it instead of
one declaration silently replacing the other.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable
from importlib import import_module
from typing import Any

from connectors.specs import CARD_KINDS, Card, Connector, Trigger


class UnknownCardError(KeyError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"There is no card with the key '{self.key}'. It may have been renamed or removed."


class UnknownConnectorError(KeyError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"There is no connector '{self.key}'. It may have been removed from this server."


class Registry:
    def __init__(self, cards: Iterable[Card] = ()):
        self._cards: dict[str, Card] = {}
        self._duplicates: list[Card] = []
        self._connectors: dict[str, Connector] = {}
        self._connector_duplicates: list[Connector] = []
        self._catalog: tuple[dict[str, Any], str] | None = None
        for card in cards:
            self.register(card)

    def register_connector(self, connector: Connector) -> Connector:
        existing = self._connectors.get(connector.key)
        if existing is None:
            self._connectors[connector.key] = connector
        elif existing is not connector:
            self._connector_duplicates.append(connector)
            return connector
        for module in connector.card_modules:
            import_module(module)
        self._catalog = None
        return connector

    def connector(self, key: str) -> Connector:
        try:
            return self._connectors[key]
        except KeyError:
            raise UnknownConnectorError(key) from None

    def connectors(self) -> list[Connector]:
        return list(self._connectors.values())

    def connector_declarations(self) -> list[Connector]:
        return [*self._connectors.values(), *self._connector_duplicates]

    def trigger(self, card_key: str) -> Trigger | None:
        """The trigger serving an event card, if its connector declares one."""
        card = self._cards.get(card_key)
        if card is None or card.kind != "event":
            return None
        owner = self._connectors.get(card.connector)
        return owner.trigger(card_key) if owner else None

    def output_prefixes(self) -> tuple[str, ...]:
        return tuple(p for c in self._connectors.values() for p in c.output_prefixes)

    def register(self, card: Card) -> Card:
        existing = self._cards.get(card.key)
        if existing is None:
            self._cards[card.key] = card
        elif existing is not card:
            self._duplicates.append(card)
        self._catalog = None
        return card

    def get(self, key: str) -> Card:
        try:
            return self._cards[key]
        except KeyError:
            raise UnknownCardError(key) from None

    def __contains__(self, key: object) -> bool:
        return key in self._cards

    def all_cards(self) -> list[Card]:
        return list(self._cards.values())

    def declarations(self) -> list[Card]:
        """Every card registered, duplicates included (for the system check)."""
        return [*self._cards.values(), *self._duplicates]

    def by_group(self) -> dict[str, list[Card]]:
        """Cards grouped for display: by connector in registration order, groups in first-registered
        order within it; events first, then by name."""
        rank_of = {key: i for i, key in enumerate(self._connectors)}
        groups: dict[str, list[Card]] = {}
        for card in sorted(self._cards.values(), key=lambda c: rank_of.get(c.connector, len(rank_of))):
            groups.setdefault(card.group, []).append(card)
        rank = {kind: i for i, kind in enumerate(CARD_KINDS)}
        for cards in groups.values():
            cards.sort(key=lambda c: (rank.get(c.kind, len(rank)), c.name.casefold()))
        return groups

    def catalog_json(self) -> dict[str, Any]:
        return copy.deepcopy(self._built_catalog()[0])

    def catalog_etag(self) -> str:
        return self._built_catalog()[1]

    def _built_catalog(self) -> tuple[dict[str, Any], str]:
        if self._catalog is None:
            data = {
                "connectors": [c.to_json() for c in self._connectors.values()],
                "cards": [card.to_json() for cards in self.by_group().values() for card in cards],
            }
            digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]
            self._catalog = (data, digest)
        return self._catalog


registry = Registry()


def register(card: Card) -> Card:
    return registry.register(card)


def get(key: str) -> Card:
    return registry.get(key)


def all_cards() -> list[Card]:
    return registry.all_cards()


def by_group() -> dict[str, list[Card]]:
    return registry.by_group()


def catalog_json() -> dict[str, Any]:
    return registry.catalog_json()


def register_connector(connector: Connector) -> Connector:
    return registry.register_connector(connector)


def connector(key: str) -> Connector:
    return registry.connector(key)


def connectors() -> list[Connector]:
    return registry.connectors()


def trigger(card_key: str) -> Trigger | None:
    return registry.trigger(card_key)
