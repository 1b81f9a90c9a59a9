"""XM Directory contacts: Create, Read, Update and Delete Contact."""

from __future__ import annotations

from typing import Any

from connectors.coercion import as_text, require_something
from connectors.qualtrics import fields as qf
from connectors.qualtrics.cards._base import api_fields, client_of, qualtrics_card, required_text
from connectors.specs import Field

GROUP = "Contacts"
TARGET_AUDIENCE = " Available to Target Audience users only."


def contact_outputs(contact: dict[str, Any] | None) -> dict[str, Any]:
    contact = contact or {}
    return {
        "contact_id": contact.get("contactId") or contact.get("id"),
        "first_name": contact.get("firstName"),
        "last_name": contact.get("lastName"),
        "email": contact.get("email"),
        "phone": contact.get("phone"),
        "external_reference": contact.get("extRef"),
        "language": contact.get("language"),
        "unsubscribed": contact.get("unsubscribed"),
        "embedded_data": contact.get("embeddedData") or {},
    }


def contact_body(inputs, *, action: str) -> dict[str, Any]:
    """The contact's JSON body; CardInputError when every input is empty (`action` names the card)."""
    body = api_fields(inputs, qf.CONTACT_API_KEYS, qf.CONTACT_INPUTS)
    if "embeddedData" in body:
        # Qualtrics stores embedded data as strings (qualtrics-api.md §8).
        body["embeddedData"] = {str(k): "" if v is None else as_text(v) for k, v in body["embeddedData"].items()}
    require_something(body, qf.CONTACT_INPUTS, action=action)
    return body


def mailing_list_membership(membership: Any) -> list[dict[str, Any]]:
    """Qualtrics gives the lists a contact is on as an object keyed by list id (§8); the output
    is a list, one entry per mailing list, with its id among the entry's fields."""
    if isinstance(membership, list):
        return membership
    if not isinstance(membership, dict):
        return []
    return [{"mailingListId": list_id, **(entry if isinstance(entry, dict) else {})} for list_id, entry in membership.items()]


def run_create_contact(ctx, options, inputs):
    directory_id = required_text(options, "directory_id", "Directory")
    body = contact_body(inputs, action="Create Contact")
    return {"contact_id": client_of(ctx).create_contact(directory_id, **body)}


def run_read_contact(ctx, options, inputs):
    directory_id = required_text(options, "directory_id", "Directory")
    contact = client_of(ctx).get_contact(directory_id, required_text(inputs, "contact_id", "Contact ID"))
    return {
        **contact_outputs(contact),
        "creation_date": contact.get("creationDate"),
        "last_modified": contact.get("lastModified"),
        "mailing_list_membership": mailing_list_membership(contact.get("mailingListMembership")),
    }


def run_update_contact(ctx, options, inputs):
    directory_id = required_text(options, "directory_id", "Directory")
    contact_id = required_text(inputs, "contact_id", "Contact ID")
    body = contact_body(inputs, action="Update Contact")
    client_of(ctx).update_contact(directory_id, contact_id, **body)
    return {"updated": True}


def run_delete_contact(ctx, options, inputs):
    directory_id = required_text(options, "directory_id", "Directory")
    client_of(ctx).delete_contact(directory_id, required_text(inputs, "contact_id", "Contact ID"))
    return {"deleted": True}


CREATE_CONTACT = qualtrics_card(
    name="Create Contact",
    changes="creates a contact in the chosen directory in Qualtrics",
    description="Create a new contact and add them to a directory." + TARGET_AUDIENCE,
    group=GROUP,
    options=(qf.DIRECTORY,),
    inputs=qf.CONTACT_INPUTS,
    outputs=(Field("contact_id", "Contact ID", help="The new contact's ID (CID_...)."),),
    run=run_create_contact,
)
READ_CONTACT = qualtrics_card(
    name="Read Contact",
    safe=True,
    description="Read a contact from a directory using their contact ID." + TARGET_AUDIENCE,
    group=GROUP,
    options=(qf.DIRECTORY,),
    inputs=(qf.CONTACT_ID,),
    outputs=(
        *qf.CONTACT_OUTPUTS,
        Field("creation_date", "Creation Date", help="When the contact was created (epoch milliseconds)."),
        Field("last_modified", "Last Modified", help="When the contact last changed (epoch milliseconds)."),
        Field(
            "mailing_list_membership",
            "Mailing List Membership",
            type="list",
            help="The lists the contact is on, one entry each: mailingListId, name, contactLookupId, unsubscribed, "
            "unsubscribeDate, ownerId.",
        ),
    ),
    run=run_read_contact,
)
UPDATE_CONTACT = qualtrics_card(
    name="Update Contact",
    changes="changes the contact's fields in Qualtrics",
    description="Update a contact in a directory using their contact ID." + TARGET_AUDIENCE,
    group=GROUP,
    options=(qf.DIRECTORY,),
    inputs=(qf.CONTACT_ID, *qf.CONTACT_INPUTS),
    outputs=(qf.UPDATED,),
    run=run_update_contact,
)
DELETE_CONTACT = qualtrics_card(
    name="Delete Contact",
    changes="deletes the contact from the directory in Qualtrics",
    description="Delete a contact using their contact ID." + TARGET_AUDIENCE,
    group=GROUP,
    options=(qf.DIRECTORY,),
    inputs=(qf.CONTACT_ID,),
    outputs=(qf.DELETED,),
    run=run_delete_contact,
)
