"""Teams, memberships and invitations."""

from __future__ import annotations

import hashlib
import unicodedata

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.models import Invitation, Membership, Role, Team
from accounts.signals import team_deleting

INVITATION_SALT = "accounts.invitation"

MAX_FAILED_LOGINS_PER_USERNAME = 5
# Higher than per username: people behind one office or campus address share it.
MAX_FAILED_LOGINS_PER_ADDRESS = 20
LOCKOUT_SECONDS = 15 * 60


class InvitationError(Exception):
    """An invitation link that cannot be used; the message is shown to the user."""


def team_create(*, name: str, owner) -> Team:
    name = name.strip()
    if not name:
        raise ValueError("A team needs a name.")
    with transaction.atomic():
        team = Team.objects.create(name=name)
        Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    return team


TEAM_NAME_MAX = 100


def _team_name_clean(name) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise ValueError("A team needs a name.")
    if len(name) > TEAM_NAME_MAX:
        raise ValueError(f"A team name can have at most {TEAM_NAME_MAX} characters; this one has {len(name)}.")
    return name


def team_rename(*, team: Team, name: str, by: Membership) -> Team:
    if by.team_id != team.pk or not by.can_manage:
        raise PermissionError("Only an owner or admin of this team can rename it.")
    team.name = _team_name_clean(name)
    team.save(update_fields=["name"])
    return team


def team_delete(*, team: Team, by: Membership, confirm_name: str) -> None:
    """Deletes the team with its flows, runs, configurations, memberships and invitations.
    Receivers of `team_deleting` first undo what its flows set up with their services; they run
    before the delete's transaction, as they call those services, and a flow they deactivated
    stays so if the delete then fails."""
    if by.team_id != team.pk or by.role != Role.OWNER:
        raise PermissionError("Only an owner of this team can delete it.")
    if (confirm_name or "").strip() != team.name:
        raise ValueError("Type the team's name exactly as shown to confirm that it should be deleted.")
    team_deleting.send(sender=Team, team=team)
    with transaction.atomic():
        # A run protects the flow version it ran from deletion, so the team's runs go first.
        team.runs.all().delete()
        team.delete()


def invitation_create(*, team: Team, email: str, role: str, invited_by) -> Invitation:
    if role not in Role.values:
        raise ValueError(f"Unknown role {role!r}.")
    return Invitation.objects.create(team=team, email=email.strip().lower(), role=role, invited_by=invited_by)


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps({"id": invitation.pk, "team": invitation.team_id}, salt=INVITATION_SALT)


def invitation_path(invitation: Invitation) -> str:
    from django.urls import reverse

    return reverse("invitation_accept", args=[invitation_token(invitation)])


def invitation_from_token(token: str) -> Invitation:
    try:
        data = signing.loads(token, salt=INVITATION_SALT, max_age=settings.INVITATION_MAX_AGE_SECONDS)
    except signing.SignatureExpired:
        raise InvitationError("This invitation has expired. Ask your team admin for a new one.") from None
    except signing.BadSignature:
        raise InvitationError("This invitation link is not valid. Check that you copied all of it.") from None
    invitation = Invitation.objects.select_related("team").filter(pk=data.get("id"), team_id=data.get("team")).first()
    if invitation is None:
        raise InvitationError("This invitation no longer exists.")
    if invitation.accepted_at is not None:
        raise InvitationError("This invitation has already been used.")
    return invitation


def _invitation_lock(token: str) -> Invitation:
    """The invitation, locked until the caller's transaction ends (on SQLite every write
    transaction starts IMMEDIATE and so holds the database's write lock): of several requests
    with one link, the first takes it and the others then see it used."""
    invitation = invitation_from_token(token)
    invitation = Invitation.objects.select_for_update().select_related("team").get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise InvitationError("This invitation has already been used.")
    return invitation


def _invitation_use(invitation: Invitation, user) -> Membership:
    membership, _created = Membership.objects.get_or_create(
        team=invitation.team, user=user, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


def invitation_accept(*, token: str, user) -> Membership:
    with transaction.atomic():
        return _invitation_use(_invitation_lock(token), user)


def invitation_signup(*, token: str, username: str, password: str, email: str = ""):
    """Creates the account and its membership together, or nothing: an invitation that is used
    (by a sign-up a moment earlier) leaves no account behind. Returns (user, membership)."""
    with transaction.atomic():
        invitation = _invitation_lock(token)
        user = user_create(username=username, password=password, email=email)
        return user, _invitation_use(invitation, user)


def membership_change_role(*, membership: Membership, role: str, by: Membership) -> Membership:
    if role not in Role.values:
        raise ValueError(f"Unknown role {role!r}.")
    if membership.team_id != by.team_id or not by.can_manage:
        raise PermissionError("Only an owner or admin of this team can change roles.")
    if Role.OWNER in (role, membership.role) and by.role != Role.OWNER:
        raise PermissionError("Only an owner can grant or remove the owner role.")
    if membership.role == Role.OWNER and role != Role.OWNER:
        owners = Membership.objects.filter(team=membership.team, role=Role.OWNER).count()
        if owners <= 1:
            raise ValueError("A team must keep at least one owner.")
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


def membership_remove(*, membership: Membership, by: Membership) -> None:
    if membership.team_id != by.team_id or not by.can_manage:
        raise PermissionError("Only an owner or admin of this team can remove members.")
    if membership.role == Role.OWNER and by.role != Role.OWNER:
        raise PermissionError("Only an owner can remove another owner.")
    with transaction.atomic():
        if membership.role == Role.OWNER:
            # Counted under a lock, so that two owners removing each other at once leave one.
            owners = list(Membership.objects.select_for_update().filter(team_id=membership.team_id, role=Role.OWNER))
            if len(owners) <= 1:
                raise ValueError("A team must keep at least one owner. Make someone else an owner first.")
        membership.delete()


def invitation_revoke(*, invitation: Invitation, by: Membership) -> None:
    """Deletes a pending invitation: its link then says it no longer exists."""
    if invitation.team_id != by.team_id or not by.can_manage:
        raise PermissionError("Only an owner or admin of this team can revoke invitations.")
    if invitation.role == Role.OWNER and by.role != Role.OWNER:
        raise PermissionError("Only an owner can revoke an invitation to become an owner.")
    if invitation.accepted_at is not None:
        raise ValueError("This invitation has already been used; remove the member instead.")
    invitation.delete()


def user_create(*, username: str, password: str, email: str = ""):
    return get_user_model().objects.create_user(username=username, password=password, email=email)


def _login_counter_keys(*, username: str, address: str) -> dict[str, str]:
    # Sign-in looks the user up after NFKC normalization (UsernameField), so "bruｔeuser" signs in
    # as "bruteuser": the counter must see the same name, and any case of it.
    name = unicodedata.normalize("NFKC", username or "").strip().casefold()
    digest = hashlib.sha256(name.encode()).hexdigest()  # cache keys must be short ASCII
    return {"username": f"login-failures:user:{digest}", "address": f"login-failures:addr:{address or '-'}"}


def login_lockout(*, username: str, address: str) -> str | None:
    """Which counter ("username" or "address") refuses this sign-in now, or None."""
    keys = _login_counter_keys(username=username, address=address)
    counts = cache.get_many(list(keys.values()))
    if counts.get(keys["username"], 0) >= MAX_FAILED_LOGINS_PER_USERNAME:
        return "username"
    if counts.get(keys["address"], 0) >= MAX_FAILED_LOGINS_PER_ADDRESS:
        return "address"
    return None


def login_failure_record(*, username: str, address: str) -> None:
    for key in _login_counter_keys(username=username, address=address).values():
        cache.add(key, 0, LOCKOUT_SECONDS)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, LOCKOUT_SECONDS)
