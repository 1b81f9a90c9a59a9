// The Activity panel: activation status and the latest runs, kept current over a websocket
// (/ws/flows/<id>/) that reconnects with backoff and is optional: without it the panel still
// shows what the REST API said when the page loaded.

import { asList, listRuns } from "./api.js";
import { activationLabel } from "./activation.js";
import { clear, h } from "./dom.js";
import { formatTime } from "./timefmt.js";

const MAX_RUNS = 8;
const MAX_DELAY = 30_000;

function timeText(value) {
  return formatTime(value);
}

export class LivePanel {
  constructor(ctx, { panel, wsPath, runsUrl }) {
    this.ctx = ctx;
    this.panel = panel;
    this.wsPath = wsPath;
    this.runsUrl = runsUrl;
    this.runs = [];
    this.activation = null;
    this.connection = "connecting";
    this.attempts = 0;
    this.socket = null;
    this.render();
  }

  start() {
    this.refresh();
    this.connect();
  }

  async refresh() {
    try {
      this.runs = asList(await listRuns(this.ctx.flowId), "runs").slice(0, MAX_RUNS);
    } catch {
      // The runs endpoint is optional for the editor; keep what we have.
    }
    this.render();
  }

  connect() {
    if (!this.wsPath || !("WebSocket" in window)) return;
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    let socket;
    try {
      socket = new WebSocket(`${scheme}://${window.location.host}${this.wsPath}`);
    } catch {
      this.retry();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempts = 0;
      this.setConnection("live");
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      // 4401 and 4403: signed out or no longer in the team; trying again would not help.
      if (event.code === 4401 || event.code === 4403) {
        this.socket = null;
        this.setConnection("closed");
        return;
      }
      this.retry();
    });
  }

  retry() {
    this.socket = null;
    this.attempts += 1;
    const delay = Math.min(MAX_DELAY, 1000 * 2 ** Math.min(this.attempts - 1, 5)) * (0.75 + Math.random() / 2);
    this.setConnection(this.attempts > 2 ? "offline" : "connecting");
    window.setTimeout(() => this.connect(), delay);
  }

  setConnection(state) {
    if (this.connection === state) return;
    this.connection = state;
    this.render();
  }

  receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (message.type === "run.updated" && message.run) {
      const others = this.runs.filter((run) => run.id !== message.run.id);
      this.runs = [message.run, ...others].sort((a, b) => (b.id ?? 0) - (a.id ?? 0)).slice(0, MAX_RUNS);
      this.render();
    } else if (message.type === "activation.updated" && message.activation) {
      this.ctx.activation?.show(message.activation);
    }
  }

  showActivation(activation) {
    this.activation = activation;
    this.render();
  }

  render() {
    const panel = clear(this.panel);
    const states = { live: "Live", connecting: "Connecting…", offline: "Live updates unavailable; retrying", closed: "Live updates unavailable" };
    panel.append(
      h(
        "div",
        { class: "panel-head" },
        h("h2", { id: "live-title", text: "Activity" }),
        h("span", { class: ["connection", this.connection], text: states[this.connection] }),
      ),
    );
    if (this.activation) {
      const reason = this.activation.reason || this.activation.status_message;
      panel.append(
        h(
          "p",
          { class: "activation-line" },
          h("span", { class: ["badge", this.activation.status], text: activationLabel(this.activation) }),
          reason ? h("span", { class: "muted activation-reason", text: ` ${reason}` }) : null,
        ),
      );
    }
    if (!this.runs.length) {
      panel.append(h("p", { class: "muted", text: "No runs yet. Use Test to run the saved flow on a recent response." }));
      return;
    }
    panel.append(
      h(
        "ul",
        { class: "run-list", "aria-live": "polite" },
        this.runs.map((run) =>
          h(
            "li",
            { class: "run" },
            h("a", { href: `${this.runsUrl}${run.id}/`, text: `Run #${run.id}` }),
            h("span", { class: ["badge", run.status], text: run.status_label || run.status || "" }),
            h("span", { class: "muted", text: timeText(run.created_at || run.started_at) }),
            run.error ? h("p", { class: "run-error error", text: run.error }) : null,
          ),
        ),
      ),
    );
  }
}
