"""What the run page and the dashboard show, worked out from runs, steps and definitions: the
JSON trees with the names people know, every step of the version (run or not), the timeline,
the dashboard's charts as geometry for server-drawn SVG, and the runs list as CSV."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors import registry
from designer.models import Run, RunStatus, RunStep
from designer.validation import NESTED_KEYS

MAX_TREE_DEPTH = 12
MAX_TREE_ITEMS = 200  # children shown per object or list; the rest are counted
MAX_TEXT = 2_000  # characters of a text value shown in the tree (the copy button copies it whole)


def duration_text(ms: int | float | None) -> str:
    if ms is None:
        return ""
    ms = int(ms)
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


# JSON trees ---------------------------------------------------------------------------------


@dataclass
class Node:
    key: str  # the key or index as stored ("q.QID3", "0")
    label: str  # what people call it ("How likely are you to recommend us?"), or ""
    kind: str  # object | list | text | number | boolean | null | file
    text: str = ""  # a scalar's value as shown
    children: list[Node] = field(default_factory=list)
    more: int = 0  # children not shown
    href: str = ""  # a file's download link
    path: str = ""

    @property
    def size(self) -> str:
        n = len(self.children) + self.more
        return f"{n} item{'s' if n != 1 else ''}" if self.kind == "list" else f"{n} field{'s' if n != 1 else ''}"


def tree(value: Any, labels: dict[str, str], *, file_href=None, path: str = "", key: str = "", depth: int = 0) -> Node:
    """A JSON value as a tree whose nodes carry the label stored for their dotted path."""
    label = labels.get(path, "") if path else ""
    if isinstance(value, dict) and value.get("type") == "file" and "path" in value:
        href = file_href(value) if file_href else ""
        return Node(key, label, "file", text=str(value.get("name") or "file"), href=href or "", path=path)
    if isinstance(value, (dict, list)) and depth < MAX_TREE_DEPTH:
        items = list(value.items()) if isinstance(value, dict) else [(str(i), v) for i, v in enumerate(value)]
        node = Node(key, label, "object" if isinstance(value, dict) else "list", path=path,
                    more=max(0, len(items) - MAX_TREE_ITEMS))
        for child_key, child in items[:MAX_TREE_ITEMS]:
            child_path = f"{path}.{child_key}" if path else str(child_key)
            node.children.append(tree(child, labels, file_href=file_href, path=child_path, key=str(child_key),
                                      depth=depth + 1))
        return node
    if isinstance(value, (dict, list)):
        text = json.dumps(value, default=str)
        return Node(key, label, "text", text=text[:MAX_TEXT] + ("…" if len(text) > MAX_TEXT else ""), path=path)
    if value is None:
        return Node(key, label, "null", text="null", path=path)
    if isinstance(value, bool):
        return Node(key, label, "boolean", text="true" if value else "false", path=path)
    if isinstance(value, (int, float)):
        return Node(key, label, "number", text=str(value), path=path)
    text = str(value)
    return Node(key, label, "text", text=text[:MAX_TEXT] + ("…" if len(text) > MAX_TEXT else ""), path=path)


def output_labels(node: dict | None, card) -> dict[str, str]:
    """{output key: label}: the card's declared outputs, then the labels stored with the version for
    outputs that depend on the options (a survey's questions: "q.QID3" → its text)."""
    labels = {f.key: f.label for f in (card.outputs if card else ())}
    stored = (node or {}).get("output_labels")
    if isinstance(stored, dict):
        for key, record in stored.items():
            if isinstance(record, dict) and isinstance(record.get("label"), str) and record["label"]:
                labels[str(key)] = record["label"]
    return labels


def input_labels(card) -> dict[str, str]:
    return {f.key: f.label for f in (card.inputs if card else ())}


# The steps of a run ---------------------------------------------------------------------------

NOT_RUN = {
    "skipped": "Skipped",
    "not_reached": "Not reached",
    "pending": "Not reached yet",
}


@dataclass
class StepView:
    step_id: str
    name: str
    status: str
    status_label: str
    record: RunStep | None = None
    depth: int = 0
    why: str = ""  # for a step that did not run
    inputs: Node | None = None
    outputs: Node | None = None
    inputs_json: str = ""
    outputs_json: str = ""
    duration: str = ""
    offset_ms: int | None = None  # from the run's start, for the timeline

    @property
    def ran(self) -> bool:
        return self.record is not None


def _card(key: str):
    return registry.get(key) if key in registry.registry else None


def _walk(steps: Any, depth: int = 0, branch: tuple[str, str] | None = None):
    """(node, depth, branch) for every step of a definition in document order; `branch` is the
    If/Else step and the side ("then"/"else") a step sits in."""
    for node in steps if isinstance(steps, list) else []:
        if not isinstance(node, dict) or not isinstance(node.get("id"), str):
            continue
        yield node, depth, branch
        for key in NESTED_KEYS:
            yield from _walk(node.get(key), depth + 1, (node["id"], key) if key in ("then", "else") else branch)


def run_steps(run: Run, records: list[RunStep], *, file_href=None, step_test: bool = False) -> list[StepView]:
    """Every step of the run's version, in the definition's order, each with its records (one per
    For Each item) or why it did not run; records of steps the version no longer names follow.
    A step test ran one card alone: only what it recorded is shown."""
    if step_test or run.version is None:
        return [_ran(run, record, None, _card(record.card), 0, file_href) for record in records]
    definition = run.version.definition if isinstance(run.version.definition, dict) else {}
    by_step: dict[str, list[RunStep]] = {}
    for record in records:
        by_step.setdefault(record.step_id, []).append(record)
    event = definition.get("event") if isinstance(definition.get("event"), dict) else None
    nodes: list[tuple[dict, int, Any]] = []
    if event:
        nodes.append(({**event, "id": "trigger"}, 0, None))
    nodes.extend(_walk(definition.get("steps")))
    views: list[StepView] = []
    seen: set[str] = set()
    ended = run.status not in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING, RunStatus.ATTENTION)
    for node, depth, branch in nodes:
        seen.add(node["id"])
        card = _card(str(node.get("card", "")))
        found = by_step.get(node["id"], [])
        for record in found:
            views.append(_ran(run, record, node, card, depth, file_href))
        if found:
            continue
        name = card.name if card else str(node.get("card", "Step"))
        why, status = _why_not(run, node, branch, by_step, ended)
        views.append(StepView(node["id"], name, status, NOT_RUN[status], depth=depth, why=why))
    for record in records:
        if record.step_id not in seen:
            views.append(_ran(run, record, None, _card(record.card), 0, file_href))
    return views


def _why_not(run: Run, node: dict, branch, by_step, ended: bool) -> tuple[str, str]:
    if branch is not None:
        decided = [r for r in by_step.get(branch[0], []) if isinstance(r.outputs, dict) and "result" in r.outputs]
        if decided and all(("then" if r.outputs["result"] else "else") != branch[1] for r in decided):
            return "The If/Else condition took the other branch.", "skipped"
    if not ended:
        return "The run has not got this far yet.", "pending"
    if run.status == RunStatus.STOPPED:
        return "Continue If stopped the run before this step.", "skipped"
    if run.status == RunStatus.SUCCEEDED:
        return "Not run: its branch was not taken, or its For Each had no items.", "skipped"
    if run.status == RunStatus.CANCELLED:
        return "The run was cancelled before this step.", "not_reached"
    return "The run stopped before this step.", "not_reached"


def _ran(run: Run, record: RunStep, node: dict | None, card, depth: int, file_href) -> StepView:
    view = StepView(record.step_id, record.name, record.status, record.get_status_display(), record=record, depth=depth)
    view.inputs = tree(record.inputs, input_labels(card), file_href=file_href)
    view.outputs = tree(record.outputs, output_labels(node, card), file_href=file_href)
    view.inputs_json = json.dumps(record.inputs, indent=2, default=str, ensure_ascii=False)
    view.outputs_json = json.dumps(record.outputs, indent=2, default=str, ensure_ascii=False)
    view.duration = duration_text(record.duration_ms)
    begun = step_start(record)
    if begun and run.started_at:
        view.offset_ms = max(0, int((begun - run.started_at).total_seconds() * 1000))
    return view


# The run's timeline -------------------------------------------------------------------------------


def step_start(record: RunStep) -> datetime | None:
    """When a step began: its first HTTP attempt when it made any; otherwise its record's time less
    its duration (a quick step is recorded once, when it has finished)."""
    log = record.attempt_log if isinstance(record.attempt_log, list) else []
    if log and isinstance(log[0], dict) and log[0].get("at"):
        try:
            first = datetime.fromisoformat(str(log[0]["at"]).replace("Z", "+00:00"))
            if first.tzinfo is not None:
                return first
        except ValueError:
            pass
    if record.started_at is None:
        return None
    return record.started_at - timedelta(milliseconds=record.duration_ms or 0)


@dataclass
class Moment:
    at: datetime
    text: str
    kind: str = ""


def run_timeline(run: Run, steps: list[StepView]) -> list[Moment]:
    moments = []
    if run.delivery_id and run.delivery.received_at:
        moments.append(Moment(run.delivery.received_at, f"Event received ({run.delivery.get_source_display()})"))
    moments.append(Moment(run.created_at, "Run queued", "queued"))
    if run.started_at:
        moments.append(Moment(run.started_at, "Started" if run.attempts <= 1 else f"Started (attempt {run.attempts})",
                              "running"))
    for view in steps:
        record = view.record
        begun = step_start(record) if record is not None else None
        if begun is None:
            continue
        what = f"{view.name} ({view.step_id}{' · item ' + record.iteration if record.iteration else ''}): " \
               f"{view.status_label.lower()}"
        if view.duration:
            what += f" in {view.duration}"
        moments.append(Moment(begun, what, record.status))
        if record.resolved_at:
            moments.append(Moment(record.resolved_at, record.resolution_text, "attention"))
    if run.cancel_requested_at and run.status != RunStatus.CANCELLED:
        moments.append(Moment(run.cancel_requested_at, "Cancel requested", "cancelled"))
    if run.status == RunStatus.WAITING and run.resume_at:
        moments.append(Moment(run.resume_at, f"Resumes{': ' + run.wait_message if run.wait_message else ''}", "waiting"))
    if run.finished_at:
        moments.append(Moment(run.finished_at, f"{run.get_status_display()}"
                              + (f" after {duration_text(run.duration_ms)}" if run.duration_ms is not None else ""),
                              run.status))
    return sorted(moments, key=lambda m: m.at)


@dataclass
class Bar:
    x: float
    width: float
    y: float
    label: str
    status: str


def timeline_bars(run: Run, steps: list[StepView], width: int = 600, row: int = 14) -> tuple[list[Bar], int]:
    """Each recorded step as a bar from its start to its end, on the run's time axis; the height."""
    ran = [(v, step_start(v.record)) for v in steps if v.record is not None]
    ran = [(v, begun) for v, begun in ran if begun is not None]
    if not ran:
        return [], 0
    start = min(begun for _, begun in ran)
    end = max(begun + timedelta(milliseconds=v.record.duration_ms) for v, begun in ran)
    if run.finished_at and run.finished_at > end:
        end = run.finished_at
    span = max((end - start).total_seconds() * 1000, 1)
    bars = []
    for i, (view, begun) in enumerate(ran[:60]):
        offset = (begun - start).total_seconds() * 1000
        x = offset / span * width
        w = max(view.record.duration_ms / span * width, 2)
        bars.append(Bar(round(x, 1), round(min(w, width - x), 1) or 2, i * row,
                        f"{view.name} ({view.step_id}): {view.duration or '0 ms'}", view.status))
    return bars, len(bars) * row


# Dashboard charts -------------------------------------------------------------------------------


@dataclass
class Column:
    x: float
    width: float
    total_y: float
    total_h: float
    failed_y: float
    failed_h: float
    title: str


def columns(buckets: list[tuple[str, int, int]], *, width: int = 240, height: int = 40) -> list[Column]:
    """Bars for (label, runs, failures) buckets, failures drawn over the runs, scaled to the busiest."""
    if not buckets:
        return []
    top = max(max(total for _, total, _ in buckets), 1)
    step = width / len(buckets)
    out = []
    for i, (label, total, failed) in enumerate(buckets):
        th = total / top * height if total else 0
        fh = failed / top * height if failed else 0
        if total and th < 1:
            th = 1
        if failed and fh < 1:
            fh = 1
        out.append(Column(round(i * step, 2), round(max(step - 1, 1), 2), round(height - th, 2), round(th, 2),
                          round(height - fh, 2), round(fh, 2),
                          f"{label}: {total} run{'s' if total != 1 else ''}, {failed} failed"))
    return out


# The runs list as CSV ------------------------------------------------------------------------------

CSV_HEADER = ["run", "flow", "status", "source", "response id", "version", "created (UTC)", "started (UTC)",
              "finished (UTC)", "duration ms", "attempts", "re-run of", "error"]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_cell(value) -> str:
    """A cell a spreadsheet does not read as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def runs_csv_lines(runs) -> Iterator[str]:
    """The header, then a CSV line for each run (with its flow, version and delivery loaded)."""
    import csv

    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    for run in runs:
        delivery = run.delivery
        yield writer.writerow([_csv_cell(v) for v in (
            run.pk, run.flow.name, run.status, delivery.source if delivery else "",
            delivery.event_id if delivery else "", run.version.number if run.version_id else "draft",
            run.created_at.isoformat(),
            run.started_at.isoformat() if run.started_at else "",
            run.finished_at.isoformat() if run.finished_at else "", run.duration_ms, run.attempts,
            run.rerun_of_id or "", run.error,
        )])


async def in_blocks_async(lines: Iterator[str], size: int = 500) -> AsyncIterator[str]:
    """`lines` joined `size` at a time, each block read in the thread the ORM uses."""
    from itertools import islice

    from asgiref.sync import sync_to_async

    take = sync_to_async(lambda: "".join(islice(lines, size)), thread_sensitive=True)
    while block := await take():
        yield block
