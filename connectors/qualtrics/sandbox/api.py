"""The v3 API of the sandbox: routing, authentication, envelopes and one handler per operation.

Transport-free: `SandboxApp.handle()` takes a method, a path, headers and a body and returns a
status, headers and a body, so the HTTP server stays a thin shell. Facts are cited from
docs/qualtrics-api.md as §n.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from connectors.qualtrics.sandbox import surveys as survey_data
from connectors.qualtrics.sandbox.delivery import Deliverer
from connectors.qualtrics.sandbox.state import (
    Brand,
    Directory,
    Export,
    MailingList,
    Response,
    SandboxState,
    Survey,
    Token,
    epoch_ms,
    iso,
    new_id,
    new_request_id,
    now,
    parse_iso,
)

API_PATH = re.compile(r"^/(?P<datacenter>[^/]+)/API/v3/(?P<rest>.*)$")
ERROR_CODES = {400: "RP_0.1", 401: "AUTH_6.0", 403: "AUTH_4.1", 404: "RP_0.4", 413: "RP_0.13", 429: "RL_1.0"}
MAX_PAGE_SIZE = 1000
LOGGED_BODY_CHARS = 10_000

USER_FIELDS = {
    "username",
    "password",
    "firstName",
    "lastName",
    "userType",
    "email",
    "language",
    "timeZone",
    "divisionId",
    "accountExpirationDate",
    "status",
    "permissions",
}
GROUP_FIELDS = {"type", "name", "divisionId"}
SURVEY_FIELDS = {"name", "isActive", "expiration", "ownerId"}
CONTACT_FIELDS = {
    "firstName",
    "lastName",
    "email",
    "phone",
    "extRef",
    "language",
    "unsubscribed",
    "embeddedData",
    "privateEmbeddedData",
}
CONTACT_SUMMARY_KEYS = (
    "contactId",
    "firstName",
    "lastName",
    "email",
    "phone",
    "extRef",
    "language",
    "unsubscribed",
    "embeddedData",
)
LIST_CONTACT_FIELDS = CONTACT_FIELDS | {"mailingListUnsubscribed"}
MAILING_LIST_FIELDS = {"name", "ownerId", "prioritizeListMetadata"}
SUBSCRIPTION_FIELDS = {"topics", "publicationUrl", "encrypt", "sharedKey"}
EXPORT_FORMATS = {"csv", "tsv", "json", "ndjson"}
EXPORT_FIELDS = {
    "format",
    "startDate",
    "endDate",
    "limit",
    "useLabels",
    "includeLabelColumns",
    "seenUnansweredRecode",
    "multiselectSeenUnansweredRecode",
    "includeDisplayOrder",
    "formatDecimalAsComma",
    "timeZone",
    "newlineReplacement",
    "questionIds",
    "embeddedDataIds",
    "surveyMetadataIds",
    "compress",
    "exportResponsesInProgress",
    "breakoutSets",
    "filterId",
    "sortByLastModifiedDate",
    "allowContinuation",
    "continuationToken",
}
IMPORT_TYPES = {
    "application/vnd.qualtrics.survey.qsf",
    "application/vnd.qualtrics.survey.txt",
    "application/vnd.qualtrics.survey.doc",
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def http_status(code: int) -> str:
    """`meta.httpStatus` reads like "200 - OK" (§1, [H])."""
    try:
        return f"{code} - {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def json_reply(status: int, document: Any, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(document).encode()
    return Reply(status, {"Content-Type": "application/json", **(headers or {})}, body)


def envelope(result: Any, status: int = 200) -> Reply:
    meta = {"httpStatus": http_status(status), "requestId": new_request_id()}
    document: dict[str, Any] = {"meta": meta} if result is None else {"result": result, "meta": meta}
    return json_reply(status, document)


def error_envelope(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    """Errors carry `meta.error.errorMessage`/`errorCode` and a requestId (§10, [H])."""
    meta = {
        "httpStatus": http_status(status),
        "error": {"errorMessage": message, "errorCode": ERROR_CODES.get(status, f"Q_{status}")},
        "requestId": new_request_id(),
    }
    if status >= 500:
        meta["error"]["instanceId"] = f"sandbox-{uuid.uuid4().hex[:8]}"
    return json_reply(status, {"meta": meta}, headers)


@dataclass
class Call:
    state: SandboxState
    brand: Brand
    token: Token
    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes
    origin: str
    _json: Any = field(default=None, init=False)

    def json(self) -> dict[str, Any]:
        if self._json is None:
            if not self.body.strip():
                raise ApiError(400, "The request body must be a JSON object.")
            try:
                self._json = json.loads(self.body)
            except ValueError as exc:
                raise ApiError(400, f"The request body is not valid JSON: {exc}") from exc
            if not isinstance(self._json, dict):
                raise ApiError(400, "The request body must be a JSON object.")
        return self._json

    def fields(self, allowed: set[str]) -> dict[str, Any]:
        data = self.json()
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ApiError(400, f"Unrecognized field: {unknown[0]}. Allowed fields: {', '.join(sorted(allowed))}.")
        return data


Handler = Callable[..., Any]


def _paginate(call: Call, items: list[dict[str, Any]], *, style: str) -> dict[str, Any]:
    """One page of `elements` and an absolute `nextPage` URL, or null on the last page (§1)."""
    param = "skipToken" if style == "skipToken" else "offset"
    raw = call.query.get(param)
    start = 0
    if raw:
        try:
            start = int(base64.urlsafe_b64decode(raw.encode()).decode()) if style == "skipToken" else int(raw)
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise ApiError(400, f"Invalid {param}.") from exc
        if start < 0:
            raise ApiError(400, f"Invalid {param}.")
    size = call.state.page_size
    if call.query.get("pageSize"):
        try:
            size = max(1, min(int(call.query["pageSize"]), MAX_PAGE_SIZE))
        except ValueError as exc:
            raise ApiError(400, "pageSize must be a number.") from exc
    end = start + size
    next_page = None
    if end < len(items):
        token = base64.urlsafe_b64encode(str(end).encode()).decode() if style == "skipToken" else str(end)
        query = {**call.query, param: token}
        origin = call.state.next_page_base or call.origin
        next_page = f"{origin.rstrip('/')}/{call.brand.datacenter}/API/v3/{call.path}?{urlencode(query)}"
    return {"elements": items[start:end], "nextPage": next_page}


def _require_text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, f"Missing required field: {name}.")
    return value.strip()


def _check_email(value: Any) -> None:
    if value is not None and (not isinstance(value, str) or (value and not re.fullmatch(r"[^@\s]+@[^@\s]+", value))):
        raise ApiError(400, f"Invalid email address: {value!r}.")


def _check_embedded(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError(400, "embeddedData must be an object of text values.")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


class SandboxApp:
    """Routes v3 API calls to handlers that read and change the `SandboxState`."""

    def __init__(self, state: SandboxState, deliverer: Deliverer) -> None:
        self.state = state
        self.deliverer = deliverer
        self.routes: list[tuple[str, re.Pattern[str], Handler, bool]] = []
        r = self._route
        r("GET", r"whoami", self.whoami)
        r("GET", r"users", self.list_users, admin=True)
        r("POST", r"users", self.create_user, admin=True)
        r("GET", r"users/(?P<user_id>[^/]+)", self.get_user, admin=True)
        r("PUT", r"users/(?P<user_id>[^/]+)", self.update_user, admin=True)
        r("DELETE", r"users/(?P<user_id>[^/]+)", self.delete_user, admin=True)
        r("GET", r"groups", self.list_groups, admin=True)
        r("POST", r"groups", self.create_group, admin=True)
        r("GET", r"groups/(?P<group_id>[^/]+)", self.get_group, admin=True)
        r("PUT", r"groups/(?P<group_id>[^/]+)", self.update_group, admin=True)
        r("DELETE", r"groups/(?P<group_id>[^/]+)", self.delete_group, admin=True)
        r("POST", r"groups/(?P<group_id>[^/]+)/members", self.add_group_member, admin=True)
        r("DELETE", r"groups/(?P<group_id>[^/]+)/members/(?P<user_id>[^/]+)", self.remove_group_member, admin=True)
        r("GET", r"surveys", self.list_surveys)
        r("POST", r"surveys", self.import_survey)
        r("GET", r"surveys/(?P<survey_id>[^/]+)", self.get_survey)
        r("PUT", r"surveys/(?P<survey_id>[^/]+)", self.update_survey)
        r("DELETE", r"surveys/(?P<survey_id>[^/]+)", self.delete_survey)
        r("POST", r"surveys/(?P<survey_id>[^/]+)/responses", self.create_response)
        r("GET", r"surveys/(?P<survey_id>[^/]+)/responses/(?P<response_id>[^/]+)", self.get_response)
        r("DELETE", r"surveys/(?P<survey_id>[^/]+)/responses/(?P<response_id>[^/]+)", self.delete_response)
        r("POST", r"surveys/(?P<survey_id>[^/]+)/export-responses", self.start_export)
        r("GET", r"surveys/(?P<survey_id>[^/]+)/export-responses/(?P<progress_id>[^/]+)", self.export_progress)
        r("GET", r"surveys/(?P<survey_id>[^/]+)/export-responses/(?P<file_id>[^/]+)/file", self.export_file)
        r("GET", r"directories", self.list_directories)
        d = r"directories/(?P<directory_id>[^/]+)"
        r("GET", d + r"/contacts", self.list_contacts)
        r("POST", d + r"/contacts", self.create_contact)
        r("GET", d + r"/contacts/(?P<contact_id>[^/]+)", self.get_contact)
        r("PUT", d + r"/contacts/(?P<contact_id>[^/]+)", self.update_contact)
        r("DELETE", d + r"/contacts/(?P<contact_id>[^/]+)", self.delete_contact)
        r("GET", d + r"/mailinglists", self.list_mailing_lists)
        r("POST", d + r"/mailinglists", self.create_mailing_list)
        m = d + r"/mailinglists/(?P<mailing_list_id>[^/]+)"
        r("GET", m, self.get_mailing_list)
        r("PUT", m, self.update_mailing_list)
        r("DELETE", m, self.delete_mailing_list)
        r("GET", m + r"/contacts", self.list_mailing_list_contacts)
        r("POST", m + r"/contacts", self.create_mailing_list_contact)
        r("GET", m + r"/contacts/(?P<contact_id>[^/]+)", self.get_mailing_list_contact)
        r("PUT", m + r"/contacts/(?P<contact_id>[^/]+)", self.update_mailing_list_contact)
        r("DELETE", m + r"/contacts/(?P<contact_id>[^/]+)", self.delete_mailing_list_contact)
        r("GET", r"eventsubscriptions", self.list_subscriptions, admin=True)
        r("POST", r"eventsubscriptions", self.create_subscription, admin=True)
        r("GET", r"eventsubscriptions/(?P<subscription_id>[^/]+)", self.get_subscription, admin=True)
        r("DELETE", r"eventsubscriptions/(?P<subscription_id>[^/]+)", self.delete_subscription, admin=True)

    def _route(self, method: str, pattern: str, handler: Handler, *, admin: bool = False) -> None:
        self.routes.append((method, re.compile(pattern + r"\Z"), handler, admin))

    # Entry point ------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        parts = urlsplit(target)
        match = API_PATH.match(parts.path)
        if not match:
            return error_envelope(404, f"No API endpoint at {parts.path}. The API lives at /{{datacenter}}/API/v3/.")
        datacenter = match["datacenter"]
        path = match["rest"].strip("/")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        entry = {
            "method": method,
            "path": parts.path,
            "api_path": path,
            "datacenter": datacenter,
            "query": query,
            "headers": {k: v for k, v in headers.items() if k.lower() != "x-api-token"},
            "has_token": any(k.lower() == "x-api-token" for k in headers),
            "body": body[:LOGGED_BODY_CHARS].decode("utf-8", errors="replace"),
            "status": None,
            "at": time.time(),
        }
        self.state.log_request(entry)
        reply = self._dispatch(method, datacenter, path, query, headers, body)
        entry["status"] = reply.status
        return reply

    def _dispatch(
        self, method: str, datacenter: str, path: str, query: dict[str, str], headers: Mapping[str, str], body: bytes
    ) -> Reply:
        delay = self.state.take_latency(method, path)
        if delay:
            time.sleep(delay)
        fault = self.state.take_fault(method, path)
        if fault is not None and not fault.apply:
            return self._fault_reply(fault)
        reply = self._serve(method, datacenter, path, query, headers, body)
        if fault is not None and reply.status < 400:
            return self._fault_reply(fault)  # applied, then failed
        return reply

    @staticmethod
    def _fault_reply(fault: Any) -> Reply:
        extra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        message = fault.message or {429: "Too many requests. Slow down."}.get(
            fault.status, "The sandbox was asked to fail this call."
        )
        return error_envelope(fault.status, message, extra)

    def _serve(
        self, method: str, datacenter: str, path: str, query: dict[str, str], headers: Mapping[str, str], body: bytes
    ) -> Reply:

        token_value = next((v for k, v in headers.items() if k.lower() == "x-api-token"), None)
        with self.state.lock:
            token = self.state.tokens.get(token_value or "")
            # A token is valid only on its own data center; elsewhere Qualtrics answers 401 (§1, [L]).
            if token is None or token.datacenter != datacenter:
                return error_envelope(401, "invalid_client")
            if not token.api_access:
                return error_envelope(403, "This user does not have permission to access the API.")
            brand = self.state.brands[token.brand_id]
            wait = self.state.take_rate_limit(brand.brand_id, method, path)
            if wait is not None:
                # Qualtrics answers 429 once a limit is reached (docs/qualtrics-api.md, Rate limits).
                return error_envelope(429, "Too many requests. Slow down.", {"Retry-After": f"{math.ceil(wait)}"})
            host = next((v for k, v in headers.items() if k.lower() == "host"), "127.0.0.1")
            call = Call(self.state, brand, token, method, path, query, headers, body, f"http://{host}")
            allowed_methods = []
            for route_method, pattern, handler, admin in self.routes:
                found = pattern.match(path)
                if not found:
                    continue
                if route_method != method:
                    allowed_methods.append(route_method)
                    continue
                if admin and not token.brand_admin:
                    return error_envelope(403, "This action needs a brand administrator's API token.")
                try:
                    result = handler(call, **found.groupdict())
                except ApiError as exc:
                    return error_envelope(exc.status, exc.message, exc.headers)
                except survey_data.SurveyDataError as exc:
                    return error_envelope(400, str(exc))
                if isinstance(result, Reply):
                    return result
                return envelope(result)
            if allowed_methods:
                return error_envelope(405, f"{method} is not supported here; use {', '.join(allowed_methods)}.")
            return error_envelope(404, f"No API endpoint at {path}.")

    # Identity ---------------------------------------------------------------------------------

    def whoami(self, call: Call) -> dict[str, Any]:
        user = call.brand.users.get(call.token.user_id, {})
        return {
            "brandId": call.brand.brand_id,
            "userId": call.token.user_id,
            "userName": user.get("username", ""),
            "accountType": user.get("userType", ""),
            "firstName": user.get("firstName", ""),
            "lastName": user.get("lastName", ""),
            "email": user.get("email", ""),
            "datacenter": call.brand.datacenter,
        }

    # Users ------------------------------------------------------------------------------------

    def _user(self, call: Call, user_id: str) -> dict[str, Any]:
        user = call.brand.users.get(user_id)
        if user is None:
            raise ApiError(404, f"User {user_id} not found.")
        return user

    def list_users(self, call: Call) -> dict[str, Any]:
        keys = ("id", "username", "email", "firstName", "lastName", "userType", "divisionId", "accountStatus")
        items = [{k: u.get(k) for k in keys} for u in call.brand.users.values()]
        return _paginate(call, items, style="offset")

    def get_user(self, call: Call, user_id: str) -> dict[str, Any]:
        user = dict(self._user(call, user_id))
        user.pop("password", None)
        return user

    def create_user(self, call: Call) -> dict[str, Any]:
        data = call.fields(USER_FIELDS)
        username = _require_text(data, "username")
        if any(u["username"].lower() == username.lower() for u in call.brand.users.values()):
            raise ApiError(400, f"The username {username} is already taken.")
        _check_email(data.get("email"))
        user_type = data.get("userType") or next(iter(call.brand.user_types), "")
        if user_type not in call.brand.user_types:
            raise ApiError(400, f"Unknown userType {user_type!r}.")
        user_id = new_id("UR_")
        call.brand.users[user_id] = add_user_record(call.brand, user_id, {**data, "userType": user_type})
        return {"id": user_id}

    def update_user(self, call: Call, user_id: str) -> None:
        user = self._user(call, user_id)
        data = call.fields(USER_FIELDS)
        _check_email(data.get("email"))
        if "userType" in data and data["userType"] not in call.brand.user_types:
            raise ApiError(400, f"Unknown userType {data['userType']!r}.")
        if "status" in data:
            user["accountStatus"] = "active" if str(data.pop("status")).lower() in ("enabled", "active") else "disabled"
        user.update(data)

    def delete_user(self, call: Call, user_id: str) -> None:
        self._user(call, user_id)
        del call.brand.users[user_id]
        for group in call.brand.groups.values():
            if user_id in group["members"]:
                group["members"].remove(user_id)

    # Groups -----------------------------------------------------------------------------------

    def _group(self, call: Call, group_id: str) -> dict[str, Any]:
        group = call.brand.groups.get(group_id)
        if group is None:
            raise ApiError(404, f"Group {group_id} not found.")
        return group

    def _group_view(self, group: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in group.items() if k != "members"}

    def list_groups(self, call: Call) -> dict[str, Any]:
        items = [{"id": g["id"], "name": g["name"], "type": g["type"]} for g in call.brand.groups.values()]
        return _paginate(call, items, style="offset")

    def get_group(self, call: Call, group_id: str) -> dict[str, Any]:
        return self._group_view(self._group(call, group_id))

    def create_group(self, call: Call) -> dict[str, Any]:
        data = call.fields(GROUP_FIELDS)
        # Group types cannot be listed or created through the API (§4, [M]); a GT_ id is required.
        group_type = _require_text(data, "type")
        name = _require_text(data, "name")
        if group_type not in call.brand.group_types:
            raise ApiError(400, f"Unknown group type {group_type!r}.")
        group_id = new_id("GR_")
        call.brand.groups[group_id] = group_record(call.brand, group_id, name, group_type, data.get("divisionId"))
        return {"id": group_id}

    def update_group(self, call: Call, group_id: str) -> None:
        group = self._group(call, group_id)
        data = call.fields(GROUP_FIELDS)
        if "type" in data and data["type"] not in call.brand.group_types:
            raise ApiError(400, f"Unknown group type {data['type']!r}.")
        if "name" in data and not str(data["name"] or "").strip():
            raise ApiError(400, "name cannot be empty.")
        group.update(data)

    def delete_group(self, call: Call, group_id: str) -> None:
        self._group(call, group_id)
        del call.brand.groups[group_id]

    def add_group_member(self, call: Call, group_id: str) -> None:
        group = self._group(call, group_id)
        user_id = _require_text(call.json(), "userId")
        self._user(call, user_id)
        if user_id not in group["members"]:
            group["members"].append(user_id)

    def remove_group_member(self, call: Call, group_id: str, user_id: str) -> None:
        group = self._group(call, group_id)
        if user_id not in group["members"]:
            raise ApiError(404, f"User {user_id} is not a member of group {group_id}.")
        group["members"].remove(user_id)

    # Surveys ----------------------------------------------------------------------------------

    def _survey(self, call: Call, survey_id: str) -> Survey:
        survey = call.brand.surveys.get(survey_id)
        if survey is None:
            raise ApiError(404, f"Survey {survey_id} not found.")
        return survey

    def list_surveys(self, call: Call) -> dict[str, Any]:
        items = [
            {
                "id": s.survey_id,
                "name": s.name,
                "ownerId": s.owner_id,
                "lastModified": iso(s.modified_at),
                "creationDate": iso(s.created_at),
                "isActive": s.is_active,
            }
            for s in call.brand.surveys.values()
        ]
        return _paginate(call, items, style="offset")

    def get_survey(self, call: Call, survey_id: str) -> dict[str, Any]:
        """The legacy "Get Survey" shape (§5.2, [H])."""
        survey = self._survey(call, survey_id)
        export_map = {}
        for qid, question in survey.questions.items():
            for key in survey_data.question_keys(qid, question):
                column = question["questionName"] + ("_NPS_GROUP" if key.endswith("_NPS_GROUP") else "")
                export_map[column] = {"question": qid}
        return {
            "id": survey.survey_id,
            "name": survey.name,
            "ownerId": survey.owner_id,
            "organizationId": call.brand.brand_id,
            "isActive": survey.is_active,
            "creationDate": iso(survey.created_at),
            "lastModifiedDate": iso(survey.modified_at),
            "expiration": dict(survey.expiration),
            "questions": json.loads(json.dumps(survey.questions)),
            "exportColumnMap": export_map,
            "blocks": {
                "BL_sandbox000000001": {
                    "description": "Default Question Block",
                    "elements": [{"type": "Question", "questionId": qid} for qid in survey.questions],
                }
            },
            "flow": [{"id": "BL_sandbox000000001", "type": "Block"}],
            "embeddedData": [{"name": name} for name in survey.embedded_data],
            "comments": {},
            "loopAndMerge": {},
            "responseCounts": {
                "auditable": len(survey.responses),
                "generated": 0,
                "deleted": survey.deleted_responses,
            },
        }

    def update_survey(self, call: Call, survey_id: str) -> None:
        survey = self._survey(call, survey_id)
        data = call.fields(SURVEY_FIELDS)
        if "name" in data:
            survey.name = _require_text(data, "name")
        if "isActive" in data:
            if not isinstance(data["isActive"], bool):
                raise ApiError(400, "isActive must be true or false.")
            survey.is_active = data["isActive"]
        if "expiration" in data:
            expiration = data["expiration"]
            if not isinstance(expiration, dict) or set(expiration) - {"startDate", "endDate"}:
                raise ApiError(400, "expiration must be an object with startDate and endDate.")
            survey.expiration.update(expiration)
        if "ownerId" in data:
            self._user(call, str(data["ownerId"]))
            survey.owner_id = str(data["ownerId"])
        survey.modified_at = now()

    def delete_survey(self, call: Call, survey_id: str) -> None:
        self._survey(call, survey_id)
        del call.brand.surveys[survey_id]

    def import_survey(self, call: Call) -> dict[str, Any]:
        """Multipart `name` + `file`; the file part's type picks QSF, TXT or DOC (§5.5, [H])."""
        content_type = next((v for k, v in call.headers.items() if k.lower() == "content-type"), "")
        if not content_type.lower().startswith("multipart/form-data"):
            raise ApiError(400, "Import a survey with multipart/form-data: a 'name' part and a 'file' part.")
        parts = _multipart(content_type, call.body)
        name = parts.get("name", (None, b"", ""))[1].decode("utf-8", errors="replace").strip()
        if not name:
            raise ApiError(400, "Missing required field: name.")
        if "file" not in parts:
            raise ApiError(400, "Missing required field: file.")
        _filename, data, file_type = parts["file"]
        if file_type not in IMPORT_TYPES:
            raise ApiError(
                400, f"Unsupported file type {file_type or 'none'!r}; use one of {', '.join(sorted(IMPORT_TYPES))}."
            )
        embedded: list[str] = []
        if file_type.endswith(".qsf"):
            _qsf_name, questions, embedded = survey_data.parse_qsf(data)
        elif file_type.endswith(".txt"):
            questions = survey_data.parse_advanced_txt(data)
        else:
            questions = {}
        survey = add_survey(call.brand, name, questions, embedded_data=embedded, owner_id=call.token.user_id)
        return {"id": survey.survey_id}

    # Responses --------------------------------------------------------------------------------

    def create_response(self, call: Call, survey_id: str) -> dict[str, Any]:
        survey = self._survey(call, survey_id)
        data = call.json()
        if set(data) != {"values"} or not isinstance(data["values"], dict):
            raise ApiError(400, 'The body must be {"values": {...}}.')
        response = record_response(call.state, self.deliverer, call.brand, survey, data["values"])
        return {"responseId": response.response_id}

    def get_response(self, call: Call, survey_id: str, response_id: str) -> dict[str, Any]:
        survey = self._survey(call, survey_id)
        response = survey.responses.get(response_id)
        if response is None:
            raise ApiError(404, f"Response {response_id} not found in survey {survey_id}.")
        return response.as_result()

    def delete_response(self, call: Call, survey_id: str, response_id: str) -> None:
        survey = self._survey(call, survey_id)
        if survey.responses.pop(response_id, None) is None:
            raise ApiError(404, f"Response {response_id} not found in survey {survey_id}.")
        survey.deleted_responses += 1

    # Export (§6.2) ----------------------------------------------------------------------------

    def start_export(self, call: Call, survey_id: str) -> dict[str, Any]:
        survey = self._survey(call, survey_id)
        data = call.fields(EXPORT_FIELDS)
        file_format = data.get("format")
        if not file_format:
            raise ApiError(400, "Missing required field: format.")
        if file_format not in EXPORT_FORMATS:
            raise ApiError(400, f"The sandbox exports {', '.join(sorted(EXPORT_FORMATS))}, not {file_format!r}.")
        selected = list(survey.responses.values())
        watermark_from = 0
        token = data.get("continuationToken")
        if token:
            known = call.brand.continuation_tokens.get(str(token))
            if known is None or known[0] != survey_id:
                raise ApiError(400, "Invalid continuationToken.")
            watermark_from = known[1]
            selected = [r for r in selected if r.seq > watermark_from]
        try:
            start = parse_iso(data["startDate"]) if data.get("startDate") else None
            end = parse_iso(data["endDate"]) if data.get("endDate") else None
        except (TypeError, ValueError) as exc:
            raise ApiError(400, "startDate and endDate must be ISO-8601 dates such as 2024-01-13T12:30:00Z.") from exc
        # Filters apply to recordedDate; endDate is exclusive (§6.2, [H]).
        if start is not None:
            selected = [r for r in selected if r.recorded_at >= start]
        if end is not None:
            selected = [r for r in selected if r.recorded_at < end]
        if data.get("limit") is not None:
            selected = selected[: max(0, int(data["limit"]))]
        export = Export(
            progress_id=new_id("ES_"),
            survey_id=survey_id,
            file_format=file_format,
            options=data,
            responses=selected,
            issue_token=bool(data.get("allowContinuation") or token),
            watermark=survey.seq,
        )
        if call.state.failing_exports > 0:
            call.state.failing_exports -= 1
            export.fail = True
        call.brand.exports[export.progress_id] = export
        return {"progressId": export.progress_id, "percentComplete": 0.0, "status": "inProgress"}

    def export_progress(self, call: Call, survey_id: str, progress_id: str) -> dict[str, Any]:
        survey = self._survey(call, survey_id)
        export = call.brand.exports.get(progress_id)
        if export is None or export.survey_id != survey_id:
            raise ApiError(404, f"Export {progress_id} not found.")
        steps = max(1, call.state.export_polls)
        if export.status == "inProgress":
            export.polls += 1
            if export.polls >= steps:
                self._finish_export(call, survey, export)
        percent = 100.0 if export.status == "complete" else round(100.0 * export.polls / steps, 1)
        result: dict[str, Any] = {"percentComplete": percent, "status": export.status}
        if export.status == "complete":
            result["fileId"] = export.file_id
            if export.continuation_token:
                result["continuationToken"] = export.continuation_token
        return result

    def _finish_export(self, call: Call, survey: Survey, export: Export) -> None:
        if export.fail:
            export.status = "failed"
            return
        _filename, body, content_type = survey_data.render_export(
            survey, export.responses, export.file_format, export.options
        )
        export.file_id = f"{uuid.uuid4()}-def"
        files = call.brand.export_files
        files[export.file_id] = (export.survey_id, body, content_type)
        while len(files) > call.state.EXPORT_FILES_KEPT:
            files.pop(next(iter(files)))
        if export.issue_token:
            export.continuation_token = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            call.brand.continuation_tokens[export.continuation_token] = (export.survey_id, export.watermark)
        export.status = "complete"

    def export_file(self, call: Call, survey_id: str, file_id: str) -> Reply:
        self._survey(call, survey_id)
        stored = call.brand.export_files.get(file_id)
        if stored is None or stored[0] != survey_id:
            raise ApiError(404, f"Export file {file_id} not found.")
        _survey_id, body, content_type = stored
        headers = {"Content-Type": content_type}
        if content_type == "application/zip":
            headers["Content-Disposition"] = 'attachment; filename="export.zip"'
        return Reply(200, headers, body)

    # XM Directory (§8) ------------------------------------------------------------------------

    def _directory(self, call: Call, directory_id: str) -> Directory:
        directory = call.brand.directories.get(directory_id)
        if directory is None:
            raise ApiError(404, f"Directory {directory_id} not found.")
        return directory

    def list_directories(self, call: Call) -> dict[str, Any]:
        items = [
            {
                "directoryId": d.directory_id,
                "name": d.name,
                "contactCount": len(d.contacts),
                "isDefault": d.is_default,
                "deduplicationCriteria": {
                    "email": d.dedupe_on_email,
                    "firstName": False,
                    "lastName": False,
                    "externalDataReference": False,
                    "phone": False,
                },
            }
            for d in call.brand.directories.values()
        ]
        return _paginate(call, items, style="skipToken")

    def _contact(self, directory: Directory, contact_id: str) -> dict[str, Any]:
        contact = directory.contacts.get(contact_id)
        if contact is None:
            raise ApiError(404, f"Contact {contact_id} not found.")
        return contact

    def list_contacts(self, call: Call, directory_id: str) -> dict[str, Any]:
        directory = self._directory(call, directory_id)
        items = [contact_summary(c) for c in directory.contacts.values()]
        return _paginate(call, items, style="skipToken")

    def create_contact(self, call: Call, directory_id: str) -> dict[str, Any]:
        directory = self._directory(call, directory_id)
        contact = upsert_contact(directory, call.fields(CONTACT_FIELDS))
        return {"id": contact["contactId"]}

    def get_contact(self, call: Call, directory_id: str, contact_id: str) -> dict[str, Any]:
        directory = self._directory(call, directory_id)
        contact = self._contact(directory, contact_id)
        membership = {
            ml.mailing_list_id: {
                "name": ml.name,
                "contactLookupId": ml.members[contact_id]["contactLookupId"],
                "unsubscribed": ml.members[contact_id]["unsubscribed"],
                "unsubscribeDate": None,
                "ownerId": ml.owner_id,
            }
            for ml in directory.mailing_lists.values()
            if contact_id in ml.members
        }
        return {**contact, "mailingListMembership": membership, "stats": {}}

    def update_contact(self, call: Call, directory_id: str, contact_id: str) -> None:
        directory = self._directory(call, directory_id)
        contact = self._contact(directory, contact_id)
        update_contact_fields(contact, call.fields(CONTACT_FIELDS))
        _emails_changed(directory)

    def delete_contact(self, call: Call, directory_id: str, contact_id: str) -> None:
        directory = self._directory(call, directory_id)
        self._contact(directory, contact_id)
        del directory.contacts[contact_id]
        _emails_changed(directory)
        for mailing_list in directory.mailing_lists.values():
            mailing_list.members.pop(contact_id, None)

    def _mailing_list(self, directory: Directory, mailing_list_id: str) -> MailingList:
        mailing_list = directory.mailing_lists.get(mailing_list_id)
        if mailing_list is None:
            raise ApiError(404, f"Mailing list {mailing_list_id} not found.")
        return mailing_list

    @staticmethod
    def _list_view(mailing_list: MailingList) -> dict[str, Any]:
        return {
            "mailingListId": mailing_list.mailing_list_id,
            "name": mailing_list.name,
            "ownerId": mailing_list.owner_id,
            "creationDate": epoch_ms(mailing_list.created_at),
            "lastModifiedDate": epoch_ms(mailing_list.modified_at),
            "contactCount": len(mailing_list.members),
        }

    def list_mailing_lists(self, call: Call, directory_id: str) -> dict[str, Any]:
        directory = self._directory(call, directory_id)
        items = [self._list_view(ml) for ml in directory.mailing_lists.values()]
        return _paginate(call, items, style="skipToken")

    def create_mailing_list(self, call: Call, directory_id: str) -> dict[str, Any]:
        directory = self._directory(call, directory_id)
        data = call.fields(MAILING_LIST_FIELDS)
        name = _require_text(data, "name")
        mailing_list = MailingList(new_id("CG_"), name, str(data.get("ownerId") or call.token.user_id))
        directory.mailing_lists[mailing_list.mailing_list_id] = mailing_list
        return {"id": mailing_list.mailing_list_id}

    def get_mailing_list(self, call: Call, directory_id: str, mailing_list_id: str) -> dict[str, Any]:
        directory = self._directory(call, directory_id)
        return self._list_view(self._mailing_list(directory, mailing_list_id))

    def update_mailing_list(self, call: Call, directory_id: str, mailing_list_id: str) -> None:
        mailing_list = self._mailing_list(self._directory(call, directory_id), mailing_list_id)
        data = call.fields(MAILING_LIST_FIELDS)
        if "name" in data:
            mailing_list.name = _require_text(data, "name")
        if "ownerId" in data:
            mailing_list.owner_id = str(data["ownerId"])
        mailing_list.modified_at = now()

    def delete_mailing_list(self, call: Call, directory_id: str, mailing_list_id: str) -> None:
        directory = self._directory(call, directory_id)
        self._mailing_list(directory, mailing_list_id)
        del directory.mailing_lists[mailing_list_id]

    def _list_member_view(self, directory: Directory, mailing_list: MailingList, contact_id: str) -> dict[str, Any]:
        member = mailing_list.members[contact_id]
        return {
            **contact_summary(directory.contacts[contact_id]),
            "mailingListUnsubscribed": member["unsubscribed"],
            "contactLookupId": member["contactLookupId"],
        }

    def list_mailing_list_contacts(self, call: Call, directory_id: str, mailing_list_id: str) -> dict[str, Any]:
        directory = self._directory(call, directory_id)
        mailing_list = self._mailing_list(directory, mailing_list_id)
        items = [self._list_member_view(directory, mailing_list, cid) for cid in mailing_list.members]
        return _paginate(call, items, style="skipToken")

    def create_mailing_list_contact(self, call: Call, directory_id: str, mailing_list_id: str) -> dict[str, Any]:
        directory = self._directory(call, directory_id)
        mailing_list = self._mailing_list(directory, mailing_list_id)
        data = call.fields(LIST_CONTACT_FIELDS)
        list_unsubscribed = bool(data.pop("mailingListUnsubscribed", False))
        # Creating through a list also creates, or dedupes into, the directory contact (§8, [L]).
        contact = upsert_contact(directory, data)
        member = add_list_member(mailing_list, contact["contactId"], unsubscribed=list_unsubscribed)
        return {"id": contact["contactId"], "contactLookupId": member["contactLookupId"]}

    def _member(
        self, call: Call, directory_id: str, mailing_list_id: str, contact_id: str
    ) -> tuple[Directory, MailingList]:
        directory = self._directory(call, directory_id)
        mailing_list = self._mailing_list(directory, mailing_list_id)
        if contact_id not in mailing_list.members or contact_id not in directory.contacts:
            raise ApiError(404, f"Contact {contact_id} is not in mailing list {mailing_list_id}.")
        return directory, mailing_list

    def get_mailing_list_contact(
        self, call: Call, directory_id: str, mailing_list_id: str, contact_id: str
    ) -> dict[str, Any]:
        directory, mailing_list = self._member(call, directory_id, mailing_list_id, contact_id)
        return self._list_member_view(directory, mailing_list, contact_id)

    def update_mailing_list_contact(self, call: Call, directory_id: str, mailing_list_id: str, contact_id: str) -> None:
        directory, mailing_list = self._member(call, directory_id, mailing_list_id, contact_id)
        data = call.fields(LIST_CONTACT_FIELDS)
        if "mailingListUnsubscribed" in data:
            mailing_list.members[contact_id]["unsubscribed"] = bool(data.pop("mailingListUnsubscribed"))
        update_contact_fields(directory.contacts[contact_id], data)
        _emails_changed(directory)

    def delete_mailing_list_contact(self, call: Call, directory_id: str, mailing_list_id: str, contact_id: str) -> None:
        _directory, mailing_list = self._member(call, directory_id, mailing_list_id, contact_id)
        # Removing from a list keeps the contact in the directory (§8, [L]).
        del mailing_list.members[contact_id]

    # Event subscriptions (§9) -----------------------------------------------------------------

    def _subscription(self, call: Call, subscription_id: str) -> dict[str, Any]:
        subscription = call.brand.subscriptions.get(subscription_id)
        if subscription is None:
            raise ApiError(404, f"Event subscription {subscription_id} not found.")
        return subscription

    @staticmethod
    def _subscription_view(subscription: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in subscription.items() if k != "sharedKey"}

    def list_subscriptions(self, call: Call) -> dict[str, Any]:
        items = [self._subscription_view(s) for s in call.brand.subscriptions.values()]
        return _paginate(call, items, style="skipToken")

    def get_subscription(self, call: Call, subscription_id: str) -> dict[str, Any]:
        return self._subscription_view(self._subscription(call, subscription_id))

    def create_subscription(self, call: Call) -> dict[str, Any]:
        data = call.fields(SUBSCRIPTION_FIELDS)
        topics = _require_text(data, "topics")
        url = _require_text(data, "publicationUrl")
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise ApiError(400, f"publicationUrl must be an http(s) URL, not {url!r}.")
        if data.get("encrypt"):
            # The encrypted payload format is not public (§9, [?]); the sandbox signs with HMAC only.
            raise ApiError(400, "The sandbox does not model encrypt=true; use encrypt=false with a sharedKey.")
        shared_key = data.get("sharedKey")
        if shared_key is not None and not isinstance(shared_key, str):
            raise ApiError(400, "sharedKey must be text.")
        subscription_id = new_id("SUB_")
        call.brand.subscriptions[subscription_id] = {
            "id": subscription_id,
            "scope": "brand",
            "topics": topics,
            "publicationUrl": url,
            "encrypted": False,
            "successfulPublications": 0,
            "sharedKey": shared_key or None,
        }
        return {"id": subscription_id}

    def delete_subscription(self, call: Call, subscription_id: str) -> None:
        self._subscription(call, subscription_id)
        del call.brand.subscriptions[subscription_id]


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes, str]]:
    """Form parts by name: (filename, bytes, content type), parsed with the stdlib email parser."""
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode() + body
    )
    if not message.is_multipart():
        raise ApiError(413, "Malformed multipart body.")
    parts: dict[str, tuple[str | None, bytes, str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        part_type = part.get_content_type() if part.get("Content-Type") else ""
        parts[str(name)] = (part.get_filename(), payload, part_type)
    return parts


# State helpers used by handlers, seed data and the Python API -------------------------------------


def add_user_record(brand: Brand, user_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": data["username"],
        "firstName": data.get("firstName", ""),
        "lastName": data.get("lastName", ""),
        "email": data.get("email", ""),
        "userType": data.get("userType") or next(iter(brand.user_types), ""),
        "organizationId": brand.brand_id,
        "language": data.get("language", "en"),
        "accountStatus": "active",
        "accountCreationDate": iso(now()),
        "accountExpirationDate": data.get("accountExpirationDate"),
        "lastLoginDate": None,
        "timeZone": data.get("timeZone", "America/Denver"),
        "divisionId": data.get("divisionId"),
        "permissions": data.get("permissions") or {},
        "password": data.get("password"),
    }


def group_record(brand: Brand, group_id: str, name: str, group_type: str, division_id: str | None) -> dict[str, Any]:
    return {
        "id": group_id,
        "name": name,
        "type": group_type,
        "divisionId": division_id,
        "organizationId": brand.brand_id,
        "creationDate": iso(now()),
        "creatorId": brand.admin_user_id,
        "members": [],
    }


def add_survey(
    brand: Brand,
    name: str,
    questions: dict[str, dict[str, Any]],
    *,
    embedded_data: list[str] | None = None,
    owner_id: str | None = None,
    survey_id: str | None = None,
    created_at: datetime | None = None,
) -> Survey:
    moment = created_at or now()
    survey = Survey(
        survey_id=survey_id or new_id("SV_"),
        name=name,
        owner_id=owner_id or brand.admin_user_id,
        questions=questions,
        embedded_data=list(embedded_data or []),
        created_at=moment,
        modified_at=moment,
    )
    brand.surveys[survey.survey_id] = survey
    return survey


def record_response(
    state: SandboxState,
    deliverer: Deliverer,
    brand: Brand,
    survey: Survey,
    values: dict[str, Any],
    *,
    recorded_at: datetime | None = None,
    response_id: str | None = None,
    notify: bool = True,
) -> Response:
    """Store a response and, when it is finished, publish `surveyengine.completedResponse` (§9)."""
    with state.lock:
        response_id = response_id or new_id("R_")
        response = survey_data.build_response(
            survey, values, response_id=response_id, recorded_at=recorded_at or now(), seq=survey.seq + 1
        )
        survey.seq += 1
        survey.responses[response_id] = response
        if notify and response.values.get("finished") == 1:
            completed = response.recorded_at.strftime("%Y-%m-%d %H:%M:%S")
            deliverer.publish(
                brand.brand_id,
                f"surveyengine.completedResponse.{survey.survey_id}",
                {
                    "Status": "Complete",
                    "SurveyID": survey.survey_id,
                    "ResponseID": response_id,
                    "CompletedDate": completed,
                    "BrandID": brand.brand_id,
                },
            )
        return response


def contact_summary(contact: dict[str, Any]) -> dict[str, Any]:
    return {k: contact.get(k) for k in CONTACT_SUMMARY_KEYS}


def update_contact_fields(contact: dict[str, Any], data: dict[str, Any]) -> None:
    _check_email(data.get("email"))
    if "embeddedData" in data:
        contact["embeddedData"] = {**contact.get("embeddedData", {}), **_check_embedded(data.pop("embeddedData"))}
    if "unsubscribed" in data:
        contact["unsubscribed"] = bool(data.pop("unsubscribed"))
    data.pop("privateEmbeddedData", None)
    contact.update({k: v for k, v in data.items() if k in CONTACT_FIELDS})
    contact["lastModified"] = epoch_ms(now())


def contact_by_email(directory: Directory, email: str) -> dict[str, Any] | None:
    """The first contact (in the order made) whose email is `email` (lower case), through the
    directory's index: a directory of many contacts is not read whole for every new one."""
    index = directory.email_index
    if index is None:
        index = directory.email_index = {}
        for contact_id, contact in directory.contacts.items():
            if address := _email_key(contact):
                index.setdefault(address, contact_id)
    found = index.get(email)
    return directory.contacts.get(found) if found is not None else None


def _email_key(contact: dict[str, Any]) -> str:
    return str(contact.get("email") or "").lower()


def _emails_changed(directory: Directory) -> None:
    directory.email_index = None


def upsert_contact(directory: Directory, data: dict[str, Any], *, contact_id: str | None = None) -> dict[str, Any]:
    data = dict(data)
    identifying = ("firstName", "lastName", "email", "phone", "extRef")
    if not any(str(data.get(k) or "").strip() for k in identifying):
        raise ApiError(400, "A contact needs at least one of firstName, lastName, email, phone or extRef.")
    _check_email(data.get("email"))
    email = str(data.get("email") or "").strip().lower()
    if email and directory.dedupe_on_email:
        existing = contact_by_email(directory, email)
        if existing is not None:
            update_contact_fields(existing, data)
            if _email_key(existing) != email:  # now written otherwise (spaces)
                _emails_changed(directory)
            return existing
    moment = epoch_ms(now())
    contact: dict[str, Any] = {
        "contactId": contact_id or new_id("CID_"),
        "firstName": data.get("firstName"),
        "lastName": data.get("lastName"),
        "email": data.get("email"),
        "phone": data.get("phone"),
        "extRef": data.get("extRef"),
        "language": data.get("language"),
        "unsubscribed": bool(data.get("unsubscribed", False)),
        "embeddedData": _check_embedded(data.get("embeddedData")),
        "creationDate": moment,
        "lastModified": moment,
    }
    if contact["contactId"] in directory.contacts:  # a seed's fixed id written again
        _emails_changed(directory)
    directory.contacts[contact["contactId"]] = contact
    address = _email_key(contact)
    if address and directory.email_index is not None:
        directory.email_index.setdefault(address, contact["contactId"])
    return contact


def add_list_member(mailing_list: MailingList, contact_id: str, *, unsubscribed: bool = False) -> dict[str, Any]:
    member = mailing_list.members.get(contact_id)
    if member is None:
        member = {"contactLookupId": new_id("CGC_"), "unsubscribed": unsubscribed}
        mailing_list.members[contact_id] = member
        mailing_list.modified_at = now()
    return member
