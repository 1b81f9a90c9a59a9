"""The HTTP Request connector: one action card that calls any public web address.

A connection is optional (`optional_configuration` on the card): without one, a token goes in
the card's Authorization input or its headers and is stored with the flow; with one, the team's
auth header (a bearer token, or a basic username and password) is kept encrypted like every
connection's secrets and sent as the Authorization header. See README.md for the rules. Every
address is checked by `connectors.outbound` before anything is sent.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from connectors.specs import Account, Connector, CredentialsError, Field

AUTH_TYPES = ("bearer", "basic")
MAX_SECRET_CHARS = 4096
MIN_HIDDEN_CHARS = 8

AUTH_TYPE = Field(
    "auth_type", "Auth type", default="bearer",
    help="bearer (sends Authorization: Bearer <token>) or basic (a username and password); left blank, "
         "bearer when a token is given.",
)
TOKEN = Field("token", "Token", secret=True, help="For bearer: the token sent after “Bearer ”.")
USERNAME = Field("username", "Username", help="For basic: the user name (no colon).")
PASSWORD = Field("password", "Password", secret=True, help="For basic: the password.")


def _bad_characters(value: str) -> bool:
    return any(ch in value for ch in "\r\n\x00") or len(value) > MAX_SECRET_CHARS


def clean_credentials(values: dict[str, str]) -> dict[str, str]:
    """The auth type in lower case with the fields it uses; the other type's fields are cleared,
    so switching from basic to bearer does not keep the old password."""
    auth_type = (values.get("auth_type") or "").strip().lower()
    if not auth_type:
        auth_type = "basic" if values.get("username") and not values.get("token") else "bearer"
    if auth_type not in AUTH_TYPES:
        raise CredentialsError("auth_type", "Auth type: write bearer or basic.")
    cleaned = {"auth_type": auth_type, "token": "", "username": "", "password": ""}
    if auth_type == "bearer":
        token = values.get("token") or ""
        if token.lower().startswith("bearer "):
            token = token[7:].strip()  # pasted with its scheme
        if not token:
            raise CredentialsError("token", "Fill in Token: a bearer connection sends it.")
        if _bad_characters(token) or " " in token:
            raise CredentialsError("token", "Token: one word, without spaces or line breaks.")
        cleaned["token"] = token
    else:
        username, password = values.get("username") or "", values.get("password") or ""
        if not username:
            raise CredentialsError("username", "Fill in Username: a basic connection sends it.")
        if ":" in username or _bad_characters(username):
            raise CredentialsError("username", "Username: no colon or line break (basic auth joins it to the "
                                   "password with a colon).")
        if not password:
            raise CredentialsError("password", "Fill in Password: a basic connection sends it.")
        if _bad_characters(password):
            raise CredentialsError("password", "Password: no line break, at most 4,096 characters.")
        cleaned["username"], cleaned["password"] = username, password
    return cleaned


class HttpAuth:
    """A connection's auth header for the HTTP Request card. Holds no session: the card sends
    through its own checked client, with `authorization` as the Authorization header."""

    # Set by the engine on every client it hands a card; the card's own outbound client does the
    # sending, so these are not used here.
    before_unsafe_send = None
    on_attempt = None

    def __init__(self, *, auth_type: str, token: str = "", username: str = "", password: str = "") -> None:
        self.auth_type = auth_type
        self.username = username
        if auth_type == "basic":
            pair = f"{username}:{password}".encode()
            self._authorization = "Basic " + base64.b64encode(pair).decode("ascii")
            self._secrets = tuple(s for s in (password, self._authorization) if s)
        else:
            self._authorization = f"Bearer {token}"
            self._secrets = tuple(s for s in (token, self._authorization) if s)

    @property
    def authorization(self) -> str:
        """The Authorization header's value."""
        return self._authorization

    @property
    def secrets(self) -> tuple[str, ...]:
        """The texts hidden from what the card hands on: the header, and the secret in it when it is
        long enough not to be an everyday word (a short password would hide every "pass"), longest first."""
        kept = [s for s in self._secrets if s == self._authorization or len(s) >= MIN_HIDDEN_CHARS]
        return tuple(sorted(kept, key=len, reverse=True))

    def describe(self) -> str:
        return f"basic auth as {self.username}" if self.auth_type == "basic" else "a bearer token"

    def close(self) -> None:
        return None

    def __repr__(self) -> str:  # never the secret, in a traceback or a log line
        return f"<HttpAuth {self.auth_type}>"


def build_client(credentials: Mapping[str, str], **options: Any) -> HttpAuth:
    """The auth header of a stored connection (options, timeouts and retries, are the card's own)."""
    auth_type = str(credentials.get("auth_type") or "bearer").lower()
    return HttpAuth(auth_type=auth_type, token=str(credentials.get("token") or ""),
                    username=str(credentials.get("username") or ""), password=str(credentials.get("password") or ""))


def authorize(client: HttpAuth) -> Account:
    """Nothing remote to ask: the header is whatever the API expects. Names the auth type (and
    the basic username), never the secret."""
    if client.auth_type == "basic":
        return Account(id=f"basic:{client.username}", name=f"Basic auth as {client.username}",
                       details={"auth_type": "basic"})
    return Account(id="bearer", name="Bearer token", details={"auth_type": "bearer"})


connector = Connector(
    key="http",
    name="HTTP Request",
    description="Call any public web address or API and use its answer in later cards.",
    credentials=(AUTH_TYPE, TOKEN, USERNAME, PASSWORD),
    client=build_client,
    authorize=authorize,
    clean_credentials=clean_credentials,
    help="An Authorization header your team shares: a bearer token, or a basic username and password. It is "
         "stored encrypted and sent by the HTTP Request cards that choose it; it is never shown in a flow or its "
         "runs. Nothing is called when you save it: the API you call checks it.",
    card_modules=("connectors.httprequest.cards",),
)
