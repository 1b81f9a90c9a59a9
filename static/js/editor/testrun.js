// Test: run the saved flow once on a recent event of its trigger (a response of the survey, say).

import { asList, recentEvents, testFlow } from "./api.js";
import { clear, h } from "./dom.js";
import { notify } from "./notice.js";
import { formatDateTime } from "./timefmt.js";

function eventId(item) {
  if (typeof item === "string") return item;
  return item.id ?? "";
}

function eventLabel(item) {
  if (typeof item === "string") return item;
  const when = item.recorded_date;
  if (!when) return item.label || eventId(item);
  const date = new Date(when);
  return [formatDateTime(date) || when, item.email, eventId(item)].filter(Boolean).join(" · ");
}

export class TestRun {
  constructor(ctx, { button, dialog, runsUrl }) {
    this.ctx = ctx;
    this.button = button;
    this.dialog = dialog;
    this.runsUrl = runsUrl;
    if (ctx.readOnly) button.hidden = true;
    button.addEventListener("click", () => this.open());
  }

  async open() {
    const { ctx, dialog } = this;
    if (!ctx.model.version) {
      notify("Save the flow before testing it.", { kind: "warning" });
      return;
    }
    clear(dialog);
    const selectId = "test-response";
    const select = h("select", { id: selectId, disabled: true }, h("option", { value: "", text: "Loading recent events…" }));
    const run = h("button", { type: "submit", class: "button primary", text: "Run test", disabled: true });
    const status = h("p", { class: "muted", role: "status" });
    const form = h(
      "form",
      { method: "dialog", class: "form" },
      h("h2", { id: "test-title", text: "Test this flow" }),
      h("p", { class: "muted", text: `Runs version ${ctx.model.version} once, on a recent event you pick.${ctx.model.dirty ? " Unsaved changes are not included." : ""}` }),
      h("label", { for: selectId, text: "Event" }),
      select,
      status,
      h("div", { class: "form-actions" }, run, h("button", { type: "button", class: "button", text: "Cancel", onclick: () => dialog.close() })),
    );
    dialog.setAttribute("aria-labelledby", "test-title");
    dialog.append(form);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.start(select.value, run, status);
    });
    dialog.showModal();

    try {
      const items = asList(await recentEvents(ctx.flowId), "events");
      const ids = items.map((item) => [eventId(item), eventLabel(item)]).filter(([id]) => id);
      if (!ids.length) {
        select.replaceChildren(h("option", { value: "", text: "No recent events" }));
        status.textContent = "No recent events were found for this flow's trigger yet (for a survey: take it once), then try again.";
        return;
      }
      select.replaceChildren(...ids.map(([id, label]) => h("option", { value: id, text: label })));
      select.disabled = false;
      run.disabled = false;
      select.focus();
    } catch (error) {
      select.replaceChildren(h("option", { value: "", text: "Could not load events" }));
      status.textContent = error.message;
      status.classList.add("error");
    }
  }

  async start(eventIdValue, button, status) {
    if (!eventIdValue) return;
    button.disabled = true;
    status.textContent = "Starting…";
    try {
      const result = await testFlow(this.ctx.flowId, eventIdValue);
      this.dialog.close();
      const runId = result?.run?.id ?? result?.run;
      notify(`Test run ${runId ? `#${runId} ` : ""}started; follow it under Activity.`, {
        kind: "success",
        actions: runId ? [{ label: "Open run", onClick: () => window.location.assign(`${this.runsUrl}${runId}/`) }] : [],
      });
      this.ctx.live?.refresh();
    } catch (error) {
      button.disabled = false;
      status.textContent = error.message;
      status.classList.add("error");
    }
  }
}
