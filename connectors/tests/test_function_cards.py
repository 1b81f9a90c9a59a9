"""The text, date and number function cards, each run through the registry as the engine runs it."""

from __future__ import annotations

import time

import pytest
from connectors import registry
from connectors.checks import check_card_declarations
from connectors.specs import CardInputError, RunContext

NEW_CARDS = {
    "core.split_full_name": "Text",
    "core.change_case": "Text",
    "core.trim": "Text",
    "core.replace_text": "Text",
    "core.look_up_label": "Text",
    "core.format_date": "Dates",
    "core.parse_date": "Dates",
    "core.parse_number": "Numbers",
    "core.round_number": "Numbers",
}


def run(key, inputs, options=None):
    return registry.get(key).run(RunContext(), options or {}, inputs)


def test_each_new_card_is_a_core_function_in_a_catalog_group_with_typed_outputs():
    catalog = {card["key"]: card for card in registry.catalog_json()["cards"]}
    for key, group in NEW_CARDS.items():
        card = catalog[key]
        assert (card["kind"], card["connector"], card["group"], card["needs_configuration"]) == (
            "function", "core", group, False
        )
        assert card["outputs"] and all(f["type"] in ("text", "number", "boolean", "date", "list") for f in card["outputs"])
    groups = registry.by_group()
    assert {c.key for c in groups["Dates"]} == {"core.format_date", "core.parse_date"}
    assert {c.key for c in groups["Numbers"]} == {"core.parse_number", "core.round_number"}


def test_the_card_system_check_accepts_the_declarations():
    assert check_card_declarations() == []


# Split Full Name


@pytest.mark.parametrize(
    ("full_name", "first", "middle", "last"),
    [
        ("Ada Lovelace", "Ada", "", "Lovelace"),
        ("  Ada   King  Lovelace ", "Ada", "King", "Lovelace"),
        ("Lovelace, Ada", "Ada", "", "Lovelace"),
        ("Lovelace, Ada King", "Ada", "King", "Lovelace"),
        ("de la Cruz, Juana Inés", "Juana", "Inés", "de la Cruz"),
        ("Ludwig van Beethoven", "Ludwig", "", "van Beethoven"),
        ("Martin Luther King Jr.", "Martin", "Luther", "King Jr."),
        ("Martin Luther King, Jr.", "Martin", "Luther", "King Jr."),
        ("Dr. Grace Hopper", "Grace", "", "Hopper"),
        ("Cher", "Cher", "", ""),
        ("", "", "", ""),
        (None, "", "", ""),
    ],
)
def test_split_full_name_finds_first_middle_and_last(full_name, first, middle, last):
    assert run("core.split_full_name", {"full_name": full_name}) == {
        "first_name": first,
        "middle_name": middle,
        "last_name": last,
    }


# Change Case and Trim


@pytest.mark.parametrize(
    ("case", "text", "expected"),
    [
        ("upper", "Straße 5", "STRASSE 5"),
        ("lower", "ÉCOLE Normale", "école normale"),
        ("title", "mary-jane WATSON don't 3rd", "Mary-Jane Watson Don't 3rd"),
        (None, "abc", "ABC"),
    ],
)
def test_change_case_writes_upper_lower_and_title_case(case, text, expected):
    assert run("core.change_case", {"text": text}, {"case": case}) == {"text": expected}


def test_change_case_writes_nothing_for_a_skipped_answer_and_refuses_an_unknown_case():
    assert run("core.change_case", {"text": None}, {"case": "lower"}) == {"text": ""}
    with pytest.raises(CardInputError, match="Change to: 'shout' is not one of upper, lower, title"):
        run("core.change_case", {"text": "a"}, {"case": "shout"})


def test_trim_removes_spaces_and_invisible_characters_at_both_ends():
    assert run("core.trim", {"text": "\ufeff  Ada \u00a0King \n"}) == {"text": "Ada \u00a0King"}
    assert run("core.trim", {"text": "  Ada \t  King \n"}, {"collapse_spaces": True}) == {"text": "Ada King"}
    assert run("core.trim", {"text": None}) == {"text": ""}
    assert run("core.trim", {"text": 42}) == {"text": "42"}


# Replace Text


def test_replace_text_replaces_every_occurrence_and_counts_them():
    assert run("core.replace_text", {"text": "a-b-c", "find": "-", "replace_with": " / "}) == {
        "text": "a / b / c",
        "count": 2,
    }
    assert run("core.replace_text", {"text": "a-b", "find": "x"}) == {"text": "a-b", "count": 0}
    assert run("core.replace_text", {"text": None, "find": "x"}) == {"text": "", "count": 0}


def test_replace_text_can_ignore_case_and_keeps_backslashes_of_plain_text():
    result = run("core.replace_text", {"text": "Yes, YES, yes", "find": "yes", "replace_with": r"\1"}, {"ignore_case": True})
    assert result == {"text": r"\1, \1, \1", "count": 3}


def test_replace_text_uses_a_regular_expression_with_groups():
    inputs = {"text": "Call 555-1234 or 555-9876", "find": r"(\d{3})-(\d{4})", "replace_with": r"\2-\1"}
    assert run("core.replace_text", inputs, {"use_regex": True}) == {"text": "Call 1234-555 or 9876-555", "count": 2}


def test_replace_text_explains_a_broken_pattern_or_group_reference():
    with pytest.raises(CardInputError, match="Find is not a valid regular expression"):
        run("core.replace_text", {"text": "a", "find": "(a"}, {"use_regex": True})
    with pytest.raises(CardInputError, match="Replace with: invalid group reference"):
        run("core.replace_text", {"text": "a", "find": "(a)", "replace_with": r"\3"}, {"use_regex": True})
    with pytest.raises(CardInputError, match="Find is required"):
        run("core.replace_text", {"text": "a", "find": ""})


def test_replace_text_stops_a_catastrophic_regular_expression_in_time(settings):
    settings.FUNCTION_REGEX_SECONDS = 0.5
    started = time.monotonic()
    with pytest.raises(CardInputError, match=r"took longer than 0.5 s on this text. Simplify it"):
        run("core.replace_text", {"text": "a" * 40 + "!", "find": r"^(a+)+$"}, {"use_regex": True})
    assert time.monotonic() - started < 5


def test_replace_text_refuses_oversized_patterns_and_texts():
    with pytest.raises(CardInputError, match="at most 500 characters"):
        run("core.replace_text", {"text": "a", "find": "a" * 501}, {"use_regex": True})
    with pytest.raises(CardInputError, match="searches at most 100,000 characters"):
        run("core.replace_text", {"text": "a" * 100_001, "find": "a"}, {"use_regex": True})


# Look Up Label


LINES = "0=Not at all likely\n5 = Neutral\n10=Extremely likely"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (10, {"label": "Extremely likely", "labels": ["Extremely likely"], "found": True}),
        ("5", {"label": "Neutral", "labels": ["Neutral"], "found": True}),
        (5.0, {"label": "Neutral", "labels": ["Neutral"], "found": True}),
        ([0, 10], {"label": "Not at all likely, Extremely likely", "labels": ["Not at all likely", "Extremely likely"], "found": True}),
        (7, {"label": "", "labels": [""], "found": False}),
        (None, {"label": "", "labels": [], "found": False}),
    ],
)
def test_look_up_label_turns_codes_into_labels_from_lines(code, expected):
    assert run("core.look_up_label", {"code": code}, {"lines": LINES}) == expected


def test_look_up_label_reads_an_object_semicolons_and_a_label_for_unlisted_codes():
    labels = {"1": "Very unlikely", "2": "Unlikely"}
    assert run("core.look_up_label", {"code": 2, "labels": labels})["label"] == "Unlikely"
    assert run("core.look_up_label", {"code": "2"}, {"lines": "1=Yes; 2=No"})["label"] == "No"
    assert run("core.look_up_label", {"code": "2", "labels": '{"2": "No"}'})["label"] == "No"
    assert run("core.look_up_label", {"code": 3, "labels": labels, "default": "Other"}) == {
        "label": "Other",
        "labels": ["Other"],
        "found": False,
    }


def test_look_up_label_says_how_to_write_the_codes():
    with pytest.raises(CardInputError, match="Give the codes and their labels"):
        run("core.look_up_label", {"code": 1})
    with pytest.raises(CardInputError, match="'Very unlikely' should look like 1=Very unlikely"):
        run("core.look_up_label", {"code": 1}, {"lines": "Very unlikely"})
    with pytest.raises(CardInputError, match="Labels object: expected codes and labels, not list"):
        run("core.look_up_label", {"code": 1, "labels": ["a"]})


# Format Date and Parse Date


@pytest.mark.parametrize(
    ("value", "options", "expected"),
    [
        ("2026-03-05T13:30:00Z", {}, "2026-03-05 13:30"),
        ("2026-03-05T13:30:00Z", {"time_zone": "Europe/Berlin", "output_format": "%d.%m.%Y %H:%M %Z"}, "05.03.2026 14:30 CET"),
        ("2026-07-05T13:30:00.123Z", {"time_zone": "America/New_York", "output_format": "%B %d, %Y %I:%M %p"}, "July 05, 2026 09:30 AM"),
        ("2026-03-05 23:30", {"time_zone": "Asia/Tokyo", "output_format": "%Y-%m-%d"}, "2026-03-06"),
        ("2026-03-05", {"time_zone": "America/Los_Angeles", "output_format": "%A %d %B"}, "Thursday 05 March"),
        ("05/03/2026", {"input_format": "%d/%m/%Y", "time_zone": "Pacific/Honolulu", "output_format": "%Y-%m-%d"}, "2026-03-05"),
        (0, {"output_format": "%Y-%m-%dT%H:%M:%S"}, "1970-01-01T00:00:00"),
        (None, {}, ""),
        ("  ", {}, ""),
    ],
)
def test_format_date_writes_a_date_in_the_chosen_format_and_time_zone(value, options, expected):
    assert run("core.format_date", {"date": value}, options) == {"text": expected}


def test_format_date_explains_bad_dates_formats_and_time_zones():
    with pytest.raises(CardInputError, match="'next Tuesday' is not an ISO 8601 date"):
        run("core.format_date", {"date": "next Tuesday"})
    with pytest.raises(CardInputError, match="'2026-03-05' does not match the format '%d/%m/%Y'"):
        run("core.format_date", {"date": "2026-03-05"}, {"input_format": "%d/%m/%Y"})
    with pytest.raises(CardInputError, match="Time zone: 'Mars/Olympus' is not a time zone name"):
        run("core.format_date", {"date": "2026-03-05"}, {"time_zone": "Mars/Olympus"})
    with pytest.raises(CardInputError, match="Time zone: '../etc/passwd' is not a time zone name"):
        run("core.format_date", {"date": "2026-03-05"}, {"time_zone": "../etc/passwd"})
    with pytest.raises(CardInputError, match="Output format: give a format"):
        run("core.format_date", {"date": "2026-03-05"}, {"output_format": "   "})


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("2026-03-05T14:30:00+01:00", {}, "2026-03-05T13:30:00Z"),
        ("2026-03-05T13:30:00Z", {"time_zone": "Asia/Tokyo"}, "2026-03-05T13:30:00Z"),
        ("2026-03-05 09:30", {"time_zone": "America/New_York"}, "2026-03-05T14:30:00Z"),
        ("2026-07-05 09:30", {"time_zone": "America/New_York"}, "2026-07-05T13:30:00Z"),
        ("2026-03-05", {"time_zone": "Europe/Berlin"}, "2026-03-04T23:00:00Z"),
        ("05.03.2026 14:30", {"input_format": "%d.%m.%Y %H:%M", "time_zone": "Europe/Berlin"}, "2026-03-05T13:30:00Z"),
        ("March 5, 2026", {"input_format": "%B %d, %Y"}, "2026-03-05T00:00:00Z"),
        ("", {}, None),
        (None, {}, None),
    ],
)
def test_parse_date_reads_text_in_its_time_zone_and_gives_utc(text, options, expected):
    assert run("core.parse_date", {"text": text}, options) == {"date": expected}


def test_parse_date_names_the_format_it_expected():
    with pytest.raises(CardInputError, match=r"Text: '5 March' does not match the format '%d/%m/%Y'"):
        run("core.parse_date", {"text": "5 March"}, {"input_format": "%d/%m/%Y"})


# Parse Number and Round Number


@pytest.mark.parametrize(
    ("text", "decimal_comma", "expected"),
    [
        ("1,234.5", False, 1234.5),
        ("7 out of 10", False, 7),
        ("$ 1,234,567", False, 1234567),
        ("-3 %", False, -3),
        ("\u22123.25", False, -3.25),
        (".5", False, 0.5),
        ("Score: 42!", False, 42),
        ("1.234,5", True, 1234.5),
        ("12,75 €", True, 12.75),
        ("1\u202f234,5", True, 1234.5),
        ("7 von 10", True, 7),
        (6, False, 6),
        (6.5, True, 6.5),
        (None, False, None),
        ("  ", False, None),
    ],
)
def test_parse_number_reads_the_first_number_in_text(text, decimal_comma, expected):
    result = run("core.parse_number", {"text": text}, {"decimal_comma": decimal_comma})["number"]
    assert result == expected and type(result) is type(expected)


def test_parse_number_refuses_text_without_one_number():
    with pytest.raises(CardInputError, match="Text: found no number in 'N/A'"):
        run("core.parse_number", {"text": "N/A"})
    with pytest.raises(CardInputError, match="turn on Decimal comma if it uses one"):
        run("core.parse_number", {"text": "1,5"})
    with pytest.raises(CardInputError, match="true/false is not a number"):
        run("core.parse_number", {"text": True})


@pytest.mark.parametrize(
    ("number", "decimals", "mode", "expected"),
    [
        (2.5, 0, "half_up", 3),
        (-2.5, 0, "half_up", -3),
        (2.675, 2, "half_up", 2.68),
        (2.9, 0, "down", 2),
        (-2.9, 0, "down", -2),
        (2.1, 0, "up", 3),
        (2.001, 2, "up", 2.01),
        ("6.45", 1, None, 6.5),
        (1234, -2, "half_up", 1200),
        (7, None, None, 7),
        (None, 2, "up", None),
        ("", 2, "up", None),
    ],
)
def test_round_number_rounds_half_up_down_or_up(number, decimals, mode, expected):
    result = run("core.round_number", {"number": number}, {"decimals": decimals, "mode": mode})["number"]
    assert result == expected and type(result) is type(expected)


def test_round_number_explains_what_it_cannot_round():
    with pytest.raises(CardInputError, match="Number: 'six' is not a number"):
        run("core.round_number", {"number": "six"})
    with pytest.raises(CardInputError, match="Decimal places: '1.5' is not a whole number from -6 to 10"):
        run("core.round_number", {"number": 1}, {"decimals": 1.5})
    with pytest.raises(CardInputError, match="Rounding: 'sideways' is not one of half_up, down, up"):
        run("core.round_number", {"number": 1}, {"mode": "sideways"})
