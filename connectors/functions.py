"""Function cards (If/Else, Continue If, For Each, Compose, and the text, date and number cards)
and the pure helpers the engine calls.

The engine owns control flow: it evaluates If/Else and Continue If with `evaluate_condition`,
iterates For Each over `iterate_list(...)`, and renders Compose with `render_template`. The run()
functions here do the same for a single step, so a function card can also be run like any other.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.registry import register
from connectors.specs import Card, CardInputError, Field, RunContext, choices

OPERATORS = choices(
    ("equals", "equals"),
    ("not_equals", "does not equal"),
    ("contains", "contains"),
    ("not_contains", "does not contain"),
    ("greater_than", "is greater than"),
    ("less_than", "is less than"),
    ("is_empty", "is empty"),
    ("is_not_empty", "is not empty"),
    ("is_true", "is true"),
    ("is_false", "is false"),
)
UNARY_OPERATORS = frozenset({"is_empty", "is_not_empty", "is_true", "is_false"})
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "off", ""})

PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)+)\s*\}\}")


class ConditionError(CardInputError):
    pass


# Conditions ---------------------------------------------------------------------------------


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        # Compare naive and aware values on the same footing (Qualtrics dates are UTC).
        return parsed.replace(tzinfo=None) if parsed.tzinfo is None else parsed.astimezone(UTC).replace(tzinfo=None)
    return None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        word = value.strip().casefold()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None


def as_text(value: Any) -> str:
    """How a value reads inside text: no 'None', JSON for objects and lists, 3 rather than 3.0."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, sort_keys=isinstance(value, dict), default=str)
    return str(value)


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return _as_bool(left) is not None and _as_bool(left) == _as_bool(right)
    left_n, right_n = _as_number(left), _as_number(right)
    if left_n is not None and right_n is not None:
        return left_n == right_n
    if isinstance(left, (dict, list)) or isinstance(right, (dict, list)):
        if isinstance(right, str) and not isinstance(left, str):
            try:
                right = json.loads(right)
            except ValueError:
                return False
        return left == right
    left_d, right_d = _as_datetime(left), _as_datetime(right)
    if left_d is not None and right_d is not None:
        return left_d == right_d  # "…T10:00:00Z" and "…T12:00:00+02:00" are the same moment
    return as_text(left) == as_text(right)


def _contains(left: Any, right: Any) -> bool:
    if isinstance(left, (list, tuple)):
        return any(_equal(item, right) for item in left)
    if isinstance(left, dict):
        return as_text(right) in left
    return as_text(right) in as_text(left)


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, dict)):
        return len(value) == 0
    return False


def _compare(left: Any, right: Any, operator: str) -> bool:
    left_n, right_n = _as_number(left), _as_number(right)
    if left_n is not None and right_n is not None:
        return left_n > right_n if operator == "greater_than" else left_n < right_n
    left_d, right_d = _as_datetime(left), _as_datetime(right)
    if left_d is not None and right_d is not None:
        return left_d > right_d if operator == "greater_than" else left_d < right_d
    # Text that is neither a number nor a date (a free-text answer like "six") has no order:
    # it is neither greater nor less, rather than a failed run.
    return False


# The operators that hold when their positive counterpart does not.
NEGATED = {"not_equals": "equals", "not_contains": "contains"}


def evaluate_condition(left: Any, operator: str, right: Any = None) -> bool:
    """True when `left <operator> right` holds. Only an unknown operator raises ConditionError.

    Missing, empty and skipped values are values: `is empty` holds for None, blank text, [] and {};
    a comparison with an empty side is false (and its negation, does not equal / does not contain,
    true), because a skipped NPS question is neither 0 nor equal to anything. Numbers compare as
    numbers even when one side is text ("6" equals 6), dates in text compare as moments, true/false
    compare as booleans ("True" equals True), and `contains` looks inside lists and text.
    Greater than and less than hold only between two numbers or two dates.
    """
    if operator in NEGATED:
        return not evaluate_condition(left, NEGATED[operator], right)
    if operator == "is_empty":
        return _is_empty(left)
    if operator == "is_not_empty":
        return not _is_empty(left)
    if operator == "is_true":
        return _as_bool(left) is True
    if operator == "is_false":
        return _as_bool(left) is False
    if operator not in ("equals", "contains", "greater_than", "less_than"):
        known = ", ".join(c.value for c in OPERATORS)
        raise ConditionError(f"Unknown operator '{operator}'. Use one of: {known}.")
    if _is_empty(left) or _is_empty(right):
        return False
    if operator == "equals":
        return _equal(left, right)
    if operator == "contains":
        return _contains(left, right)
    return _compare(left, right, operator)


# Templates and lists ------------------------------------------------------------------------


def template_refs(template: str) -> list[str]:
    """The `step_id.output_key` references a template uses, in order (for flow validation)."""
    return PLACEHOLDER_RE.findall(template or "")


class OutputTooLarge(CardInputError):
    """A card's output would pass the size one output may have (RUN_MAX_OUTPUT_BYTES)."""


def output_limit() -> int | None:
    """The most characters one output may hold (settings.RUN_MAX_OUTPUT_BYTES), None for no limit."""
    from django.conf import settings

    limit = getattr(settings, "RUN_MAX_OUTPUT_BYTES", None)
    return limit if limit and limit > 0 else None


def size_text(size: int) -> str:
    """1 MB, 3.2 MB, 700 KB, 12 bytes."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def too_large(what: str, size: int | str, limit: int) -> OutputTooLarge:
    size = size if isinstance(size, str) else size_text(size)
    return OutputTooLarge(f"{what} would be {size}, over the limit of {size_text(limit)} for one output "
                          f"(the RUN_MAX_OUTPUT_BYTES setting).")


def render_template(template: str, resolve: Callable[[str], Any], limit: int | None = None) -> str:
    """Replace each `{{step_id.output_key}}` with `resolve("step_id.output_key")` as text.

    With `limit`, the text is built piece by piece and OutputTooLarge is raised as soon as it
    would hold more than `limit` characters, before a huge string is ever built. Whatever
    `resolve` raises (an unknown reference, say) propagates to the caller.
    """
    if template is None:
        return ""
    template = str(template)
    if limit is None:
        return PLACEHOLDER_RE.sub(lambda m: as_text(resolve(m.group(1))), template)
    pieces: list[str] = []
    size = 0
    start = 0
    for match in PLACEHOLDER_RE.finditer(template):
        for piece in (template[start:match.start()], as_text(resolve(match.group(1)))):
            size += len(piece)
            if size > limit:
                raise too_large("The text", f"more than {size_text(limit)}", limit)
            pieces.append(piece)
        start = match.end()
    pieces.append(template[start:])
    if size + len(pieces[-1]) > limit:
        raise too_large("The text", size + len(pieces[-1]), limit)
    return "".join(pieces)


def iterate_list(value: Any) -> list[Any]:
    """The items For Each walks: a list, a JSON list in text, or nothing for an empty value."""
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return parsed
    raise CardInputError(f"For Each needs a list, not {type(value).__name__} {as_text(value)[:60]!r}.")


# Cards --------------------------------------------------------------------------------------


def _condition_inputs() -> tuple[Field, ...]:
    return (
        Field("left", "Value", required=True, help="The value to test, usually an output of an earlier card."),
        Field("operator", "Operator", required=True, default="equals", choices=OPERATORS),
        Field(
            "right",
            "Compare with",
            help="Not used by is empty, is not empty, is true and is false. Numbers compare as numbers.",
        ),
    )


def _run_condition(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"result": evaluate_condition(inputs.get("left"), inputs.get("operator") or "equals", inputs.get("right"))}


def _run_compose(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    template = inputs.get("template") or ""
    if ctx.resolve is None:
        if template_refs(template):
            raise CardInputError("Compose needs the flow's outputs to fill in its placeholders.")
        return {"text": str(template)}
    return {"text": render_template(template, ctx.resolve, limit=output_limit())}


def _run_for_each(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    items = iterate_list(inputs.get("list"))
    return {"item": items[0] if items else None, "index": 0 if items else None}


RESULT = Field("result", "Result", type="boolean", help="Whether the condition held.")

IF_ELSE = register(
    Card(
        key="core.if_else",
        name="If/Else",
        description="Run one set of steps when a condition holds and another when it does not.",
        kind="function",
        connector="core",
        group="Logic",
        inputs=_condition_inputs(),
        outputs=(RESULT,),
        run=_run_condition,
    )
)

CONTINUE_IF = register(
    Card(
        key="core.continue_if",
        name="Continue If",
        description="Stop the run here, successfully, unless a condition holds.",
        kind="function",
        connector="core",
        group="Logic",
        inputs=_condition_inputs(),
        outputs=(RESULT,),
        run=_run_condition,
    )
)

FOR_EACH = register(
    Card(
        key="core.for_each",
        name="For Each",
        description="Run the steps inside once for every item of a list.",
        kind="function",
        connector="core",
        group="Logic",
        inputs=(Field("list", "List", type="list", required=True, help="A list output of an earlier card."),),
        outputs=(
            Field("item", "Item", type="object", help="The current item."),
            Field("index", "Index", type="number", help="The position of the current item, from 0."),
        ),
        run=_run_for_each,
    )
)

COMPOSE = register(
    Card(
        key="core.compose",
        name="Compose",
        description="Build text from fixed words and earlier outputs.",
        kind="function",
        connector="core",
        group="Text",
        inputs=(
            Field(
                "template",
                "Template",
                required=True,
                help="Text with placeholders such as {{trigger.recipient_name}} (step id, a dot, output key).",
            ),
        ),
        outputs=(Field("text", "Text"),),
        run=_run_compose,
        renders_placeholders=True,
    )
)


# Reading options and inputs -----------------------------------------------------------------


def _setting(options: Mapping[str, Any], spec: Field) -> Any:
    """An option's value, its default when unset (the engine passes options as saved)."""
    value = options.get(spec.key)
    if value is None or value == "":
        value = spec.default
    if spec.choices is not None and value not in [c.value for c in spec.choices]:
        known = ", ".join(c.value for c in spec.choices)
        raise CardInputError(f"{spec.label}: '{value}' is not one of {known}.")
    return value


def _flag(options: Mapping[str, Any], spec: Field) -> bool:
    value = _setting(options, spec)
    return _as_bool(value) is True


def _whole(options: Mapping[str, Any], spec: Field, low: int, high: int) -> int:
    value = _setting(options, spec)
    number = _as_number(value)
    if number is None or not number.is_integer() or not low <= number <= high:
        raise CardInputError(f"{spec.label}: '{as_text(value)}' is not a whole number from {low} to {high}.")
    return int(number)


# Text ---------------------------------------------------------------------------------------

HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame"})
NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "v", "phd", "md", "esq"})
# Lower-case particles belong to the last name: "Ludwig van Beethoven" is Mr. van Beethoven.
NAME_PARTICLES = frozenset(
    {"van", "von", "de", "der", "den", "del", "della", "da", "di", "du", "dos", "das", "la", "le", "ter", "bin", "al"}
)


def _bare(word: str) -> str:
    return word.rstrip(".").casefold()


def split_full_name(full_name: Any) -> dict[str, str]:
    """First, middle and last name from "Ada King Lovelace" or "Lovelace, Ada King"."""
    text = " ".join(as_text(full_name).split())
    suffix = ""
    if "," in text:
        before, _, after = text.partition(",")
        after = after.strip()
        if after and all(_bare(word) in NAME_SUFFIXES for word in after.replace(",", " ").split()):
            text, suffix = before.strip(), after.replace(",", " ").strip()  # "Martin Luther King, Jr."
        elif before.strip() and after:
            given = after.split()
            return {"first_name": given[0], "middle_name": " ".join(given[1:]), "last_name": before.strip()}
        else:
            text = (before or after).strip()
    words = text.split()
    if len(words) > 1 and _bare(words[0]) in HONORIFICS:
        words = words[1:]
    if len(words) > 2 and _bare(words[-1]) in NAME_SUFFIXES:
        suffix = " ".join(filter(None, [words.pop(), suffix]))
    if not words:
        return {"first_name": "", "middle_name": "", "last_name": ""}
    if len(words) == 1:
        return {"first_name": words[0], "middle_name": "", "last_name": suffix}
    start = len(words) - 1
    while start > 1 and words[start - 1] in NAME_PARTICLES:
        start -= 1
    last = " ".join([*words[start:], suffix] if suffix else words[start:])
    return {"first_name": words[0], "middle_name": " ".join(words[1:start]), "last_name": last}


def _run_split_full_name(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    return split_full_name(inputs.get("full_name"))


CASES = choices(("upper", "UPPER CASE"), ("lower", "lower case"), ("title", "Title Case"))
CASE = Field("case", "Change to", required=True, default="upper", choices=CASES)
WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def change_case(text: str, case: str) -> str:
    if case == "upper":
        return text.upper()
    if case == "lower":
        return text.lower()
    # str.title() would write "Don'T" and "3Rd"; only a word's first letter is raised here.
    return WORD_RE.sub(lambda m: m.group(0)[:1].upper() + m.group(0)[1:].lower(), text)


def _run_change_case(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"text": change_case(as_text(inputs.get("text")), _setting(options, CASE))}


COLLAPSE_SPACES = Field(
    "collapse_spaces",
    "Also collapse inner spaces",
    type="boolean",
    default=False,
    help="Turn every run of spaces, tabs and line breaks inside the text into one space.",
)
# Characters that are not whitespace to Python but arrive with pasted text and exported CSV.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"


def trim(text: str, *, collapse: bool) -> str:
    text = text.strip().strip(INVISIBLE).strip()
    return " ".join(text.split()) if collapse else text


def _run_trim(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"text": trim(as_text(inputs.get("text")), collapse=_flag(options, COLLAPSE_SPACES))}


USE_REGEX = Field(
    "use_regex",
    "Find is a regular expression",
    type="boolean",
    default=False,
    help=r"Python syntax; the replacement may use \1 or \g<name> for groups.",
)
IGNORE_CASE = Field("ignore_case", "Ignore case", type="boolean", default=False)
MAX_PATTERN_CHARS = 500
MAX_REGEX_TEXT_CHARS = 100_000
MAX_REPLACED_CHARS = 1_000_000
# Python's re module cannot be interrupted from another thread, so a pattern that backtracks
# without end ("(a+)+$") runs in a child process that is killed when its time is up.
_REGEX_CHILD = """
import json, re, sys
job = json.load(sys.stdin)
try:
    text, count = re.subn(job["pattern"], job["replacement"], job["text"], flags=job["flags"])
except (re.error, IndexError) as exc:
    json.dump({"error": str(exc)}, sys.stdout)
else:
    json.dump({"text": text, "count": count}, sys.stdout)
"""


def _regex_seconds() -> float:
    from django.conf import settings

    return float(getattr(settings, "FUNCTION_REGEX_SECONDS", 2.0))


def regex_replace(text: str, pattern: str, replacement: str, *, ignore_case: bool) -> tuple[str, int]:
    if len(pattern) > MAX_PATTERN_CHARS:
        raise CardInputError(f"Find: a regular expression may have at most {MAX_PATTERN_CHARS} characters.")
    if len(text) > MAX_REGEX_TEXT_CHARS:
        raise CardInputError(
            f"Text: a regular expression searches at most {MAX_REGEX_TEXT_CHARS:,} characters; "
            f"this text has {len(text):,}."
        )
    flags = re.IGNORECASE if ignore_case else 0
    try:
        re.compile(pattern, flags)
    except re.error as exc:
        raise CardInputError(f"Find is not a valid regular expression: {exc}.") from None
    job = json.dumps({"pattern": pattern, "replacement": replacement, "text": text, "flags": flags})
    seconds = _regex_seconds()
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _REGEX_CHILD],
            input=job.encode(),
            capture_output=True,
            timeout=seconds,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CardInputError(
            f"Find: the regular expression took longer than {seconds:g} s on this text. Simplify it "
            "(nested repeats such as (a+)+ try every way of matching before they give up)."
        ) from None
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        raise CardInputError("Find: the regular expression could not be applied to this text.") from None
    if "error" in answer:
        raise CardInputError(f"Replace with: {answer['error']}.")
    return answer["text"], answer["count"]


def replace_text(text: str, find: str, replacement: str, *, use_regex: bool, ignore_case: bool) -> tuple[str, int]:
    if use_regex:
        replaced, count = regex_replace(text, find, replacement, ignore_case=ignore_case)
    elif ignore_case:
        # A plain pattern never backtracks, so it runs here; the function keeps `\1` literal.
        replaced, count = re.subn(re.escape(find), lambda m: replacement, text, flags=re.IGNORECASE)
    else:
        replaced, count = text.replace(find, replacement), text.count(find)
    if len(replaced) > MAX_REPLACED_CHARS:
        raise CardInputError(
            f"The replaced text would have {len(replaced):,} characters; at most {MAX_REPLACED_CHARS:,} are kept."
        )
    return replaced, count


def _run_replace_text(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    find = as_text(inputs.get("find"))
    if find == "":
        raise CardInputError("Find is required: the text to look for.")
    text, replace_with, limit = as_text(inputs.get("text")), as_text(inputs.get("replace_with")), output_limit()
    if limit is not None and not _flag(options, USE_REGEX) and not _flag(options, IGNORE_CASE):
        # Each replacement may make the text longer: refuse before building more than an output may hold.
        grown = len(text) + text.count(find) * (len(replace_with) - len(find))
        if grown > limit:
            raise too_large("The text", grown, limit)
    replaced, count = replace_text(
        text,
        find,
        replace_with,
        use_regex=_flag(options, USE_REGEX),
        ignore_case=_flag(options, IGNORE_CASE),
    )
    return {"text": replaced, "count": count}


def label_mapping(value: Any, *, what: str) -> dict[str, str]:
    """Codes and labels from an object or from lines such as "1=Very unlikely" (or "1: ...")."""
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return {as_text(code).strip(): as_text(label) for code, label in value.items()}
    if not isinstance(value, str):
        raise CardInputError(f"{what}: expected codes and labels, not {type(value).__name__}.")
    stripped = value.strip()
    if stripped.startswith("{"):
        try:
            return label_mapping(json.loads(stripped), what=what)
        except ValueError:
            pass
    mapping = {}
    for line in re.split(r"[\n;]", value):
        if not line.strip():
            continue
        code, sep, label = line.partition("=" if "=" in line else ":")
        if not sep or not code.strip():
            raise CardInputError(f"{what}: '{line.strip()}' should look like 1=Very unlikely (a code, =, its label).")
        mapping[code.strip()] = label.strip()
    return mapping


def _code_text(code: Any) -> str:
    return as_text(code).strip()


def _run_look_up_label(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    mapping = {**label_mapping(options.get("lines"), what="Codes and labels"),
               **label_mapping(inputs.get("labels"), what="Labels object")}
    if not mapping:
        raise CardInputError("Give the codes and their labels, as lines like 1=Very unlikely or as an object.")
    code = inputs.get("code")
    fallback = as_text(inputs.get("default"))
    # A multiple-answer question gives a list of codes: each is looked up.
    codes = [c for c in (code if isinstance(code, (list, tuple)) else [code]) if not _is_empty(c)]
    labels = [mapping.get(_code_text(c)) for c in codes]
    found = bool(codes) and all(label is not None for label in labels)
    shown = [label if label is not None else fallback for label in labels]
    return {"label": ", ".join(s for s in shown if s), "labels": shown, "found": found}


# Dates --------------------------------------------------------------------------------------

TIME_DIRECTIVES = re.compile(r"%[HIMSfpzZcXTRrs]")
DATE_ONLY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def time_zone(name: Any, *, what: str = "Time zone") -> ZoneInfo:
    name = as_text(name).strip() or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CardInputError(
            f"{what}: '{name}' is not a time zone name such as Europe/Berlin or America/New_York."
        ) from None


def read_date(value: Any, fmt: Any = None, *, what: str = "Date") -> date | datetime | None:
    """A date or a moment from a value: date objects, Unix seconds, ISO 8601 text, or text in `fmt`.

    None for an empty value. A calendar date (no time in the text or format) stays a `date`.
    """
    if _is_empty(value):
        return None
    if isinstance(value, (datetime, date)):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise CardInputError(f"{what}: {as_text(value)} is not a time in seconds since 1970.") from None
    text = as_text(value).strip()
    fmt = as_text(fmt).strip()
    if fmt:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            raise CardInputError(f"{what}: '{text[:60]}' does not match the format '{fmt}'.") from None
        return parsed if TIME_DIRECTIVES.search(fmt) else parsed.date()
    try:
        return date.fromisoformat(text) if DATE_ONLY_RE.match(text) else datetime.fromisoformat(text)
    except ValueError:
        raise CardInputError(
            f"{what}: '{text[:60]}' is not an ISO 8601 date such as 2026-03-05 or 2026-03-05T14:30:00Z; "
            "give its format (e.g. %d/%m/%Y)."
        ) from None


def format_date(value: Any, *, input_format: Any, output_format: str, zone: ZoneInfo) -> str:
    moment = read_date(value, input_format)
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        # A time that names no zone is UTC, as Qualtrics writes its dates; a calendar date is
        # the same day everywhere and is not moved.
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(zone)
    try:
        return moment.strftime(output_format)
    except ValueError as exc:
        raise CardInputError(f"Output format: '{output_format}' cannot be used: {exc}.") from None


def parse_date(value: Any, *, fmt: Any, zone: ZoneInfo) -> str | None:
    moment = read_date(value, fmt, what="Text")
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


INPUT_FORMAT = Field(
    "input_format",
    "Input format",
    help="Leave empty for ISO 8601 (2026-03-05, 2026-03-05T14:30:00Z), or a format such as %d/%m/%Y %H:%M.",
)
OUTPUT_FORMAT = Field(
    "output_format",
    "Output format",
    required=True,
    default="%Y-%m-%d %H:%M",
    help="%Y year, %m month, %d day, %B month name, %A weekday, %H:%M hours and minutes, %I %p 12-hour time, %Z zone.",
)
SHOW_IN_ZONE = Field(
    "time_zone",
    "Time zone",
    default="UTC",
    help="Show the time in this zone, e.g. Europe/Berlin. A time that names no zone is read as UTC.",
)
TEXT_ZONE = Field(
    "time_zone",
    "Time zone",
    default="UTC",
    help="The zone the text's time is in when it names none, e.g. America/New_York.",
)


def _run_format_date(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    output_format = as_text(_setting(options, OUTPUT_FORMAT))
    if not output_format.strip() or len(output_format) > 200:
        raise CardInputError("Output format: give a format of at most 200 characters, such as %Y-%m-%d.")
    text = format_date(
        inputs.get("date"),
        input_format=options.get(INPUT_FORMAT.key),
        output_format=output_format,
        zone=time_zone(_setting(options, SHOW_IN_ZONE)),
    )
    return {"text": text}


def _run_parse_date(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    zone = time_zone(_setting(options, TEXT_ZONE))
    return {"date": parse_date(inputs.get("text"), fmt=options.get(INPUT_FORMAT.key), zone=zone)}


# Numbers ------------------------------------------------------------------------------------

DECIMAL_COMMA = Field(
    "decimal_comma",
    "Decimal comma",
    type="boolean",
    default=False,
    help="Read 1.234,5 as one thousand two hundred thirty-four and a half.",
)
MINUS_SIGNS = "-\u2212\u2013"


def _number_re(thousands: str, decimal: str) -> re.Pattern[str]:
    # Groups: sign, whole part, fraction; or, for ".5", sign and fraction digits. Thousands are
    # separated by the other mark or by a (narrow) no-break space, as French and Swiss numbers are.
    sign = f"([{MINUS_SIGNS}]?)"
    whole = rf"(\d{{1,3}}(?:[{thousands}\u00a0\u202f]\d{{3}})+|\d+)"
    return re.compile(rf"(?<![\d.,]){sign}{whole}(\{decimal}\d+)?(?!\d)|{sign}\{decimal}(\d+)")


NUMBER_RES = {False: _number_re(",", "."), True: _number_re(".", ",")}


def parse_number(value: Any, *, decimal_comma: bool) -> int | float | None:
    """The first number written in text: "1,234.5" -> 1234.5, "7 out of 10" -> 7, "-3 %" -> -3."""
    if _is_empty(value):
        return None
    if isinstance(value, bool):
        raise CardInputError("Text: true/false is not a number.")
    if isinstance(value, (int, float)):
        return value
    text = as_text(value).strip()
    match = NUMBER_RES[decimal_comma].search(text)
    if match is None:
        raise CardInputError(f"Text: found no number in '{text[:60]}'.")
    decimal_mark, other_mark = (",", ".") if decimal_comma else (".", ",")
    after = text[match.end():]
    if re.match(rf"\{decimal_mark}\d|\{other_mark}\d", after):
        # "1,5" read without a decimal comma would quietly become 1.
        raise CardInputError(
            f"Text: '{text[:60]}' does not read as one number; "
            + ("turn off Decimal comma." if decimal_comma else "turn on Decimal comma if it uses one.")
        )
    if match.group(5) is not None:
        sign, whole, fraction = match.group(4), "0", "." + match.group(5)
    else:
        sign, whole, fraction = match.group(1), match.group(2), (match.group(3) or "").replace(",", ".")
    whole = re.sub(r"[^\d]", "", whole)
    negative = bool(sign) and sign in MINUS_SIGNS
    number = float(whole + fraction) if fraction else int(whole)
    return -number if negative else number


ROUNDING = choices(
    ("half_up", "Half up (2.5 → 3, -2.5 → -3)"),
    ("down", "Down, toward zero (2.9 → 2)"),
    ("up", "Up, away from zero (2.1 → 3)"),
)
ROUNDING_MODES = {"half_up": ROUND_HALF_UP, "down": ROUND_DOWN, "up": ROUND_UP}
DECIMALS = Field("decimals", "Decimal places", type="number", default=0, help="0 for whole numbers; -1 for tens.")
ROUND_MODE = Field("mode", "Rounding", required=True, default="half_up", choices=ROUNDING)


def round_number(value: Any, *, decimals: int, mode: str) -> int | float | None:
    if _is_empty(value):
        return None
    number = _as_number(value)
    if number is None:
        raise CardInputError(f"Number: '{as_text(value)[:60]}' is not a number.")
    # Decimal of the shortest text (2.675, not 2.67499999…) rounds as people expect.
    try:
        rounded = Decimal(repr(number)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUNDING_MODES[mode])
    except InvalidOperation:
        raise CardInputError(f"Number: {as_text(value)} is too large to round to {decimals} decimal places.") from None
    return int(rounded) if decimals <= 0 else float(rounded)


def _run_parse_number(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"number": parse_number(inputs.get("text"), decimal_comma=_flag(options, DECIMAL_COMMA))}


def _run_round_number(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    decimals = _whole(options, DECIMALS, -6, 10)
    return {"number": round_number(inputs.get("number"), decimals=decimals, mode=_setting(options, ROUND_MODE))}


# Declarations -------------------------------------------------------------------------------


def _function(key: str, name: str, description: str, group: str, **fields: Any) -> Card:
    card = Card(key=key, name=name, description=description, kind="function", connector="core", group=group, **fields)
    return register(card)


TEXT_IN = Field("text", "Text", required=True, help="Usually an output of an earlier card.")
TEXT_OUT = Field("text", "Text")

SPLIT_FULL_NAME = _function(
    "core.split_full_name",
    "Split Full Name",
    "First, middle and last name from a full name, written either “Ada King Lovelace” or “Lovelace, Ada King”.",
    "Text",
    inputs=(Field("full_name", "Full name", required=True),),
    outputs=(
        Field("first_name", "First name"),
        Field("middle_name", "Middle name", help="Empty when there is none."),
        Field("last_name", "Last name", help="With its particles and suffix: “van Beethoven”, “King Jr.”."),
    ),
    run=_run_split_full_name,
)

CHANGE_CASE = _function(
    "core.change_case",
    "Change Case",
    "Write text in upper case, lower case or title case.",
    "Text",
    options=(CASE,),
    inputs=(TEXT_IN,),
    outputs=(TEXT_OUT,),
    run=_run_change_case,
)

TRIM = _function(
    "core.trim",
    "Trim",
    "Remove spaces, line breaks and invisible characters from both ends of text.",
    "Text",
    options=(COLLAPSE_SPACES,),
    inputs=(TEXT_IN,),
    outputs=(TEXT_OUT,),
    run=_run_trim,
)

REPLACE_TEXT = _function(
    "core.replace_text",
    "Replace Text",
    "Replace every occurrence of some text, or of a regular expression, and count the replacements.",
    "Text",
    options=(USE_REGEX, IGNORE_CASE),
    inputs=(
        TEXT_IN,
        Field("find", "Find", required=True),
        Field("replace_with", "Replace with", help="Leave empty to remove what is found."),
    ),
    outputs=(TEXT_OUT, Field("count", "Replacements", type="number")),
    run=_run_replace_text,
)

LOOK_UP_LABEL = _function(
    "core.look_up_label",
    "Look Up Label",
    "Turn an answer's code into its label, such as 1 into “Very unlikely”.",
    "Text",
    options=(
        Field(
            "lines",
            "Codes and labels",
            help="1=Very unlikely; 2=Unlikely — one code and label per line, or separated by semicolons.",
        ),
    ),
    inputs=(
        Field("code", "Code", required=True, help="A choice's code; for a list of codes, each is looked up."),
        Field(
            "labels",
            "Labels object",
            type="object",
            help='Codes and labels as an object, e.g. {"1": "Very unlikely"}; added to the lines.',
        ),
        Field("default", "Label when not listed", help="Used for a code that has no label; empty by default."),
    ),
    outputs=(
        Field("label", "Label", help="Several labels are joined with commas."),
        Field("labels", "Labels", type="list", help="One label per code."),
        Field("found", "Found", type="boolean", help="Whether every code had a label."),
    ),
    run=_run_look_up_label,
)

FORMAT_DATE = _function(
    "core.format_date",
    "Format Date",
    "Write a date or time the way people read it, in the time zone you choose.",
    "Dates",
    options=(INPUT_FORMAT, OUTPUT_FORMAT, SHOW_IN_ZONE),
    inputs=(Field("date", "Date", type="date", required=True, help="A date, or text holding one."),),
    outputs=(TEXT_OUT.but(help="Empty when the date is."),),
    run=_run_format_date,
)

PARSE_DATE = _function(
    "core.parse_date",
    "Parse Date",
    "Read a date or time written as text and give it as an ISO 8601 time in UTC.",
    "Dates",
    options=(INPUT_FORMAT.but(label="Format"), TEXT_ZONE),
    inputs=(TEXT_IN,),
    outputs=(Field("date", "Date", type="date", help="Like 2026-03-05T13:30:00Z; empty when the text is."),),
    run=_run_parse_date,
)

PARSE_NUMBER = _function(
    "core.parse_number",
    "Parse Number",
    "Read the first number in text, such as 1234.5 from “1,234.5” or 7 from “7 out of 10”.",
    "Numbers",
    options=(DECIMAL_COMMA,),
    inputs=(TEXT_IN,),
    outputs=(Field("number", "Number", type="number", help="Empty when the text is."),),
    run=_run_parse_number,
)

ROUND_NUMBER = _function(
    "core.round_number",
    "Round Number",
    "Round a number to a number of decimal places.",
    "Numbers",
    options=(DECIMALS, ROUND_MODE),
    inputs=(Field("number", "Number", type="number", required=True),),
    outputs=(Field("number", "Number", type="number", help="Empty when the input is."),),
    run=_run_round_number,
)
