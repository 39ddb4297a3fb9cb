from google.protobuf import timestamp_pb2 as _timestamp_pb2
from link_client._gen.link.v1 import run_pb2 as _run_pb2
from link_client._gen.link.v1 import sandbox_pb2 as _sandbox_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

CREDENTIALS_STATE_MISSING: CredentialsState
CREDENTIALS_STATE_PRESENT: CredentialsState
CREDENTIALS_STATE_UNKNOWN: CredentialsState
CREDENTIALS_STATE_UNSPECIFIED: CredentialsState
DESCRIPTOR: _descriptor.FileDescriptor
LINK_STATE_ASLEEP: LinkState
LINK_STATE_OFFLINE: LinkState
LINK_STATE_ONLINE: LinkState
LINK_STATE_UNSPECIFIED: LinkState
SANDBOX_PROVIDER_KIND_BWRAP: SandboxProviderKind
SANDBOX_PROVIDER_KIND_DIRECTORY: SandboxProviderKind
SANDBOX_PROVIDER_KIND_IN_PLACE: SandboxProviderKind
SANDBOX_PROVIDER_KIND_UNSPECIFIED: SandboxProviderKind
SANDBOX_PROVIDER_KIND_WORKTREE: SandboxProviderKind

class Capabilities(_message.Message):
    __slots__ = ["capacity", "harnesses", "probed_at", "repositories", "repositories_truncated", "repository_schemes", "sandbox_providers", "tools", "workspace_add_command", "workspaces"]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    HARNESSES_FIELD_NUMBER: _ClassVar[int]
    PROBED_AT_FIELD_NUMBER: _ClassVar[int]
    REPOSITORIES_FIELD_NUMBER: _ClassVar[int]
    REPOSITORIES_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    REPOSITORY_SCHEMES_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    WORKSPACES_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ADD_COMMAND_FIELD_NUMBER: _ClassVar[int]
    capacity: Capacity
    harnesses: _containers.RepeatedCompositeFieldContainer[HarnessCapability]
    probed_at: _timestamp_pb2.Timestamp
    repositories: _containers.RepeatedCompositeFieldContainer[_sandbox_pb2.LocalRepository]
    repositories_truncated: bool
    repository_schemes: _containers.RepeatedScalarFieldContainer[str]
    sandbox_providers: _containers.RepeatedCompositeFieldContainer[SandboxProviderCapability]
    tools: _containers.RepeatedCompositeFieldContainer[ToolCapability]
    workspace_add_command: str
    workspaces: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, harnesses: _Optional[_Iterable[_Union[HarnessCapability, _Mapping]]] = ..., sandbox_providers: _Optional[_Iterable[_Union[SandboxProviderCapability, _Mapping]]] = ..., tools: _Optional[_Iterable[_Union[ToolCapability, _Mapping]]] = ..., capacity: _Optional[_Union[Capacity, _Mapping]] = ..., probed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., workspaces: _Optional[_Iterable[str]] = ..., repositories: _Optional[_Iterable[_Union[_sandbox_pb2.LocalRepository, _Mapping]]] = ..., repositories_truncated: bool = ..., workspace_add_command: _Optional[str] = ..., repository_schemes: _Optional[_Iterable[str]] = ...) -> None: ...

class Capacity(_message.Message):
    __slots__ = ["max_concurrent_runs"]
    MAX_CONCURRENT_RUNS_FIELD_NUMBER: _ClassVar[int]
    max_concurrent_runs: int
    def __init__(self, max_concurrent_runs: _Optional[int] = ...) -> None: ...

class HarnessCapability(_message.Message):
    __slots__ = ["credentials", "detail", "executable", "installed", "interruptible", "name", "steerable", "version"]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    EXECUTABLE_FIELD_NUMBER: _ClassVar[int]
    INSTALLED_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTIBLE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STEERABLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    credentials: CredentialsState
    detail: str
    executable: str
    installed: bool
    interruptible: bool
    name: str
    steerable: bool
    version: str
    def __init__(self, name: _Optional[str] = ..., installed: bool = ..., version: _Optional[str] = ..., credentials: _Optional[_Union[CredentialsState, str]] = ..., executable: _Optional[str] = ..., detail: _Optional[str] = ..., steerable: bool = ..., interruptible: bool = ...) -> None: ...

class HarnessUsageLimit(_message.Message):
    __slots__ = ["harness", "reported_at", "resets_at", "status", "used_known", "used_percent", "window"]
    HARNESS_FIELD_NUMBER: _ClassVar[int]
    REPORTED_AT_FIELD_NUMBER: _ClassVar[int]
    RESETS_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    USED_KNOWN_FIELD_NUMBER: _ClassVar[int]
    USED_PERCENT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    harness: str
    reported_at: _timestamp_pb2.Timestamp
    resets_at: _timestamp_pb2.Timestamp
    status: _run_pb2.UsageLimitStatus
    used_known: bool
    used_percent: float
    window: str
    def __init__(self, harness: _Optional[str] = ..., status: _Optional[_Union[_run_pb2.UsageLimitStatus, str]] = ..., resets_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., used_percent: _Optional[float] = ..., used_known: bool = ..., window: _Optional[str] = ..., reported_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Link(_message.Message):
    __slots__ = ["agent_version", "arch", "asleep_since", "capabilities", "connected_at", "created_at", "dispatch_key_missing", "hostname", "id", "last_seen_at", "machine_id", "name", "os", "queued_messages", "replica_id", "running_run_ids", "session_epoch", "state", "usage_limits"]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    ARCH_FIELD_NUMBER: _ClassVar[int]
    ASLEEP_SINCE_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DISPATCH_KEY_MISSING_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    MACHINE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    REPLICA_ID_FIELD_NUMBER: _ClassVar[int]
    RUNNING_RUN_IDS_FIELD_NUMBER: _ClassVar[int]
    SESSION_EPOCH_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    USAGE_LIMITS_FIELD_NUMBER: _ClassVar[int]
    agent_version: str
    arch: str
    asleep_since: _timestamp_pb2.Timestamp
    capabilities: Capabilities
    connected_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    dispatch_key_missing: bool
    hostname: str
    id: str
    last_seen_at: _timestamp_pb2.Timestamp
    machine_id: str
    name: str
    os: str
    queued_messages: int
    replica_id: str
    running_run_ids: _containers.RepeatedScalarFieldContainer[str]
    session_epoch: int
    state: LinkState
    usage_limits: _containers.RepeatedCompositeFieldContainer[HarnessUsageLimit]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., state: _Optional[_Union[LinkState, str]] = ..., hostname: _Optional[str] = ..., os: _Optional[str] = ..., arch: _Optional[str] = ..., agent_version: _Optional[str] = ..., machine_id: _Optional[str] = ..., capabilities: _Optional[_Union[Capabilities, _Mapping]] = ..., connected_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., replica_id: _Optional[str] = ..., session_epoch: _Optional[int] = ..., running_run_ids: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., dispatch_key_missing: bool = ..., asleep_since: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., queued_messages: _Optional[int] = ..., usage_limits: _Optional[_Iterable[_Union[HarnessUsageLimit, _Mapping]]] = ...) -> None: ...

class SandboxProviderCapability(_message.Message):
    __slots__ = ["available", "detail", "kind"]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    available: bool
    detail: str
    kind: SandboxProviderKind
    def __init__(self, kind: _Optional[_Union[SandboxProviderKind, str]] = ..., available: bool = ..., detail: _Optional[str] = ...) -> None: ...

class ToolCapability(_message.Message):
    __slots__ = ["installed", "name", "version"]
    INSTALLED_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    installed: bool
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., installed: bool = ..., version: _Optional[str] = ...) -> None: ...

class CredentialsState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class SandboxProviderKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class LinkState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
