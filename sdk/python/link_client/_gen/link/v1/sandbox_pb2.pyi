from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
SANDBOX_STATE_FAILED: SandboxState
SANDBOX_STATE_PENDING: SandboxState
SANDBOX_STATE_READY: SandboxState
SANDBOX_STATE_UNSPECIFIED: SandboxState

class LocalRepository(_message.Message):
    __slots__ = ["current_branch", "default_branch", "name", "path"]
    CURRENT_BRANCH_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_BRANCH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    current_branch: str
    default_branch: str
    name: str
    path: str
    def __init__(self, path: _Optional[str] = ..., name: _Optional[str] = ..., current_branch: _Optional[str] = ..., default_branch: _Optional[str] = ...) -> None: ...

class Sandbox(_message.Message):
    __slots__ = ["branch", "created_at", "error", "id", "last_thread_id", "last_thread_title", "last_used_at", "link_id", "path", "provider", "repository", "size_bytes", "state", "thread_count", "thread_id"]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    LAST_THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_THREAD_TITLE_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    REPOSITORY_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    THREAD_COUNT_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    branch: str
    created_at: _timestamp_pb2.Timestamp
    error: str
    id: str
    last_thread_id: str
    last_thread_title: str
    last_used_at: _timestamp_pb2.Timestamp
    link_id: str
    path: str
    provider: str
    repository: str
    size_bytes: int
    state: SandboxState
    thread_count: int
    thread_id: str
    def __init__(self, id: _Optional[str] = ..., link_id: _Optional[str] = ..., repository: _Optional[str] = ..., branch: _Optional[str] = ..., provider: _Optional[str] = ..., state: _Optional[_Union[SandboxState, str]] = ..., path: _Optional[str] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., error: _Optional[str] = ..., thread_id: _Optional[str] = ..., size_bytes: _Optional[int] = ..., last_thread_id: _Optional[str] = ..., last_thread_title: _Optional[str] = ..., thread_count: _Optional[int] = ...) -> None: ...

class SandboxSetup(_message.Message):
    __slots__ = ["command", "copied", "exit_code", "output"]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    COPIED_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    command: str
    copied: _containers.RepeatedScalarFieldContainer[str]
    exit_code: int
    output: str
    def __init__(self, copied: _Optional[_Iterable[str]] = ..., command: _Optional[str] = ..., exit_code: _Optional[int] = ..., output: _Optional[str] = ...) -> None: ...

class SandboxSpec(_message.Message):
    __slots__ = ["branch", "handle", "provider", "repository"]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    REPOSITORY_FIELD_NUMBER: _ClassVar[int]
    branch: str
    handle: str
    provider: str
    repository: str
    def __init__(self, handle: _Optional[str] = ..., provider: _Optional[str] = ..., repository: _Optional[str] = ..., branch: _Optional[str] = ...) -> None: ...

class SandboxState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
