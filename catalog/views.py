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


def _sections():
    """[(connector name, [(group, [entry])])] in catalog order."""
    sections: dict[str, list[tuple[str, list]]] = {}
    for group, cards in registry.by_group().items():
        connector = registry.connector(cards[0].connector).name
        entries = [
            {
                "card": c,
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
