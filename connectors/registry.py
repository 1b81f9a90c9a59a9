"""The one place cards are registered and looked up.

Card modules call `register(Card(...))` when imported; `ConnectorsConfig.ready()` imports them.
A second card with a key already taken is kept aside so the system check can report it instead of
one declaration silently replacing the other.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from connectors.specs import CARD_KINDS, Card


class UnknownCardError(KeyError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"There is no card with the key '{self.key}'. It may have been renamed or removed."


class Registry:
    def __init__(self, cards: Iterable[Card] = ()):
        self._cards: dict[str, Card] = {}
        self._duplicates: list[Card] = []
        self._catalog: tuple[dict[str, Any], str] | None = None
        for card in cards:
            self.register(card)

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
        """Cards grouped for display: groups in first-registered order; events first, then by name."""
        groups: dict[str, list[Card]] = {}
        for card in self._cards.values():
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
            data = {"cards": [card.to_json() for cards in self.by_group().values() for card in cards]}
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
