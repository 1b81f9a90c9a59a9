"""Managing a team from its page: roles (confirmed before they change), removing members,
revoking invitations, renaming, and deleting a team, which deactivates its flows in Qualtrics."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import Invitation, Membership, Role, Team
from connectors.qualtrics.client import QualtricsClient
from designer import services as flow_services
from designer.activation import flow_activate
from designer.models import Activation, ActivationStatus, Flow
from tests.security.conftest import definition


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_changing_a_role_asks_for_confirmation_and_saves_only_once_confirmed(team, member):
    owner, editor = member(Role.OWNER), member(Role.EDITOR)
    target = Membership.objects.get(team=team, user=editor)
    client = signed_in(owner)
    url = reverse("membership_role", args=[target.pk])

    asked = client.post(url, {"role": Role.VIEWER})
    assert asked.status_code == 200
    assert "Make editor-user Viewer?" in asked.content.decode()
    assert Membership.objects.get(pk=target.pk).role == Role.EDITOR

    assert client.post(url, {"role": Role.VIEWER, "confirm": "yes"}).status_code == 302
    assert Membership.objects.get(pk=target.pk).role == Role.VIEWER


def test_an_unknown_role_is_refused_with_the_roles_to_pick_from(team, member):
    owner, editor = member(Role.OWNER), member(Role.EDITOR)
    target = Membership.objects.get(team=team, user=editor)
    response = signed_in(owner).post(reverse("membership_role", args=[target.pk]), {"role": "boss", "confirm": "yes"}, follow=True)
    assert "Pick one of the roles: Owner, Admin, Editor, Viewer." in response.content.decode()
    assert Membership.objects.get(pk=target.pk).role == Role.EDITOR


def test_an_admin_removes_a_member_who_then_loses_access_to_the_teams_flows(team, member):
    admin, editor = member(Role.ADMIN), member(Role.EDITOR)
    flow = flow_services.flow_create(membership=team.memberships.get(role=Role.OWNER), name="Private to the team")
    editor_client = signed_in(editor)
    assert editor_client.get(reverse("api_flow", args=[flow.pk])).status_code == 200

    target = Membership.objects.get(team=team, user=editor)
    assert signed_in(admin).post(reverse("membership_remove", args=[target.pk])).status_code == 302
    assert not Membership.objects.filter(pk=target.pk).exists()
    assert editor_client.get(reverse("api_flow", args=[flow.pk])).status_code == 403


def test_the_last_owner_cannot_be_removed_and_an_admin_cannot_remove_an_owner(team, member):
    owner, admin = member(Role.OWNER), member(Role.ADMIN)
    owner_membership = Membership.objects.get(team=team, user=owner)

    refused = signed_in(admin).post(reverse("membership_remove", args=[owner_membership.pk]), follow=True)
    assert "Only an owner can remove another owner." in refused.content.decode()
    refused = signed_in(owner).post(reverse("membership_remove", args=[owner_membership.pk]), follow=True)
    assert "A team must keep at least one owner." in refused.content.decode()
    assert Membership.objects.filter(pk=owner_membership.pk).exists()


def test_editors_and_viewers_cannot_remove_members(team, member):
    editor, viewer = member(Role.EDITOR), member(Role.VIEWER)
    target = Membership.objects.get(team=team, user=viewer)
    response = signed_in(editor).post(reverse("membership_remove", args=[target.pk]), follow=True)
    assert "Only an owner or admin of this team can remove members." in response.content.decode()
    assert Membership.objects.filter(pk=target.pk).exists()


def test_a_revoked_invitation_link_no_longer_lets_anyone_join(team, member):
    admin = member(Role.ADMIN)
    invitation = services.invitation_create(team=team, email="late@example.com", role=Role.EDITOR, invited_by=admin)
    link = reverse("invitation_accept", args=[services.invitation_token(invitation)])

    assert signed_in(admin).post(reverse("invitation_revoke", args=[invitation.pk])).status_code == 302
    assert not Invitation.objects.filter(pk=invitation.pk).exists()
    response = Client().post(link, {"username": "late", "email": "late@example.com",
                                    "password1": "a-long-pass-phrase-1", "password2": "a-long-pass-phrase-1"})
    assert response.status_code == 400 and "no longer exists" in response.content.decode()
    assert not Membership.objects.filter(team=team, user__username="late").exists()


def test_an_admin_cannot_revoke_an_invitation_to_become_owner(team, member):
    admin = member(Role.ADMIN)
    invitation = services.invitation_create(team=team, email="boss@example.com", role=Role.OWNER, invited_by=None)
    response = signed_in(admin).post(reverse("invitation_revoke", args=[invitation.pk]), follow=True)
    assert "Only an owner can revoke an invitation to become an owner." in response.content.decode()
    assert Invitation.objects.filter(pk=invitation.pk).exists()


def test_renaming_a_team_needs_a_manager_and_a_name_of_at_most_100_characters(team, member):
    admin, editor = member(Role.ADMIN), member(Role.EDITOR)
    url = reverse("team_rename", args=[team.pk])

    too_long = signed_in(admin).post(url, {"name": "x" * 101}, follow=True)
    assert "at most 100 characters; this one has 101" in too_long.content.decode()
    blank = signed_in(admin).post(url, {"name": "   "}, follow=True)
    assert "A team needs a name." in blank.content.decode()
    signed_in(editor).post(url, {"name": "Editor's name"})
    assert Team.objects.get(pk=team.pk).name == "Acme Research"

    signed_in(admin).post(url, {"name": "  Acme Labs "})
    assert Team.objects.get(pk=team.pk).name == "Acme Labs"


def test_deleting_a_team_needs_its_owner_and_its_name_typed_out(team, member):
    admin, owner = member(Role.ADMIN), member(Role.OWNER)
    url = reverse("team_delete", args=[team.pk])
    assert signed_in(admin).post(url, {"name": team.name}).status_code == 403
    wrong = signed_in(owner).post(url, {"name": "acme research"})
    assert wrong.status_code == 400 and "exactly as shown to confirm" in wrong.content.decode()
    assert Team.objects.filter(pk=team.pk).exists()


def test_deleting_a_team_deactivates_its_flows_and_removes_their_qualtrics_subscriptions(
    team, member, sandbox_configuration, qualtrics_sandbox, settings
):
    settings.PUBLIC_BASE_URL = "https://flows.example.com"  # activation subscribes a webhook
    owner = member(Role.OWNER)
    owner_membership = Membership.objects.get(team=team, user=owner)
    qualtrics = QualtricsClient(datacenter=qualtrics_sandbox.datacenter, token=qualtrics_sandbox.token)
    elsewhere = qualtrics.create_event_subscription(
        topics="controlpanel.activateSurvey", publication_url="https://x.example/", shared_key="k"
    )
    flows = []
    for name in ("Welcome", "Follow-up"):
        flow = flow_services.flow_create(membership=owner_membership, name=name)
        flow_services.flow_save(membership=owner_membership, flow=flow, base_version=0,
                                definition=definition(sandbox_configuration.pk, qualtrics_sandbox.survey_id))
        flow_services.flow_publish(membership=owner_membership, flow=flow)
        assert flow_activate(flow=flow, user=owner).status == ActivationStatus.ACTIVE_WEBHOOK
        flows.append(flow)
    assert len(qualtrics.list_event_subscriptions()) == 3

    response = signed_in(owner).post(reverse("team_delete", args=[team.pk]), {"name": "Acme Research"})
    assert response.status_code == 302
    assert [s["id"] for s in qualtrics.list_event_subscriptions()] == [elsewhere]
    assert not Team.objects.filter(pk=team.pk).exists()
    assert not Flow.objects.filter(pk__in=[f.pk for f in flows]).exists()
    assert not Activation.objects.filter(flow_id__in=[f.pk for f in flows]).exists()


def test_team_management_in_accounts_does_not_import_designer():
    """designer hears of a team's deletion through accounts.signals.team_deleting."""
    import ast
    from pathlib import Path

    import accounts

    offenders = []
    for name in ("services.py", "signals.py", "views.py", "forms.py", "selectors.py", "models.py"):
        path = Path(accounts.__file__).parent / name
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{name}: {n}" for n in names if n.split(".")[0] == "designer"]
    assert not offenders, offenders
