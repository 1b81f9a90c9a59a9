"""Custom API Action: any request to the configuration's own Qualtrics API base."""

from __future__ import annotations

from typing import Any

from connectors.qualtrics.cards._base import as_object, client_of, qualtrics_card, required_text
from connectors.specs import CardInputError, Field, choices

GROUP = "Advanced"
METHODS = choices("GET", "POST", "PUT", "DELETE")
BODY_METHODS = frozenset({"POST", "PUT", "DELETE"})

REQUEST = "Request"
RESPONSE = "Response"


def run_custom_api_action(ctx, options, inputs):
    method = str(options.get("method") or "GET").strip().upper()
    if method not in {c.value for c in METHODS}:
        raise CardInputError(f"Method must be GET, POST, PUT or DELETE, not '{method}'.")
    relative_url = required_text(inputs, "relative_url", "Relative URL")
    query = as_object(inputs.get("query"), "Query")
    headers = as_object(inputs.get("headers"), "Headers")
    body = as_object(inputs.get("body"), "Body")
    if body is not None and method not in BODY_METHODS:
        raise CardInputError("Body is only sent with POST, PUT and DELETE; remove it or change the method.")
    response = client_of(ctx).request_raw(
        method,
        relative_url,
        query={str(k): _query_value(v) for k, v in query.items()} if query else None,
        headers={str(k): str(v) for k, v in headers.items()} if headers else None,
        body=body,
    )
    return {
        "status_code": response.status_code,
        "headers": dict(response.headers or {}),
        "body": response.body,
    }


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [_query_value(v) for v in value]
    return "" if value is None else str(value)


CUSTOM_API_ACTION = qualtrics_card(
    name="Custom API Action",
    changes="sends the request to the Qualtrics API, which may change something there",
    description="Make a custom HTTP request to the Qualtrics API.",
    group=GROUP,
    options=(
        Field(
            "method",
            "Method",
            required=True,
            default="GET",
            choices=METHODS,
            help="GET reads, POST creates, PUT replaces (idempotent), DELETE removes. "
            "See https://www.qualtrics.com/support/integrations/api-integration/overview/.",
        ),
    ),
    inputs=(
        Field(
            "relative_url",
            "Relative URL",
            required=True,
            group=REQUEST,
            help="Relative request URL. E.g. - If the full API URL is "
            "https://YOURORG.qualtrics.com/API/v3/surveys/SV_ID, then the Relative URL would be surveys/SV_ID.",
        ),
        Field(
            "query",
            "Query",
            type="object",
            group=REQUEST,
            help='Query parameters for the request. Example: {"Token":"5"}',
        ),
        Field(
            "headers",
            "Headers",
            type="object",
            group=REQUEST,
            help='Headers for the request. Example: {"Accept":"application/json"}',
        ),
        Field(
            "body",
            "Body",
            type="object",
            group=REQUEST,
            help="(only for POST, PUT, and DELETE) Body of the request. "
            'Example: {"foo": "automation", "bar": "integration"}',
        ),
    ),
    outputs=(
        Field(
            "status_code", "Status Code", type="number", group=RESPONSE, help="The status code of the HTTP response."
        ),
        Field("headers", "Headers", type="object", group=RESPONSE, help="The response headers."),
        Field("body", "Body", type="object", group=RESPONSE, help="The response body."),
    ),
    run=run_custom_api_action,
)
