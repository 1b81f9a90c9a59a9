"""Groups and group membership."""

from __future__ import annotations

from connectors.coercion import require_something
from connectors.qualtrics import fields as qf
from connectors.qualtrics.cards._base import api_fields, client_of, pick, qualtrics_card, required_text
from connectors.specs import Field

GROUP = "Groups"

GROUP_INPUTS = (
    Field("name", "Name"),
    Field(
        "type",
        "Type",
        help="A group type ID (GT_...). Qualtrics cannot list group types; copy one from Read Group.",
    ),
    Field("division_id", "Division ID", help="A division ID (DV_...); leave empty for the whole brand."),
)
GROUP_API_KEYS = {"name": "name", "type": "type", "division_id": "divisionId"}
GROUP_OUTPUTS = (
    Field("group_id", "Group ID"),
    Field("name", "Name"),
    Field("type", "Type"),
    Field("division_id", "Division ID"),
    Field("organization_id", "Organization ID"),
    Field("creation_date", "Creation Date"),
    Field("creator_id", "Creator ID", help="The user who created the group (UR_...)."),
)
GROUP_OUTPUT_KEYS = {
    "group_id": "id",
    "name": "name",
    "type": "type",
    "division_id": "divisionId",
    "organization_id": "organizationId",
    "creation_date": "creationDate",
    "creator_id": "creatorId",
}
CREATE_INPUTS = (GROUP_INPUTS[0].but(required=True), GROUP_INPUTS[1].but(required=True), GROUP_INPUTS[2])


def run_add_user_to_group(ctx, options, inputs):
    group_id = required_text(options, "group_id", "Group")
    client_of(ctx).add_group_member(group_id, required_text(inputs, "user_id", "User ID"))
    return {"added": True}


def run_remove_user_from_group(ctx, options, inputs):
    group_id = required_text(options, "group_id", "Group")
    client_of(ctx).remove_group_member(group_id, required_text(inputs, "user_id", "User ID"))
    return {"removed": True}


def run_create_group(ctx, options, inputs):
    for f in CREATE_INPUTS:
        if f.required:
            required_text(inputs, f.key, f.label)
    body = api_fields(inputs, GROUP_API_KEYS, CREATE_INPUTS)
    require_something(body, CREATE_INPUTS, action="Create Group")
    group_id = client_of(ctx).create_group(**body)
    return {"group_id": group_id}


def run_read_group(ctx, options, inputs):
    return pick(client_of(ctx).get_group(required_text(inputs, "group_id", "Group ID")), GROUP_OUTPUT_KEYS)


def run_update_group(ctx, options, inputs):
    group_id = required_text(inputs, "group_id", "Group ID")
    changes = api_fields(inputs, GROUP_API_KEYS, GROUP_INPUTS)
    require_something(changes, GROUP_INPUTS, action="Update Group")
    client_of(ctx).update_group(group_id, **changes)
    return {"updated": True}


def run_delete_group(ctx, options, inputs):
    client_of(ctx).delete_group(required_text(inputs, "group_id", "Group ID"))
    return {"deleted": True}


ADD_USER_TO_GROUP = qualtrics_card(
    name="Add User to Group",
    changes="adds the user to the chosen group in Qualtrics",
    description="Add a user to a group using their user ID",
    group=GROUP,
    options=(qf.GROUP,),
    inputs=(qf.USER_ID,),
    outputs=(Field("added", "Added", type="boolean", help="True once the user is a member of the group."),),
    run=run_add_user_to_group,
)
REMOVE_USER_FROM_GROUP = qualtrics_card(
    name="Remove User from Group",
    changes="removes the user from the chosen group in Qualtrics",
    description="Remove a user from a group using their user ID",
    group=GROUP,
    options=(qf.GROUP,),
    inputs=(qf.USER_ID,),
    outputs=(Field("removed", "Removed", type="boolean", help="True once the user is no longer in the group."),),
    run=run_remove_user_from_group,
)
CREATE_GROUP = qualtrics_card(
    name="Create Group",
    changes="creates a group in Qualtrics",
    description="Create a new user group",
    group=GROUP,
    inputs=CREATE_INPUTS,
    outputs=(Field("group_id", "Group ID", help="The new group's ID (GR_...)."),),
    run=run_create_group,
)
READ_GROUP = qualtrics_card(
    name="Read Group",
    safe=True,
    description="Read information about a user group using the group ID",
    group=GROUP,
    inputs=(qf.GROUP_ID,),
    outputs=GROUP_OUTPUTS,
    run=run_read_group,
)
UPDATE_GROUP = qualtrics_card(
    name="Update Group",
    changes="changes the group in Qualtrics",
    description="Update information about a user group",
    group=GROUP,
    inputs=(qf.GROUP_ID, *GROUP_INPUTS),
    outputs=(qf.UPDATED,),
    run=run_update_group,
)
DELETE_GROUP = qualtrics_card(
    name="Delete Group",
    changes="deletes the group in Qualtrics",
    description="Delete a group using the group ID",
    group=GROUP,
    inputs=(qf.GROUP_ID,),
    outputs=(qf.DELETED,),
    run=run_delete_group,
)
