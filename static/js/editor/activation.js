// The activation badge and the Activate / Deactivate button.

import { activateFlow, deactivateFlow } from "./api.js";
import { notify } from "./notice.js";

const LABELS = {
  inactive: "Inactive",
  activating: "Activating…",
  active_webhook: "Active (webhook)",
  active_polling: "Active (polling)",
  active_schedule: "Active (schedule)",
  failing: "Failing",
};
const ACTIVE = ["activating", "active_webhook", "active_polling", "active_schedule", "failing"];

export function activationLabel(activation) {
  const status = activation?.status || "inactive";
  return activation?.status_label || activation?.status_display || LABELS[status] || status;
}

export class ActivationControl {
  constructor(ctx, { badge, button }) {
    this.ctx = ctx;
    this.badge = badge;
    this.button = button;
    this.activation = { status: "inactive" };
    this.busy = false;
    if (ctx.readOnly) button.hidden = true;
    button.addEventListener("click", () => this.toggle());
  }

  get isActive() {
    return ACTIVE.includes(this.activation.status);
  }

  show(activation) {
    if (!activation) return;
    this.activation = typeof activation === "string" ? { status: activation } : activation;
    const status = this.activation.status || "inactive";
    this.badge.className = `badge ${status}`;
    this.badge.textContent = activationLabel(this.activation);
    const reason = this.activation.reason || this.activation.status_message || "";
    this.badge.title = reason;
    this.badge.setAttribute("aria-label", `Status: ${activationLabel(this.activation)}${reason ? `. ${reason}` : ""}`);
    this.button.textContent = this.isActive ? "Deactivate" : "Activate";
    this.ctx.live?.showActivation(this.activation);
  }

  async toggle() {
    const { ctx } = this;
    if (this.busy) return;
    const activating = !this.isActive;
    if (activating && !ctx.model.liveVersion && !ctx.model.draftRevision) {
      notify("Save the flow before activating it.", { kind: "warning" });
      return;
    }
    this.busy = true;
    this.button.disabled = true;
    try {
      const result = activating ? await activateFlow(ctx.flowId) : await deactivateFlow(ctx.flowId);
      this.show(result?.activation ?? result);
      const note = activating && ctx.model.dirty ? " It runs the saved draft, published; your unsaved changes are not part of it." : "";
      if (activating) ctx.refreshDraft?.(); // activating publishes the draft first
      const reason = this.activation.reason ? ` ${this.activation.reason}` : "";
      notify(`${activating ? "Activated" : "Deactivated"}: ${activationLabel(this.activation)}.${reason}${note}`, {
        kind: this.activation.status === "failing" ? "warning" : "success",
      });
    } catch (error) {
      if (error.status === 400 && Array.isArray(error.body?.errors)) {
        ctx.validation.set(error.body.errors, error.body.detail || "");
        ctx.rerender();
      }
      notify(`Could not ${activating ? "activate" : "deactivate"}: ${error.message}`, { kind: "error" });
    } finally {
      this.busy = false;
      this.button.disabled = false;
    }
  }
}
