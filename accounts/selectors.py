from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import Configuration, Membership


def membership_current(*, user, team_id: int | None) -> Membership | None:
    memberships = Membership.objects.select_related("team").filter(user=user)
    if team_id is not None:
        found = memberships.filter(team_id=team_id).first()
        if found is not None:
            return found
    return memberships.order_by("created_at").first()


def configurations_visible(*, membership: Membership) -> QuerySet[Configuration]:
    """Shared configurations of the team, plus the member's own private ones."""
    return Configuration.objects.filter(team=membership.team).filter(
        Q(shared=True) | Q(owner=membership.user)
    ).select_related("owner")


def configurations_usable(*, membership: Membership) -> QuerySet[Configuration]:
    """What a member may pick in a flow: editors and up, visible configurations."""
    if not membership.can_edit:
        return Configuration.objects.none()
    return configurations_visible(membership=membership)


def configuration_can_manage(*, membership: Membership, configuration: Configuration) -> bool:
    """Creators manage their own; owners and admins manage every shared one."""
    if configuration.team_id != membership.team_id:
        return False
    if configuration.owner_id == membership.user_id and membership.can_edit:
        return True
    return configuration.shared and membership.can_manage
