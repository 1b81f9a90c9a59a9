"""Role checks shared by pages and the REST API."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.models import Role


def team_required(minimum: str = Role.VIEWER):
    """Page decorator: signed in, with a current team, holding at least `minimum`."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.membership is None:
                messages.info(request, "Create a team or accept an invitation to get started.")
                return redirect("team")
            if not request.membership.has_role(minimum):
                raise PermissionDenied(f"This needs the {minimum} role or higher.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class TeamRole(BasePermission):
    """API permission: reads need a membership, writes need `write_role` (default editor)."""

    message = "You do not have the role this action needs in your current team."
    write_role = Role.EDITOR

    def has_permission(self, request, view) -> bool:
        membership = getattr(request, "membership", None)
        if membership is None:
            self.message = "Pick a team first."
            return False
        needed = getattr(view, "write_role", self.write_role)
        if request.method in SAFE_METHODS:
            needed = getattr(view, "read_role", Role.VIEWER)
        return membership.has_role(needed)
