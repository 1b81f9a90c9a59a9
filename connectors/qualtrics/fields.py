"""Fields shared by several Qualtrics cards: account pickers and the common record fields."""

from __future__ import annotations

from connectors.specs import Field

# Pickers loaded from the account ---------------------------------------------------------------

SURVEY = Field(
    "survey_id",
    "Survey",
    required=True,
    source="surveys",
    help="Drop down menu of survey within your Qualtrics account.",
)
DIRECTORY = Field(
    "directory_id",
    "Directory",
    required=True,
    source="directories",
    help="The XM Directory (POOL_...) that holds the contacts.",
)
MAILING_LIST = Field(
    "mailing_list_id",
    "Mailing List",
    required=True,
    source="mailing_lists",
    depends_on=("directory_id",),
    help="A mailing list (CG_...) of the chosen directory.",
)
GROUP = Field(
    "group_id", "Group", required=True, source="groups", help="Drop down menu of groups within your Qualtrics account."
)

# Ids typed in or taken from an earlier card --------------------------------------------------------

SURVEY_ID = Field("survey_id", "Survey ID", required=True, help="The survey's ID (SV_...).")
USER_ID = Field("user_id", "User ID", required=True, help="The user's ID (UR_...).")
GROUP_ID = Field("group_id", "Group ID", required=True, help="The group's ID (GR_...).")
CONTACT_ID = Field("contact_id", "Contact ID", required=True, help="The contact's ID (CID_...).")

# Results of writes ---------------------------------------------------------------------------------

DELETED = Field("deleted", "Deleted", type="boolean", help="True once Qualtrics has deleted it.")
UPDATED = Field("updated", "Updated", type="boolean", help="True once Qualtrics has saved the change.")
COUNT = Field("count", "Count", type="number", help="How many items were read.")

# Contact fields (XM Directory), by input key -> Qualtrics JSON key ----------------------------------

CONTACT_INPUTS = (
    Field("first_name", "First Name"),
    Field("last_name", "Last Name"),
    Field("email", "Email"),
    Field("phone", "Phone"),
    Field("external_reference", "External Reference", help="Your own identifier for this contact (extRef)."),
    Field("language", "Language", help="Language code, such as EN or FR."),
    Field("unsubscribed", "Unsubscribed", type="boolean", help="True to stop all email to this contact."),
    Field("embedded_data", "Embedded Data", type="object", help='Extra fields, for example {"plan": "gold"}.'),
)
CONTACT_API_KEYS = {
    "first_name": "firstName",
    "last_name": "lastName",
    "email": "email",
    "phone": "phone",
    "external_reference": "extRef",
    "language": "language",
    "unsubscribed": "unsubscribed",
    "embedded_data": "embeddedData",
}
CONTACT_OUTPUTS = (
    Field("contact_id", "Contact ID"),
    Field("first_name", "First Name"),
    Field("last_name", "Last Name"),
    Field("email", "Email"),
    Field("phone", "Phone"),
    Field("external_reference", "External Reference"),
    Field("language", "Language"),
    Field("unsubscribed", "Unsubscribed", type="boolean"),
    Field("embedded_data", "Embedded Data", type="object"),
)
