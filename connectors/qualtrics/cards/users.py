"""Users: Create, Read, Update and Delete User (brand administrator token needed)."""

from __future__ import annotations

from connectors.coercion import require_something
from connectors.qualtrics import fields as qf
from connectors.qualtrics.cards._base import api_fields, client_of, pick, qualtrics_card, required_text
from connectors.specs import Field, choices

GROUP = "Users"

USER_INPUTS = (
    Field("username", "Username", help="The name the user signs in with."),
    Field("email", "Email"),
    Field("first_name", "First Name"),
    Field("last_name", "Last Name"),
    Field("user_type", "User Type", help="A user type ID (UT_...). Copy it from an existing user with Read User."),
    Field("password", "Password"),
    Field("language", "Language", help="Language code, such as en."),
    Field("time_zone", "Time Zone", help="Time zone name, such as America/Denver."),
    Field("division_id", "Division ID", help="A division ID (DV_...)."),
)
USER_API_KEYS = {
    "username": "username",
    "email": "email",
    "first_name": "firstName",
    "last_name": "lastName",
    "user_type": "userType",
    "password": "password",
    "language": "language",
    "time_zone": "timeZone",
    "division_id": "divisionId",
    "status": "status",
}
REQUIRED_TO_CREATE = ("username", "email", "first_name", "last_name", "user_type", "password")

USER_OUTPUTS = (
    Field("user_id", "User ID"),
    Field("username", "Username"),
    Field("email", "Email"),
    Field("first_name", "First Name"),
    Field("last_name", "Last Name"),
    Field("user_type", "User Type"),
    Field("division_id", "Division ID"),
    Field("organization_id", "Organization ID"),
    Field("language", "Language"),
    Field("time_zone", "Time Zone"),
    Field("account_status", "Account Status"),
    Field("account_creation_date", "Account Creation Date"),
    Field("last_login_date", "Last Login Date"),
    Field("permissions", "Permissions", type="object"),
)
USER_OUTPUT_KEYS = {
    "user_id": "id",
    "username": "username",
    "email": "email",
    "first_name": "firstName",
    "last_name": "lastName",
    "user_type": "userType",
    "division_id": "divisionId",
    "organization_id": "organizationId",
    "language": "language",
    "time_zone": "timeZone",
    "account_status": "accountStatus",
    "account_creation_date": "accountCreationDate",
    "last_login_date": "lastLoginDate",
    "permissions": "permissions",
}

CREATE_INPUTS = tuple(f.but(required=True) if f.key in REQUIRED_TO_CREATE else f for f in USER_INPUTS)
UPDATE_INPUTS = (
    qf.USER_ID,
    *USER_INPUTS[:5],
    *USER_INPUTS[6:],
    Field("status", "Status", choices=choices("Enabled", "Disabled"), help="Enable or disable the account."),
)


def run_create_user(ctx, options, inputs):
    for f in CREATE_INPUTS:
        if f.required:
            required_text(inputs, f.key, f.label)
    body = api_fields(inputs, USER_API_KEYS, CREATE_INPUTS)
    require_something(body, CREATE_INPUTS, action="Create User")
    user_id = client_of(ctx).create_user(**body)
    return {"user_id": user_id}


def run_read_user(ctx, options, inputs):
    user = client_of(ctx).get_user(required_text(inputs, "user_id", "User ID"))
    return pick(user, USER_OUTPUT_KEYS)


def run_update_user(ctx, options, inputs):
    user_id = required_text(inputs, "user_id", "User ID")
    changes = api_fields(inputs, USER_API_KEYS, UPDATE_INPUTS[1:])
    require_something(changes, UPDATE_INPUTS[1:], action="Update User")
    client_of(ctx).update_user(user_id, **changes)
    return {"updated": True}


def run_delete_user(ctx, options, inputs):
    client_of(ctx).delete_user(required_text(inputs, "user_id", "User ID"))
    return {"deleted": True}


CREATE_USER = qualtrics_card(
    name="Create User",
    changes="creates a user in Qualtrics",
    description="Create a new user using their email",
    group=GROUP,
    inputs=CREATE_INPUTS,
    outputs=(Field("user_id", "User ID", help="The new user's ID (UR_...)."),),
    run=run_create_user,
)
READ_USER = qualtrics_card(
    name="Read User",
    safe=True,
    description="Read information about a user using their user ID",
    group=GROUP,
    inputs=(qf.USER_ID,),
    outputs=USER_OUTPUTS,
    run=run_read_user,
)
UPDATE_USER = qualtrics_card(
    name="Update User",
    changes="changes the user in Qualtrics",
    description="Update a user using their user ID",
    group=GROUP,
    inputs=UPDATE_INPUTS,
    outputs=(qf.UPDATED,),
    run=run_update_user,
)
DELETE_USER = qualtrics_card(
    name="Delete User",
    changes="deletes the user in Qualtrics",
    description="Delete a user using their user ID",
    group=GROUP,
    inputs=(qf.USER_ID,),
    outputs=(qf.DELETED,),
    run=run_delete_user,
)
