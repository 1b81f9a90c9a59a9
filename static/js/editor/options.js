// A card's options: plain values, fixed choices, or choices loaded from the Qualtrics account
// (surveys, directories, mailing lists, groups), which may depend on other options.

import { asList, getOptionChoices } from "./api.js";
import { h, uid } from "./dom.js";
import { errorList } from "./inputs.js";
import { literalControl } from "./literal.js";

const choiceCache = new Map(); // request signature -> Promise<[{value, label}]>

function loadChoices(configurationId, source, params) {
  const signature = JSON.stringify([configurationId, source, params]);
  if (!choiceCache.has(signature)) {
    const request = getOptionChoices(configurationId, source, params).then((data) => asList(data, "choices"));
    request.catch(() => choiceCache.delete(signature));
    choiceCache.set(signature, request);
  }
  return choiceCache.get(signature);
}

/** Option keys that must be cleared when `key` changes, following depends_on transitively. */
export function dependentsOf(card, key) {
  const found = new Set();
  const visit = (changed) => {
    for (const option of card.options || []) {
      if ((option.depends_on || []).includes(changed) && !found.has(option.key)) {
        found.add(option.key);
        visit(option.key);
      }
    }
  };
  visit(key);
  return [...found];
}

function dynamicSelect(ctx, step, field, { id, focusKey, describedBy, onChange }) {
  const value = step.options?.[field.key];
  const select = h("select", { id, dataset: { focus: focusKey }, "aria-describedby": describedBy || null, disabled: ctx.readOnly });
  if (field.required) select.setAttribute("aria-required", "true");
  const status = h("span", { class: "muted option-status", "aria-live": "polite" });
  const setPlaceholder = (text) => select.replaceChildren(h("option", { value: value ?? "", text }));

  const missing = (field.depends_on || []).filter((dep) => !step.options?.[dep]);
  const card = ctx.catalog.card(step.card);
  if (ctx.readOnly) {
    // Viewers cannot use the account to list choices; show what was chosen.
    setPlaceholder(value ? String(value) : "—");
    select.disabled = true;
  } else if (card.needs_configuration && !step.configuration) {
    setPlaceholder("Choose a configuration first");
    select.disabled = true;
  } else if (missing.length) {
    const names = missing.map((dep) => card.options.find((o) => o.key === dep)?.label || dep);
    setPlaceholder(`Choose ${names.join(", ")} first`);
    select.disabled = true;
  } else {
    setPlaceholder(value ? `${value} (loading…)` : "Loading…");
    select.setAttribute("aria-busy", "true");
    const params = Object.fromEntries((field.depends_on || []).map((dep) => [dep, step.options[dep]]));
    loadChoices(step.configuration, field.source, params).then(
      (choices) => {
        const options = [h("option", { value: "", text: "Choose…" })];
        for (const choice of choices) options.push(h("option", { value: String(choice.value), text: choice.label ?? String(choice.value) }));
        if (value && !choices.some((c) => String(c.value) === String(value))) {
          options.push(h("option", { value: String(value), text: `${value} (not found in this account)` }));
        }
        select.replaceChildren(...options);
        select.value = value ? String(value) : "";
        select.removeAttribute("aria-busy");
        status.textContent = "";
      },
      (error) => {
        select.removeAttribute("aria-busy");
        setPlaceholder(value ? String(value) : "Could not load choices");
        status.textContent = error.message;
        status.classList.add("error");
      },
    );
  }
  select.addEventListener("change", () => onChange(select.value || undefined));
  return [select, status];
}

export function optionField(ctx, step, field) {
  const card = ctx.catalog.card(step.card);
  const focusKey = `${step.id}:option:${field.key}`;
  const id = uid("option");
  const helpId = field.help ? uid("help") : null;
  const errorId = uid("err");
  const errors = ctx.validation.forField(step.id, field.key).map((e) => e.message);
  const describedBy = [helpId, errors.length ? errorId : null].filter(Boolean).join(" ");

  const onChange = (next, { structural = true } = {}) => {
    ctx.validation.clearField(step.id, field.key);
    if (structural) ctx.focusAfterRender(focusKey);
    for (const dependent of dependentsOf(card, field.key)) ctx.model.setOption(step.id, dependent, undefined, { structural: false });
    ctx.model.setOption(step.id, field.key, next, { structural });
  };

  const row = h(
    "div",
    { class: ["field", "option-field", errors.length && "has-error"], dataset: { field: field.key } },
    h(
      "label",
      { for: id, class: "field-label" },
      h("span", { text: field.label || field.key }),
      field.required ? h("span", { class: "required", "aria-hidden": "true", text: " *" }) : null,
      field.required ? h("span", { class: "visually-hidden", text: " (required)" }) : null,
    ),
  );
  let controls;
  if (field.source) {
    controls = dynamicSelect(ctx, step, field, { id, focusKey, describedBy, onChange });
  } else {
    const isFreeText = !field.choices?.length && !["boolean"].includes(field.type);
    controls = [
      literalControl(field, step.options?.[field.key], {
        id,
        focusKey,
        describedBy,
        disabled: ctx.readOnly,
        onChange: (next) => onChange(next, { structural: !isFreeText }),
      }),
    ];
  }
  row.append(h("div", { class: "field-body" }, controls));
  if (field.help) row.append(h("p", { class: "help", id: helpId, text: field.help }));
  const list = errorList(errors, errorId);
  if (list) row.append(list);
  return row;
}
