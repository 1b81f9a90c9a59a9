// One card of the flow: its header and actions, account, options, inputs, outputs, and for
// If/Else and For Each the nested step lists.

import { outputChip } from "./chips.js";
import { configurationField, takesConfiguration } from "./configpicker.js";
import { h } from "./dom.js";
import { errorList, inputField } from "./inputs.js";
import { optionField } from "./options.js";
import { CONTINUE_IF, EVENT_ID, FOR_EACH, IF_ELSE, branchesOf, isRef, splitRef } from "./state.js";

export const STEP_TYPE = "application/x-qflows-step";

const BRANCH_TITLES = { then: "Then", else: "Else", steps: "For each item" };
const KIND_ICONS = { event: "⚡", action: "▶", function: "ƒ" };

function header(ctx, step, card, { index, count, collapsed }) {
  const isEvent = step.id === EVENT_ID;
  const title = card?.name || step.card;
  const titleId = `card-title-${step.id}`;
  const actions = h("div", { class: "card-actions" });
  actions.append(
    h("button", {
      type: "button",
      class: "icon-button",
      "aria-expanded": collapsed ? "false" : "true",
      "aria-controls": `card-body-${step.id}`,
      "aria-label": `${collapsed ? "Expand" : "Collapse"} ${title}`,
      title: collapsed ? "Show the account, options and inputs" : "Hide the account, options and inputs",
      text: collapsed ? "▸" : "▾",
      dataset: { focus: `${step.id}:collapse` },
      onclick: () => {
        if (collapsed) ctx.collapsed.delete(step.id);
        else ctx.collapsed.add(step.id);
        ctx.focusAfterRender(`${step.id}:collapse`);
        ctx.rerender();
      },
    }),
  );
  if (!ctx.readOnly) {
    if (!isEvent) {
      actions.append(
        h("button", {
          type: "button",
          class: "icon-button",
          "aria-label": `Move ${title} up`,
          title: "Move up",
          text: "↑",
          disabled: index === 0,
          dataset: { focus: `${step.id}:up` },
          onclick: () => {
            ctx.focusAfterRender(`${step.id}:up`);
            ctx.model.moveBy(step.id, -1);
          },
        }),
        h("button", {
          type: "button",
          class: "icon-button",
          "aria-label": `Move ${title} down`,
          title: "Move down",
          text: "↓",
          disabled: index === count - 1,
          dataset: { focus: `${step.id}:down` },
          onclick: () => {
            ctx.focusAfterRender(`${step.id}:down`);
            ctx.model.moveBy(step.id, 1);
          },
        }),
      );
    }
    actions.append(
      h("button", {
        type: "button",
        class: "icon-button danger",
        "aria-label": `Remove ${title}`,
        title: "Remove card",
        text: "✕",
        onclick: () => ctx.removeStep(step.id),
      }),
    );
  }
  const head = h(
    "header",
    { class: "flow-card-head" },
    h("span", { class: "card-icon", "aria-hidden": "true", text: KIND_ICONS[card?.kind] || "?" }),
    h(
      "div",
      { class: "card-title" },
      h("h3", { id: titleId, text: title }),
      h("span", { class: "card-meta", text: `${isEvent ? "Event" : card?.kind === "function" ? "Function" : "Action"} · ${step.id}` }),
    ),
    actions,
  );
  if (!ctx.readOnly && !isEvent) {
    head.draggable = true;
    head.title = "Drag to move this card";
    head.addEventListener("dragstart", (event) => {
      if (event.target !== head) return;
      event.dataTransfer.setData(STEP_TYPE, step.id);
      event.dataTransfer.effectAllowed = "move";
      document.body.classList.add("dragging-card");
    });
    head.addEventListener("dragend", () => document.body.classList.remove("dragging-card"));
  }
  return head;
}

function section(title, ...children) {
  return h("section", { class: "card-section" }, h("h4", { text: title }), ...children);
}

function outputsSection(ctx, step) {
  const fields = ctx.catalog.outputsOf(step);
  const loading = ctx.catalog.isLoadingOutputs(step);
  if (!fields.length && !loading) return null;
  const loop = step.card === FOR_EACH;
  const chips = h("ul", { class: "chips", "aria-label": `Outputs of ${ctx.stepLabel(step.id)}` });
  for (const field of fields) {
    chips.append(outputChip(field, step.id, { draggable: !ctx.readOnly, sample: ctx.stepTests?.sample(step.id, field.key) }));
  }
  return section(
    "Outputs",
    chips,
    loading ? h("p", { class: "muted small", role: "status", text: "Loading outputs for the chosen options…" }) : null,
    loop ? h("p", { class: "muted small", text: "These exist only for the cards inside the loop." }) : null,
    step.card === IF_ELSE ? h("p", { class: "muted small", text: "Cards in the branches cannot use this; cards after the If/Else can." }) : null,
  );
}

function branches(ctx, step) {
  const names = branchesOf(step);
  if (!names.length) return null;
  return h(
    "div",
    { class: ["card-branches", names.length > 1 && "two"] },
    names.map((branch) =>
      h(
        "section",
        { class: ["branch", `branch-${branch}`], "aria-label": `${BRANCH_TITLES[branch] || branch} branch of ${ctx.stepLabel(step.id)}` },
        h("h4", { class: "branch-title", text: BRANCH_TITLES[branch] || branch }),
        ctx.renderList(step[branch] || [], { parent: step.id, branch }),
      ),
    ),
  );
}

function collapsedSummary(ctx, step, card) {
  const account = ctx.configurations.list.find((c) => c.id === step.configuration);
  const summary = h("div", { class: "card-summary" });
  if (card.needs_configuration) summary.append(h("p", { class: "muted", text: account ? account.name : "No account chosen" }));
  else if (card.optional_configuration) summary.append(h("p", { class: "muted", text: account ? account.name : "No connection" }));
  const set = (card.inputs || []).filter((f) => step.inputs?.[f.key] !== undefined);
  if (!set.length) return summary;
  summary.append(
    h(
      "ul",
      { class: "summary-inputs" },
      set.map((field) => {
        const value = step.inputs[field.key];
        let shown;
        if (isRef(value)) {
          const { stepId, key } = splitRef(value.ref);
          const output = ctx.available(step.id).find((c) => c.ref === value.ref);
          shown = h(
            "span",
            { class: ["chip", "mapped", `type-${output?.type || "text"}`] },
            h("span", { class: "chip-step", text: ctx.stepLabel(stepId) || stepId }),
            h("span", { class: "chip-label", text: output?.label || key }),
          );
        } else {
          shown = h("span", { class: "summary-value", text: typeof value === "object" ? JSON.stringify(value) : String(value) });
        }
        return h("li", {}, h("span", { class: "summary-label", text: `${field.label || field.key}:` }), shown);
      }),
    ),
  );
  return summary;
}

export function renderCard(ctx, step, position = { index: 0, count: 1 }) {
  const card = ctx.catalog.card(step.card);
  const isEvent = step.id === EVENT_ID;
  const shown = ["configuration", ...(card?.options || []).map((f) => f.key), ...(card?.inputs || []).map((f) => f.key)];
  const stepErrors = ctx.validation.forStep(step.id, shown).map((e) => (e.field ? `${e.field}: ${e.message}` : e.message));
  const invalid = ctx.validation.errors.some((e) => e.step === step.id);
  // A card with problems stays open, so the problems can be seen where they are.
  const collapsed = ctx.collapsed.has(step.id) && !invalid;
  const article = h("article", {
    class: ["flow-card", `kind-${card?.kind || "unknown"}`, stepErrors.length && "has-error", invalid && "invalid", collapsed && "collapsed"],
    id: `card-${step.id}`,
    tabindex: "-1",
    "aria-labelledby": `card-title-${step.id}`,
    dataset: { step: step.id, card: step.card, focus: `${step.id}:card` },
  });
  article.append(header(ctx, step, card, { ...position, collapsed }));
  if (!card) {
    article.append(h("p", { class: "field-errors", text: `This card (${step.card}) is not in the catalog; remove it or install its connector.` }));
    return article;
  }
  const summary = errorList(stepErrors, `card-errors-${step.id}`);
  if (summary) {
    summary.classList.add("card-errors");
    summary.setAttribute("role", "alert");
    article.append(summary);
  }
  if (collapsed) {
    article.append(collapsedSummary(ctx, step, card));
  } else {
    const body = h("div", { class: "card-body", id: `card-body-${step.id}` });
    if (card.description) body.append(h("p", { class: "card-description", text: card.description }));
    if (step.card === CONTINUE_IF) {
      body.append(h("p", { class: "muted small", text: "The flow stops here unless the condition holds." }));
    }
    if (takesConfiguration(card)) body.append(configurationField(ctx, step));
    if (card.options?.length) body.append(section("Options", card.options.map((field) => optionField(ctx, step, field))));
    if (card.inputs?.length) body.append(section("Inputs", card.inputs.map((field) => inputField(ctx, step, field))));
    article.append(body);
  }
  const outputs = outputsSection(ctx, step);
  if (outputs) article.append(outputs);
  const testing = ctx.stepTests?.section(step, card);
  if (testing) article.append(testing);
  const nested = branches(ctx, step);
  if (nested) article.append(nested);
  if (isEvent && !ctx.model.steps.length && !ctx.readOnly) {
    article.append(h("p", { class: "hint", text: "Next: click or drag an action from the palette to add it below." }));
  }
  return article;
}
