from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Configuration, Team


class Flow(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="flows")
    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField(default=0, help_text="Number of the latest published version.")
    definition = models.JSONField(
        default=dict, help_text="The draft: what the editor saves, in any state. It never runs; Publish makes a version of it."
    )
    revision = models.PositiveIntegerField(
        default=0, help_text="Counts the draft's saves; a save names the revision it started from (optimistic concurrency)."
    )
    draft_problems = models.JSONField(
        default=list, blank=True, help_text="What validation found in the draft when it was saved: [{step, field, message}]."
    )
    draft_updated_at = models.DateTimeField(null=True, blank=True)
    live_version = models.ForeignKey(
        "FlowVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="The published version: the one the flow runs when it is active.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def has_unpublished_changes(self) -> bool:
        """Whether the draft differs from the published version (always, before a first publish)."""
        return self.live_version_id is None or self.live_version.definition != self.definition


class FlowVersion(models.Model):
    """An immutable published definition: only Publish (or Activate, which publishes first) makes
    one, so `created_by` and `created_at` say who published it and when."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["flow", "number"], name="flow_version_number_unique")]

    def __str__(self) -> str:
        return f"{self.flow} v{self.number}"


class ActivationStatus(models.TextChoices):
    INACTIVE = "inactive", "Inactive"
    ACTIVATING = "activating", "Activating"
    ACTIVE_WEBHOOK = "active_webhook", "Active (webhook)"
    ACTIVE_POLLING = "active_polling", "Active (polling)"
    ACTIVE_SCHEDULE = "active_schedule", "Active (schedule)"
    FAILING = "failing", "Failing"


# The status of an active flow for each way its trigger was enabled (connectors.specs.Enabled.mode).
MODE_STATUS = {
    "webhook": ActivationStatus.ACTIVE_WEBHOOK,
    "polling": ActivationStatus.ACTIVE_POLLING,
    "schedule": ActivationStatus.ACTIVE_SCHEDULE,
}
ACTIVE_STATUSES = (*MODE_STATUS.values(), ActivationStatus.FAILING)


class Activation(models.Model):
    flow = models.OneToOneField(Flow, on_delete=models.CASCADE, related_name="activation")
    status = models.CharField(max_length=20, choices=ActivationStatus.choices, default=ActivationStatus.INACTIVE)
    reason = models.CharField(max_length=500, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    version = models.ForeignKey(FlowVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    configuration = models.ForeignKey(Configuration, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    trigger = models.CharField(max_length=100, blank=True, help_text="Key of the event card whose trigger starts runs.")
    options = models.JSONField(default=dict, blank=True, help_text="The event card's options when it was activated.")
    mode = models.CharField(max_length=10, blank=True, help_text="webhook, polling or schedule.")
    state = models.JSONField(default=dict, blank=True, help_text="What the trigger keeps while enabled (a subscription id).")
    secret = models.CharField(max_length=64, blank=True, db_index=True, help_text="Path secret of the webhook URL.")
    shared_key_encrypted = models.BinaryField(null=True, blank=True, editable=False)
    cursor = models.TextField(blank=True, help_text="Where the next poll starts (a continuation token, the last tick).")
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_reconciled_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.flow}: {self.get_status_display()}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def shared_key(self) -> str:
        """Decrypted once per instance and ciphertext: the webhook inbox checks every delivery of
        a batch against the activation it loaded once for the batch."""
        from accounts.crypto import decrypt_text

        encrypted = self.shared_key_encrypted
        if not encrypted:
            return ""
        encrypted = bytes(encrypted)
        kept = self.__dict__.get("_shared_key")
        if kept is None or kept[0] != encrypted:
            kept = self.__dict__["_shared_key"] = (encrypted, decrypt_text(encrypted))
        return kept[1]

    @shared_key.setter
    def shared_key(self, value: str) -> None:
        from accounts.crypto import encrypt_text

        self.shared_key_encrypted = encrypt_text(value) if value else None


class DeliverySource(models.TextChoices):
    """Where a delivery came from; the event sources are stored once per (flow, event id)."""

    WEBHOOK = "webhook", "Webhook"
    POLL = "poll", "Polling"
    SCHEDULE = "schedule", "Schedule"
    TEST = "test", "Test"
    RERUN = "rerun", "Re-run"


class Delivery(models.Model):
    """An inbound event (a webhook post, a polled record, a schedule tick), stored before anything
    runs. `event_id` is the trigger's id for it (a response id, a tick's time); `payload`
    is the event's data, the event card's inputs."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=200, blank=True)
    topic = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=10, choices=DeliverySource.choices)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            # The runs list's search by response id (exact or prefix, as an index range).
            models.Index(fields=["event_id"], name="delivery_event_id"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["flow", "event_id"],
                condition=models.Q(source__in=["webhook", "poll", "schedule"]),
                name="one_delivery_per_event",
            )
        ]

    def __str__(self) -> str:
        return f"{self.flow} {self.event_id} ({self.source})"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    STOPPED = "stopped", "Stopped by Continue If"
    WAITING = "waiting", "Waiting"
    ATTENTION = "attention", "Needs attention"
    CANCELLED = "cancelled", "Cancelled"


class StepResolution(models.TextChoices):
    """What a person chose for a step that needed attention (it may have been applied)."""

    SKIPPED = "skipped", "Resumed without resending"
    RESENT = "resent", "Sent again"


class Run(models.Model):
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="runs")
    # Indexed by the (team, …) indexes below, which a lone team index would repeat.
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="runs", db_index=False)
    version = models.ForeignKey(
        FlowVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="runs",
        help_text="The published version it ran; none for a step test, which runs the draft's card.",
    )
    delivery = models.ForeignKey(Delivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs")
    rerun_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reruns",
                                 db_index=False)
    # Indexed by (status, team, id) below.
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    error = models.TextField(blank=True)
    trigger = models.JSONField(default=dict, blank=True, help_text="Outputs of the event card.")
    attempts = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True, help_text="A worker holds the run until then.")
    current_step = models.CharField(max_length=50, blank=True, help_text="The step running now.")
    progress = models.FloatField(null=True, blank=True, help_text="Percent done of the current step, when it reports it.")
    resume_at = models.DateTimeField(null=True, blank=True, help_text="A waiting run is taken up again then.")
    waited_seconds = models.FloatField(default=0, help_text="How long the run has been asked to wait, in all.")
    wait_message = models.CharField(max_length=300, blank=True, help_text="Why the run is waiting.")
    cancel_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="Someone asked to cancel the running run; it stops at its next step."
    )
    yields = models.PositiveIntegerField(
        default=0, help_text="Times the run gave way to another team's run and was taken up again (not attempts)."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["team", "flow", "-created_at"]),
            # Which teams have queued runs, and each one's oldest (the fair pick of the engine).
            models.Index(fields=["status", "team", "id"], name="run_status_team_id"),
            # The runs list: newest first by id (its cursor), per team, flow or status; its date range and the
            # dashboard's counts (read from the index alone).
            models.Index(fields=["team", "id"], name="run_team_id"),
            models.Index(fields=["team", "flow", "id"], name="run_team_flow_id"),
            models.Index(fields=["team", "status", "id"], name="run_team_status_id"),
            models.Index(fields=["team", "created_at", "flow", "status"], name="run_team_created"),
            # Columns most runs leave empty: only the runs that fill them are indexed. A run's row is
            # written into every index when the run is created, and into those holding its status or
            # its updated_at each time they change: most of the pages a run writes are index pages.
            models.Index(fields=["rerun_of"], condition=Q(rerun_of__isnull=False), name="run_rerun_of"),
            models.Index(fields=["resume_at"], condition=Q(resume_at__isnull=False), name="run_resume_at"),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} of {self.flow}"

    @property
    def duration_ms(self) -> int | None:
        if self.started_at and self.finished_at:
            return int((self.finished_at - self.started_at).total_seconds() * 1000)
        return None


class RunStep(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    step_id = models.CharField(max_length=50)
    card = models.CharField(max_length=100)
    name = models.CharField(max_length=200)
    iteration = models.CharField(max_length=100, blank=True, help_text="For Each item path, like 2 or 2.0")
    status = models.CharField(max_length=10, choices=RunStatus.choices)
    inputs = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=1, help_text="HTTP attempts the step made (tries, without any).")
    attempt_log = models.JSONField(default=list, blank=True, help_text="Each HTTP attempt: when, call, status, wait.")
    duration_ms = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=10, choices=StepResolution.choices, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", db_index=False)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "position"]
        # Only the steps a person resolved (for a member's removal): not a write per step.
        indexes = [models.Index(fields=["resolved_by"], condition=Q(resolved_by__isnull=False),
                                name="runstep_resolved_by")]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.step_id}"

    @property
    def resolution_text(self) -> str:
        """What a person decided for this step, when it needed attention."""
        if not self.resolution:
            return ""
        who = self.resolved_by.get_username() if self.resolved_by_id else "a former member"
        if self.resolution == StepResolution.SKIPPED:
            return f"Skipped by {who}: may have been applied. The run went on without resending it, with no outputs."
        return f"Sent again by {who}."


EVENT_SOURCES = (DeliverySource.WEBHOOK, DeliverySource.POLL, DeliverySource.SCHEDULE)


class StoredFile(models.Model):
    """A file a team may use in its flows: an upload, or a file a card of one of its runs wrote.

    A file value in a flow or a run's outputs carries `key` as its "id"; only the team that owns
    the record can use it (at save, at import and when a card opens it in a run). Its path alone
    grants nothing.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="stored_files")
    key = models.UUIDField(unique=True, editable=False, help_text="The id file values carry.")
    path = models.CharField(max_length=500, unique=True, help_text="Relative to MEDIA_ROOT.")
    name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    content_type = models.CharField(max_length=200, blank=True)
    run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                            help_text="The run whose card wrote it; empty for an upload.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.team_id})"


class StepSample(models.Model):
    """The pinned sample of one step of a flow: the outputs of its latest successful step test (the
    event card's: of the sample event loaded for it). The editor shows them on the output chips, and
    a later step's test reads its inputs from them."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="step_samples")
    step_id = models.CharField(max_length=50)
    card = models.CharField(max_length=100, help_text="The card the step was when it was tested.")
    outputs = models.JSONField(default=dict, blank=True)
    event_id = models.CharField(max_length=200, blank=True, help_text="The sample event's id (event card only).")
    run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                            help_text="The test run that made the sample.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["flow", "step_id"]
        constraints = [models.UniqueConstraint(fields=["flow", "step_id"], name="one_sample_per_step")]

    def __str__(self) -> str:
        return f"{self.flow_id}:{self.step_id}"


# django-tasks-db's task row as the worker claims it (a proxy: no table of its own).
from designer.dbtasks import ClaimedTask  # noqa: E402, F401
