// Sample data and step tests: the event card loads a sample event (the latest one, one picked from
// the trigger's recent events, or data pasted), every other card can be tested on its own with
// its inputs taken from the samples of the cards before it. What a test gives is pinned as the
// card's sample and shown on its output chips; a failed test shows its error on the card.

import { ApiError, asList, getSamples, loadSample, recentEvents, testStep } from "./api.js";
import { h } from "./dom.js";
import { EVENT_ID } from "./state.js";

const SHORT = 40;
const SHOWN = 4000;

function text(value) {
  if (value === undefined) return "";
  if (value === null) return "empty";
  if (typeof value === "string") return value === "" ? "empty text" : value;
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** A sample value in a few characters, for an output chip. */
export function shortText(value) {
  const full = text(value);
  return full.length > SHORT ? `${full.slice(0, SHORT - 1)}…` : full;
}

/** The output `key` of a step's outputs, as the engine resolves it ("q.QID1" may be nested). */
export function sampleValue(outputs, key) {
  if (!outputs || typeof outputs !== "object") return undefined;
  if (key in outputs) return outputs[key];
  let value = outputs;
  for (const part of key.split(".")) {
    if (value && typeof value === "object" && part in value) value = value[part];
    else return undefined;
  }
  return value;
}

export class StepTests {
  constructor(ctx) {
    this.ctx = ctx;
    this.samples = new Map(); // step id -> pinned outputs
    this.results = new Map(); // step id -> the last test's answer, shown on the card
    this.busy = new Set();
    this.pickers = new Map(); // event card: the recent events listed, or null while loading
  }

  async load() {
    try {
      const data = await getSamples(this.ctx.flowId);
      for (const [stepId, sample] of Object.entries(data?.samples || {})) this.samples.set(stepId, sample.outputs || {});
      this.ctx.rerender();
    } catch {
      // Samples are a help, not a need: the editor works without them.
    }
  }

  /** The pinned sample of an output, or undefined. */
  sample(stepId, key) {
    return sampleValue(this.samples.get(stepId), key);
  }

  async run(step, { eventId, data } = {}) {
    const { ctx } = this;
    const definition = ctx.model.toDefinition();
    this.busy.add(step.id);
    this.results.delete(step.id);
    ctx.rerender();
    try {
      let result;
      if (step.id === EVENT_ID) {
        result = await loadSample(ctx.flowId, { definition, eventId, data });
      } else {
        try {
          result = await testStep(ctx.flowId, step.id, { definition, confirm: false });
        } catch (error) {
          if (!(error instanceof ApiError) || error.status !== 409) throw error;
          if (!window.confirm(error.message)) {
            this.results.set(step.id, { status: "cancelled", error: "Not tested: nothing was changed." });
            return;
          }
          result = await testStep(ctx.flowId, step.id, { definition, confirm: true });
        }
      }
      this.results.set(step.id, result);
      if (result.status === "succeeded") this.samples.set(step.id, result.outputs || {});
      ctx.announce?.(result.status === "succeeded" ? `${ctx.stepLabel(step.id)} tested.` : `${ctx.stepLabel(step.id)} failed its test.`);
    } catch (error) {
      const problems = Array.isArray(error.body?.errors) ? error.body.errors.map((e) => e.message) : [];
      this.results.set(step.id, { status: "refused", error: [error.message, ...problems].join(" ") });
    } finally {
      this.busy.delete(step.id);
      ctx.rerender();
    }
  }

  async pick(step) {
    this.pickers.set(step.id, null);
    this.ctx.rerender();
    let items = [];
    try {
      items = asList(await recentEvents(this.ctx.flowId), "events");
    } catch (error) {
      this.results.set(step.id, { status: "refused", error: error.message });
    }
    this.pickers.set(step.id, items);
    this.ctx.rerender();
  }

  /** The card's Test section: its buttons, and what the last test gave or why it failed. */
  section(step, card) {
    const { ctx } = this;
    if (ctx.readOnly || !card || !card.kind) return null;
    const isEvent = step.id === EVENT_ID;
    const busy = this.busy.has(step.id);
    const title = ctx.stepLabel(step.id) || card.name;
    const actions = h("div", { class: "step-test-actions" });
    if (isEvent) {
      actions.append(
        h("button", {
          type: "button", class: "button small", disabled: busy, text: busy ? "Loading…" : "Load sample",
          title: "Run this card on the latest event (the survey's latest response) and show its values on the outputs",
          "aria-label": `${busy ? "Loading sample" : "Load sample"} event for ${title}`,
          onclick: () => this.run(step),
        }),
        h("button", {
          type: "button", class: "button small", disabled: busy, text: "Choose event…",
          "aria-label": `Choose event as the sample for ${title}`,
          onclick: () => this.pick(step),
        }),
      );
    } else {
      actions.append(
        h("button", {
          type: "button", class: "button small", disabled: busy, text: busy ? "Testing…" : "Test step",
          title: card.changes ? `Runs this card once for real: it ${card.changes}. You are asked first.` : "Runs this card once on the samples of the cards before it",
          "aria-label": `${busy ? "Testing" : "Test step"}: ${title}`,
          onclick: () => this.run(step),
        }),
      );
    }
    // Each button's name starts with the words it shows, so speech input can say them.
    return h(
      "section",
      { class: "card-section step-test", "aria-label": `Test of ${title}` },
      actions,
      isEvent ? this.picker(step, busy) : null,
      this.result(step),
    );
  }

  picker(step, busy) {
    if (!this.pickers.has(step.id)) return null;
    const items = this.pickers.get(step.id);
    if (items === null) return h("p", { class: "muted small", role: "status", text: "Loading recent events…" });
    const selectId = `sample-event-${step.id}`;
    const pasteId = `sample-data-${step.id}`;
    const select = h(
      "select",
      { id: selectId },
      items.length
        ? items.map((item) => h("option", { value: item.id, text: item.label || item.id }))
        : h("option", { value: "", text: "No recent events" }),
    );
    const card = this.ctx.catalog.card(step.card);
    const template = Object.fromEntries((card?.inputs || []).map((f) => [f.key, f.type === "object" ? {} : ""]));
    const paste = h("textarea", { id: pasteId, rows: 4, class: "sample-paste", value: JSON.stringify(template, null, 2) });
    return h(
      "div",
      { class: "sample-picker" },
      h("label", { for: selectId, text: "Recent event" }),
      select,
      h("button", {
        type: "button", class: "button small", disabled: busy || !items.length, text: "Use this event",
        onclick: () => {
          this.pickers.delete(step.id);
          this.run(step, { eventId: select.value });
        },
      }),
      h("label", { for: pasteId, text: "Or paste the event's data (JSON)" }),
      paste,
      h("button", {
        type: "button", class: "button small", disabled: busy, text: "Use pasted data",
        onclick: () => {
          let data;
          try {
            data = JSON.parse(paste.value);
          } catch {
            this.results.set(step.id, { status: "refused", error: "The pasted data is not JSON." });
            this.ctx.rerender();
            return;
          }
          this.pickers.delete(step.id);
          this.run(step, { data });
        },
      }),
    );
  }

  result(step) {
    const result = this.results.get(step.id);
    if (!result) return null;
    if (result.status !== "succeeded") {
      return h("div", { class: "step-test-result failed", role: "alert" },
        h("p", { class: "field-errors", text: result.status === "failed" ? `Test failed: ${result.error}` : result.error }));
    }
    let shown = JSON.stringify(result.outputs || {}, null, 2);
    if (shown.length > SHOWN) shown = `${shown.slice(0, SHOWN)}\n…`;
    const what = step.id === EVENT_ID ? `Sample event ${result.event_id || ""} loaded` : "Tested";
    return h(
      "div",
      { class: "step-test-result succeeded", role: "status" },
      h("p", { class: "muted small", text: `${what} in ${result.duration_ms} ms; its outputs are this card's sample now.` }),
      // It scrolls when long, so it takes the focus to be scrolled from the keyboard.
      h("pre", {
        class: "step-test-outputs", text: shown, tabindex: "0", role: "region",
        "aria-label": `Sample outputs of ${this.ctx.stepLabel(step.id) || step.id}`,
      }),
    );
  }
}
