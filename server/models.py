"""The data model. Every table of the product is declared here; schema.py creates and migrates them.

Names follow the domain: an organisation has departments and users; candidates apply to openings
(job requisitions owned by a department); an interview of a candidate has recordings; analysis of a
recording yields versioned reports; taggers turn reports into candidate tags with evidence moments;
grants give explicit access beyond a role; audit events form a hash chain.
"""

from __future__ import annotations

import contextlib
import datetime as dt

import peewee as pw

from .db import JSONField, database
from . import statements

ROLES = ("it_admin", "hr", "dept_head", "interviewer", "candidate")
"""The roles a user can hold; one user may hold several (an IT admin who is also HR)."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class BaseModel(pw.Model):
    class Meta:
        database = database
        legacy_table_names = False


class SchemaVersion(BaseModel):
    """One row per applied schema migration."""

    version = pw.IntegerField(primary_key=True)
    name = pw.CharField()
    applied_at = pw.DateTimeField(default=utcnow)


class Organisation(BaseModel):
    name = pw.CharField()
    settings = JSONField(default=dict)
    created_at = pw.DateTimeField(default=utcnow)


class Department(BaseModel):
    organisation = pw.ForeignKeyField(Organisation, backref="departments", on_delete="CASCADE")
    name = pw.CharField()
    code = pw.CharField(null=True)

    class Meta:
        indexes = ((("organisation", "name"), True),)


class User(BaseModel):
    organisation = pw.ForeignKeyField(Organisation, backref="users", on_delete="CASCADE")
    username = pw.CharField(unique=True)
    email = pw.CharField(null=True)
    display_name = pw.CharField(default="")
    password_hash = pw.CharField(null=True)  # null: cannot sign in with a password
    locale = pw.CharField(null=True)  # null: follow the browser
    is_active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)
    last_login_at = pw.DateTimeField(null=True)

    @property
    def roles(self) -> set[str]:
        # Read on every request on purpose: a role change takes effect at the next request.
        return self._pinned_read("roles", self._read_roles)

    def _read_roles(self) -> set[str]:
        # Read on every request: rendered once (statements.py).
        cursor = statements.execute(self._meta.database, ("user_roles",),
                                    lambda: UserRole.select(UserRole.role).where(UserRole.user == self.id), (self.id,))
        return {role for (role,) in cursor}

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    @property
    def department_ids(self) -> set[int]:
        return self._pinned_read("departments", self._read_department_ids)

    def _read_department_ids(self) -> set[int]:
        return {m.department_id for m in UserDepartment.select(UserDepartment.department).where(UserDepartment.user == self)}

    def _pinned_read(self, key: str, read) -> set:
        """read(), or inside an access_pinned() block the block's one reading of it (a copy)."""
        pinned = self.__dict__.get("_pinned_access")
        if pinned is None:
            return read()
        if pinned.get(key) is None:
            pinned[key] = frozenset(read())
        return set(pinned[key])

    def access_cache(self) -> dict | None:
        """The dict of the current access_pinned() block, where permission plugins keep what they
        read for a batch of checks (hook talentreel_permission_prefetch); None outside a block."""
        return self.__dict__.get("_pinned_access")

    @contextlib.contextmanager
    def access_pinned(self):
        """Within the block, roles and departments are read from the database once, not at each
        use: a search asks the permission hook about every row it shows, and each ask read the
        roles again (one query per row). Used for one operation inside one request only, so a role
        change still takes effect at the next request. Nested blocks share the outer reading."""
        if "_pinned_access" in self.__dict__:
            yield self
            return
        self.__dict__["_pinned_access"] = {}
        try:
            yield self
        finally:
            self.__dict__.pop("_pinned_access", None)


class UserRole(BaseModel):
    user = pw.ForeignKeyField(User, backref="role_rows", on_delete="CASCADE")
    role = pw.CharField(choices=[(r, r) for r in ROLES])

    class Meta:
        indexes = ((("user", "role"), True),)


class UserDepartment(BaseModel):
    """A user's membership of a department (a dept_head sees the candidates of its departments)."""

    user = pw.ForeignKeyField(User, backref="department_rows", on_delete="CASCADE")
    department = pw.ForeignKeyField(Department, backref="member_rows", on_delete="CASCADE")

    class Meta:
        indexes = ((("user", "department"), True),)


class SetupToken(BaseModel):
    """The one-time admin bootstrap printed on first start when no user exists."""

    token_hash = pw.CharField(unique=True)
    created_at = pw.DateTimeField(default=utcnow)
    used_at = pw.DateTimeField(null=True)


class WebSession(BaseModel):
    """A server-side session; the cookie carries only a random id whose hash is stored here."""

    user = pw.ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    token_hash = pw.CharField(unique=True)
    created_at = pw.DateTimeField(default=utcnow)
    last_seen_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField()
    revoked_at = pw.DateTimeField(null=True)
    ip = pw.CharField(null=True)
    user_agent = pw.CharField(null=True)
    data = JSONField(default=dict)


class ApiToken(BaseModel):
    """A bearer token for integrations; only its hash is stored, the prefix identifies it in lists."""

    user = pw.ForeignKeyField(User, backref="api_tokens", on_delete="CASCADE")
    name = pw.CharField()
    prefix = pw.CharField(index=True)
    token_hash = pw.CharField(unique=True)
    created_at = pw.DateTimeField(default=utcnow)
    last_used_at = pw.DateTimeField(null=True)
    revoked_at = pw.DateTimeField(null=True)


class LoginAttempt(BaseModel):
    """Sign-in attempts, kept for the rate limit (shared by every web process through the database)."""

    username = pw.CharField(index=True)
    ip = pw.CharField(index=True)
    succeeded = pw.BooleanField()
    at = pw.DateTimeField(default=utcnow, index=True)


class Candidate(BaseModel):
    organisation = pw.ForeignKeyField(Organisation, backref="candidates", on_delete="CASCADE")
    name = pw.CharField()
    email = pw.CharField(null=True, index=True)
    phone = pw.CharField(null=True, index=True)
    user = pw.ForeignKeyField(User, null=True, backref="candidate_profiles", on_delete="SET NULL")
    in_talent_pool = pw.BooleanField(default=False)
    created_at = pw.DateTimeField(default=utcnow)
    legal_hold = pw.BooleanField(default=False)  # no erasure, no retention sweep while set (migration 11)


class Opening(BaseModel):
    """A job requisition, owned by a department."""

    organisation = pw.ForeignKeyField(Organisation, backref="openings", on_delete="CASCADE")
    department = pw.ForeignKeyField(Department, backref="openings", on_delete="RESTRICT")
    title = pw.CharField()
    status = pw.CharField(default="open", choices=[("open", "open"), ("closed", "closed")])
    created_at = pw.DateTimeField(default=utcnow)
    closed_at = pw.DateTimeField(null=True)


class Application(BaseModel):
    """A candidate applying to (or attached from the talent pool to) an opening."""

    candidate = pw.ForeignKeyField(Candidate, backref="applications", on_delete="CASCADE")
    opening = pw.ForeignKeyField(Opening, backref="applications", on_delete="CASCADE")
    status = pw.CharField(default="applied")
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("candidate", "opening"), True),)


class Interview(BaseModel):
    candidate = pw.ForeignKeyField(Candidate, backref="interviews", on_delete="CASCADE")
    opening = pw.ForeignKeyField(Opening, null=True, backref="interviews", on_delete="SET NULL")
    scheduled_at = pw.DateTimeField(null=True)
    questions = JSONField(default=list)  # ["question text", ...] in the order asked
    status = pw.CharField(default="scheduled")
    created_at = pw.DateTimeField(default=utcnow)
    candidate_feedback = pw.TextField(null=True)  # what HR tells the candidate, shown in the portal (migration 11)


class InterviewInterviewer(BaseModel):
    interview = pw.ForeignKeyField(Interview, backref="interviewer_rows", on_delete="CASCADE")
    user = pw.ForeignKeyField(User, backref="interview_rows", on_delete="CASCADE")

    class Meta:
        indexes = ((("interview", "user"), True),)


RECORDING_STATES = ("uploaded", "processing", "ready", "failed")
RECORDING_TRANSITIONS = {
    "uploaded": {"processing", "failed"},
    "processing": {"ready", "failed"},
    "failed": {"processing"},  # a retry
    "ready": {"processing"},  # re-processing, e.g. after a media pipeline upgrade
}


class InvalidTransition(ValueError):
    pass


class Recording(BaseModel):
    candidate = pw.ForeignKeyField(Candidate, backref="recordings", on_delete="CASCADE")
    interview = pw.ForeignKeyField(Interview, null=True, backref="recordings", on_delete="SET NULL")
    state = pw.CharField(default="uploaded", choices=[(s, s) for s in RECORDING_STATES], index=True)
    error = pw.TextField(null=True)
    original_name = pw.CharField(null=True)
    size_bytes = pw.BigIntegerField(default=0)
    duration_seconds = pw.FloatField(null=True)
    sha256 = pw.CharField(null=True)
    media = JSONField(default=dict)  # probe results, how it was processed, stored object keys
    tier = pw.CharField(default="hot")
    shared_with_candidate = pw.BooleanField(default=False)  # the candidate may replay it in the portal (migration 11)
    # Where it came from, unique so a retried arrival cannot make a second recording:
    # "upload:<tus token>", "ingest:<sha256>" or "<migrator kind>:<legacy id>".
    source_ref = pw.CharField(null=True, unique=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    last_played_at = pw.DateTimeField(null=True)

    def transition(self, new_state: str, error: str | None = None) -> None:
        """Move along the state machine; a failure keeps its error, leaving failure clears it."""
        if new_state not in RECORDING_TRANSITIONS.get(self.state, set()):
            raise InvalidTransition(f"recording {self.id}: cannot go from {self.state} to {new_state}")
        self.state = new_state
        self.error = error if new_state == "failed" else None
        self.updated_at = utcnow()
        self.save()


class Report(BaseModel):
    """A versioned analysis report of one recording; a new analysis adds a version, never overwrites."""

    recording = pw.ForeignKeyField(Recording, backref="reports", on_delete="CASCADE")
    version = pw.IntegerField()
    schema_version = pw.CharField(default="1")
    data = JSONField(default=dict)
    analyzers = JSONField(default=dict)  # {name: version} that produced it
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("recording", "version"), True),)


TAG_KINDS = ("competency", "skill", "scene", "manual", "legacy")


class Tag(BaseModel):
    organisation = pw.ForeignKeyField(Organisation, backref="tags", on_delete="CASCADE")
    name = pw.CharField()
    kind = pw.CharField(default="competency", choices=[(k, k) for k in TAG_KINDS])
    label_en = pw.CharField(null=True)
    label_zh = pw.CharField(null=True)
    merged_into = pw.ForeignKeyField("self", null=True, backref="merged", on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("organisation", "name"), True),)


class CandidateTag(BaseModel):
    candidate = pw.ForeignKeyField(Candidate, backref="tags", on_delete="CASCADE")
    # No index of its own: the (tag, score, candidate) and (tag, candidate, score) indexes lead with
    # it (schema.py, migrations 10 and 12).
    tag = pw.ForeignKeyField(Tag, backref="candidate_tags", on_delete="CASCADE", index=False)
    score = pw.FloatField(null=True)
    source = pw.CharField(default="manual")  # tagger plugin name, "manual" or "migration"
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    # The recording whose report a tagger read (null for manual and migrated tags): a new
    # analysis of that recording replaces these rows, and only these (migration 9).
    recording = pw.ForeignKeyField(Recording, null=True, backref="candidate_tags", on_delete="CASCADE")


class TagEvidence(BaseModel):
    """A moment of a recording that justifies a candidate tag."""

    candidate_tag = pw.ForeignKeyField(CandidateTag, backref="evidence", on_delete="CASCADE")
    recording = pw.ForeignKeyField(Recording, backref="tag_evidence", on_delete="CASCADE")
    start_seconds = pw.FloatField()
    end_seconds = pw.FloatField()
    note = pw.TextField(null=True)


GRANT_PERMISSIONS = ("view", "edit")


class Grant(BaseModel):
    """Explicit access of a user to one candidate, beyond what the user's roles give."""

    user = pw.ForeignKeyField(User, backref="grants", on_delete="CASCADE")
    candidate = pw.ForeignKeyField(Candidate, backref="grants", on_delete="CASCADE")
    permission = pw.CharField(default="view", choices=[(p, p) for p in GRANT_PERMISSIONS])
    granted_by = pw.ForeignKeyField(User, null=True, backref="grants_given", on_delete="SET NULL")
    reason = pw.TextField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField(null=True)
    revoked_at = pw.DateTimeField(null=True)
    last_used_at = pw.DateTimeField(null=True)


class AuditEvent(BaseModel):
    """One entry of the audit trail; `hash` chains it to the previous entry (see audit.py)."""

    at = pw.DateTimeField(default=utcnow, index=True)
    actor = pw.ForeignKeyField(User, null=True, backref="audit_events", on_delete="SET NULL", lazy_load=False)
    actor_name = pw.CharField(default="")
    action = pw.CharField(index=True)
    object_type = pw.CharField(null=True)
    object_id = pw.CharField(null=True)
    ip = pw.CharField(null=True)
    details = JSONField(default=dict)
    prev_hash = pw.CharField(unique=True)  # unique: two writers cannot both extend the same head
    hash = pw.CharField(unique=True)


WORK_STATES = ("pending", "running", "done", "failed", "cancelled")


class WorkItem(BaseModel):
    """Work to do, as the database knows it. Redis (RQ) only carries it: the reconciler re-enqueues
    pending or running items whose RQ job is gone, so losing Redis loses no work."""

    queue = pw.CharField(index=True)
    func = pw.CharField()  # dotted path of the job function
    args = JSONField(default=list)  # ids only
    state = pw.CharField(default="pending", choices=[(s, s) for s in WORK_STATES], index=True)
    attempts = pw.IntegerField(default=0)
    error = pw.TextField(null=True)
    progress = JSONField(default=dict)
    result = JSONField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    @property
    def rq_job_id(self) -> str:
        return f"talentreel-work-{self.id}"


class CandidateKey(BaseModel):
    """A candidate's own key (see docs/encryption.md): it wraps the data key of every object stored
    for the candidate and is itself wrapped by a key-encryption key. Destroying it (wrapped set to
    NULL, the row kept as a tombstone) makes those objects unreadable in every copy of them."""

    candidate = pw.ForeignKeyField(Candidate, unique=True, backref="key_rows", on_delete="CASCADE")
    kek_version = pw.IntegerField(null=True, index=True)  # null once destroyed
    wrapped = pw.CharField(max_length=128, null=True)
    created_at = pw.DateTimeField(default=utcnow)
    rewrapped_at = pw.DateTimeField(null=True)
    destroyed_at = pw.DateTimeField(null=True)


class DataKey(BaseModel):
    """The data key of one encrypted object in storage, wrapped by its candidate's key (or, for an
    object of no candidate, directly by a key-encryption key). `object_id` is the id written in the
    object's header; two rows name the same `object_key` only while a replacement is in flight."""

    object_id = pw.CharField(max_length=32, unique=True)
    object_key = pw.CharField(index=True)  # the storage backend's key
    candidate_key = pw.ForeignKeyField(CandidateKey, null=True, backref="data_keys", on_delete="CASCADE")
    kek_version = pw.IntegerField(null=True, index=True)  # set only when wrapped directly by a KEK
    wrapped = pw.CharField(max_length=128)
    plaintext_size = pw.BigIntegerField(null=True)  # null until the object is stored
    ciphertext_size = pw.BigIntegerField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    rewrapped_at = pw.DateTimeField(null=True)
    stored_at = pw.DateTimeField(null=True)  # null: the put is in flight, or was interrupted


UPLOAD_STATES = ("receiving", "complete", "failed")


class Upload(BaseModel):
    """A resumable (tus) upload of a recording. Its bytes arrive in a part file under the data
    directory named by `token` (never by the client's file name); `received_bytes` counts only
    bytes known to be on disk, so a resumed upload continues from there. The row outlives the part
    file as a receipt (complete: the recording it became; failed: why) until the expiry cleanup."""

    token = pw.CharField(max_length=32, unique=True)  # random; the upload's URL and part file name
    user = pw.ForeignKeyField(User, backref="uploads", on_delete="CASCADE")
    candidate = pw.ForeignKeyField(Candidate, backref="uploads", on_delete="CASCADE")
    interview = pw.ForeignKeyField(Interview, null=True, backref="uploads", on_delete="SET NULL")
    filename = pw.CharField(null=True)  # sanitised client file name, metadata only
    filetype = pw.CharField(null=True)  # what the client claims; validation probes the content
    size_bytes = pw.BigIntegerField()  # Upload-Length
    received_bytes = pw.BigIntegerField(default=0)  # Upload-Offset
    state = pw.CharField(default="receiving", choices=[(s, s) for s in UPLOAD_STATES], index=True)
    error = pw.TextField(null=True)
    recording = pw.ForeignKeyField(Recording, null=True, backref="uploads", on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow, index=True)  # last bytes received: expiry counts from here


ALL_MODELS = (
    SchemaVersion,
    Organisation,
    Department,
    User,
    UserRole,
    UserDepartment,
    SetupToken,
    WebSession,
    ApiToken,
    LoginAttempt,
    Candidate,
    Opening,
    Application,
    Interview,
    InterviewInterviewer,
    Recording,
    Report,
    Tag,
    CandidateTag,
    TagEvidence,
    Grant,
    AuditEvent,
    WorkItem,
    CandidateKey,
    DataKey,
    Upload,
)


class CandidateNote(BaseModel):
    """A note about a candidate (a reviewer's remark, an old system's comment), optionally tied to
    one of the candidate's interviews."""

    candidate = pw.ForeignKeyField(Candidate, backref="notes", on_delete="CASCADE")
    interview = pw.ForeignKeyField(Interview, null=True, backref="notes", on_delete="SET NULL")
    author = pw.ForeignKeyField(User, null=True, backref="notes_written", on_delete="SET NULL")
    text = pw.TextField()
    created_at = pw.DateTimeField(default=utcnow)


class CandidateDocument(BaseModel):
    """A file kept for a candidate (a CV, a test result), stored encrypted under `object_key`."""

    candidate = pw.ForeignKeyField(Candidate, backref="documents", on_delete="CASCADE")
    name = pw.CharField()  # sanitised file name, a label only
    content_type = pw.CharField(null=True)
    object_key = pw.CharField(unique=True)
    size_bytes = pw.BigIntegerField(default=0)
    sha256 = pw.CharField(null=True)
    created_at = pw.DateTimeField(default=utcnow)


MIGRATION_RUN_STATES = ("queued", "running", "done", "failed", "rolled_back")


class MigrationRun(BaseModel):
    """One run of a migrator over a source (see migrators/ and docs/migrators.md). `kind` names the
    migrator and is the journal's source; a run killed midway is resumed, not restarted, by the
    next run of the same kind and location. `report` is the verification report."""

    kind = pw.CharField(index=True)
    location = pw.TextField()  # the path or URL read
    options = JSONField(default=dict)  # label map, dedup rules, time zone, playback sample size
    state = pw.CharField(default="queued", choices=[(s, s) for s in MIGRATION_RUN_STATES], index=True)
    owner = pw.CharField(null=True)  # "host:pid" of the process working on it
    heartbeat_at = pw.DateTimeField(null=True)
    attempts = pw.IntegerField(default=0)  # 1 + how many times it was resumed
    progress = JSONField(default=dict)
    report = JSONField(null=True)
    error = pw.TextField(null=True)
    created_by = pw.ForeignKeyField(User, null=True, backref="migration_runs", on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    started_at = pw.DateTimeField(null=True)
    finished_at = pw.DateTimeField(null=True)
    rolled_back_at = pw.DateTimeField(null=True)


class MigrationItem(BaseModel):
    """The migration journal: what became of one legacy record of a source. Unique on (source,
    kind, legacy_id), so a rerun finds the work done; `run` is the run that did it, which is what
    a rollback undoes. `target_*` name the row it became (created), was attached to (linked) or was
    merged into (merged); `data` keeps the canonical record and the rows made besides the target."""

    run = pw.ForeignKeyField(MigrationRun, backref="items", on_delete="CASCADE")
    source = pw.CharField()
    kind = pw.CharField()
    legacy_id = pw.CharField()
    state = pw.CharField()  # created | linked | merged | rejected
    target_table = pw.CharField(null=True)
    target_id = pw.BigIntegerField(null=True)
    reason = pw.CharField(null=True)
    detail = pw.TextField(null=True)
    data = JSONField(default=dict)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("source", "kind", "legacy_id"), True),)


ALL_MODELS += (CandidateNote, CandidateDocument, MigrationRun, MigrationItem)


# --- talent pool (schema migration 9) ------------------------------------------------------------


class TagSynonym(BaseModel):
    """Another name a tag is searched by (zh or en). A rename keeps the old name here, so saved
    searches and habits written with it still find the tag."""

    tag = pw.ForeignKeyField(Tag, backref="synonyms", on_delete="CASCADE")
    text = pw.CharField()
    language = pw.CharField(default="")  # "zh", "en" or "" for either
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("tag", "text"), True),)


class SavedSearch(BaseModel):
    """A talent pool query a user keeps; the text is re-parsed on each run, so tag renames and
    merges made since apply to it."""

    user = pw.ForeignKeyField(User, backref="saved_searches", on_delete="CASCADE")
    name = pw.CharField()
    query = pw.TextField()
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("user", "name"), True),)


class TranscriptSegment(BaseModel):
    """A stretch of a recording's transcript, as indexed for full-text search. `terms` is the text
    cut into words (jieba for Chinese) and separated by spaces, which is what both databases'
    full-text indexes read: an FTS5 table on SQLite, a tsvector column with a GIN index on
    PostgreSQL (both made by migration 9, outside peewee)."""

    recording = pw.ForeignKeyField(Recording, backref="transcript_segments", on_delete="CASCADE")
    candidate = pw.ForeignKeyField(Candidate, backref="transcript_segments", on_delete="CASCADE")
    start_seconds = pw.FloatField()
    end_seconds = pw.FloatField()
    text = pw.TextField()
    terms = pw.TextField()


ALL_MODELS += (TagSynonym, SavedSearch, TranscriptSegment)


BACKUP_RUN_STATES = ("running", "succeeded", "failed")


class BackupRun(BaseModel):
    """One backup to the offsite target (server/backups/, docs/backup.md). `backup_id` names it on
    the target; a run is `succeeded` only once its manifest is written, so monitoring can read the
    newest succeeded row as the age of the newest restorable backup. Verification results are kept
    on the row of the backup they checked."""

    backup_id = pw.CharField(unique=True)
    status = pw.CharField(default="running", choices=[(s, s) for s in BACKUP_RUN_STATES], index=True)
    target = pw.CharField()  # where it went, as shown to people ("directory /mnt/offsite")
    triggered_by = pw.CharField(default="schedule")  # schedule | cli | admin:<username>
    started_at = pw.DateTimeField(default=utcnow, index=True)
    finished_at = pw.DateTimeField(null=True)
    bytes = pw.BigIntegerField(default=0)  # bytes this run wrote to the target (new objects, dump)
    total_bytes = pw.BigIntegerField(default=0)  # bytes the backup references, written now or before
    objects = pw.IntegerField(default=0)
    objects_copied = pw.IntegerField(default=0)  # the rest were on the target already
    database_engine = pw.CharField(null=True)
    error = pw.TextField(null=True)
    details = JSONField(default=dict)  # warnings, pruned backups
    verified_at = pw.DateTimeField(null=True)
    verify_ok = pw.BooleanField(null=True)
    verify_problems = JSONField(null=True)


ALL_MODELS += (BackupRun,)


class PortalInvite(BaseModel):
    """A one-time link by which a candidate sets the password of their portal account (HR hands
    it over: by e-mail, in person). Stored hashed; works once, until it expires."""

    user = pw.ForeignKeyField(User, backref="portal_invites", on_delete="CASCADE")
    token_hash = pw.CharField(unique=True)
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField()
    used_at = pw.DateTimeField(null=True)


ERASURE_STATES = ("requested", "erased", "refused")


class ErasureRequest(BaseModel):
    """A candidate's request to be forgotten, and what became of it. After the erasure nothing of
    the candidate is left but `candidate_ref` ("candidate #12"), kept so HR can show the request
    was honoured."""

    candidate = pw.ForeignKeyField(Candidate, null=True, backref="erasure_requests", on_delete="SET NULL")
    organisation = pw.ForeignKeyField(Organisation, on_delete="CASCADE")
    candidate_ref = pw.CharField()
    state = pw.CharField(default="requested", choices=[(s, s) for s in ERASURE_STATES])
    requested_by = pw.ForeignKeyField(User, null=True, backref="erasure_requests", on_delete="SET NULL")
    requested_at = pw.DateTimeField(default=utcnow)
    decided_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    decided_at = pw.DateTimeField(null=True)
    reason = pw.TextField(null=True)


class AccessReview(BaseModel):
    """A stored access review (access_review.py): who could see which candidates, and why, as it
    was when made. Made every quarter and on demand."""

    organisation = pw.ForeignKeyField(Organisation, on_delete="CASCADE")
    made_at = pw.DateTimeField(default=utcnow, index=True)
    grants_flagged = pw.IntegerField(default=0)
    data = JSONField(default=dict)


ALL_MODELS += (PortalInvite, ErasureRequest, AccessReview)


class PasswordSetupToken(BaseModel):
    """A one-time link for an account that has no password yet (a migrated user) to set one.
    Stored hashed like the bootstrap token; expires, and works once."""

    user = pw.ForeignKeyField(User, backref="password_setup_tokens", on_delete="CASCADE")
    token_hash = pw.CharField(unique=True)
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField()
    used_at = pw.DateTimeField(null=True)


ALL_MODELS += (PasswordSetupToken,)


class ReviewComment(BaseModel):
    """A reviewer's comment on a recording, optionally rated 1-5, about one question of its report
    or one moment (start/end seconds) of it. Kept general on purpose: the talent pool compares
    reviewers' ratings per candidate and competency from these rows (`competency` is optional)."""

    recording = pw.ForeignKeyField(Recording, backref="review_comments", on_delete="CASCADE")
    author = pw.ForeignKeyField(User, null=True, backref="review_comments", on_delete="SET NULL")
    author_name = pw.CharField(default="")  # kept when the account is deleted
    body = pw.TextField()
    rating = pw.IntegerField(null=True)  # 1..5, or no rating
    question_index = pw.IntegerField(null=True)  # index into the report's questions
    start_seconds = pw.FloatField(null=True)
    end_seconds = pw.FloatField(null=True)
    competency = pw.CharField(null=True)
    created_at = pw.DateTimeField(default=utcnow, index=True)


class CueFeedback(BaseModel):
    """A reviewer's verdict on one AI cue: right or wrong. The cue is copied (kind, times, the
    measure a threshold compares) so calibration does not depend on the report version it came from.
    One verdict per reviewer and cue: marking it again replaces the verdict."""

    organisation = pw.ForeignKeyField(Organisation, backref="cue_feedback", on_delete="CASCADE")
    recording = pw.ForeignKeyField(Recording, backref="cue_feedback", on_delete="CASCADE")
    reviewer = pw.ForeignKeyField(User, null=True, backref="cue_feedback", on_delete="SET NULL")
    report_version = pw.IntegerField()
    kind = pw.CharField(index=True)
    source = pw.CharField(null=True)  # the analyzer's part that produced the cue
    start_seconds = pw.FloatField()
    end_seconds = pw.FloatField()
    measure = pw.FloatField(null=True)  # what calibration compares with a threshold (e.g. seconds of silence)
    correct = pw.BooleanField()
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("recording", "reviewer", "kind", "start_seconds"), True),)


class Calibration(BaseModel):
    """One run of the calibration job for an organisation: the thresholds before and after and how
    often the cues agreed with reviewers' verdicts under each (shown to HR)."""

    organisation = pw.ForeignKeyField(Organisation, backref="calibrations", on_delete="CASCADE")
    feedback_count = pw.IntegerField(default=0)
    before = JSONField(default=dict)  # {threshold key: value}
    after = JSONField(default=dict)
    agreement_before = JSONField(default=dict)  # {threshold key: fraction of verdicts agreed}
    agreement_after = JSONField(default=dict)
    details = JSONField(default=dict)  # per key: verdicts used, why it changed or did not
    created_at = pw.DateTimeField(default=utcnow, index=True)


class InterviewConsent(BaseModel):
    """What the candidate agreed to for one interview, under which notice version. Rows are never
    edited: a change adds a row, the latest one counts, the earlier ones remain as the record."""

    interview = pw.ForeignKeyField(Interview, backref="consents", on_delete="CASCADE")
    notice_version = pw.CharField()
    ai = pw.BooleanField(default=False)  # AI analysis at all (speech-to-text, language, questions)
    vision_voice = pw.BooleanField(default=False)  # vision and voice analysis besides
    recorded_by = pw.ForeignKeyField(User, null=True, backref="consents_recorded", on_delete="SET NULL")
    recorded_at = pw.DateTimeField(default=utcnow)


ALL_MODELS += (ReviewComment, CueFeedback, Calibration, InterviewConsent)
