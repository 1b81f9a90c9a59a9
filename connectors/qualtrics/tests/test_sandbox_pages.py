"""The sandbox's pages, over HTTP: its surveys, a survey's form that records a response and sends
the completed-response webhook, the response's page and the deliveries made."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
import requests

from connectors.qualtrics.sandbox import surveys as q
from connectors.qualtrics.sandbox.listener import RecordingListener


class _Inputs(HTMLParser):
    """The form controls of a page, each with the text of the label around it."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str]] = []
        self._label: list[str] | None = None
        self._in_label: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        if tag == "label":
            self._label, self._in_label = [], []
        elif tag in ("input", "textarea"):
            control = {"tag": tag, "type": attributes.get("type", tag), **attributes, "label": ""}
            self.inputs.append(control)
            if self._label is not None:
                self._in_label.append(control)

    def handle_data(self, data):
        if self._label is not None:
            self._label.append(data)

    def handle_endtag(self, tag):
        if tag == "label" and self._label is not None:
            for control in self._in_label:
                control["label"] = " ".join("".join(self._label).split())
            self._label = None


def controls(html: str) -> list[dict[str, str]]:
    parser = _Inputs()
    parser.feed(html)
    return parser.inputs


def page(sandbox, path, **kwargs):
    return requests.get(f"{sandbox.url}{path}", timeout=10, **kwargs)


def submit(sandbox, survey_id, form, **kwargs):
    headers = {"Origin": sandbox.url, **kwargs.pop("headers", {})}
    return requests.post(
        f"{sandbox.url}/surveys/{survey_id}/responses",
        data=form,
        headers=headers,
        allow_redirects=False,
        timeout=10,
        **kwargs,
    )


def api_response(sandbox, survey_id, response_id):
    response = requests.get(
        f"{sandbox.api_base}surveys/{survey_id}/responses/{response_id}",
        headers={"X-API-TOKEN": sandbox.token},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    return response.json()["result"]


def subscribe(client, listener, topics="surveyengine.completedResponse.*"):
    return client.create_event_subscription(
        topics=topics, publication_url=f"{listener.url}/hook", shared_key="s3cret-shared-key"
    )


@pytest.fixture
def products_question(qualtrics_sandbox):
    """A multiple-answer question added to the default survey (the default seed has none)."""
    survey = qualtrics_sandbox.brand.surveys[qualtrics_sandbox.survey_id]
    survey.questions["QID4"] = q.multiple_choice(
        "Q4", "Which of our products do you use?", ["Surveys", "Dashboards", "Workflows"], multiple=True
    )
    return "QID4"


def test_the_home_page_lists_the_brands_surveys_with_links_to_their_forms(qualtrics_sandbox):
    response = page(qualtrics_sandbox, "/")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert f'<a href="/surveys/{qualtrics_sandbox.survey_id}">Customer Satisfaction</a>' in response.text
    assert qualtrics_sandbox.info.brand_id in response.text
    assert "none yet" in response.text  # no event subscriptions in the default seed


def test_the_pages_escape_what_they_show_and_load_nothing_from_elsewhere(qualtrics_sandbox):
    survey = qualtrics_sandbox.brand.surveys[qualtrics_sandbox.survey_id]
    survey.name = '<script>alert("name")</script>'
    survey.questions["QID2"]["questionText"] = "<img src=x onerror=alert(1)>"
    survey.embedded_data.append('"><b>field</b>')

    home = page(qualtrics_sandbox, "/")
    form = page(qualtrics_sandbox, f"/surveys/{qualtrics_sandbox.survey_id}")

    for response in (home, form):
        assert response.status_code == 200
        assert "<script" not in response.text and "<img" not in response.text and "<b>" not in response.text
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "style-src 'self'" in csp and "form-action 'self'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert 'href="/sandbox.css"' in response.text and "<style" not in response.text
    assert "&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;" in home.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in form.text
    assert 'name="e.&quot;&gt;&lt;b&gt;field&lt;/b&gt;"' in form.text
    stylesheet = page(qualtrics_sandbox, "/sandbox.css")
    assert stylesheet.status_code == 200 and stylesheet.headers["Content-Type"].startswith("text/css")


def test_a_surveys_form_lists_each_question_with_its_choices(qualtrics_sandbox, products_question):
    response = page(qualtrics_sandbox, f"/surveys/{qualtrics_sandbox.survey_id}")

    assert response.status_code == 200
    assert "Overall, how satisfied are you with our service?" in response.text
    found = controls(response.text)
    by_name: dict[str, list[dict[str, str]]] = {}
    for control in found:
        by_name.setdefault(control["name"], []).append(control)
    satisfaction = by_name["q.QID1"]
    assert {c["type"] for c in satisfaction} == {"radio"}
    assert [(c["value"], c["label"]) for c in satisfaction][:2] == [("1", "Very satisfied"), ("2", "Satisfied")]
    assert len(satisfaction) == 5
    [comment] = by_name["q.QID2_TEXT"]
    assert comment["type"] == "text"
    nps = by_name["q.QID3"]
    assert [c["value"] for c in nps] == [str(n) for n in range(11)] and {c["type"] for c in nps} == {"radio"}
    products = by_name["q.QID4"]
    assert [(c["type"], c["label"]) for c in products] == [
        ("checkbox", "Surveys"),
        ("checkbox", "Dashboards"),
        ("checkbox", "Workflows"),
    ]
    assert by_name["r.recipientEmail"][0]["type"] == "email"
    assert {"r.recipientFirstName", "r.recipientLastName", "e.customer_id"} <= set(by_name)
    assert '<form method="post" action="/surveys/' in response.text


def test_submitting_the_form_records_a_response_the_api_returns(qualtrics_sandbox, products_question):
    survey_id = qualtrics_sandbox.survey_id
    form = {
        "q.QID1": "2",
        "q.QID2_TEXT": "More <b>coffee</b>",
        "q.QID3": "9",
        "q.QID4": ["1", "3"],
        "r.recipientEmail": "ada@customer.example",
        "r.recipientFirstName": "Ada",
        "r.recipientLastName": "Lovelace",
        "e.customer_id": "C-1042",
    }

    response = submit(qualtrics_sandbox, survey_id, form)

    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/responses/R_")
    response_id = location.rsplit("/", 1)[1]
    result = api_response(qualtrics_sandbox, survey_id, response_id)
    values, labels = result["values"], result["labels"]
    assert (values["QID1"], labels["QID1"]) == (2, "Satisfied")
    assert values["QID2_TEXT"] == "More <b>coffee</b>"
    assert (values["QID3"], values["QID3_NPS_GROUP"], labels["QID3_NPS_GROUP"]) == (9, 3, "Promoter")
    assert (values["QID4"], labels["QID4"]) == ([1, 3], ["Surveys", "Workflows"])
    assert values["recipientEmail"] == "ada@customer.example"
    assert (values["recipientFirstName"], values["recipientLastName"]) == ("Ada", "Lovelace")
    assert values["customer_id"] == "C-1042"
    assert values["finished"] == 1

    shown = page(qualtrics_sandbox, location)
    assert shown.status_code == 200
    assert f'<code id="response-id">{response_id}</code>' in shown.text
    assert "More &lt;b&gt;coffee&lt;/b&gt;" in shown.text
    assert "no webhook was sent" in shown.text  # nothing subscribed


def test_an_empty_form_records_a_finished_response_with_its_metadata_only(qualtrics_sandbox):
    response = submit(qualtrics_sandbox, qualtrics_sandbox.survey_id, {"q.QID2_TEXT": "", "e.customer_id": ""})

    assert response.status_code == 303
    response_id = response.headers["Location"].rsplit("/", 1)[1]
    values = api_response(qualtrics_sandbox, qualtrics_sandbox.survey_id, response_id)["values"]
    assert values["finished"] == 1
    assert not {"QID1", "QID2_TEXT", "QID3", "customer_id"} & set(values)


def test_the_recorded_response_is_sent_as_a_webhook_and_listed_with_its_delivery(
    client, qualtrics_sandbox, recording_listener
):
    subscription_id = subscribe(client, recording_listener)
    survey_id = qualtrics_sandbox.survey_id
    form_page = page(qualtrics_sandbox, f"/surveys/{survey_id}")
    assert f"{recording_listener.url}/hook" in form_page.text  # the form says where it will be sent

    response = submit(qualtrics_sandbox, survey_id, {"q.QID1": "1", "q.QID3": "10"})
    response_id = response.headers["Location"].rsplit("/", 1)[1]

    [request] = recording_listener.wait_for(1)
    message = json.loads(request["form"]["MSG"])
    assert (message["SurveyID"], message["ResponseID"], message["Status"]) == (survey_id, response_id, "Complete")
    topic = f"{qualtrics_sandbox.info.brand_id}.surveyengine.completedResponse.{survey_id}"
    assert request["form"]["Topic"] == topic
    # The response's page waits for the deliveries under way and lists them.
    shown = page(qualtrics_sandbox, f"/responses/{response_id}")
    assert shown.text.count('<tr class="delivery">') == 1
    assert f"{recording_listener.url}/hook" in shown.text and topic in shown.text
    assert '<td class="status-ok">200</td>' in shown.text
    [delivery] = qualtrics_sandbox.deliveries
    assert (delivery["subscription_id"], delivery["status"]) == (subscription_id, 200)

    listed = page(qualtrics_sandbox, "/deliveries")
    assert listed.status_code == 200
    assert listed.text.count('<tr class="delivery">') == 1
    assert f'<a href="/responses/{response_id}"><code>{response_id}</code></a>' in listed.text
    assert f"{recording_listener.url}/hook" in listed.text and '<td class="status-ok">200</td>' in listed.text


def test_the_deliveries_page_shows_what_a_receiver_answered_and_why_a_delivery_failed(
    client, qualtrics_sandbox, unused_port
):
    survey_id = qualtrics_sandbox.survey_id
    with RecordingListener(status=503) as refusing:
        subscribe(client, refusing)
        client.create_event_subscription(
            topics="surveyengine.completedResponse.*",
            publication_url=f"http://127.0.0.1:{unused_port}/hook",
            shared_key="another-key",
        )
        response = submit(qualtrics_sandbox, survey_id, {"q.QID1": "3"})
        response_id = response.headers["Location"].rsplit("/", 1)[1]
        shown = page(qualtrics_sandbox, f"/responses/{response_id}")
    qualtrics_sandbox.drop_deliveries(2)
    submit(qualtrics_sandbox, survey_id, {"q.QID1": "4"})

    assert shown.text.count('<tr class="delivery">') == 2
    assert '<td class="status-failed">503</td>' in shown.text
    assert '<td class="status-failed">no answer</td>' in shown.text
    assert "Connection refused" in shown.text or "Max retries" in shown.text  # the error, as requests says it
    listed = page(qualtrics_sandbox, "/deliveries").text
    assert listed.count('<tr class="delivery">') == 4
    assert listed.count("dropped (never sent)") == 2
    assert "4 delivery attempts, newest first" in listed


def test_a_choice_that_is_not_the_questions_is_refused_and_the_form_shown_again(qualtrics_sandbox):
    survey = qualtrics_sandbox.brand.surveys[qualtrics_sandbox.survey_id]

    response = submit(qualtrics_sandbox, survey.survey_id, {"q.QID1": "9", "q.QID2_TEXT": "kept <i>"})

    assert response.status_code == 400
    assert 'class="error"' in response.text and "is not a choice of QID1" in response.text
    assert 'value="kept &lt;i&gt;"' in response.text  # what was typed is kept
    assert survey.responses == {}


def test_forms_from_other_sites_and_other_host_names_are_refused(qualtrics_sandbox):
    survey = qualtrics_sandbox.brand.surveys[qualtrics_sandbox.survey_id]

    cross_site = submit(qualtrics_sandbox, survey.survey_id, {"q.QID1": "1"}, headers={"Origin": "http://evil.example"})
    no_origin = submit(
        qualtrics_sandbox, survey.survey_id, {"q.QID1": "1"}, headers={"Origin": None, "Sec-Fetch-Site": "cross-site"}
    )
    rebound = page(qualtrics_sandbox, "/", headers={"Host": f"evil.example:{qualtrics_sandbox.port}"})

    assert (cross_site.status_code, no_origin.status_code, rebound.status_code) == (403, 403, 403)
    assert survey.responses == {}
    assert page(qualtrics_sandbox, "/", headers={"Host": f"localhost:{qualtrics_sandbox.port}"}).status_code == 200


def test_unknown_surveys_and_responses_get_404_and_wrong_methods_405(qualtrics_sandbox):
    assert page(qualtrics_sandbox, "/surveys/SV_nope").status_code == 404
    assert page(qualtrics_sandbox, "/responses/R_nope").status_code == 404
    assert submit(qualtrics_sandbox, "SV_nope", {}).status_code == 404
    wrong = page(qualtrics_sandbox, f"/surveys/{qualtrics_sandbox.survey_id}/responses")
    assert (wrong.status_code, wrong.headers["Allow"]) == (405, "POST")
    # The API and the control API are where they were.
    described = page(qualtrics_sandbox, "/_sandbox/").json()
    assert (described["datacenter"], described["pages"]) == (qualtrics_sandbox.datacenter, f"{qualtrics_sandbox.url}/")
    assert page(qualtrics_sandbox, "/elsewhere").status_code == 404
