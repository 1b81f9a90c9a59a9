// The only module that talks to the server. Every helper returns parsed JSON or throws an
// ApiError carrying the HTTP status and the error body the server sent.

const root = document.getElementById("editor");
let apiBase = root?.dataset.apiBase || "/api/";

export class ApiError extends Error {
  constructor(status, body) {
    super(errorMessage(status, body));
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

function errorMessage(status, body) {
  if (body && typeof body === "object") {
    if (typeof body.detail === "string") return body.detail;
    const parts = [];
    for (const [field, messages] of Object.entries(body)) {
      const text = Array.isArray(messages) ? messages.join(" ") : String(messages);
      parts.push(field === "non_field_errors" ? text : `${field}: ${text}`);
    }
    if (parts.length) return parts.join(" ");
  }
  if (typeof body === "string" && body && body.length < 300 && !body.startsWith("<")) return body;
  if (status === 0) return "The server could not be reached. Check your connection and try again.";
  if (status === 403) return "You do not have permission to do that.";
  if (status === 404) return "Not found.";
  return `The server answered with an error (${status}).`;
}

export function setApiBase(base) {
  apiBase = base.endsWith("/") ? base : `${base}/`;
}

function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "csrftoken") return decodeURIComponent(rest.join("="));
  }
  return root?.dataset.csrfToken || "";
}

function url(path, params) {
  const target = new URL(apiBase + path, window.location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") target.searchParams.set(key, value);
  }
  return target.pathname + target.search;
}

async function request(method, path, { params, body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url(path, params), {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, null);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// Lists may come bare or wrapped by a paginator; callers always get an array.
export function asList(data, ...keys) {
  if (Array.isArray(data)) return data;
  for (const key of [...keys, "results", "items"]) {
    if (data && Array.isArray(data[key])) return data[key];
  }
  return [];
}

const enc = encodeURIComponent;

export const getCatalog = () => request("GET", "catalog/");
export const getCardOutputs = (cardKey, params) => request("GET", `catalog/${enc(cardKey)}/outputs/`, { params });
export const listConfigurations = () => request("GET", "configurations/");
export const createConfiguration = (fields) => request("POST", "configurations/", { body: fields });
export const getOptionChoices = (configurationId, source, params) =>
  request("GET", `configurations/${enc(configurationId)}/options/${enc(source)}/`, { params });

export const listFlows = () => request("GET", "flows/");
export const getFlow = (id) => request("GET", `flows/${enc(id)}/`);
export const saveFlow = (id, { name, definition, baseVersion }) =>
  request("PUT", `flows/${enc(id)}/`, { body: { name, definition, base_version: baseVersion } });
export const publishFlow = (id, { baseRevision } = {}) =>
  request("POST", `flows/${enc(id)}/publish/`, { body: { base_revision: baseRevision } });
export const discardDraft = (id) => request("POST", `flows/${enc(id)}/discard/`);
export const listVersions = (id) => request("GET", `flows/${enc(id)}/versions/`);
export const getVersion = (id, number) => request("GET", `flows/${enc(id)}/versions/${enc(number)}/`);
export const restoreVersion = (id, number) => request("POST", `flows/${enc(id)}/versions/${enc(number)}/restore/`);
export const exportFlow = (id) => request("GET", `flows/${enc(id)}/export/`);
export const importFlow = (document) => request("POST", "flows/import/", { body: document });
export const activateFlow = (id) => request("POST", `flows/${enc(id)}/activate/`);
export const deactivateFlow = (id) => request("POST", `flows/${enc(id)}/deactivate/`);
export const getActivation = (id) => request("GET", `flows/${enc(id)}/activation/`);
export const testFlow = (id, eventId) => request("POST", `flows/${enc(id)}/test/`, { body: { event_id: eventId } });
export const recentEvents = (id) => request("GET", `flows/${enc(id)}/recent-events/`);
export const getSamples = (id) => request("GET", `flows/${enc(id)}/sample/`);
export const loadSample = (id, { definition, eventId, data } = {}) =>
  request("POST", `flows/${enc(id)}/sample/`, { body: { definition, event_id: eventId || undefined, data } });
export const testStep = (id, stepId, { definition, confirm = false } = {}) =>
  request("POST", `flows/${enc(id)}/steps/${enc(stepId)}/test/`, { body: { definition, confirm } });
export async function uploadFile(file) {
  const form = new FormData();
  form.append("file", file);
  let response;
  try {
    response = await fetch(url("files/"), {
      method: "POST",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      credentials: "same-origin",
      body: form,
    });
  } catch {
    throw new ApiError(0, null);
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}
export const listRuns = (flowId) => request("GET", "runs/", { params: { flow: flowId } });
