"""XM Directory mailing lists and their contacts.

These use `directories/{d}/mailinglists`, never the legacy `/mailinglists` endpoints, which
Qualtrics retired on 2026-06-30 (qualtrics-api.md §7).
"""

from __future__ import annotations

from connectors.qualtrics import fields as qf
from connectors.qualtrics.cards._base import client_of, qualtrics_card, required_text
from connectors.qualtrics.cards.contacts import contact_body, contact_outputs
from connectors.specs import Field

GROUP = "Mailing lists"
LIST_OPTIONS = (qf.DIRECTORY, qf.MAILING_LIST)


def _list_ids(options) -> tuple[str, str]:
    return required_text(options, "directory_id", "Directory"), required_text(
        options, "mailing_list_id", "Mailing List"
    )


def run_create_contact_in_mailing_list(ctx, options, inputs):
    body = contact_body(inputs, action="Create Contact in Mailing List")
    created = client_of(ctx).create_mailing_list_contact(*_list_ids(options), **body)
    return {"contact_id": created.get("id"), "contact_lookup_id": created.get("contactLookupId")}


def run_read_contact_from_mailing_list(ctx, options, inputs):
    contact_id = required_text(inputs, "contact_id", "Contact ID")
    contact = client_of(ctx).get_mailing_list_contact(*_list_ids(options), contact_id)
    return {
        **contact_outputs(contact),
        "contact_lookup_id": contact.get("contactLookupId"),
        "mailing_list_unsubscribed": contact.get("mailingListUnsubscribed"),
    }


def run_update_contact_in_mailing_list(ctx, options, inputs):
    contact_id = required_text(inputs, "contact_id", "Contact ID")
    body = contact_body(inputs, action="Update Contact in Mailing List")
    client_of(ctx).update_mailing_list_contact(*_list_ids(options), contact_id, **body)
    return {"updated": True}


def run_delete_contact_from_mailing_list(ctx, options, inputs):
    contact_id = required_text(inputs, "contact_id", "Contact ID")
    client_of(ctx).delete_mailing_list_contact(*_list_ids(options), contact_id)
    return {"deleted": True}


def run_read_mailing_lists(ctx, options, inputs):
    lists = client_of(ctx).list_mailing_lists(required_text(options, "directory_id", "Directory"))
    return {"mailing_lists": lists, "count": len(lists)}


def run_read_mailing_list_contacts(ctx, options, inputs):
    contacts = client_of(ctx).list_mailing_list_contacts(*_list_ids(options))
    return {"contacts": contacts, "count": len(contacts)}


CREATE_CONTACT_IN_MAILING_LIST = qualtrics_card(
    name="Create Contact in Mailing List",
    changes="creates a contact in the chosen mailing list in Qualtrics",
    description="Create a new contact and add them to a list.",
    group=GROUP,
    options=LIST_OPTIONS,
    inputs=qf.CONTACT_INPUTS,
    outputs=(
        Field("contact_id", "Contact ID", help="The contact's ID (CID_...)."),
        Field("contact_lookup_id", "Contact Lookup ID", help="The contact's entry on this list (CGC_...)."),
    ),
    run=run_create_contact_in_mailing_list,
)
READ_CONTACT_FROM_MAILING_LIST = qualtrics_card(
    name="Read Contact from Mailing List",
    safe=True,
    description="Read a contact from a list using their contact ID.",
    group=GROUP,
    options=LIST_OPTIONS,
    inputs=(qf.CONTACT_ID,),
    outputs=(
        *qf.CONTACT_OUTPUTS,
        Field("contact_lookup_id", "Contact Lookup ID"),
        Field("mailing_list_unsubscribed", "Unsubscribed from List", type="boolean"),
    ),
    run=run_read_contact_from_mailing_list,
)
UPDATE_CONTACT_IN_MAILING_LIST = qualtrics_card(
    name="Update Contact in Mailing List",
    changes="changes the contact's fields in the mailing list in Qualtrics",
    description="Update a contact in a list using their contact ID.",
    group=GROUP,
    options=LIST_OPTIONS,
    inputs=(qf.CONTACT_ID, *qf.CONTACT_INPUTS),
    outputs=(qf.UPDATED,),
    run=run_update_contact_in_mailing_list,
)
DELETE_CONTACT_FROM_MAILING_LIST = qualtrics_card(
    name="Delete Contact from Mailing List",
    changes="deletes the contact from the mailing list in Qualtrics",
    description="Delete a contact using their contact ID.",
    group=GROUP,
    options=LIST_OPTIONS,
    inputs=(qf.CONTACT_ID,),
    outputs=(qf.DELETED,),
    run=run_delete_contact_from_mailing_list,
)
READ_MAILING_LISTS = qualtrics_card(
    name="Read Mailing Lists",
    safe=True,
    description="Read all of the contact lists in your instance.",
    group=GROUP,
    options=(qf.DIRECTORY,),
    outputs=(
        Field(
            "mailing_lists",
            "Mailing Lists",
            type="list",
            help="Each list as Qualtrics gives it: mailingListId, name, ownerId, creationDate, lastModifiedDate, "
            "contactCount.",
        ),
        qf.COUNT,
    ),
    run=run_read_mailing_lists,
)
READ_MAILING_LIST_CONTACTS = qualtrics_card(
    name="Read Mailing List Contacts",
    safe=True,
    description="Read all contacts on a contact list",
    group=GROUP,
    options=LIST_OPTIONS,
    outputs=(
        Field(
            "contacts",
            "Contacts",
            type="list",
            help="Each contact as Qualtrics gives it: contactId, firstName, lastName, email, phone, extRef, "
            "language, unsubscribed, mailingListUnsubscribed, contactLookupId.",
        ),
        qf.COUNT,
    ),
    run=run_read_mailing_list_contacts,
)
