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
MODEL_TIER_FAST: ModelTier
MODEL_TIER_SMART: ModelTier
MODEL_TIER_THINKING: ModelTier
MODEL_TIER_UNSPECIFIED: ModelTier
RUN_STATE_CANCELLED: RunState
RUN_STATE_COMPLETED: RunState
RUN_STATE_DISPATCHED: RunState
RUN_STATE_FAILED: RunState
RUN_STATE_QUEUED: RunState
RUN_STATE_RUNNING: RunState
RUN_STATE_UNSPECIFIED: RunState
RUN_STATUS_CANCELLED: RunStatus
RUN_STATUS_COMPLETED: RunStatus
RUN_STATUS_FAILED: RunStatus
RUN_STATUS_UNSPECIFIED: RunStatus

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

class ReasoningEvent(_message.Message):
    __slots__ = ["text"]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class Run(_message.Message):
    __slots__ = ["cancel_requested", "created_at", "exit_code", "failure_reason", "finished_at", "harness", "id", "last_seq", "link_id", "model", "session_id", "started_at", "state", "thread_id", "tier"]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    HARNESS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    cancel_requested: bool
    created_at: _timestamp_pb2.Timestamp
    exit_code: int
    failure_reason: str
    finished_at: _timestamp_pb2.Timestamp
    harness: str
    id: str
    last_seq: int
    link_id: str
    model: str
    session_id: str
    started_at: _timestamp_pb2.Timestamp
    state: RunState
    thread_id: str
    tier: ModelTier
    def __init__(self, id: _Optional[str] = ..., thread_id: _Optional[str] = ..., link_id: _Optional[str] = ..., harness: _Optional[str] = ..., model: _Optional[str] = ..., tier: _Optional[_Union[ModelTier, str]] = ..., state: _Optional[_Union[RunState, str]] = ..., failure_reason: _Optional[str] = ..., exit_code: _Optional[int] = ..., session_id: _Optional[str] = ..., last_seq: _Optional[int] = ..., cancel_requested: bool = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

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
    __slots__ = ["exit_code", "failure_reason", "killed", "session_id", "status"]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    KILLED_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    exit_code: int
    failure_reason: str
    killed: _containers.RepeatedScalarFieldContainer[str]
    session_id: str
    status: RunStatus
    def __init__(self, status: _Optional[_Union[RunStatus, str]] = ..., exit_code: _Optional[int] = ..., failure_reason: _Optional[str] = ..., session_id: _Optional[str] = ..., killed: _Optional[_Iterable[str]] = ...) -> None: ...

class RunError(_message.Message):
    __slots__ = ["code", "message"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class RunEvent(_message.Message):
    __slots__ = ["at", "changes", "done", "error", "file_change", "log", "raw", "reasoning", "seq", "started", "text", "tool_call", "tool_result", "usage"]
    AT_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FILE_CHANGE_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    RAW_FIELD_NUMBER: _ClassVar[int]
    REASONING_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_FIELD_NUMBER: _ClassVar[int]
    TOOL_RESULT_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    changes: RunChanges
    done: RunDone
    error: RunError
    file_change: FileChange
    log: LogLine
    raw: str
    reasoning: ReasoningEvent
    seq: int
    started: RunStarted
    text: TextEvent
    tool_call: ToolCall
    tool_result: ToolResult
    usage: Usage
    def __init__(self, seq: _Optional[int] = ..., at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., raw: _Optional[str] = ..., started: _Optional[_Union[RunStarted, _Mapping]] = ..., text: _Optional[_Union[TextEvent, _Mapping]] = ..., reasoning: _Optional[_Union[ReasoningEvent, _Mapping]] = ..., tool_call: _Optional[_Union[ToolCall, _Mapping]] = ..., tool_result: _Optional[_Union[ToolResult, _Mapping]] = ..., file_change: _Optional[_Union[FileChange, _Mapping]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., log: _Optional[_Union[LogLine, _Mapping]] = ..., error: _Optional[_Union[RunError, _Mapping]] = ..., done: _Optional[_Union[RunDone, _Mapping]] = ..., changes: _Optional[_Union[RunChanges, _Mapping]] = ...) -> None: ...

class RunPayload(_message.Message):
    __slots__ = ["harness", "idle_timeout_ms", "model", "prompt", "resume_session_id", "run_id", "sandbox", "thread_id"]
    HARNESS_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    RESUME_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    harness: str
    idle_timeout_ms: int
    model: str
    prompt: str
    resume_session_id: str
    run_id: str
    sandbox: _sandbox_pb2.SandboxSpec
    thread_id: str
    def __init__(self, run_id: _Optional[str] = ..., thread_id: _Optional[str] = ..., harness: _Optional[str] = ..., prompt: _Optional[str] = ..., model: _Optional[str] = ..., resume_session_id: _Optional[str] = ..., idle_timeout_ms: _Optional[int] = ..., sandbox: _Optional[_Union[_sandbox_pb2.SandboxSpec, _Mapping]] = ...) -> None: ...

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

class TextEvent(_message.Message):
    __slots__ = ["text"]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class Thread(_message.Message):
    __slots__ = ["branch", "created_at", "harness", "id", "last_run_state", "link_id", "repository", "sandbox_id", "sandbox_provider", "session_id", "title", "updated_at"]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    HARNESS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    LAST_RUN_STATE_FIELD_NUMBER: _ClassVar[int]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    REPOSITORY_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    branch: str
    created_at: _timestamp_pb2.Timestamp
    harness: str
    id: str
    last_run_state: RunState
    link_id: str
    repository: str
    sandbox_id: str
    sandbox_provider: str
    session_id: str
    title: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., harness: _Optional[str] = ..., link_id: _Optional[str] = ..., sandbox_provider: _Optional[str] = ..., branch: _Optional[str] = ..., session_id: _Optional[str] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_run_state: _Optional[_Union[RunState, str]] = ..., repository: _Optional[str] = ..., sandbox_id: _Optional[str] = ...) -> None: ...

class ThreadMessage(_message.Message):
    __slots__ = ["created_at", "id", "model", "run_id", "text", "thread_id", "tier"]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    created_at: _timestamp_pb2.Timestamp
    id: str
    model: str
    run_id: str
    text: str
    thread_id: str
    tier: ModelTier
    def __init__(self, id: _Optional[str] = ..., thread_id: _Optional[str] = ..., text: _Optional[str] = ..., run_id: _Optional[str] = ..., model: _Optional[str] = ..., tier: _Optional[_Union[ModelTier, str]] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

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

class ModelTier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class RunState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class RunStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class FileDiffStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
