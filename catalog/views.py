from __future__ import annotations

from django.shortcuts import render

from accounts.permissions import team_required
from connectors.registry import registry

KIND_NAMES = {"event": "Event", "action": "Action", "function": "Function"}


def _search_text(card) -> str:
    words = [card.name, card.key, card.description, card.group, card.kind]
    for f in (*card.options, *card.inputs, *card.outputs):
        words.extend([f.label, f.key])
    return " ".join(words).casefold()


def _rows(fields, owner) -> list[dict]:
    """A card's fields for the catalog tables, with the words of the source a picker loads from."""
    rows = []
    for f in fields:
        source = owner.source(f.source) if f.source else None
        rows.append({"field": f, "source": source.label if source else "", "service": owner.name})
    return rows


def _sections():
    """[(connector name, [(group, [entry])])] in catalog order."""
    sections: dict[str, list[tuple[str, list]]] = {}
    for group, cards in registry.by_group().items():
        owner = registry.connector(cards[0].connector)
        connector = owner.name
        entries = [
            {
                "card": c,
                "connection": f"{owner.name} {owner.connection_label}",
                "tables": [(title, _rows(fields, owner)) for title, fields in
                           (("Options", c.options), ("Inputs", c.inputs), ("Outputs", c.outputs))],
                "anchor": c.key.replace(".", "-"),
                "kind_name": KIND_NAMES.get(c.kind, c.kind),
                "search": _search_text(c),
                # Kept apart from the card: templates would call the function.
                "dynamic_outputs": c.dynamic_outputs is not None,
            }
            for c in cards
        ]
        sections.setdefault(connector, []).append((group, entries))
    return list(sections.items())


@team_required()
def catalog_page(request):
    cards = registry.all_cards()
    return render(
        request,
        "catalog/catalog.html",
        {"sections": _sections(), "card_count": len(cards)},
    )
