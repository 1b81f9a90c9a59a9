// The configuration (a saved connection of the card's connector) a card runs with, and an inline
// "Add Account" form built from the connector's credential fields. A card whose connection is
// optional (catalog `optional_configuration`, HTTP Request's shared auth header) offers
// "No connection" first; choosing it stores no configuration.

import { createConfiguration } from "./api.js";
import { h, uid } from "./dom.js";
import { errorList } from "./inputs.js";
import { notify } from "./notice.js";

// Open forms and what was typed in them, per step, so a re-render keeps them.
const openForms = new Map();

const NAME_FIELD = { key: "name", label: "Name", type: "text", autocomplete: "off", required: true };

function formFields(connector) {
  const credentials = (connector?.credentials || []).map((field) => ({
    key: field.key,
    label: field.label,
    help: field.help || "",
    type: field.secret ? "password" : "text",
    autocomplete: field.secret ? "new-password" : "off",
    required: Boolean(field.required),
    credential: true,
  }));
  return [NAME_FIELD, ...credentials];
}

// "Name · whom it belongs to": the authorized account, else its first public credential (a data center).
function configurationLabel(configuration) {
  const status = configuration.status === "failed" ? " (authorization failed)" : "";
  const who = configuration.account_name || Object.values(configuration.credentials || {}).find((value) => value) || "";
  return `${configuration.name}${who ? ` · ${who}` : ""}${status}`;
}

/** The connector of a step's card, from the catalog (null for an unknown card). */
function connectorOf(ctx, step) {
  const card = ctx.catalog.card(step.card);
  return card?.connector ? ctx.catalog.connector(card.connector) : null;
}

/** The configurations a step may use: those of its card's connector. */
function usableConfigurations(ctx, step) {
  const key = ctx.catalog.card(step.card)?.connector;
  return ctx.configurations.list.filter((c) => !key || !c.connector || c.connector === key);
}

function chooseConfiguration(ctx, step, configurationId) {
  const card = ctx.catalog.card(step.card);
  for (const option of card.options || []) {
    if (option.source) ctx.model.setOption(step.id, option.key, undefined, { structural: false });
  }
  ctx.validation.clearField(step.id, "configuration");
  ctx.model.setConfiguration(step.id, configurationId);
}

function addAccountForm(ctx, step, draft) {
  const focusBase = `${step.id}:account`;
  const connector = connectorOf(ctx, step);
  const title = connector ? `Add a ${connector.name} ${connector.connection_label || "connection"}` : "Add an account";
  const form = h("form", { class: "add-account", "aria-label": title, novalidate: true });
  for (const field of formFields(connector)) {
    const id = uid("account");
    const errorsId = uid("err");
    const helpId = field.help ? uid("help") : null;
    const messages = draft.errors?.[field.key] || [];
    const describedBy = [helpId, messages.length ? errorsId : null].filter(Boolean).join(" ");
    const input = h("input", {
      id,
      name: field.key,
      type: field.type,
      value: draft.values[field.key] || "",
      autocomplete: field.autocomplete,
      required: field.required,
      "aria-invalid": messages.length ? "true" : null,
      "aria-describedby": describedBy || null,
      dataset: { focus: `${focusBase}:${field.key}` },
    });
    input.addEventListener("input", () => {
      draft.values[field.key] = input.value;
    });
    form.append(
      h(
        "div",
        { class: "account-field" },
        h("label", { for: id, text: field.label }),
        input,
        helpId ? h("p", { class: "muted field-help", id: helpId, text: field.help }) : null,
        errorList(messages.map(String), errorsId),
      ),
    );
  }
  const sharedId = uid("account");
  const shared = h("input", { type: "checkbox", id: sharedId, checked: Boolean(draft.values.shared), dataset: { focus: `${focusBase}:shared` } });
  shared.addEventListener("change", () => {
    draft.values.shared = shared.checked;
  });
  form.append(h("div", { class: "checkbox-row" }, shared, h("label", { for: sharedId, text: "Share with my team" })));
  const general = [
    ...(draft.errors?.non_field_errors || []),
    ...(draft.errors?.connector || []),
    ...(Array.isArray(draft.errors?.credentials) ? draft.errors.credentials : []),
    ...(draft.errors?.detail ? [draft.errors.detail] : []),
  ];
  if (general.length) form.append(errorList(general.map(String), uid("err")));
  const submit = h("button", { type: "submit", class: "button primary small", text: draft.busy ? "Adding…" : "Add and authorize", disabled: draft.busy });
  const cancel = h("button", {
    type: "button",
    class: "button small",
    text: "Cancel",
    onclick: () => {
      openForms.delete(step.id);
      ctx.focusAfterRender(`${step.id}:add-account`);
      ctx.rerender();
    },
  });
  form.append(h("div", { class: "form-actions" }, submit, cancel));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    draft.busy = true;
    draft.errors = null;
    ctx.rerender();
    try {
      const credentials = {};
      for (const field of formFields(connector)) {
        if (field.credential) credentials[field.key] = draft.values[field.key] || "";
      }
      const created = await createConfiguration({
        connector: connector?.key || ctx.catalog.card(step.card)?.connector || "",
        name: draft.values.name || "",
        credentials,
        shared: Boolean(draft.values.shared),
      });
      openForms.delete(step.id);
      ctx.configurations.add(created);
      ctx.focusAfterRender(`${step.id}:configuration`);
      chooseConfiguration(ctx, step, created.id);
      if (created.status && created.status !== "authorized") {
        notify(`Account “${created.name}” was added but is not authorized: ${(created.status_message || created.status).replace(/\.$/, "")}.`, { kind: "warning" });
      } else {
        notify(`Account “${created.name}” added and selected.`, { kind: "success" });
      }
    } catch (error) {
      draft.busy = false;
      draft.errors = error.status === 400 && error.body && typeof error.body === "object" ? error.body : { detail: error.message };
      ctx.rerender();
    }
  });
  return form;
}

/** Whether a card can be given a configuration: one it needs, or an optional one. */
export function takesConfiguration(card) {
  return Boolean(card?.needs_configuration || card?.optional_configuration);
}

export function configurationField(ctx, step) {
  const id = uid("configuration");
  const errorId = uid("err");
  const errors = ctx.validation.forField(step.id, "configuration").map((e) => e.message);
  const configurations = usableConfigurations(ctx, step);
  const current = step.configuration ?? null;
  const optional = !ctx.catalog.card(step.card)?.needs_configuration;
  let none = configurations.length ? "Choose an account…" : "No accounts yet: add one";
  if (optional) none = "No connection";
  const select = h(
    "select",
    {
      id,
      disabled: ctx.readOnly,
      "aria-required": optional ? "false" : "true",
      "aria-describedby": errors.length ? errorId : null,
      dataset: { focus: `${step.id}:configuration` },
    },
    h("option", { value: "", text: none }),
    configurations.map((c) => h("option", { value: String(c.id), text: configurationLabel(c) })),
  );
  if (current !== null && !configurations.some((c) => c.id === current)) {
    select.append(h("option", { value: String(current), text: `Account #${current} (not available to you)` }));
  }
  select.value = current === null ? "" : String(current);
  select.addEventListener("change", () => {
    ctx.focusAfterRender(`${step.id}:configuration`);
    chooseConfiguration(ctx, step, select.value ? Number(select.value) : null);
  });

  const row = h(
    "div",
    { class: ["field", "configuration-field", errors.length && "has-error"], dataset: { field: "configuration" } },
    h("label", { for: id, class: "field-label", text: optional ? "Connection (optional)" : "Account" }),
  );
  const body = h("div", { class: "field-body" }, select);
  row.append(body);
  const chosen = configurations.find((c) => c.id === current);
  if (chosen && chosen.status && chosen.status !== "authorized") {
    row.append(h("p", { class: "type-warning", text: `⚠ Not authorized. ${chosen.status_message || "Authorize it again on the Configurations page."}` }));
  }
  const list = errorList(errors, errorId);
  if (list) row.append(list);

  if (!ctx.readOnly) {
    const draft = openForms.get(step.id);
    if (draft) {
      row.append(addAccountForm(ctx, step, draft));
    } else {
      body.append(
        h("button", {
          type: "button",
          class: "button small",
          text: "Add Account",
          dataset: { focus: `${step.id}:add-account` },
          onclick: () => {
            openForms.set(step.id, { values: {}, errors: null, busy: false });
            ctx.focusAfterRender(`${step.id}:account:name`);
            ctx.rerender();
          },
        }),
      );
    }
  }
  return row;
}
