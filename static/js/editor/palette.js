// The palette of cards, built from the catalog: search, groups, and cards to click or drag.
// A flow without an event is offered only events; a flow with one is offered everything else.

import { CARD_TYPE } from "./canvas.js";
import { clear, h } from "./dom.js";

const KIND_ORDER = { event: 0, action: 1, function: 2 };

function groupCards(cards) {
  const groups = new Map();
  const sorted = [...cards].sort((a, b) => (KIND_ORDER[a.kind] ?? 9) - (KIND_ORDER[b.kind] ?? 9));
  for (const card of sorted) {
    const name = card.group || (card.kind === "function" ? "Functions" : card.connector || "Other");
    if (!groups.has(name)) groups.set(name, []);
    groups.get(name).push(card);
  }
  return groups;
}

export class Palette {
  constructor(element, ctx) {
    this.element = element;
    this.ctx = ctx;
    this.query = "";
  }

  matches(card) {
    const query = this.query.trim().toLowerCase();
    if (!query) return true;
    return [card.name, card.description, card.group, card.key].some((text) => (text || "").toLowerCase().includes(query));
  }

  render() {
    const { ctx } = this;
    const hadFocus = this.element.contains(document.activeElement) ? document.activeElement.dataset.focus : null;
    clear(this.element);
    if (ctx.readOnly) {
      this.element.append(h("h2", { text: "Cards" }), h("p", { class: "muted", text: "You can look at this flow; changing it needs the editor role." }));
      return;
    }
    const needsEvent = !ctx.model.event;
    const cards = ctx.catalog.cards.filter((card) => (needsEvent ? card.kind === "event" : card.kind !== "event"));

    this.element.append(h("h2", { id: "palette-title", text: needsEvent ? "Choose an event" : "Add cards" }));
    this.element.append(this.targetNote());
    const searchId = "palette-search";
    const search = h("input", {
      type: "search",
      id: searchId,
      value: this.query,
      placeholder: "Search cards",
      autocomplete: "off",
      dataset: { focus: "palette:search" },
      "aria-controls": "palette-groups",
    });
    const list = h("div", { id: "palette-groups", class: "palette-groups" });
    search.addEventListener("input", () => {
      this.query = search.value;
      this.fill(list, cards);
    });
    this.element.append(h("label", { for: searchId, class: "visually-hidden", text: "Search cards" }), search, list);
    this.fill(list, cards);
    if (hadFocus) this.element.querySelector(`[data-focus="${CSS.escape(hadFocus)}"]`)?.focus();
  }

  targetNote() {
    const { ctx } = this;
    const target = ctx.target;
    if (!target || ctx.model.event === null) return h("p", { class: "palette-target muted", text: ctx.model.event ? "Click a card to add it at the end of the flow, or drag it into place." : "Click an event to start the flow." });
    return h(
      "div",
      { class: "palette-target active", role: "status" },
      h("span", { text: `Adding to: ${ctx.describeTarget(target)}` }),
      h("button", { type: "button", class: "button small", text: "Cancel", onclick: () => ctx.setTarget(null) }),
    );
  }

  fill(list, cards) {
    clear(list);
    const visible = cards.filter((card) => this.matches(card));
    if (!visible.length) {
      list.append(h("p", { class: "muted", role: "status", text: "No cards match your search." }));
      return;
    }
    for (const [group, members] of groupCards(visible)) {
      const titleId = `palette-group-${group.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}`;
      list.append(
        h(
          "section",
          { class: "palette-group", "aria-labelledby": titleId },
          h("h3", { id: titleId, text: group }),
          h("ul", { class: "palette-cards" }, members.map((card) => h("li", {}, this.cardButton(card)))),
        ),
      );
    }
  }

  cardButton(card) {
    const button = h(
      "button",
      {
        type: "button",
        class: ["palette-card", `kind-${card.kind}`],
        draggable: "true",
        title: card.description || card.name,
        dataset: { key: card.key, focus: `palette:${card.key}` },
        onclick: () => this.ctx.addCard(card.key, this.ctx.target),
      },
      h("span", { class: "palette-card-name", text: card.name }),
      card.description ? h("span", { class: "palette-card-description", text: card.description }) : null,
    );
    button.addEventListener("dragstart", (event) => {
      event.dataTransfer.setData(CARD_TYPE, card.key);
      event.dataTransfer.effectAllowed = "copy";
      document.body.classList.add("dragging-card");
    });
    button.addEventListener("dragend", () => document.body.classList.remove("dragging-card"));
    return button;
  }
}
