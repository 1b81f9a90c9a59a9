// The flow drawn top to bottom: the event, then the steps, with drop slots between cards that
// accept cards from the palette and cards being moved.

import { STEP_TYPE, renderCard } from "./card.js";
import { clear, h, preservingFocus } from "./dom.js";
import { isMapMenuOpen, whenMapMenuCloses } from "./mapmenu.js";

export const CARD_TYPE = "application/x-qflows-card";

function acceptCards(element, onDrop) {
  const accepts = (event) => {
    const types = Array.from(event.dataTransfer?.types || []);
    return types.includes(CARD_TYPE) || types.includes(STEP_TYPE);
  };
  element.addEventListener("dragover", (event) => {
    if (!accepts(event)) return;
    event.preventDefault();
    event.stopPropagation();
    event.dataTransfer.dropEffect = Array.from(event.dataTransfer.types).includes(STEP_TYPE) ? "move" : "copy";
    element.classList.add("drop-ready");
  });
  element.addEventListener("dragleave", (event) => {
    if (!element.contains(event.relatedTarget)) element.classList.remove("drop-ready");
  });
  element.addEventListener("drop", (event) => {
    if (!accepts(event)) return;
    event.preventDefault();
    event.stopPropagation();
    element.classList.remove("drop-ready");
    document.body.classList.remove("dragging-card");
    onDrop({ cardKey: event.dataTransfer.getData(CARD_TYPE), stepId: event.dataTransfer.getData(STEP_TYPE) });
  });
}

export class Canvas {
  constructor(element, ctx) {
    this.element = element;
    this.ctx = ctx;
    this.pendingFocus = null;
    ctx.renderList = (list, target) => this.renderList(list, target);
    ctx.focusAfterRender = (key) => {
      this.pendingFocus = key;
    };
  }

  render() {
    // Outputs loading in the background must not pull an open listbox from under the person.
    if (isMapMenuOpen()) {
      if (!this.deferred) whenMapMenuCloses(() => this.render());
      this.deferred = true;
      return;
    }
    this.deferred = false;
    this.ctx.beginRender?.();
    preservingFocus(this.element, () => {
      clear(this.element);
      this.element.append(this.flow());
    });
    if (this.pendingFocus) {
      const target = this.element.querySelector(`[data-focus="${CSS.escape(this.pendingFocus)}"]`);
      this.pendingFocus = null;
      if (target) {
        target.focus({ preventScroll: true });
        target.scrollIntoView({ block: "nearest" });
      }
    }
  }

  flow() {
    const { model, readOnly } = this.ctx;
    const flow = h("div", { class: "flow" });
    if (model.event) {
      flow.append(h("div", { class: "flow-item" }, renderCard(this.ctx, model.event)));
    } else {
      const start = h(
        "div",
        { class: "event-placeholder drop-zone" },
        h("p", { class: "drop-zone-title", text: "Every flow starts with an event" }),
        h("p", { class: "muted", text: readOnly ? "This flow has no event yet." : "Click or drag an event from the palette, e.g. New Response." }),
      );
      if (!readOnly) acceptCards(start, ({ cardKey }) => cardKey && this.ctx.addCard(cardKey, null));
      flow.append(start);
    }
    if (model.event || model.steps.length) flow.append(this.renderList(model.steps, { parent: null, branch: "steps" }));
    flow.append(h("div", { class: "flow-end", "aria-hidden": "true", text: "End" }));
    return flow;
  }

  slot(target, index, { last = false, empty = false } = {}) {
    const { readOnly } = this.ctx;
    const here = { ...target, index };
    const slot = h("div", { class: ["drop-slot", last && "last", empty && "empty"] });
    if (readOnly) return slot;
    acceptCards(slot, ({ cardKey, stepId }) => {
      if (stepId) {
        if (!this.ctx.model.moveStep(stepId, here)) this.ctx.notify("A card cannot be moved inside itself.", { kind: "warning" });
      } else if (cardKey) this.ctx.addCard(cardKey, here);
    });
    if (empty) slot.append(h("span", { class: "drop-zone-title", text: "No cards here yet" }));
    const isNested = target.parent !== null;
    if (last && isNested) {
      const active = this.ctx.isTarget(target);
      slot.append(
        h("button", {
          type: "button",
          class: ["button", "small", "add-here", active && "active"],
          "aria-pressed": active ? "true" : "false",
          text: active ? "Adding here: pick a card" : "Add card here",
          dataset: { focus: `${target.parent}:${target.branch}:add` },
          onclick: () => this.ctx.setTarget(active ? null : target),
        }),
      );
    } else if (last && !isNested && this.ctx.model.event) {
      slot.append(h("span", { class: "drop-hint", text: "Drop a card here, or click one in the palette" }));
    }
    return slot;
  }

  renderList(list, target) {
    const container = h("ol", { class: ["step-list", target.parent === null ? "top" : "nested"] });
    if (!list.length) {
      container.append(h("li", { class: "flow-item slot-item" }, this.slot(target, 0, { last: true, empty: target.parent !== null })));
      return container;
    }
    list.forEach((step, index) => {
      container.append(
        h("li", { class: "flow-item slot-item" }, this.slot(target, index)),
        h("li", { class: "flow-item" }, renderCard(this.ctx, step, { index, count: list.length })),
      );
    });
    container.append(h("li", { class: "flow-item slot-item" }, this.slot(target, list.length, { last: true })));
    return container;
  }
}
