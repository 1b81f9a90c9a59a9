from __future__ import annotations

from accounts.selectors import membership_current

SESSION_TEAM_KEY = "team_id"


class CurrentTeamMiddleware:
    """Sets request.team and request.membership from the session (or the user's first team)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = None
        request.team = None
        if request.user.is_authenticated:
            membership = membership_current(user=request.user, team_id=request.session.get(SESSION_TEAM_KEY))
            if membership is not None:
                request.membership = membership
                request.team = membership.team
        return self.get_response(request)
