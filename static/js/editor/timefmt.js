// Dates and times as every page shows them: in the browser's time zone, written the same way
// everywhere (2026-03-05 14:30:00). Server-rendered pages send UTC in <time data-local-time>,
// which page.js rewrites with these functions.

function parsed(value) {
  const date = value instanceof Date ? value : value ? new Date(value) : null;
  return date && !Number.isNaN(date.valueOf()) ? date : null;
}

const pad = (n) => String(n).padStart(2, "0");

/** "2026-03-05 14:30:00" in the local time zone, or "" for a missing or unreadable value. */
export function formatDateTime(value) {
  const date = parsed(value);
  if (!date) return "";
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${formatTime(date)}`;
}

/** "14:30:00" in the local time zone. */
export function formatTime(value) {
  const date = parsed(value);
  return date ? `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` : "";
}

/** The zone the times are shown in, such as "Europe/Berlin". */
export function timeZoneName() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
}

/** Rewrites the UTC times a server-rendered page holds in <time data-local-time> in local time. */
export function localizeTimes(root) {
  for (const time of root.querySelectorAll("time[data-local-time]")) {
    const local = formatDateTime(time.dateTime);
    if (!local || time.dataset.localized) continue;
    time.title = `${time.textContent.trim()} · shown in ${timeZoneName()}`;
    time.textContent = local;
    time.dataset.localized = "true";
  }
}
