from google.protobuf import timestamp_pb2 as _timestamp_pb2
from link_client._gen.link.v1 import run_pb2 as _run_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AnswerInteractionRequest(_message.Message):
    __slots__ = ["answers", "decision", "interaction_id", "message", "run_id", "scope"]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    answers: _containers.RepeatedCompositeFieldContainer[_run_pb2.QuestionAnswer]
    decision: _run_pb2.InteractionDecision
    interaction_id: str
    message: str
    run_id: str
    scope: _run_pb2.InteractionScope
    def __init__(self, run_id: _Optional[str] = ..., interaction_id: _Optional[str] = ..., decision: _Optional[_Union[_run_pb2.InteractionDecision, str]] = ..., scope: _Optional[_Union[_run_pb2.InteractionScope, str]] = ..., answers: _Optional[_Iterable[_Union[_run_pb2.QuestionAnswer, _Mapping]]] = ..., message: _Optional[str] = ...) -> None: ...

class AnswerInteractionResponse(_message.Message):
    __slots__ = ["interaction"]
    INTERACTION_FIELD_NUMBER: _ClassVar[int]
    interaction: InteractionRecord
    def __init__(self, interaction: _Optional[_Union[InteractionRecord, _Mapping]] = ...) -> None: ...

class CancelRunRequest(_message.Message):
    __slots__ = ["run_id"]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class CancelRunResponse(_message.Message):
    __slots__ = ["state"]
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: _run_pb2.RunState
    def __init__(self, state: _Optional[_Union[_run_pb2.RunState, str]] = ...) -> None: ...

class CreateThreadRequest(_message.Message):
    __slots__ = ["title"]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    title: str
    def __init__(self, title: _Optional[str] = ...) -> None: ...

class CreateThreadResponse(_message.Message):
    __slots__ = ["thread"]
    THREAD_FIELD_NUMBER: _ClassVar[int]
    thread: _run_pb2.Thread
    def __init__(self, thread: _Optional[_Union[_run_pb2.Thread, _Mapping]] = ...) -> None: ...

class DeleteThreadRequest(_message.Message):
    __slots__ = ["thread_id"]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    thread_id: str
    def __init__(self, thread_id: _Optional[str] = ...) -> None: ...

class DeleteThreadResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetThreadRequest(_message.Message):
    __slots__ = ["thread_id"]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    thread_id: str
    def __init__(self, thread_id: _Optional[str] = ...) -> None: ...

class GetThreadResponse(_message.Message):
    __slots__ = ["messages", "runs", "thread"]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    THREAD_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[_run_pb2.ThreadMessage]
    runs: _containers.RepeatedCompositeFieldContainer[_run_pb2.Run]
    thread: _run_pb2.Thread
    def __init__(self, thread: _Optional[_Union[_run_pb2.Thread, _Mapping]] = ..., messages: _Optional[_Iterable[_Union[_run_pb2.ThreadMessage, _Mapping]]] = ..., runs: _Optional[_Iterable[_Union[_run_pb2.Run, _Mapping]]] = ...) -> None: ...

class InteractionRecord(_message.Message):
    __slots__ = ["answer", "asked_at", "deadline", "delivered", "harness", "interaction", "link_id", "run_id", "seq", "state", "thread_id", "thread_title"]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    ASKED_AT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    HARNESS_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_FIELD_NUMBER: _ClassVar[int]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    THREAD_TITLE_FIELD_NUMBER: _ClassVar[int]
    answer: _run_pb2.InteractionAnswer
    asked_at: _timestamp_pb2.Timestamp
    deadline: _timestamp_pb2.Timestamp
    delivered: bool
    harness: str
    interaction: _run_pb2.Interaction
    link_id: str
    run_id: str
    seq: int
    state: _run_pb2.InteractionState
    thread_id: str
    thread_title: str
    def __init__(self, run_id: _Optional[str] = ..., thread_id: _Optional[str] = ..., link_id: _Optional[str] = ..., interaction: _Optional[_Union[_run_pb2.Interaction, _Mapping]] = ..., state: _Optional[_Union[_run_pb2.InteractionState, str]] = ..., answer: _Optional[_Union[_run_pb2.InteractionAnswer, _Mapping]] = ..., seq: _Optional[int] = ..., asked_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., delivered: bool = ..., deadline: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., thread_title: _Optional[str] = ..., harness: _Optional[str] = ...) -> None: ...

class InteractionSnapshot(_message.Message):
    __slots__ = ["interactions"]
    INTERACTIONS_FIELD_NUMBER: _ClassVar[int]
    interactions: _containers.RepeatedCompositeFieldContainer[InteractionRecord]
    def __init__(self, interactions: _Optional[_Iterable[_Union[InteractionRecord, _Mapping]]] = ...) -> None: ...

class InterruptRunRequest(_message.Message):
    __slots__ = ["run_id"]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class InterruptRunResponse(_message.Message):
    __slots__ = ["state"]
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: _run_pb2.RunState
    def __init__(self, state: _Optional[_Union[_run_pb2.RunState, str]] = ...) -> None: ...

class ListInteractionsRequest(_message.Message):
    __slots__ = ["include_resolved", "run_id", "thread_id"]
    INCLUDE_RESOLVED_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    include_resolved: bool
    run_id: str
    thread_id: str
    def __init__(self, include_resolved: bool = ..., thread_id: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class ListInteractionsResponse(_message.Message):
    __slots__ = ["interactions"]
    INTERACTIONS_FIELD_NUMBER: _ClassVar[int]
    interactions: _containers.RepeatedCompositeFieldContainer[InteractionRecord]
    def __init__(self, interactions: _Optional[_Iterable[_Union[InteractionRecord, _Mapping]]] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ["thread_id"]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    thread_id: str
    def __init__(self, thread_id: _Optional[str] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ["runs"]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[_run_pb2.Run]
    def __init__(self, runs: _Optional[_Iterable[_Union[_run_pb2.Run, _Mapping]]] = ...) -> None: ...

class ListThreadsRequest(_message.Message):
    __slots__ = ["include_archived", "query"]
    INCLUDE_ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    include_archived: bool
    query: str
    def __init__(self, query: _Optional[str] = ..., include_archived: bool = ...) -> None: ...

class ListThreadsResponse(_message.Message):
    __slots__ = ["threads"]
    THREADS_FIELD_NUMBER: _ClassVar[int]
    threads: _containers.RepeatedCompositeFieldContainer[_run_pb2.Thread]
    def __init__(self, threads: _Optional[_Iterable[_Union[_run_pb2.Thread, _Mapping]]] = ...) -> None: ...

class SendMessageRequest(_message.Message):
    __slots__ = ["branch", "confirm_auto", "delivery", "expires_in_seconds", "harness", "link_id", "model", "permission_mode", "repository", "sandbox_provider", "text", "thread_id", "tier"]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    CONFIRM_AUTO_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    HARNESS_FIELD_NUMBER: _ClassVar[int]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_MODE_FIELD_NUMBER: _ClassVar[int]
    REPOSITORY_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    branch: str
    confirm_auto: bool
    delivery: _run_pb2.MessageDelivery
    expires_in_seconds: int
    harness: str
    link_id: str
    model: str
    permission_mode: _run_pb2.PermissionMode
    repository: str
    sandbox_provider: str
    text: str
    thread_id: str
    tier: _run_pb2.ModelTier
    def __init__(self, thread_id: _Optional[str] = ..., text: _Optional[str] = ..., harness: _Optional[str] = ..., link_id: _Optional[str] = ..., sandbox_provider: _Optional[str] = ..., branch: _Optional[str] = ..., model: _Optional[str] = ..., tier: _Optional[_Union[_run_pb2.ModelTier, str]] = ..., repository: _Optional[str] = ..., permission_mode: _Optional[_Union[_run_pb2.PermissionMode, str]] = ..., confirm_auto: bool = ..., delivery: _Optional[_Union[_run_pb2.MessageDelivery, str]] = ..., expires_in_seconds: _Optional[int] = ...) -> None: ...

class SendMessageResponse(_message.Message):
    __slots__ = ["link_online", "message", "message_id", "run_id"]
    LINK_ONLINE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    link_online: bool
    message: _run_pb2.ThreadMessage
    message_id: str
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., message_id: _Optional[str] = ..., message: _Optional[_Union[_run_pb2.ThreadMessage, _Mapping]] = ..., link_online: bool = ...) -> None: ...

class ThreadSnapshot(_message.Message):
    __slots__ = ["threads"]
    THREADS_FIELD_NUMBER: _ClassVar[int]
    threads: _containers.RepeatedCompositeFieldContainer[_run_pb2.Thread]
    def __init__(self, threads: _Optional[_Iterable[_Union[_run_pb2.Thread, _Mapping]]] = ...) -> None: ...

class UpdateQueuedMessageRequest(_message.Message):
    __slots__ = ["message_id", "text"]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    text: str
    def __init__(self, message_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class UpdateQueuedMessageResponse(_message.Message):
    __slots__ = ["message"]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: _run_pb2.ThreadMessage
    def __init__(self, message: _Optional[_Union[_run_pb2.ThreadMessage, _Mapping]] = ...) -> None: ...

class UpdateThreadRequest(_message.Message):
    __slots__ = ["approval_timeout_seconds", "archived", "resume_after_limit", "thread_id", "title"]
    APPROVAL_TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    RESUME_AFTER_LIMIT_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    approval_timeout_seconds: int
    archived: bool
    resume_after_limit: bool
    thread_id: str
    title: str
    def __init__(self, thread_id: _Optional[str] = ..., title: _Optional[str] = ..., archived: bool = ..., approval_timeout_seconds: _Optional[int] = ..., resume_after_limit: bool = ...) -> None: ...

class UpdateThreadResponse(_message.Message):
    __slots__ = ["thread"]
    THREAD_FIELD_NUMBER: _ClassVar[int]
    thread: _run_pb2.Thread
    def __init__(self, thread: _Optional[_Union[_run_pb2.Thread, _Mapping]] = ...) -> None: ...

class WatchInteractionsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class WatchInteractionsResponse(_message.Message):
    __slots__ = ["changed", "snapshot"]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    changed: InteractionRecord
    snapshot: InteractionSnapshot
    def __init__(self, snapshot: _Optional[_Union[InteractionSnapshot, _Mapping]] = ..., changed: _Optional[_Union[InteractionRecord, _Mapping]] = ...) -> None: ...

class WatchRunRequest(_message.Message):
    __slots__ = ["after_seq", "batched", "run_id"]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    BATCHED_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    after_seq: int
    batched: bool
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., after_seq: _Optional[int] = ..., batched: bool = ...) -> None: ...

class WatchRunResponse(_message.Message):
    __slots__ = ["event", "events"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _run_pb2.RunEvent
    events: _containers.RepeatedCompositeFieldContainer[_run_pb2.RunEvent]
    def __init__(self, event: _Optional[_Union[_run_pb2.RunEvent, _Mapping]] = ..., events: _Optional[_Iterable[_Union[_run_pb2.RunEvent, _Mapping]]] = ...) -> None: ...

class WatchThreadsRequest(_message.Message):
    __slots__ = ["include_archived"]
    INCLUDE_ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    include_archived: bool
    def __init__(self, include_archived: bool = ...) -> None: ...

class WatchThreadsResponse(_message.Message):
    __slots__ = ["changed", "removed_thread_id", "snapshot"]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    changed: _run_pb2.Thread
    removed_thread_id: str
    snapshot: ThreadSnapshot
    def __init__(self, snapshot: _Optional[_Union[ThreadSnapshot, _Mapping]] = ..., changed: _Optional[_Union[_run_pb2.Thread, _Mapping]] = ..., removed_thread_id: _Optional[str] = ...) -> None: ...

class WithdrawMessageRequest(_message.Message):
    __slots__ = ["message_id"]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    def __init__(self, message_id: _Optional[str] = ...) -> None: ...

class WithdrawMessageResponse(_message.Message):
    __slots__ = ["message"]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: _run_pb2.ThreadMessage
    def __init__(self, message: _Optional[_Union[_run_pb2.ThreadMessage, _Mapping]] = ...) -> None: ...
