from __future__ import annotations

from django.core import checks

from connectors.checks import check_card_declarations, check_cards, check_connectors
from connectors.registry import Registry
from connectors.specs import Card, Connector, Field, choices


def _run(ctx, options, inputs):
    return {}


def card(key="qualtrics.sample_card", **kw) -> Card:
    values = dict(
        key=key,
        name="Sample Card",
        description="For tests.",
        kind="action",
        connector=key.split(".")[0],
        group="Tests",
        needs_configuration=True,
        run=_run,
    )
    values.update(kw)
    return Card(**values)


def ids(errors) -> list[str]:
    return sorted(e.id for e in errors)


def test_the_real_catalog_passes_the_check():
    assert check_card_declarations() == []
    assert [m for m in checks.run_checks(tags=["connectors"]) if m.is_serious()] == []


def test_the_check_is_registered_for_start_up():
    assert check_card_declarations in checks.registry.registry.get_checks()


def test_a_good_card_passes():
    good = card(
        options=(
            Field("directory_id", "Directory", source="directories"),
            Field("mailing_list_id", "List", source="mailing_lists", depends_on=("directory_id",)),
        ),
        inputs=(Field("email", "Email"),),
        outputs=(Field("contact_id", "Contact ID"),),
        sample_outputs={"contact_id": "CID_1"},
    )
    assert check_cards([good]) == []


def test_it_reports_a_duplicate_card_key():
    errors = check_cards([card(), card(name="Another")])
    assert ids(errors) == ["connectors.E001"]
    assert "qualtrics.sample_card" in errors[0].msg and "2 times" in errors[0].msg


def test_a_registry_keeps_a_duplicate_aside_for_the_check():
    first, second = card(), card(name="Impostor")
    registry = Registry([first, second])
    assert registry.get("qualtrics.sample_card") is first
    assert ids(check_cards(registry.declarations())) == ["connectors.E001"]


def test_it_reports_a_duplicate_field_key_in_a_card():
    errors = check_cards([card(inputs=(Field("email", "Email"), Field("email", "Email again")))])
    assert ids(errors) == ["connectors.E002"]
    assert "'email'" in errors[0].msg


def test_it_reports_a_key_used_by_an_option_and_an_input():
    errors = check_cards(
        [card(options=(Field("survey_id", "Survey", source="surveys"),), inputs=(Field("survey_id", "Survey ID"),))]
    )
    assert ids(errors) == ["connectors.E002"]


def test_it_reports_an_unknown_field_type():
    errors = check_cards([card(outputs=(Field("when", "When", type="datetime"),))])
    assert ids(errors) == ["connectors.E003"]
    assert "datetime" in errors[0].msg


def test_it_reports_an_unknown_source():
    errors = check_cards([card(options=(Field("team_id", "Team", source="teams"),))])
    assert ids(errors) == ["connectors.E004"]
    assert "teams" in errors[0].msg


def test_it_reports_a_source_on_an_input():
    errors = check_cards([card(inputs=(Field("survey_id", "Survey", source="surveys"),))])
    assert ids(errors) == ["connectors.E004"]


def test_it_reports_depends_on_naming_an_undeclared_option():
    errors = check_cards([card(options=(Field("list_id", "List", depends_on=("directory_id",)),))])
    assert ids(errors) == ["connectors.E005"]
    assert "directory_id" in errors[0].msg


def test_it_reports_depends_on_naming_a_later_option():
    errors = check_cards(
        [
            card(
                options=(
                    Field("mailing_list_id", "List", source="mailing_lists", depends_on=("directory_id",)),
                    Field("directory_id", "Directory", source="directories"),
                )
            )
        ]
    )
    assert ids(errors) == ["connectors.E005"]


def test_it_reports_a_mailing_list_picker_that_does_not_depend_on_a_directory():
    errors = check_cards([card(options=(Field("mailing_list_id", "List", source="mailing_lists"),))])
    assert ids(errors) == ["connectors.E010"]


def test_it_reports_a_sample_output_that_is_not_declared():
    errors = check_cards([card(outputs=(Field("contact_id", "Contact ID"),), sample_outputs={"contactId": "CID_1"})])
    assert ids(errors) == ["connectors.E006"]
    assert "contactId" in errors[0].msg


def test_it_reports_an_unknown_kind_and_a_missing_run():
    errors = check_cards([card(kind="trigger"), card(key="qualtrics.no_run", run=None)])
    assert ids(errors) == ["connectors.E007", "connectors.E008"]


def test_it_reports_a_key_that_does_not_match_its_connector():
    errors = check_cards([card(key="qualtrics.Bad Key"), card(key="core.thing", connector="qualtrics")])
    assert ids(errors) == ["connectors.E009", "connectors.E009"]


def test_it_reports_a_default_that_is_not_a_choice():
    errors = check_cards([card(options=(Field("method", "Method", choices=choices("GET", "POST"), default="PATCH"),))])
    assert ids(errors) == ["connectors.E013"]


def test_a_connection_is_required_or_optional_and_an_event_cannot_make_it_optional():
    assert ids(check_cards([card(optional_configuration=True)])) == ["connectors.E014"]
    assert ids(check_cards([card(needs_configuration=False, optional_configuration=True, kind="event")])) == [
        "connectors.E014"]
    assert check_cards([card(needs_configuration=False, optional_configuration=True)]) == []


def test_a_card_that_takes_a_connection_needs_a_connector_with_credentials():
    bare = Connector(key="bare", name="Bare")
    optional = card("bare.sample_card", needs_configuration=False, optional_configuration=True)
    assert ids(check_connectors([bare], [optional])) == ["connectors.E027"]
    assert ids(check_connectors([bare], [card("bare.sample_card")])) == ["connectors.E027"]
