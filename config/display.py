"""Template filters for how the pages word things: `{% load display %}`."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()

# A name written like an identifier ("readResponse", "read_response") rather than for people.
IDENTIFIER_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
WORD_BREAK_RE = re.compile(r"_+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def display_name(name: str) -> str:
    """ "readResponse" -> "Read Response"; a name already written for people is kept as it is."""
    name = str(name or "")
    if not IDENTIFIER_RE.match(name) or not ("_" in name or re.search(r"[a-z][A-Z]", name)):
        return name
    return " ".join(word[:1].upper() + word[1:] for word in WORD_BREAK_RE.split(name) if word)


@register.filter
def card_name(name: str) -> str:
    return display_name(name)


@register.filter
def ago(value: datetime | None) -> str:
    """ "just now" under a minute, else "5 minutes ago" (timesince alone would say "0 minutes")."""
    if not value:
        return ""
    if abs(timezone.now() - value) < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value)} ago"
