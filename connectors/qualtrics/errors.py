"""Typed errors for Qualtrics calls, built from the `meta.error` envelope.

Qualtrics answers errors with `{"meta": {"httpStatus": "401 - Unauthorized", "requestId": "...",
"error": {"errorMessage": "...", "errorCode": "..."}}}` (qualtrics-api.md §10, [H]). Every error
keeps that requestId because Qualtrics support asks for it.
"""

from __future__ import annotations

from typing import Any

import requests

from connectors import http
from connectors.http import ConnectorError, parse_retry_after


class QualtricsError(ConnectorError):
    default_message = "The Qualtrics call failed."


class AuthenticationError(QualtricsError):
    default_message = "Qualtrics refused the API token (401). Check the token and the data center ID."


class PermissionDeniedError(QualtricsError):
    default_message = "Qualtrics accepted the API token but refused this action (403)."


class NotFoundError(QualtricsError):
    default_message = "Qualtrics found nothing with that id (404)."


class ValidationError(QualtricsError):
    default_message = "Qualtrics rejected the request as invalid."


class RateLimitedError(QualtricsError):
    default_message = "Qualtrics' rate limit was reached (429)."
    retryable = True


class TransientError(QualtricsError):
    default_message = "Qualtrics had a temporary problem."
    retryable = True


class MaybeAppliedError(QualtricsError, http.MaybeAppliedError):
    """A change Qualtrics may have applied (it answered 5xx, or did not answer, after receiving
    it); it was not sent again. Not retryable: a person checks Qualtrics and decides."""

    default_message = "Qualtrics may have applied the change, so it was not sent again."


class RetryLaterError(QualtricsError, http.RetryLaterError):
    """Qualtrics (or the shared rate limiter) needs more time than is waited inline: make the
    call again after `retry_after` seconds. Nothing was applied."""

    default_message = "Qualtrics asked to make the call again later."


class RateLimitRetryLaterError(RateLimitedError, RetryLaterError):
    """A 429 (or no room in the shared rate limiter) with a wait longer than is waited inline."""


class TransientRetryLaterError(TransientError, RetryLaterError):
    """A 5xx on a call that may be repeated, with a Retry-After longer than is waited inline."""


class UnsafeRequestError(QualtricsError):
    default_message = "The request would leave the Qualtrics API base and was not sent."


class InvalidDatacenterError(QualtricsError):
    default_message = "The data center ID may contain only letters and digits (for example 'iad1')."


class ExportFailedError(QualtricsError):
    default_message = "Qualtrics reported that the response export failed."


def _meta(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    meta = body.get("meta") if isinstance(body, dict) else None
    return meta if isinstance(meta, dict) else {}


def error_from_response(response: requests.Response, *, action: str) -> QualtricsError:
    """Turn a Qualtrics error answer into the matching error class with a readable message.

    `action` names the call for the message, e.g. "GET surveys/SV_1".
    """
    status = response.status_code
    meta = _meta(response)
    details = meta.get("error") if isinstance(meta.get("error"), dict) else {}
    request_id = meta.get("requestId") or response.headers.get("X-Request-Id")
    request_id = str(request_id) if request_id else None
    code = details.get("errorCode")
    said = str(details.get("errorMessage") or "").strip()
    said_part = f": {said}" if said else "."
    common: dict[str, Any] = {"status": status, "request_id": request_id, "code": code}

    if status == 401:
        # A wrong data center also surfaces as 401 rather than a routing error (§1, [L]).
        return AuthenticationError(
            "Qualtrics refused the API token (401). Check the token and the data center ID.", **common
        )
    if status == 403:
        # 403 means a valid token without the right: API access off, or not a brand admin (§10, [M]).
        return PermissionDeniedError(
            f"Qualtrics accepted the API token but refused {action} (403){said_part} "
            "The account may lack API access or brand administrator rights.",
            **common,
        )
    if status == 404:
        return NotFoundError(f"Qualtrics found nothing at {action} (404). Check the id.", **common)
    if status == 413:
        return ValidationError(
            f"Qualtrics refused {action} as too large or malformed (413){said_part} Uploads are limited to 5 MB.",
            **common,
        )
    if status in (400, 422):
        return ValidationError(f"Qualtrics rejected {action} ({status}){said_part}", **common)
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        wait = f" Qualtrics asked to wait {retry_after:g} s." if retry_after is not None else ""
        return RateLimitedError(
            f"Qualtrics' rate limit was reached on {action} (429).{wait}", retry_after=retry_after, **common
        )
    if status >= 500:
        label = meta.get("httpStatus") or str(status)
        # A 503 may carry Retry-After too (RFC 9110 §10.2.3); it is honoured like a 429's.
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return TransientError(
            f"Qualtrics had a temporary problem with {action} ({label}).", retry_after=retry_after, **common
        )
    if 300 <= status < 400:
        where = response.headers.get("Location", "elsewhere")
        return QualtricsError(
            f"Qualtrics redirected {action} to {where}; redirects are not followed so the API token stays "
            "on the API host.",
            **common,
        )
    return QualtricsError(f"Qualtrics answered {action} with {status}{said_part}", **common)
