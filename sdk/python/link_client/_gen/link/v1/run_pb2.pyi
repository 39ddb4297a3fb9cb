from google.protobuf import timestamp_pb2 as _timestamp_pb2
from link_client._gen.link.v1 import sandbox_pb2 as _sandbox_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
FILE_DIFF_STATUS_ADDED: FileDiffStatus
FILE_DIFF_STATUS_DELETED: FileDiffStatus
FILE_DIFF_STATUS_MODIFIED: FileDiffStatus
FILE_DIFF_STATUS_RENAMED: FileDiffStatus
FILE_DIFF_STATUS_UNSPECIFIED: FileDiffStatus
INTERACTION_DECISION_ALLOW: InteractionDecision
INTERACTION_DECISION_DENY: InteractionDecision
INTERACTION_DECISION_UNSPECIFIED: InteractionDecision
INTERACTION_KIND_PERMISSION: InteractionKind
INTERACTION_KIND_QUESTION: InteractionKind
INTERACTION_KIND_UNSPECIFIED: InteractionKind
INTERACTION_SCOPE_ONCE: InteractionScope
INTERACTION_SCOPE_THREAD: InteractionScope
INTERACTION_SCOPE_UNSPECIFIED: InteractionScope
INTERACTION_STATE_ANSWERED: InteractionState
INTERACTION_STATE_CLOSED: InteractionState
INTERACTION_STATE_PENDING: InteractionState
INTERACTION_STATE_UNSPECIFIED: InteractionState
INTERACTION_STATE_WITHDRAWN: InteractionState
MESSAGE_DELIVERY_AFTER_TURN: MessageDelivery
MESSAGE_DELIVERY_NOW: MessageDelivery
MESSAGE_DELIVERY_UNSPECIFIED: MessageDelivery
MESSAGE_STATE_EXPIRED: MessageState
MESSAGE_STATE_QUEUED: MessageState
MESSAGE_STATE_SENT: MessageState
MESSAGE_STATE_STEERED: MessageState
MESSAGE_STATE_STEERING: MessageState
MESSAGE_STATE_UNSPECIFIED: MessageState
MESSAGE_STATE_WITHDRAWN: MessageState
MODEL_TIER_FAST: ModelTier
MODEL_TIER_SMART: ModelTier
MODEL_TIER_THINKING: ModelTier
MODEL_TIER_UNSPECIFIED: ModelTier
PERMISSION_MODE_ASK: PermissionMode
PERMISSION_MODE_AUTO: PermissionMode
PERMISSION_MODE_EDITS: PermissionMode
PERMISSION_MODE_UNSPECIFIED: PermissionMode
RUN_STATE_CANCELLED: RunState
RUN_STATE_COMPLETED: RunState
RUN_STATE_DISPATCHED: RunState
RUN_STATE_FAILED: RunState
RUN_STATE_INTERRUPTED: RunState
RUN_STATE_PARKED_LIMIT: RunState
RUN_STATE_QUEUED: RunState
RUN_STATE_RUNNING: RunState
RUN_STATE_UNSPECIFIED: RunState
RUN_STATE_WAITING: RunState
RUN_STATUS_CANCELLED: RunStatus
RUN_STATUS_COMPLETED: RunStatus
RUN_STATUS_FAILED: RunStatus
RUN_STATUS_INTERRUPTED: RunStatus
RUN_STATUS_UNSPECIFIED: RunStatus
USAGE_LIMIT_STATUS_OK: UsageLimitStatus
USAGE_LIMIT_STATUS_REACHED: UsageLimitStatus
USAGE_LIMIT_STATUS_UNSPECIFIED: UsageLimitStatus
USAGE_LIMIT_STATUS_WARNING: UsageLimitStatus

class AllowRule(_message.Message):
    __slots__ = ["command_prefix", "tool"]
    COMMAND_PREFIX_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    command_prefix: str
    tool: str
    def __init__(self, tool: _Optional[str] = ..., command_prefix: _Optional[str] = ...) -> None: ...

class FileChange(_message.Message):
    __slots__ = ["kind", "path"]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    kind: str
    path: str
    def __init__(self, path: _Optional[str] = ..., kind: _Optional[str] = ...) -> None: ...

class FileDiff(_message.Message):
    __slots__ = ["additions", "binary", "deletions", "old_path", "patch", "patch_truncated", "path", "status"]
    ADDITIONS_FIELD_NUMBER: _ClassVar[int]
    BINARY_FIELD_NUMBER: _ClassVar[int]
    DELETIONS_FIELD_NUMBER: _ClassVar[int]
    OLD_PATH_FIELD_NUMBER: _ClassVar[int]
    PATCH_FIELD_NUMBER: _ClassVar[int]
    PATCH_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    additions: int
    binary: bool
    deletions: int
    old_path: str
    patch: str
    patch_truncated: bool
    path: str
    status: FileDiffStatus
    def __init__(self, path: _Optional[str] = ..., old_path: _Optional[str] = ..., status: _Optional[_Union[FileDiffStatus, str]] = ..., binary: bool = ..., additions: _Optional[int] = ..., deletions: _Optional[int] = ..., patch: _Optional[str] = ..., patch_truncated: bool = ...) -> None: ...

class Interaction(_message.Message):
    __slots__ = ["allowed_by", "command", "cwd", "description", "diff", "id", "input_json", "kind", "paths", "questions", "suggested_rule", "title", "tool"]
    ALLOWED_BY_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DIFF_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_JSON_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    SUGGESTED_RULE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    allowed_by: str
    command: str
    cwd: str
    description: str
    diff: str
    id: str
    input_json: str
    kind: InteractionKind
    paths: _containers.RepeatedScalarFieldContainer[str]
    questions: _containers.RepeatedCompositeFieldContainer[Question]
    suggested_rule: AllowRule
    title: str
    tool: str
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[InteractionKind, str]] = ..., tool: _Optional[str] = ..., input_json: _Optional[str] = ..., title: _Optional[str] = ..., command: _Optional[str] = ..., cwd: _Optional[str] = ..., diff: _Optional[str] = ..., paths: _Optional[_Iterable[str]] = ..., questions: _Optional[_Iterable[_Union[Question, _Mapping]]] = ..., suggested_rule: _Optional[_Union[AllowRule, _Mapping]] = ..., allowed_by: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class InteractionAnswer(_message.Message):
    __slots__ = ["answered_at", "answered_by", "answers", "decision", "message", "scope", "timed_out"]
    ANSWERED_AT_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_BY_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    answered_at: _timestamp_pb2.Timestamp
    answered_by: str
    answers: _containers.RepeatedCompositeFieldContainer[QuestionAnswer]
    decision: InteractionDecision
    message: str
    scope: InteractionScope
    timed_out: bool
    def __init__(self, decision: _Optional[_Union[InteractionDecision, str]] = ..., scope: _Optional[_Union[InteractionScope, str]] = ..., answers: _Optional[_Iterable[_Union[QuestionAnswer, _Mapping]]] = ..., message: _Optional[str] = ..., answered_by: _Optional[str] = ..., answered_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., timed_out: bool = ...) -> None: ...

class InteractionResolved(_message.Message):
    __slots__ = ["answer", "interaction_id", "state"]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    answer: InteractionAnswer
    interaction_id: str
    state: InteractionState
    def __init__(self, interaction_id: _Optional[str] = ..., state: _Optional[_Union[InteractionState, str]] = ..., answer: _Optional[_Union[InteractionAnswer, _Mapping]] = ...) -> None: ...

class LogLine(_message.Message):
    __slots__ = ["stream", "text"]
    class Stream(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    STREAM_FIELD_NUMBER: _ClassVar[int]
    STREAM_STDERR: LogLine.Stream
    STREAM_STDOUT: LogLine.Stream
    STREAM_UNSPECIFIED: LogLine.Stream
    TEXT_FIELD_NUMBER: _ClassVar[int]
    stream: LogLine.Stream
    text: str
    def __init__(self, stream: _Optional[_Union[LogLine.Stream, str]] = ..., text: _Optional[str] = ...) -> None: ...

class Question(_message.Message):
    __slots__ = ["header", "id", "multi_select", "options", "text"]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MULTI_SELECT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    header: str
    id: str
    multi_select: bool
    options: _containers.RepeatedCompositeFieldContainer[QuestionOption]
    text: str
    def __init__(self, id: _Optional[str] = ..., text: _Optional[str] = ..., header: _Optional[str] = ..., options: _Optional[_Iterable[_Union[QuestionOption, _Mapping]]] = ..., multi_select: bool = ...) -> None: ...

class QuestionAnswer(_message.Message):
    __slots__ = ["question_id", "selected", "text"]
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    SELECTED_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    question_id: str
    selected: _containers.RepeatedScalarFieldContainer[str]
    text: str
    def __init__(self, question_id: _Optional[str] = ..., selected: _Optional[_Iterable[str]] = ..., text: _Optional[str] = ...) -> None: ...

class QuestionOption(_message.Message):
    __slots__ = ["description", "label"]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    description: str
    label: str
    def __init__(self, label: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ReasoningEvent(_message.Message):
    __slots__ = ["text"]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class Run(_message.Message):
    __slots__ = ["cancel_requested", "continues_run_id", "created_at", "exit_code", "expires_at", "failure_message", "failure_reason", "finished_at", "harness", "id", "last_seq", "limit_resets_at", "link_id", "model", "pending_interactions", "permission_mode", "session_id", "started_at", "state", "thread_id", "tier"]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    CONTINUES_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    HARNESS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    LIMIT_RESETS_AT_FIELD_NUMBER: _ClassVar[int]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PENDING_INTERACTIONS_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_MODE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    cancel_requested: bool
    continues_run_id: str
    created_at: _timestamp_pb2.Timestamp
    exit_code: int
    expires_at: _timestamp_pb2.Timestamp
    failure_message: str
    failure_reason: str
    finished_at: _timestamp_pb2.Timestamp
    harness: str
    id: str
    last_seq: int
    limit_resets_at: _timestamp_pb2.Timestamp
    link_id: str
    model: str
    pending_interactions: int
    permission_mode: PermissionMode
    session_id: str
    started_at: _timestamp_pb2.Timestamp
    state: RunState
    thread_id: str
    tier: ModelTier
    def __init__(self, id: _Optional[str] = ..., thread_id: _Optional[str] = ..., link_id: _Optional[str] = ..., harness: _Optional[str] = ..., model: _Optional[str] = ..., tier: _Optional[_Union[ModelTier, str]] = ..., state: _Optional[_Union[RunState, str]] = ..., failure_reason: _Optional[str] = ..., exit_code: _Optional[int] = ..., session_id: _Optional[str] = ..., last_seq: _Optional[int] = ..., cancel_requested: bool = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., permission_mode: _Optional[_Union[PermissionMode, str]] = ..., pending_interactions: _Optional[int] = ..., limit_resets_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., continues_run_id: _Optional[str] = ..., failure_message: _Optional[str] = ...) -> None: ...

class RunChanges(_message.Message):
    __slots__ = ["base_commit", "files", "note", "omitted_files", "truncated"]
    BASE_COMMIT_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    OMITTED_FILES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    base_commit: str
    files: _containers.RepeatedCompositeFieldContainer[FileDiff]
    note: str
    omitted_files: int
    truncated: bool
    def __init__(self, base_commit: _Optional[str] = ..., files: _Optional[_Iterable[_Union[FileDiff, _Mapping]]] = ..., truncated: bool = ..., omitted_files: _Optional[int] = ..., note: _Optional[str] = ...) -> None: ...

class RunDone(_message.Message):
    __slots__ = ["exit_code", "failure_reason", "killed", "limit_resets_at", "message", "session_id", "status"]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    KILLED_FIELD_NUMBER: _ClassVar[int]
    LIMIT_RESETS_AT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    exit_code: int
    failure_reason: str
    killed: _containers.RepeatedScalarFieldContainer[str]
    limit_resets_at: _timestamp_pb2.Timestamp
    message: str
    session_id: str
    status: RunStatus
    def __init__(self, status: _Optional[_Union[RunStatus, str]] = ..., exit_code: _Optional[int] = ..., failure_reason: _Optional[str] = ..., session_id: _Optional[str] = ..., killed: _Optional[_Iterable[str]] = ..., limit_resets_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., message: _Optional[str] = ...) -> None: ...

class RunError(_message.Message):
    __slots__ = ["code", "message"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class RunEvent(_message.Message):
    __slots__ = ["at", "changes", "done", "error", "file_change", "interaction", "interaction_resolved", "log", "raw", "reasoning", "seq", "started", "steered", "text", "tool_call", "tool_result", "usage", "usage_limit"]
    AT_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FILE_CHANGE_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_RESOLVED_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    RAW_FIELD_NUMBER: _ClassVar[int]
    REASONING_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    STEERED_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_FIELD_NUMBER: _ClassVar[int]
    TOOL_RESULT_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    USAGE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    changes: RunChanges
    done: RunDone
    error: RunError
    file_change: FileChange
    interaction: Interaction
    interaction_resolved: InteractionResolved
    log: LogLine
    raw: str
    reasoning: ReasoningEvent
    seq: int
    started: RunStarted
    steered: Steered
    text: TextEvent
    tool_call: ToolCall
    tool_result: ToolResult
    usage: Usage
    usage_limit: UsageLimit
    def __init__(self, seq: _Optional[int] = ..., at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., raw: _Optional[str] = ..., started: _Optional[_Union[RunStarted, _Mapping]] = ..., text: _Optional[_Union[TextEvent, _Mapping]] = ..., reasoning: _Optional[_Union[ReasoningEvent, _Mapping]] = ..., tool_call: _Optional[_Union[ToolCall, _Mapping]] = ..., tool_result: _Optional[_Union[ToolResult, _Mapping]] = ..., file_change: _Optional[_Union[FileChange, _Mapping]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., log: _Optional[_Union[LogLine, _Mapping]] = ..., error: _Optional[_Union[RunError, _Mapping]] = ..., done: _Optional[_Union[RunDone, _Mapping]] = ..., changes: _Optional[_Union[RunChanges, _Mapping]] = ..., interaction: _Optional[_Union[Interaction, _Mapping]] = ..., interaction_resolved: _Optional[_Union[InteractionResolved, _Mapping]] = ..., usage_limit: _Optional[_Union[UsageLimit, _Mapping]] = ..., steered: _Optional[_Union[Steered, _Mapping]] = ...) -> None: ...

class RunPayload(_message.Message):
    __slots__ = ["allow_rules", "continues_run_id", "harness", "idle_timeout_ms", "model", "permission_mode", "prompt", "resume_session_id", "run_id", "sandbox", "thread_id"]
    ALLOW_RULES_FIELD_NUMBER: _ClassVar[int]
    CONTINUES_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    HARNESS_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_MODE_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    RESUME_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    allow_rules: _containers.RepeatedCompositeFieldContainer[AllowRule]
    continues_run_id: str
    harness: str
    idle_timeout_ms: int
    model: str
    permission_mode: PermissionMode
    prompt: str
    resume_session_id: str
    run_id: str
    sandbox: _sandbox_pb2.SandboxSpec
    thread_id: str
    def __init__(self, run_id: _Optional[str] = ..., thread_id: _Optional[str] = ..., harness: _Optional[str] = ..., prompt: _Optional[str] = ..., model: _Optional[str] = ..., resume_session_id: _Optional[str] = ..., idle_timeout_ms: _Optional[int] = ..., sandbox: _Optional[_Union[_sandbox_pb2.SandboxSpec, _Mapping]] = ..., permission_mode: _Optional[_Union[PermissionMode, str]] = ..., allow_rules: _Optional[_Iterable[_Union[AllowRule, _Mapping]]] = ..., continues_run_id: _Optional[str] = ...) -> None: ...

class RunStarted(_message.Message):
    __slots__ = ["cwd", "harness", "model", "session_id"]
    CWD_FIELD_NUMBER: _ClassVar[int]
    HARNESS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    cwd: str
    harness: str
    model: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., model: _Optional[str] = ..., harness: _Optional[str] = ..., cwd: _Optional[str] = ...) -> None: ...

class Steered(_message.Message):
    __slots__ = ["message_id", "text"]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    text: str
    def __init__(self, message_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class TextEvent(_message.Message):
    __slots__ = ["text"]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class Thread(_message.Message):
    __slots__ = ["approval_timeout_seconds", "archived", "branch", "created_at", "harness", "id", "last_run_state", "link_id", "link_name", "pending_interactions", "queued_messages", "repository", "resume_after_limit", "resumes_at", "sandbox_id", "sandbox_provider", "session_id", "title", "updated_at"]
    APPROVAL_TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    HARNESS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    LAST_RUN_STATE_FIELD_NUMBER: _ClassVar[int]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    LINK_NAME_FIELD_NUMBER: _ClassVar[int]
    PENDING_INTERACTIONS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    REPOSITORY_FIELD_NUMBER: _ClassVar[int]
    RESUMES_AT_FIELD_NUMBER: _ClassVar[int]
    RESUME_AFTER_LIMIT_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    approval_timeout_seconds: int
    archived: bool
    branch: str
    created_at: _timestamp_pb2.Timestamp
    harness: str
    id: str
    last_run_state: RunState
    link_id: str
    link_name: str
    pending_interactions: int
    queued_messages: int
    repository: str
    resume_after_limit: bool
    resumes_at: _timestamp_pb2.Timestamp
    sandbox_id: str
    sandbox_provider: str
    session_id: str
    title: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., harness: _Optional[str] = ..., link_id: _Optional[str] = ..., sandbox_provider: _Optional[str] = ..., branch: _Optional[str] = ..., session_id: _Optional[str] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_run_state: _Optional[_Union[RunState, str]] = ..., repository: _Optional[str] = ..., sandbox_id: _Optional[str] = ..., pending_interactions: _Optional[int] = ..., approval_timeout_seconds: _Optional[int] = ..., archived: bool = ..., link_name: _Optional[str] = ..., resume_after_limit: bool = ..., resumes_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., queued_messages: _Optional[int] = ...) -> None: ...

class ThreadMessage(_message.Message):
    __slots__ = ["created_at", "delivery", "expires_at", "id", "model", "permission_mode", "run_id", "state", "text", "thread_id", "tier", "updated_at"]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_MODE_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    created_at: _timestamp_pb2.Timestamp
    delivery: MessageDelivery
    expires_at: _timestamp_pb2.Timestamp
    id: str
    model: str
    permission_mode: PermissionMode
    run_id: str
    state: MessageState
    text: str
    thread_id: str
    tier: ModelTier
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., thread_id: _Optional[str] = ..., text: _Optional[str] = ..., run_id: _Optional[str] = ..., model: _Optional[str] = ..., tier: _Optional[_Union[ModelTier, str]] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., permission_mode: _Optional[_Union[PermissionMode, str]] = ..., state: _Optional[_Union[MessageState, str]] = ..., delivery: _Optional[_Union[MessageDelivery, str]] = ..., expires_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ToolCall(_message.Message):
    __slots__ = ["id", "input_json", "name"]
    ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_JSON_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    input_json: str
    name: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., input_json: _Optional[str] = ...) -> None: ...

class ToolResult(_message.Message):
    __slots__ = ["id", "is_error", "output"]
    ID_FIELD_NUMBER: _ClassVar[int]
    IS_ERROR_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    id: str
    is_error: bool
    output: str
    def __init__(self, id: _Optional[str] = ..., output: _Optional[str] = ..., is_error: bool = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ["cache_read_tokens", "cache_write_tokens", "cost_known", "cost_usd", "input_tokens", "output_tokens"]
    CACHE_READ_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_WRITE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_KNOWN_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    cache_read_tokens: int
    cache_write_tokens: int
    cost_known: bool
    cost_usd: float
    input_tokens: int
    output_tokens: int
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cache_read_tokens: _Optional[int] = ..., cache_write_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ..., cost_known: bool = ...) -> None: ...

class UsageLimit(_message.Message):
    __slots__ = ["resets_at", "status", "used_known", "used_percent", "window"]
    RESETS_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    USED_KNOWN_FIELD_NUMBER: _ClassVar[int]
    USED_PERCENT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    resets_at: _timestamp_pb2.Timestamp
    status: UsageLimitStatus
    used_known: bool
    used_percent: float
    window: str
    def __init__(self, status: _Optional[_Union[UsageLimitStatus, str]] = ..., resets_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., used_percent: _Optional[float] = ..., used_known: bool = ..., window: _Optional[str] = ...) -> None: ...

class ModelTier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class RunState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class MessageState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class MessageDelivery(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class UsageLimitStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class PermissionMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class RunStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class InteractionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class InteractionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class InteractionDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class InteractionScope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class FileDiffStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
