// Test: run the saved flow once on a recent response chosen from the survey.

import { asList, recentResponses, testFlow } from "./api.js";
import { clear, h } from "./dom.js";
import { notify } from "./notice.js";
import { formatDateTime } from "./timefmt.js";

function responseId(item) {
  if (typeof item === "string") return item;
  return item.response_id ?? item.responseId ?? item.ResponseID ?? item.id ?? "";
}

function responseLabel(item) {
  if (typeof item === "string") return item;
  const when = item.recorded_date ?? item.recorded_at ?? item.recordedDate ?? item.end_date ?? item.endDate;
  const who = item.recipient_email ?? item.recipientEmail ?? item.email ?? item.label;
  const date = when ? new Date(when) : null;
  return [formatDateTime(date) || when, who, responseId(item)].filter(Boolean).join(" · ");
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
    const select = h("select", { id: selectId, disabled: true }, h("option", { value: "", text: "Loading recent responses…" }));
    const run = h("button", { type: "submit", class: "button primary", text: "Run test", disabled: true });
    const status = h("p", { class: "muted", role: "status" });
    const form = h(
      "form",
      { method: "dialog", class: "form" },
      h("h2", { id: "test-title", text: "Test this flow" }),
      h("p", { class: "muted", text: `Runs version ${ctx.model.version} once, on a response you pick.${ctx.model.dirty ? " Unsaved changes are not included." : ""}` }),
      h("label", { for: selectId, text: "Response" }),
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
      const items = asList(await recentResponses(ctx.flowId), "responses");
      const ids = items.map((item) => [responseId(item), responseLabel(item)]).filter(([id]) => id);
      if (!ids.length) {
        select.replaceChildren(h("option", { value: "", text: "No recent responses" }));
        status.textContent = "No responses were found for this flow's survey yet. Take the survey once, then try again.";
        return;
      }
      select.replaceChildren(...ids.map(([id, label]) => h("option", { value: id, text: label })));
      select.disabled = false;
      run.disabled = false;
      select.focus();
    } catch (error) {
      select.replaceChildren(h("option", { value: "", text: "Could not load responses" }));
      status.textContent = error.message;
      status.classList.add("error");
    }
  }

  async start(responseIdValue, button, status) {
    if (!responseIdValue) return;
    button.disabled = true;
    status.textContent = "Starting…";
    try {
      const result = await testFlow(this.ctx.flowId, responseIdValue);
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
