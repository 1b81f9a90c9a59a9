from __future__ import annotations

from accounts.models import Membership


def membership_current(*, user, team_id: int | None) -> Membership | None:
    memberships = Membership.objects.select_related("team").filter(user=user)
    if team_id is not None:
        found = memberships.filter(team_id=team_id).first()
        if found is not None:
            return found
    return memberships.order_by("created_at").first()
