from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import services
from accounts.forms import InviteForm, SignUpForm, TeamForm, ThrottledAuthenticationForm
from accounts.middleware import SESSION_TEAM_KEY
from accounts.models import Invitation, Membership, Role
from config.ids import row_id


class SignInView(LoginView):
    template_name = "accounts/login.html"
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True


@login_required
def team_page(request):
    membership = request.membership
    invite_link = request.session.pop("invite_link", None)
    context = {
        "team_form": TeamForm(),
        "invite_form": InviteForm(),
        "invite_link": invite_link,
        "members": membership.team.memberships.select_related("user") if membership else [],
        "invitations": membership.team.invitations.filter(accepted_at__isnull=True) if membership else [],
        "roles": Role.choices,
    }
    return render(request, "accounts/team.html", context)


@login_required
@require_POST
def team_create(request):
    form = TeamForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A team needs a name of at most 100 characters.")
        return redirect("team")
    team = services.team_create(name=form.cleaned_data["name"], owner=request.user)
    request.session[SESSION_TEAM_KEY] = team.pk
    messages.success(request, f"Team “{team.name}” created. You are its owner.")
    return redirect("team")


@login_required
@require_POST
def team_switch(request):
    team_id = request.POST.get("team")
    membership = Membership.objects.filter(user=request.user, team_id=row_id(team_id)).first()
    if membership is None:
        messages.error(request, "You are not a member of that team.")
    else:
        request.session[SESSION_TEAM_KEY] = membership.team_id
        messages.success(request, f"Switched to {membership.team.name}.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = "flows"  # never off-site
    return redirect(back)


@login_required
@require_POST
def invitation_create(request):
    membership = request.membership
    if membership is None or not membership.can_manage:
        messages.error(request, "Only an owner or admin can invite teammates.")
        return redirect("team")
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a valid email address and role.")
        return redirect("team")
    role = form.cleaned_data["role"]
    if role == Role.OWNER and membership.role != Role.OWNER:
        messages.error(request, "Only an owner can invite another owner.")
        return redirect("team")
    invitation = services.invitation_create(
        team=membership.team, email=form.cleaned_data["email"], role=role, invited_by=request.user
    )
    request.session["invite_link"] = request.build_absolute_uri(services.invitation_path(invitation))
    messages.success(request, f"Invitation for {invitation.email} created. Send them the link below.")
    return redirect("team")


@login_required
@require_POST
def membership_role(request, pk: int):
    """Asks for confirmation first (the role picker submits on change), then saves."""
    membership = request.membership
    target = get_object_or_404(Membership.objects.select_related("user"), pk=pk, team=membership.team if membership else None)
    role = request.POST.get("role", "")
    if not membership.can_manage:
        messages.error(request, "Only an owner or admin of this team can change roles.")
        return redirect("team")
    if role not in Role.values:
        messages.error(request, f"Pick one of the roles: {', '.join(Role.labels)}.")
        return redirect("team")
    if request.POST.get("confirm") != "yes":
        context = {"target": target, "role": role, "role_label": Role(role).label}
        return render(request, "accounts/role_confirm.html", context)
    try:
        services.membership_change_role(membership=target, role=role, by=membership)
    except (PermissionError, ValueError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{target.user.username} is now {target.get_role_display()}.")
    return redirect("team")


@login_required
@require_POST
def membership_remove(request, pk: int):
    membership = request.membership
    target = get_object_or_404(Membership.objects.select_related("user"), pk=pk, team=membership.team if membership else None)
    try:
        services.membership_remove(membership=target, by=membership)
    except (PermissionError, ValueError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{target.user.username} was removed from {membership.team.name}.")
    return redirect("team")


@login_required
@require_POST
def invitation_revoke(request, pk: int):
    membership = request.membership
    invitation = get_object_or_404(Invitation, pk=pk, team=membership.team if membership else None)
    try:
        services.invitation_revoke(invitation=invitation, by=membership)
    except (PermissionError, ValueError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"The invitation for {invitation.email} was revoked; its link no longer works.")
    return redirect("team")


def _membership_of(request, team_pk: int) -> Membership:
    """The user's membership of the team named in the URL (not only the current one): 404 for others."""
    return get_object_or_404(Membership.objects.select_related("team"), user=request.user, team_id=team_pk)


@login_required
@require_POST
def team_rename(request, pk: int):
    membership = _membership_of(request, pk)
    try:
        team = services.team_rename(team=membership.team, name=request.POST.get("name", ""), by=membership)
    except (PermissionError, ValueError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"The team is now called “{team.name}”.")
    return redirect("team")


@login_required
def team_delete(request, pk: int):
    membership = _membership_of(request, pk)
    if membership.role != Role.OWNER:
        raise PermissionDenied("Only an owner of this team can delete it.")
    team = membership.team
    error = ""
    if request.method == "POST":
        try:
            services.team_delete(team=team, by=membership, confirm_name=request.POST.get("name", ""))
        except (PermissionError, ValueError) as exc:
            error = str(exc)
        else:
            if request.session.get(SESSION_TEAM_KEY) == pk:
                del request.session[SESSION_TEAM_KEY]
            messages.success(request, f"Team “{team.name}” was deleted.")
            return redirect("team")
    elif request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    context = {"team": team, "flow_count": team.flows.count(), "member_count": team.memberships.count(), "error": error}
    return render(request, "accounts/team_delete.html", context, status=400 if error else 200)


def invitation_accept(request, token: str):
    try:
        invitation = services.invitation_from_token(token)
    except services.InvitationError as exc:
        return render(request, "accounts/invitation.html", {"error": str(exc)}, status=400)
    signup_form = SignUpForm(initial={"email": invitation.email})
    if request.method == "POST":
        try:
            if request.user.is_authenticated:
                membership = services.invitation_accept(token=token, user=request.user)
            else:
                signup_form = SignUpForm(request.POST)
                if not signup_form.is_valid():
                    return render(request, "accounts/invitation.html", {"invitation": invitation, "form": signup_form})
                user, membership = services.invitation_signup(
                    token=token,
                    username=signup_form.cleaned_data["username"],
                    password=signup_form.cleaned_data["password1"],
                    email=signup_form.cleaned_data.get("email", ""),
                )
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        except services.InvitationError as exc:
            return render(request, "accounts/invitation.html", {"error": str(exc)}, status=400)
        request.session[SESSION_TEAM_KEY] = membership.team_id
        messages.success(request, f"Welcome to {membership.team.name}.")
        return redirect("flows")
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    return render(request, "accounts/invitation.html", {"invitation": invitation, "form": signup_form})
