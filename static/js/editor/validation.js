// Server validation errors: [{step, field, message}]. The canvas asks for the errors of each card
// and field while it renders; the summary banner lists them all and links to each one.

import { clear, h } from "./dom.js";

export class Validation {
  constructor(banner, { describe, focusTarget, onChange = () => {} }) {
    this.banner = banner;
    this.onChange = onChange;
    this.describe = describe;
    this.focusTarget = focusTarget;
    this.errors = [];
    this.detail = "";
  }

  set(errors, detail = "") {
    this.errors = Array.isArray(errors) ? errors.map((e) => ({ step: e.step ?? null, field: e.field ?? null, message: String(e.message ?? "") })) : [];
    this.detail = detail;
    this.renderBanner();
  }

  clearAll() {
    this.set([], "");
  }

  forField(step, field) {
    return this.errors.filter((e) => e.step === step && e.field === field);
  }

  /** Errors of a step that name no field, or a field the card does not show. */
  forStep(step, shownFields = []) {
    return this.errors.filter((e) => e.step === step && (e.field === null || !shownFields.includes(e.field)));
  }

  /** Editing a field clears what the server said about it. */
  clearField(step, field) {
    const before = this.errors.length;
    this.errors = this.errors.filter((e) => !(e.step === step && e.field === field));
    if (this.errors.length !== before) this.renderBanner();
    return this.errors.length !== before;
  }

  /** Removing a card clears what was said about it; `onlyUnfielded` keeps what was said of its fields. */
  clearStep(step, { onlyUnfielded = false } = {}) {
    const before = this.errors.length;
    this.errors = this.errors.filter((e) => e.step !== step || (onlyUnfielded && e.field !== null));
    if (this.errors.length !== before) this.renderBanner();
    return this.errors.length !== before;
  }

  renderBanner() {
    const banner = clear(this.banner);
    this.onChange(this.errors.length);
    if (!this.errors.length) {
      banner.hidden = true;
      return;
    }
    banner.hidden = false;
    const count = this.errors.length;
    banner.append(
      h("h2", { class: "banner-title", text: `${count} problem${count === 1 ? "" : "s"} to fix before this flow can be published` }),
      h(
        "ul",
        { class: "validation-list" },
        this.errors.map((error) =>
          h(
            "li",
            {},
            h("button", {
              type: "button",
              class: "linklike-dark",
              text: `${this.describe(error.step, error.field)}: ${error.message}`,
              onclick: () => this.focusTarget(error.step, error.field),
            }),
          ),
        ),
      ),
    );
  }
}
