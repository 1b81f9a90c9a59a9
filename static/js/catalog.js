// Card catalog: filter the cards by words and by kind, without leaving the page.
const search = document.querySelector("[data-catalog-search]");
const kind = document.querySelector("[data-catalog-kind]");
const status = document.querySelector("[data-catalog-status]");
const empty = document.querySelector("[data-catalog-empty]");
const cards = [...document.querySelectorAll("[data-catalog-card]")];
const containers = [...document.querySelectorAll("[data-catalog-group], [data-catalog-section]")];

function apply() {
  const words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const wanted = kind.value;
  let shown = 0;
  for (const card of cards) {
    const text = card.dataset.search || "";
    const match = (!wanted || card.dataset.kind === wanted) && words.every((word) => text.includes(word));
    card.hidden = !match;
    if (match) shown += 1;
  }
  for (const container of containers) {
    container.hidden = !container.querySelector("[data-catalog-card]:not([hidden])");
  }
  empty.hidden = shown > 0;
  status.textContent = shown === cards.length ? `${shown} cards` : `${shown} of ${cards.length} cards`;
  const url = new URL(window.location.href);
  if (search.value.trim()) url.searchParams.set("q", search.value.trim());
  else url.searchParams.delete("q");
  window.history.replaceState(null, "", url);
}

if (search && kind) {
  const initial = new URLSearchParams(window.location.search).get("q");
  if (initial) search.value = initial;
  search.addEventListener("input", apply);
  kind.addEventListener("change", apply);
  // "/" jumps to the search box, as on many catalog pages, unless the user is typing somewhere.
  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest("input, textarea, select, [contenteditable]");
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      search.focus();
    }
  });
  if (initial) apply();
}
