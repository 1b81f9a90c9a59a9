from __future__ import annotations

import pytest
from django.core import signing
from django.test import override_settings
from django.urls import reverse

from accounts import services
from accounts.models import Invitation, Membership, Role, Team


def test_it_signs_in_with_the_right_password(client, make_user):
    make_user("ada")
    response = client.post(reverse("login"), {"username": "ada", "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert response.url == reverse("flows")


def test_a_wrong_password_gets_a_clear_message_and_no_session(client, make_user):
    make_user("ada")
    response = client.post(reverse("login"), {"username": "ada", "password": "wrong"})
    assert response.status_code == 200
    assert "do not match" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sign_in_is_refused_after_repeated_wrong_passwords(client, make_user):
    make_user("ada")
    for _ in range(5):
        client.post(reverse("login"), {"username": "ada", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "ada", "password": "correct-horse-battery"})
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_pages_need_sign_in(client, db):
    response = client.get(reverse("flows"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_sign_out_ends_the_session(owner_client):
    owner_client.post(reverse("logout"))
    assert "_auth_user_id" not in owner_client.session


def test_an_owner_invites_and_the_invitee_signs_up_and_joins(owner_client, team, client_factory=None):
    response = owner_client.post(reverse("invitation_create"), {"email": "bea@example.com", "role": Role.EDITOR})
    assert response.status_code == 302
    link = owner_client.session["invite_link"]
    token = link.rstrip("/").rsplit("/", 1)[-1]
    from django.test import Client

    guest = Client()
    page = guest.get(reverse("invitation_accept", args=[token]))
    assert "Join Acme Research" in page.content.decode()
    response = guest.post(
        reverse("invitation_accept", args=[token]),
        {"username": "bea", "email": "bea@example.com", "password1": "a-long-pass-phrase-1", "password2": "a-long-pass-phrase-1"},
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user__username="bea")
    assert membership.team == team and membership.role == Role.EDITOR
    assert Invitation.objects.get(email="bea@example.com").accepted_at is not None


def test_an_invitation_cannot_be_used_twice(team, make_user):
    invitation = services.invitation_create(team=team, email="c@example.com", role=Role.VIEWER, invited_by=None)
    token = services.invitation_token(invitation)
    services.invitation_accept(token=token, user=make_user("c1"))
    with pytest.raises(services.InvitationError, match="already been used"):
        services.invitation_accept(token=token, user=make_user("c2"))
    assert team.memberships.filter(user__username="c2").count() == 0


def test_a_tampered_invitation_link_is_refused_with_a_clear_message(client, team):
    invitation = services.invitation_create(team=team, email="d@example.com", role=Role.ADMIN, invited_by=None)
    token = services.invitation_token(invitation)
    tampered = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")
    response = client.get(reverse("invitation_accept", args=[tampered]))
    assert response.status_code == 400
    assert "not valid" in response.content.decode()


def test_an_expired_invitation_link_is_refused_and_changes_nothing(client, team, make_user):
    invitation = services.invitation_create(team=team, email="e@example.com", role=Role.EDITOR, invited_by=None)
    token = services.invitation_token(invitation)
    user = make_user("late")
    client.force_login(user)
    with override_settings(INVITATION_MAX_AGE_SECONDS=-1):
        response = client.post(reverse("invitation_accept", args=[token]))
    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert not Membership.objects.filter(user=user).exists()


def test_an_invitation_for_another_team_id_is_refused(team, other_team):
    invitation = services.invitation_create(team=team, email="f@example.com", role=Role.EDITOR, invited_by=None)
    forged = signing.dumps({"id": invitation.pk, "team": other_team.pk}, salt=services.INVITATION_SALT)
    with pytest.raises(services.InvitationError):
        services.invitation_from_token(forged)


def test_editors_cannot_invite(client, member):
    client.force_login(member(Role.EDITOR))
    client.post(reverse("invitation_create"), {"email": "g@example.com", "role": Role.EDITOR})
    assert not Invitation.objects.filter(email="g@example.com").exists()


def test_an_admin_cannot_invite_an_owner(client, member):
    client.force_login(member(Role.ADMIN))
    client.post(reverse("invitation_create"), {"email": "h@example.com", "role": Role.OWNER})
    assert not Invitation.objects.filter(email="h@example.com").exists()


def test_a_user_in_two_teams_switches_between_them(owner_client, team):
    other = services.team_create(name="Second", owner=team.memberships.get(role=Role.OWNER).user)
    owner_client.post(reverse("team_switch"), {"team": other.pk})
    assert owner_client.get(reverse("team")).context["current_team"] == other
    owner_client.post(reverse("team_switch"), {"team": team.pk})
    assert owner_client.get(reverse("team")).context["current_team"] == team


def test_switching_to_an_unknown_team_is_refused(owner_client, team, other_team):
    response = owner_client.post(reverse("team_switch"), {"team": other_team.pk}, follow=True)
    assert "not a member" in response.content.decode()
    assert response.context["current_team"] == team


def test_creating_a_team_makes_the_creator_its_owner(client, make_user):
    user = make_user("founder")
    client.force_login(user)
    client.post(reverse("team_create"), {"name": "New Co"})
    assert Membership.objects.get(user=user, team__name="New Co").role == Role.OWNER


def test_a_blank_team_name_creates_nothing(client, make_user):
    client.force_login(make_user("founder"))
    client.post(reverse("team_create"), {"name": "   "})
    assert Team.objects.count() == 0


def test_the_last_owner_cannot_be_demoted(team):
    owner = team.memberships.get(role=Role.OWNER)
    with pytest.raises(ValueError, match="at least one owner"):
        services.membership_change_role(membership=owner, role=Role.ADMIN, by=owner)


def test_an_admin_can_change_an_editor_to_viewer_but_not_touch_owners(client, team, member):
    admin_user = member(Role.ADMIN)
    editor = Membership.objects.get(user=member(Role.EDITOR))
    client.force_login(admin_user)
    client.post(reverse("membership_role", args=[editor.pk]), {"role": Role.VIEWER, "confirm": "yes"})
    editor.refresh_from_db()
    assert editor.role == Role.VIEWER
    owner = team.memberships.get(role=Role.OWNER)
    client.post(reverse("membership_role", args=[owner.pk]), {"role": Role.VIEWER, "confirm": "yes"})
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_the_admin_site_lists_every_model(admin_client):
    for model in ["team", "membership", "invitation", "configuration"]:
        assert admin_client.get(f"/admin/accounts/{model}/").status_code == 200
    for model in ["flow", "flowversion", "activation", "delivery", "run"]:
        assert admin_client.get(f"/admin/designer/{model}/").status_code == 200


def test_an_invitation_made_in_the_admin_shows_its_link(admin_client, team):
    response = admin_client.post(
        "/admin/accounts/invitation/add/", {"team": team.pk, "email": "i@example.com", "role": Role.EDITOR}, follow=True
    )
    assert "/invitations/" in response.content.decode()
    assert Invitation.objects.filter(email="i@example.com").exists()


def test_pages_carry_a_strict_content_security_policy(owner_client):
    response = owner_client.get(reverse("team"))
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
