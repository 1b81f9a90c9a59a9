// Live updates for the runs list, a flow's status page and a run's detail page.
import { formatDateTime, formatTime, localizeTimes } from "./editor/timefmt.js";

const runDetail = document.getElementById("run");
const table = document.querySelector("[data-live-runs]");
const activationBox = document.getElementById("activation");
const dashboard = document.querySelector("[data-live-dashboard]");

// Dates typed in the filters are days of the viewer's time zone: the server is told which.
for (const input of document.querySelectorAll("input[data-time-zone]")) {
  if (!input.value) input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
}
// Cancelling every run that matches a filter asks first.
for (const button of document.querySelectorAll("[data-bulk-cancel]")) {
  button.addEventListener("click", (event) => {
    const scope = button.form.querySelector('[name="scope"]')?.value;
    const what = scope === "filter" ? "every run that matches the filter and has not ended" : "the selected runs";
    if (!window.confirm(`Cancel ${what}?`)) event.preventDefault();
  });
}

function socketPath() {
  const flowId = runDetail?.dataset.flowId ?? activationBox?.dataset.flowId ?? table?.dataset.flowId;
  return flowId ? `/ws/flows/${flowId}/` : "/ws/runs/";
}

function text(tag, value, className) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (className) el.className = className;
  return el;
}

function upsertRow(run) {
  if (!table) return;
  const body = table.tBodies[0];
  let row = body.querySelector(`tr[data-run-id="${run.id}"]`);
  // A filtered list only takes in new runs that match its filter.
  if (!row && table.dataset.outcome && table.dataset.outcome !== run.status) return;
  if (!row) {
    body.querySelector(".empty-row")?.remove();
    row = document.createElement("tr");
    row.dataset.runId = run.id;
    const selectable = table.tHead.rows[0].cells.length === 8;
    if (selectable) row.append(document.createElement("td"));
    const link = text("a", `#${run.id}`);
    link.href = `/runs/${run.id}/`;
    const first = document.createElement("td");
    first.append(link);
    const status = document.createElement("td");
    status.append(text("span", "", "badge"));
    status.firstChild.dataset.field = "status";
    const duration = text("td", "");
    duration.dataset.field = "duration";
    row.append(first, text("td", run.flow.name), status,
      text("td", `${run.event_id ?? "—"} ${run.source ?? ""}`), text("td", run.version == null ? "draft" : `v${run.version}`),
      text("td", formatDateTime(run.created_at)), duration);
    body.prepend(row);
  }
  const badge = row.querySelector('[data-field="status"]');
  badge.className = `badge ${run.status}`;
  badge.textContent = run.status_label;
  row.querySelector('[data-field="duration"]').textContent = run.duration_ms != null ? `${run.duration_ms} ms` : "";
  let error = row.querySelector('[data-field="error"]');
  if (run.error && !error) {
    error = text("div", "", "error");
    error.dataset.field = "error";
    badge.after(error);
  }
  if (error) error.textContent = run.error;
}

let detailTimer = null;
function refreshDetail(run) {
  if (!runDetail || String(run.id) !== runDetail.dataset.runId) return;
  const badge = document.getElementById("run-status");
  badge.className = `badge ${run.status}`;
  badge.textContent = run.status_label;
  const progress = document.getElementById("run-progress");
  if (progress) progress.textContent = run.progress != null ? `${run.current_step}: ${run.progress}%` : "";
  // The step list is server-rendered: reload it shortly after changes settle.
  clearTimeout(detailTimer);
  detailTimer = setTimeout(async () => {
    const html = await (await fetch(window.location.href, { credentials: "same-origin" })).text();
    const doc = new DOMParser().parseFromString(html, "text/html");
    const fresh = doc.getElementById("run-steps");
    if (fresh) document.getElementById("run-steps").replaceWith(fresh);
    const freshRun = doc.getElementById("run");
    if (freshRun) document.getElementById("run").replaceChildren(...freshRun.childNodes);
    localizeTimes(document);
    showWaiting();
  }, 300);
}

// The dashboard: counts and statuses are drawn on the server; re-read them shortly after changes.
let dashboardTimer = null;
function refreshDashboard() {
  if (!dashboard) return;
  clearTimeout(dashboardTimer);
  dashboardTimer = setTimeout(async () => {
    const html = await (await fetch(window.location.href, { credentials: "same-origin" })).text();
    const fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-live-dashboard]");
    if (fresh) {
      dashboard.replaceChildren(...fresh.childNodes);
      localizeTimes(dashboard);
    }
  }, 2000);
}

// A waiting run: the time it resumes, in local time, and a countdown to it.
let waitingTimer = null;
function showWaiting() {
  clearInterval(waitingTimer);
  const time = document.querySelector("time[data-resume-at]");
  if (!time) return;
  const at = new Date(time.dateTime);
  const tick = () => {
    const left = Math.max(0, Math.round((at - Date.now()) / 1000));
    time.textContent = `${formatTime(at)}${left > 0 ? ` (in ${left} s)` : " (resuming)"}`;
  };
  tick();
  waitingTimer = setInterval(tick, 1000);
}
showWaiting();

function showActivation(activation) {
  if (!activationBox) return;
  const badge = document.getElementById("activation-status");
  badge.className = `badge ${activation.status}`;
  badge.textContent = activation.status_label;
  document.getElementById("activation-reason").textContent = activation.reason ?? "";
}

function connect(delay = 500) {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${window.location.host}${socketPath()}`);
  socket.addEventListener("open", () => { delay = 500; document.body.dataset.live = "connected"; });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "run.updated") { upsertRow(message.run); refreshDetail(message.run); refreshDashboard(); }
    if (message.type === "activation.updated") showActivation(message.activation);
  });
  socket.addEventListener("close", () => {
    document.body.dataset.live = "disconnected";
    setTimeout(() => connect(Math.min(delay * 2, 15000)), delay);
  });
}

if (table || runDetail || activationBox || dashboard) connect();
