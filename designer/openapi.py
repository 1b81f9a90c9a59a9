"""OpenAPI shapes of the flows, versions, activation and runs API (`designer.serializers` builds
the real answers; docs/architecture.md describes them)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from designer.models import ActivationStatus, DeliverySource, RunStatus, StepResolution

DEFINITION_HELP = 'A flow definition: {"event": {...} | null, "steps": [...]} (docs/architecture.md).'


class LastRun(serializers.Serializer):
    at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=RunStatus.choices)


class Activation(serializers.Serializer):
    """An inactive flow that was never activated has only `status` and `status_label`."""

    status = serializers.ChoiceField(choices=ActivationStatus.choices)
    status_label = serializers.CharField()
    reason = serializers.CharField(required=False, allow_blank=True)
    failing_since = serializers.DateTimeField(required=False, allow_null=True)
    trigger = serializers.CharField(required=False, allow_blank=True, help_text="The event card whose trigger is enabled.")
    mode = serializers.CharField(required=False, allow_blank=True, help_text="webhook, polling or schedule.")
    options = serializers.DictField(required=False, help_text="The event card's options when it was activated.")
    next_poll_at = serializers.DateTimeField(required=False, allow_null=True)
    version = serializers.IntegerField(required=False, allow_null=True, help_text="The pinned version.")
    last_event_at = serializers.DateTimeField(required=False, allow_null=True)
    last_polled_at = serializers.DateTimeField(required=False, allow_null=True)
    activated_at = serializers.DateTimeField(required=False, allow_null=True)
    run_counts = serializers.DictField(child=serializers.IntegerField(), required=False, help_text="Runs per status.")


class FlowSummary(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.IntegerField(help_text="Number of the latest published version (0 before the first publish).")
    live_version = serializers.IntegerField(
        allow_null=True, help_text="The published version the flow runs when active (null before the first publish)."
    )
    revision = serializers.IntegerField(help_text="The draft's revision: send it back as base_version when saving.")
    status = serializers.ChoiceField(choices=ActivationStatus.choices)
    updated_at = serializers.DateTimeField(allow_null=True)
    updated_by = serializers.CharField(allow_null=True)
    last_run = LastRun(allow_null=True)


class Problem(serializers.Serializer):
    step = serializers.CharField(help_text="A step id, 'trigger' or 'flow'.")
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class Flow(FlowSummary):
    definition = serializers.JSONField(help_text="The draft. " + DEFINITION_HELP)
    problems = Problem(many=True, help_text="The draft's problems when it was last saved: Publish refuses it until none are left.")
    has_unpublished_changes = serializers.BooleanField(help_text="Whether the draft differs from the live version.")
    draft_updated_at = serializers.DateTimeField(allow_null=True)
    activation = Activation()


class FlowImported(Flow):
    warnings = serializers.ListField(
        child=serializers.CharField(), help_text="Configuration references remapped or cleared."
    )


class FlowCreate(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, help_text="Blank gives “Untitled flow”.")


class FlowSave(serializers.Serializer):
    definition = serializers.JSONField(help_text=DEFINITION_HELP)
    base_version = serializers.IntegerField(
        allow_null=True, help_text="The draft revision the editor loaded (`revision`); a newer draft is not overwritten (409)."
    )
    name = serializers.CharField(required=False, allow_null=True, allow_blank=True)


class FlowPublish(serializers.Serializer):
    base_revision = serializers.IntegerField(
        required=False, allow_null=True, help_text="The draft revision being published; 409 if the draft changed since."
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=200)


class FlowUnpublishable(serializers.Serializer):
    detail = serializers.CharField()
    problems = Problem(many=True, required=False, help_text="The draft's problems; absent for a newer draft.")


class FlowRename(serializers.Serializer):
    name = serializers.CharField()


class FlowInvalid(serializers.Serializer):
    detail = serializers.CharField()
    errors = Problem(many=True, required=False, help_text="Absent when the body itself is not usable.")


class Version(serializers.Serializer):
    number = serializers.IntegerField()
    live = serializers.BooleanField(help_text="The version the flow runs when active.")
    published_at = serializers.DateTimeField()
    published_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField(help_text="The same as published_at: only Publish makes versions.")
    created_by = serializers.CharField(allow_null=True, help_text="The same as published_by.")
    note = serializers.CharField(allow_blank=True)


class VersionWithDefinition(Version):
    definition = serializers.JSONField(help_text=DEFINITION_HELP)


class ExportedConfiguration(serializers.Serializer):
    name = serializers.CharField()
    connector = serializers.CharField(help_text="The key of the connection's connector.")


class FlowExport(serializers.Serializer):
    format = serializers.CharField(help_text="qflows.flow/1")
    name = serializers.CharField()
    definition = serializers.JSONField(help_text=DEFINITION_HELP)
    configurations = serializers.DictField(
        child=ExportedConfiguration(), required=False, help_text="By configuration id, to remap them on import."
    )


class RunRef(serializers.Serializer):
    run = serializers.IntegerField()


class RunRefs(serializers.Serializer):
    runs = serializers.ListField(child=serializers.IntegerField())


class FlowTest(serializers.Serializer):
    event_id = serializers.CharField(help_text="The id of one of the flow's recent events (a response id, say).")


class RecentEvent(serializers.Serializer):
    id = serializers.CharField()
    label = serializers.CharField(allow_blank=True)
    data = serializers.DictField(help_text="The event's data: the event card's inputs.")


class RecentEvents(serializers.Serializer):
    events = RecentEvent(many=True)


class RunFlow(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class Run(serializers.Serializer):
    id = serializers.IntegerField()
    flow = RunFlow()
    version = serializers.IntegerField(allow_null=True, help_text="The published version it ran; null for a step test.")
    status = serializers.ChoiceField(choices=RunStatus.choices)
    status_label = serializers.CharField()
    error = serializers.CharField(allow_blank=True)
    event_id = serializers.CharField(allow_null=True, allow_blank=True, help_text="The trigger's id of the event.")
    source = serializers.ChoiceField(choices=DeliverySource.choices, allow_null=True)
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    rerun_of = serializers.IntegerField(allow_null=True)
    current_step = serializers.CharField(allow_blank=True, help_text="The step running now.")
    progress = serializers.FloatField(allow_null=True, help_text="Percent done of the current step.")
    resume_at = serializers.DateTimeField(allow_null=True, help_text="When a waiting run is taken up again.")
    wait_message = serializers.CharField(allow_blank=True, help_text="Why a waiting run waits.")


class Attempt(serializers.Serializer):
    at = serializers.DateTimeField()
    method = serializers.CharField()
    path = serializers.CharField()
    status = serializers.IntegerField(allow_null=True, help_text="The HTTP status, or null when no answer came.")
    error = serializers.CharField(allow_null=True, help_text="The error the attempt ended with.")
    waited_s = serializers.FloatField(help_text="Seconds waited before sending it (rate limit, back-off).")
    retry_after = serializers.FloatField(allow_null=True, help_text="The wait the service asked for.")
    duration_ms = serializers.IntegerField()


class RunStep(serializers.Serializer):
    position = serializers.IntegerField()
    step_id = serializers.CharField()
    card = serializers.CharField()
    name = serializers.CharField()
    iteration = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=RunStatus.choices)
    inputs = serializers.JSONField()
    outputs = serializers.JSONField()
    error = serializers.CharField(allow_blank=True)
    attempts = serializers.IntegerField(help_text="HTTP attempts the step made (its tries, when it made none).")
    attempt_log = Attempt(many=True, help_text="The HTTP attempts, the first 200.")
    duration_ms = serializers.IntegerField()
    resolution = serializers.ChoiceField(choices=["", *StepResolution.values],
                                         help_text="What a person chose when the step needed attention.")
    resolved_by = serializers.CharField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)


class RunDetail(Run):
    trigger = serializers.JSONField(help_text="Outputs of the event card.")
    steps = RunStep(many=True)


class Rerun(serializers.Serializer):
    version = serializers.ChoiceField(
        choices=["same", "current"], required=False, help_text="Its own version (default) or the flow's current one."
    )


class Resume(serializers.Serializer):
    resend = serializers.BooleanField(
        default=False, help_text="Send the step's change again, once (true), or go on without it (false)."
    )


class BulkRerun(Rerun):
    ids = serializers.ListField(child=serializers.IntegerField(), max_length=500)


class BulkCancel(serializers.Serializer):
    """Either `ids`, or `filter` with the list's filters (the newest 500 runs that match)."""

    ids = serializers.ListField(child=serializers.IntegerField(), max_length=500, required=False)
    filter = serializers.DictField(
        child=serializers.CharField(), required=False,
        help_text="The filters of GET /api/runs/ (flow, status, source, since, until, event, q, tz).",
    )


class BulkCancelled(serializers.Serializer):
    cancelled = serializers.ListField(child=serializers.IntegerField(), help_text="Runs cancelled or stopping.")
    ended = serializers.ListField(child=serializers.IntegerField(), help_text="Runs that had already ended.")


RUN_FILTERS = [
    OpenApiParameter("flow", OpenApiTypes.INT, description="Only this flow's runs."),
    OpenApiParameter("status", OpenApiTypes.STR, enum=RunStatus.values, description="Only runs with this status."),
    OpenApiParameter("outcome", OpenApiTypes.STR, enum=RunStatus.values, description="The same as `status` (older name)."),
    OpenApiParameter("source", OpenApiTypes.STR, enum=DeliverySource.values,
                     description="Only runs whose event came this way (webhook, poll, schedule, test, rerun)."),
    OpenApiParameter("since", OpenApiTypes.STR, description="Runs created from then: a date (from its start, in `tz`) "
                     "or an ISO 8601 date and time."),
    OpenApiParameter("until", OpenApiTypes.STR, description="Runs created before then: a date (up to its end, in "
                     "`tz`) or an ISO 8601 date and time."),
    OpenApiParameter("tz", OpenApiTypes.STR, description="The IANA time zone bare dates are read in; UTC without one."),
    OpenApiParameter("event", OpenApiTypes.STR, description="The event's id (a response id), exact or its start."),
    OpenApiParameter("q", OpenApiTypes.STR, description="Text anywhere in the steps' outputs. Not indexed: each page "
                     "reads the outputs of at most the newest 5,000 runs matching the other filters; follow `next` "
                     "to search older ones (a page may then hold fewer runs, even none)."),
    OpenApiParameter("cursor", OpenApiTypes.STR, description="The `X-Next-Cursor` of the previous page."),
    OpenApiParameter("limit", OpenApiTypes.INT, description="Runs per page, 1–200 (200 without it)."),
]
VERSION_NUMBER = OpenApiParameter("number", OpenApiTypes.INT, OpenApiParameter.PATH)


class FileUpload(serializers.Serializer):
    file = serializers.FileField(help_text="At most MAX_IMPORT_FILE_SIZE (5 MB).")


class FileValue(serializers.Serializer):
    type = serializers.ChoiceField(choices=["file"])
    id = serializers.UUIDField(help_text="The team's record of the file: only this team's flows can use the value.")
    path = serializers.CharField(help_text="Relative to the file storage; under the team's uploads.")
    name = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()


class StepTest(serializers.Serializer):
    definition = serializers.JSONField(
        required=False, help_text=DEFINITION_HELP + " The editor's, with the step as it is now (it may not be saved); "
        "the latest saved definition when absent. It is validated as a save is; only problems of the tested card "
        "refuse the test.")
    confirm = serializers.BooleanField(
        required=False, default=False,
        help_text="Test a card that changes something (creates a contact, sends a message): without it such a test "
        "is refused with 409 and what it would change.")


class StepTestResult(serializers.Serializer):
    status = serializers.ChoiceField(choices=RunStatus.choices, help_text="succeeded or failed.")
    inputs = serializers.JSONField(help_text="The card's inputs, resolved against the pinned samples.")
    outputs = serializers.JSONField(help_text="What the card gave, pinned as the step's sample; {} when it failed.")
    error = serializers.CharField(allow_blank=True)
    duration_ms = serializers.IntegerField()
    run = serializers.IntegerField(help_text="The test's run (its delivery's source is test: no alerts).")


class ConfirmationNeeded(serializers.Serializer):
    detail = serializers.CharField()
    changes = serializers.CharField(help_text="What the card would change, in the words its connector "
                                              "declares, like “creates a contact in the chosen mailing list”.")


class SampleLoad(serializers.Serializer):
    definition = serializers.JSONField(required=False, help_text="As for a step test.")
    event_id = serializers.CharField(
        required=False, allow_blank=True,
        help_text="One of the trigger's recent events (recent-events); the latest one when absent.")
    data = serializers.DictField(
        required=False, help_text="An event's data as pasted, the event card's inputs (a webhook's body, headers…), "
        "instead of an event of the trigger.")


class SampleResult(StepTestResult):
    event_id = serializers.CharField(help_text="The sample event's id.")


class StepSample(serializers.Serializer):
    card = serializers.CharField()
    outputs = serializers.JSONField()
    event_id = serializers.CharField(allow_blank=True)
    run = serializers.IntegerField(allow_null=True)
    updated_at = serializers.DateTimeField()


class StepSamples(serializers.Serializer):
    samples = serializers.DictField(child=StepSample(), help_text="By step id (“trigger” for the event card).")


STEP_ID = OpenApiParameter("step_id", OpenApiTypes.STR, OpenApiParameter.PATH,
                           description="The card's id in the definition (“trigger” for the event card).")
