from google.protobuf import timestamp_pb2 as _timestamp_pb2
from link_client._gen.link.v1 import run_pb2 as _run_pb2
from link_client._gen.link.v1 import sandbox_pb2 as _sandbox_pb2
from link_client._gen.link.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CancelRun(_message.Message):
    __slots__ = ["interrupt", "reason", "run_id"]
    INTERRUPT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    interrupt: bool
    reason: str
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., reason: _Optional[str] = ..., interrupt: bool = ...) -> None: ...

class CapabilitiesChanged(_message.Message):
    __slots__ = ["capabilities"]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    capabilities: _types_pb2.Capabilities
    def __init__(self, capabilities: _Optional[_Union[_types_pb2.Capabilities, _Mapping]] = ...) -> None: ...

class CompletePairingRequest(_message.Message):
    __slots__ = ["code", "hostname", "machine_id"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    MACHINE_ID_FIELD_NUMBER: _ClassVar[int]
    code: str
    hostname: str
    machine_id: str
    def __init__(self, code: _Optional[str] = ..., machine_id: _Optional[str] = ..., hostname: _Optional[str] = ...) -> None: ...

class CompletePairingResponse(_message.Message):
    __slots__ = ["dispatch_public_key", "link_id", "link_name", "link_token", "user_name"]
    DISPATCH_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    LINK_NAME_FIELD_NUMBER: _ClassVar[int]
    LINK_TOKEN_FIELD_NUMBER: _ClassVar[int]
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    dispatch_public_key: bytes
    link_id: str
    link_name: str
    link_token: str
    user_name: str
    def __init__(self, link_id: _Optional[str] = ..., link_token: _Optional[str] = ..., dispatch_public_key: _Optional[bytes] = ..., link_name: _Optional[str] = ..., user_name: _Optional[str] = ...) -> None: ...

class ConnectRequest(_message.Message):
    __slots__ = ["capabilities_changed", "goodbye", "heartbeat", "hello", "interaction_answer_ack", "power_changed", "run_accepted", "run_events", "run_rejected", "sandbox_reply", "steer_ack", "token_rotated"]
    CAPABILITIES_CHANGED_FIELD_NUMBER: _ClassVar[int]
    GOODBYE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    HELLO_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_ANSWER_ACK_FIELD_NUMBER: _ClassVar[int]
    POWER_CHANGED_FIELD_NUMBER: _ClassVar[int]
    RUN_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    RUN_EVENTS_FIELD_NUMBER: _ClassVar[int]
    RUN_REJECTED_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_REPLY_FIELD_NUMBER: _ClassVar[int]
    STEER_ACK_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ROTATED_FIELD_NUMBER: _ClassVar[int]
    capabilities_changed: CapabilitiesChanged
    goodbye: Goodbye
    heartbeat: Heartbeat
    hello: Hello
    interaction_answer_ack: InteractionAnswerAck
    power_changed: PowerChanged
    run_accepted: RunAccepted
    run_events: RunEvents
    run_rejected: RunRejected
    sandbox_reply: SandboxReply
    steer_ack: SteerAck
    token_rotated: TokenRotated
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., capabilities_changed: _Optional[_Union[CapabilitiesChanged, _Mapping]] = ..., goodbye: _Optional[_Union[Goodbye, _Mapping]] = ..., run_accepted: _Optional[_Union[RunAccepted, _Mapping]] = ..., run_rejected: _Optional[_Union[RunRejected, _Mapping]] = ..., run_events: _Optional[_Union[RunEvents, _Mapping]] = ..., sandbox_reply: _Optional[_Union[SandboxReply, _Mapping]] = ..., token_rotated: _Optional[_Union[TokenRotated, _Mapping]] = ..., interaction_answer_ack: _Optional[_Union[InteractionAnswerAck, _Mapping]] = ..., power_changed: _Optional[_Union[PowerChanged, _Mapping]] = ..., steer_ack: _Optional[_Union[SteerAck, _Mapping]] = ...) -> None: ...

class ConnectResponse(_message.Message):
    __slots__ = ["cancel_run", "dispatch_run", "drain", "events_ack", "heartbeat_ack", "interaction_answer", "rotate_token", "sandbox_request", "shutdown", "signed_sandbox_request", "steer", "welcome"]
    CANCEL_RUN_FIELD_NUMBER: _ClassVar[int]
    DISPATCH_RUN_FIELD_NUMBER: _ClassVar[int]
    DRAIN_FIELD_NUMBER: _ClassVar[int]
    EVENTS_ACK_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_ACK_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_ANSWER_FIELD_NUMBER: _ClassVar[int]
    ROTATE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_REQUEST_FIELD_NUMBER: _ClassVar[int]
    SHUTDOWN_FIELD_NUMBER: _ClassVar[int]
    SIGNED_SANDBOX_REQUEST_FIELD_NUMBER: _ClassVar[int]
    STEER_FIELD_NUMBER: _ClassVar[int]
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    cancel_run: CancelRun
    dispatch_run: DispatchRun
    drain: Drain
    events_ack: EventsAck
    heartbeat_ack: HeartbeatAck
    interaction_answer: SignedInteractionAnswer
    rotate_token: RotateToken
    sandbox_request: SandboxRequest
    shutdown: Shutdown
    signed_sandbox_request: SignedSandboxRequest
    steer: SignedSteer
    welcome: Welcome
    def __init__(self, welcome: _Optional[_Union[Welcome, _Mapping]] = ..., heartbeat_ack: _Optional[_Union[HeartbeatAck, _Mapping]] = ..., drain: _Optional[_Union[Drain, _Mapping]] = ..., shutdown: _Optional[_Union[Shutdown, _Mapping]] = ..., dispatch_run: _Optional[_Union[DispatchRun, _Mapping]] = ..., cancel_run: _Optional[_Union[CancelRun, _Mapping]] = ..., events_ack: _Optional[_Union[EventsAck, _Mapping]] = ..., sandbox_request: _Optional[_Union[SandboxRequest, _Mapping]] = ..., rotate_token: _Optional[_Union[RotateToken, _Mapping]] = ..., signed_sandbox_request: _Optional[_Union[SignedSandboxRequest, _Mapping]] = ..., interaction_answer: _Optional[_Union[SignedInteractionAnswer, _Mapping]] = ..., steer: _Optional[_Union[SignedSteer, _Mapping]] = ...) -> None: ...

class DisconnectLinkRequest(_message.Message):
    __slots__ = ["link_id", "reason"]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    link_id: str
    reason: str
    def __init__(self, link_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DisconnectLinkResponse(_message.Message):
    __slots__ = ["was_online"]
    WAS_ONLINE_FIELD_NUMBER: _ClassVar[int]
    was_online: bool
    def __init__(self, was_online: bool = ...) -> None: ...

class DispatchKeyEndorsement(_message.Message):
    __slots__ = ["endorsement", "public_key"]
    ENDORSEMENT_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    endorsement: bytes
    public_key: bytes
    def __init__(self, public_key: _Optional[bytes] = ..., endorsement: _Optional[bytes] = ...) -> None: ...

class DispatchRun(_message.Message):
    __slots__ = ["issued_at_ms", "link_id", "nonce", "payload", "run_id", "session_epoch", "signature"]
    ISSUED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_EPOCH_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    issued_at_ms: int
    link_id: str
    nonce: bytes
    payload: bytes
    run_id: str
    session_epoch: int
    signature: bytes
    def __init__(self, run_id: _Optional[str] = ..., link_id: _Optional[str] = ..., session_epoch: _Optional[int] = ..., issued_at_ms: _Optional[int] = ..., nonce: _Optional[bytes] = ..., payload: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Drain(_message.Message):
    __slots__ = ["reason", "reconnect_after_ms"]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RECONNECT_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    reason: str
    reconnect_after_ms: int
    def __init__(self, reason: _Optional[str] = ..., reconnect_after_ms: _Optional[int] = ...) -> None: ...

class EventsAck(_message.Message):
    __slots__ = ["acked_seq", "run_id"]
    ACKED_SEQ_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    acked_seq: int
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., acked_seq: _Optional[int] = ...) -> None: ...

class GetLinkRequest(_message.Message):
    __slots__ = ["link_id"]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    link_id: str
    def __init__(self, link_id: _Optional[str] = ...) -> None: ...

class GetLinkResponse(_message.Message):
    __slots__ = ["link"]
    LINK_FIELD_NUMBER: _ClassVar[int]
    link: _types_pb2.Link
    def __init__(self, link: _Optional[_Union[_types_pb2.Link, _Mapping]] = ...) -> None: ...

class Goodbye(_message.Message):
    __slots__ = ["reason"]
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ["running_runs", "seq"]
    RUNNING_RUNS_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    running_runs: int
    seq: int
    def __init__(self, seq: _Optional[int] = ..., running_runs: _Optional[int] = ...) -> None: ...

class HeartbeatAck(_message.Message):
    __slots__ = ["seq"]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    seq: int
    def __init__(self, seq: _Optional[int] = ...) -> None: ...

class HeldRun(_message.Message):
    __slots__ = ["finished", "last_seq_sent", "run_id"]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_SENT_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    finished: bool
    last_seq_sent: int
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., last_seq_sent: _Optional[int] = ..., finished: bool = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ["agent_version", "arch", "capabilities", "dispatch_key_missing", "held_runs", "hostname", "instance_id", "machine_id", "os", "protocol_version"]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    ARCH_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    DISPATCH_KEY_MISSING_FIELD_NUMBER: _ClassVar[int]
    HELD_RUNS_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    MACHINE_ID_FIELD_NUMBER: _ClassVar[int]
    OS_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    agent_version: str
    arch: str
    capabilities: _types_pb2.Capabilities
    dispatch_key_missing: bool
    held_runs: _containers.RepeatedCompositeFieldContainer[HeldRun]
    hostname: str
    instance_id: str
    machine_id: str
    os: str
    protocol_version: int
    def __init__(self, protocol_version: _Optional[int] = ..., machine_id: _Optional[str] = ..., instance_id: _Optional[str] = ..., hostname: _Optional[str] = ..., os: _Optional[str] = ..., arch: _Optional[str] = ..., agent_version: _Optional[str] = ..., capabilities: _Optional[_Union[_types_pb2.Capabilities, _Mapping]] = ..., held_runs: _Optional[_Iterable[_Union[HeldRun, _Mapping]]] = ..., dispatch_key_missing: bool = ...) -> None: ...

class InteractionAnswerAck(_message.Message):
    __slots__ = ["applied", "interaction_id", "reason", "run_id"]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    applied: bool
    interaction_id: str
    reason: str
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., interaction_id: _Optional[str] = ..., applied: bool = ..., reason: _Optional[str] = ...) -> None: ...

class InteractionAnswerPayload(_message.Message):
    __slots__ = ["answer", "interaction_id", "run_id"]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    answer: _run_pb2.InteractionAnswer
    interaction_id: str
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., interaction_id: _Optional[str] = ..., answer: _Optional[_Union[_run_pb2.InteractionAnswer, _Mapping]] = ...) -> None: ...

class LinkSnapshot(_message.Message):
    __slots__ = ["links"]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    links: _containers.RepeatedCompositeFieldContainer[_types_pb2.Link]
    def __init__(self, links: _Optional[_Iterable[_Union[_types_pb2.Link, _Mapping]]] = ...) -> None: ...

class ListLinksRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListLinksResponse(_message.Message):
    __slots__ = ["links"]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    links: _containers.RepeatedCompositeFieldContainer[_types_pb2.Link]
    def __init__(self, links: _Optional[_Iterable[_Union[_types_pb2.Link, _Mapping]]] = ...) -> None: ...

class PowerChanged(_message.Message):
    __slots__ = ["asleep", "at", "source"]
    ASLEEP_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    asleep: bool
    at: _timestamp_pb2.Timestamp
    source: str
    def __init__(self, asleep: bool = ..., at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[str] = ...) -> None: ...

class RenameLinkRequest(_message.Message):
    __slots__ = ["link_id", "name"]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    link_id: str
    name: str
    def __init__(self, link_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class RenameLinkResponse(_message.Message):
    __slots__ = ["link"]
    LINK_FIELD_NUMBER: _ClassVar[int]
    link: _types_pb2.Link
    def __init__(self, link: _Optional[_Union[_types_pb2.Link, _Mapping]] = ...) -> None: ...

class RevokeLinkRequest(_message.Message):
    __slots__ = ["link_id"]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    link_id: str
    def __init__(self, link_id: _Optional[str] = ...) -> None: ...

class RevokeLinkResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class RotateLinkTokenRequest(_message.Message):
    __slots__ = ["link_id"]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    link_id: str
    def __init__(self, link_id: _Optional[str] = ...) -> None: ...

class RotateLinkTokenResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class RotateToken(_message.Message):
    __slots__ = ["new_token", "rotation_id"]
    NEW_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ROTATION_ID_FIELD_NUMBER: _ClassVar[int]
    new_token: str
    rotation_id: str
    def __init__(self, rotation_id: _Optional[str] = ..., new_token: _Optional[str] = ...) -> None: ...

class RunAccepted(_message.Message):
    __slots__ = ["run_id"]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class RunCursor(_message.Message):
    __slots__ = ["last_persisted_seq", "run_id"]
    LAST_PERSISTED_SEQ_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    last_persisted_seq: int
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., last_persisted_seq: _Optional[int] = ...) -> None: ...

class RunEvents(_message.Message):
    __slots__ = ["events", "run_id"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_run_pb2.RunEvent]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., events: _Optional[_Iterable[_Union[_run_pb2.RunEvent, _Mapping]]] = ...) -> None: ...

class RunRejected(_message.Message):
    __slots__ = ["message", "reason", "run_id"]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    message: str
    reason: str
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class SandboxChangesQuery(_message.Message):
    __slots__ = ["base_commit", "sandbox"]
    BASE_COMMIT_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    base_commit: str
    sandbox: _sandbox_pb2.SandboxSpec
    def __init__(self, sandbox: _Optional[_Union[_sandbox_pb2.SandboxSpec, _Mapping]] = ..., base_commit: _Optional[str] = ...) -> None: ...

class SandboxCommit(_message.Message):
    __slots__ = ["message", "sandbox"]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    message: str
    sandbox: _sandbox_pb2.SandboxSpec
    def __init__(self, sandbox: _Optional[_Union[_sandbox_pb2.SandboxSpec, _Mapping]] = ..., message: _Optional[str] = ...) -> None: ...

class SandboxCommitted(_message.Message):
    __slots__ = ["commit", "summary"]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    commit: str
    summary: str
    def __init__(self, commit: _Optional[str] = ..., summary: _Optional[str] = ...) -> None: ...

class SandboxDeleted(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class SandboxDiscarded(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class SandboxFailure(_message.Message):
    __slots__ = ["field", "message", "reason"]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    field: str
    message: str
    reason: str
    def __init__(self, reason: _Optional[str] = ..., message: _Optional[str] = ..., field: _Optional[str] = ...) -> None: ...

class SandboxPushed(_message.Message):
    __slots__ = ["branch", "pull_request_url", "remote_url"]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    PULL_REQUEST_URL_FIELD_NUMBER: _ClassVar[int]
    REMOTE_URL_FIELD_NUMBER: _ClassVar[int]
    branch: str
    pull_request_url: str
    remote_url: str
    def __init__(self, remote_url: _Optional[str] = ..., branch: _Optional[str] = ..., pull_request_url: _Optional[str] = ...) -> None: ...

class SandboxReady(_message.Message):
    __slots__ = ["path", "setup", "size_bytes"]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SETUP_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    path: str
    setup: _sandbox_pb2.SandboxSetup
    size_bytes: int
    def __init__(self, path: _Optional[str] = ..., size_bytes: _Optional[int] = ..., setup: _Optional[_Union[_sandbox_pb2.SandboxSetup, _Mapping]] = ...) -> None: ...

class SandboxReply(_message.Message):
    __slots__ = ["changes", "committed", "deleted", "discarded", "failure", "op_id", "pushed", "ready"]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    DISCARDED_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    OP_ID_FIELD_NUMBER: _ClassVar[int]
    PUSHED_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    changes: _run_pb2.RunChanges
    committed: SandboxCommitted
    deleted: SandboxDeleted
    discarded: SandboxDiscarded
    failure: SandboxFailure
    op_id: str
    pushed: SandboxPushed
    ready: SandboxReady
    def __init__(self, op_id: _Optional[str] = ..., ready: _Optional[_Union[SandboxReady, _Mapping]] = ..., deleted: _Optional[_Union[SandboxDeleted, _Mapping]] = ..., failure: _Optional[_Union[SandboxFailure, _Mapping]] = ..., changes: _Optional[_Union[_run_pb2.RunChanges, _Mapping]] = ..., committed: _Optional[_Union[SandboxCommitted, _Mapping]] = ..., pushed: _Optional[_Union[SandboxPushed, _Mapping]] = ..., discarded: _Optional[_Union[SandboxDiscarded, _Mapping]] = ...) -> None: ...

class SandboxRequest(_message.Message):
    __slots__ = ["changes", "commit", "delete", "discard", "ensure", "measure", "op_id", "push"]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    DISCARD_FIELD_NUMBER: _ClassVar[int]
    ENSURE_FIELD_NUMBER: _ClassVar[int]
    MEASURE_FIELD_NUMBER: _ClassVar[int]
    OP_ID_FIELD_NUMBER: _ClassVar[int]
    PUSH_FIELD_NUMBER: _ClassVar[int]
    changes: SandboxChangesQuery
    commit: SandboxCommit
    delete: _sandbox_pb2.SandboxSpec
    discard: _sandbox_pb2.SandboxSpec
    ensure: _sandbox_pb2.SandboxSpec
    measure: _sandbox_pb2.SandboxSpec
    op_id: str
    push: _sandbox_pb2.SandboxSpec
    def __init__(self, op_id: _Optional[str] = ..., ensure: _Optional[_Union[_sandbox_pb2.SandboxSpec, _Mapping]] = ..., delete: _Optional[_Union[_sandbox_pb2.SandboxSpec, _Mapping]] = ..., changes: _Optional[_Union[SandboxChangesQuery, _Mapping]] = ..., commit: _Optional[_Union[SandboxCommit, _Mapping]] = ..., push: _Optional[_Union[_sandbox_pb2.SandboxSpec, _Mapping]] = ..., discard: _Optional[_Union[_sandbox_pb2.SandboxSpec, _Mapping]] = ..., measure: _Optional[_Union[_sandbox_pb2.SandboxSpec, _Mapping]] = ...) -> None: ...

class Shutdown(_message.Message):
    __slots__ = ["reason"]
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class SignedInteractionAnswer(_message.Message):
    __slots__ = ["answer", "issued_at_ms", "link_id", "nonce", "run_id", "session_epoch", "signature"]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_EPOCH_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    answer: bytes
    issued_at_ms: int
    link_id: str
    nonce: bytes
    run_id: str
    session_epoch: int
    signature: bytes
    def __init__(self, answer: _Optional[bytes] = ..., run_id: _Optional[str] = ..., link_id: _Optional[str] = ..., session_epoch: _Optional[int] = ..., issued_at_ms: _Optional[int] = ..., nonce: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class SignedSandboxRequest(_message.Message):
    __slots__ = ["issued_at_ms", "link_id", "nonce", "op_id", "request", "session_epoch", "signature"]
    ISSUED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    OP_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    SESSION_EPOCH_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    issued_at_ms: int
    link_id: str
    nonce: bytes
    op_id: str
    request: bytes
    session_epoch: int
    signature: bytes
    def __init__(self, request: _Optional[bytes] = ..., op_id: _Optional[str] = ..., link_id: _Optional[str] = ..., session_epoch: _Optional[int] = ..., issued_at_ms: _Optional[int] = ..., nonce: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class SignedSteer(_message.Message):
    __slots__ = ["issued_at_ms", "link_id", "nonce", "run_id", "session_epoch", "signature", "steer"]
    ISSUED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_EPOCH_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    STEER_FIELD_NUMBER: _ClassVar[int]
    issued_at_ms: int
    link_id: str
    nonce: bytes
    run_id: str
    session_epoch: int
    signature: bytes
    steer: bytes
    def __init__(self, steer: _Optional[bytes] = ..., run_id: _Optional[str] = ..., link_id: _Optional[str] = ..., session_epoch: _Optional[int] = ..., issued_at_ms: _Optional[int] = ..., nonce: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class StartPairingRequest(_message.Message):
    __slots__ = ["link_name"]
    LINK_NAME_FIELD_NUMBER: _ClassVar[int]
    link_name: str
    def __init__(self, link_name: _Optional[str] = ...) -> None: ...

class StartPairingResponse(_message.Message):
    __slots__ = ["code", "command", "expires_at", "server_address"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SERVER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    code: str
    command: str
    expires_at: _timestamp_pb2.Timestamp
    server_address: str
    def __init__(self, code: _Optional[str] = ..., expires_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., command: _Optional[str] = ..., server_address: _Optional[str] = ...) -> None: ...

class SteerAck(_message.Message):
    __slots__ = ["applied", "message_id", "reason", "run_id"]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    applied: bool
    message_id: str
    reason: str
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., message_id: _Optional[str] = ..., applied: bool = ..., reason: _Optional[str] = ...) -> None: ...

class SteerPayload(_message.Message):
    __slots__ = ["message_id", "run_id", "text"]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    run_id: str
    text: str
    def __init__(self, run_id: _Optional[str] = ..., message_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class TokenRotated(_message.Message):
    __slots__ = ["rotation_id"]
    ROTATION_ID_FIELD_NUMBER: _ClassVar[int]
    rotation_id: str
    def __init__(self, rotation_id: _Optional[str] = ...) -> None: ...

class WatchLinksRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class WatchLinksResponse(_message.Message):
    __slots__ = ["changed", "removed_link_id", "snapshot"]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_LINK_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    changed: _types_pb2.Link
    removed_link_id: str
    snapshot: LinkSnapshot
    def __init__(self, snapshot: _Optional[_Union[LinkSnapshot, _Mapping]] = ..., changed: _Optional[_Union[_types_pb2.Link, _Mapping]] = ..., removed_link_id: _Optional[str] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ["dispatch_key_chain", "dispatch_public_key", "heartbeat_interval_ms", "link_id", "protocol_version", "replica_id", "run_cursors", "session_epoch"]
    DISPATCH_KEY_CHAIN_FIELD_NUMBER: _ClassVar[int]
    DISPATCH_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    REPLICA_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_CURSORS_FIELD_NUMBER: _ClassVar[int]
    SESSION_EPOCH_FIELD_NUMBER: _ClassVar[int]
    dispatch_key_chain: _containers.RepeatedCompositeFieldContainer[DispatchKeyEndorsement]
    dispatch_public_key: bytes
    heartbeat_interval_ms: int
    link_id: str
    protocol_version: int
    replica_id: str
    run_cursors: _containers.RepeatedCompositeFieldContainer[RunCursor]
    session_epoch: int
    def __init__(self, link_id: _Optional[str] = ..., session_epoch: _Optional[int] = ..., heartbeat_interval_ms: _Optional[int] = ..., replica_id: _Optional[str] = ..., protocol_version: _Optional[int] = ..., run_cursors: _Optional[_Iterable[_Union[RunCursor, _Mapping]]] = ..., dispatch_public_key: _Optional[bytes] = ..., dispatch_key_chain: _Optional[_Iterable[_Union[DispatchKeyEndorsement, _Mapping]]] = ...) -> None: ...
