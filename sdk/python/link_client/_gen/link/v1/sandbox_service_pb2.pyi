from link_client._gen.link.v1 import run_pb2 as _run_pb2
from link_client._gen.link.v1 import sandbox_pb2 as _sandbox_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CommitSandboxRequest(_message.Message):
    __slots__ = ["message", "sandbox_id"]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    message: str
    sandbox_id: str
    def __init__(self, sandbox_id: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class CommitSandboxResponse(_message.Message):
    __slots__ = ["commit", "summary"]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    commit: str
    summary: str
    def __init__(self, commit: _Optional[str] = ..., summary: _Optional[str] = ...) -> None: ...

class DeleteSandboxRequest(_message.Message):
    __slots__ = ["sandbox_id"]
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    def __init__(self, sandbox_id: _Optional[str] = ...) -> None: ...

class DeleteSandboxResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class DiscardSandboxChangesRequest(_message.Message):
    __slots__ = ["sandbox_id"]
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    def __init__(self, sandbox_id: _Optional[str] = ...) -> None: ...

class DiscardSandboxChangesResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class EnsureSandboxRequest(_message.Message):
    __slots__ = ["branch", "link_id", "provider", "repository"]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    REPOSITORY_FIELD_NUMBER: _ClassVar[int]
    branch: str
    link_id: str
    provider: str
    repository: str
    def __init__(self, link_id: _Optional[str] = ..., repository: _Optional[str] = ..., branch: _Optional[str] = ..., provider: _Optional[str] = ...) -> None: ...

class EnsureSandboxResponse(_message.Message):
    __slots__ = ["sandbox"]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    sandbox: _sandbox_pb2.Sandbox
    def __init__(self, sandbox: _Optional[_Union[_sandbox_pb2.Sandbox, _Mapping]] = ...) -> None: ...

class ExecExit(_message.Message):
    __slots__ = ["exit_code", "reason", "run_id"]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    exit_code: int
    reason: str
    run_id: str
    def __init__(self, exit_code: _Optional[int] = ..., reason: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class ExecOutput(_message.Message):
    __slots__ = ["stream", "text"]
    class Stream(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    STREAM_FIELD_NUMBER: _ClassVar[int]
    STREAM_STDERR: ExecOutput.Stream
    STREAM_STDOUT: ExecOutput.Stream
    STREAM_UNSPECIFIED: ExecOutput.Stream
    TEXT_FIELD_NUMBER: _ClassVar[int]
    stream: ExecOutput.Stream
    text: str
    def __init__(self, stream: _Optional[_Union[ExecOutput.Stream, str]] = ..., text: _Optional[str] = ...) -> None: ...

class ExecRequest(_message.Message):
    __slots__ = ["command", "sandbox_id"]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    command: str
    sandbox_id: str
    def __init__(self, sandbox_id: _Optional[str] = ..., command: _Optional[str] = ...) -> None: ...

class ExecResponse(_message.Message):
    __slots__ = ["exit", "output"]
    EXIT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    exit: ExecExit
    output: ExecOutput
    def __init__(self, output: _Optional[_Union[ExecOutput, _Mapping]] = ..., exit: _Optional[_Union[ExecExit, _Mapping]] = ...) -> None: ...

class GetSandboxChangesRequest(_message.Message):
    __slots__ = ["base_commit", "sandbox_id"]
    BASE_COMMIT_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    base_commit: str
    sandbox_id: str
    def __init__(self, sandbox_id: _Optional[str] = ..., base_commit: _Optional[str] = ...) -> None: ...

class GetSandboxChangesResponse(_message.Message):
    __slots__ = ["changes"]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    changes: _run_pb2.RunChanges
    def __init__(self, changes: _Optional[_Union[_run_pb2.RunChanges, _Mapping]] = ...) -> None: ...

class GetSandboxRequest(_message.Message):
    __slots__ = ["sandbox_id"]
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    def __init__(self, sandbox_id: _Optional[str] = ...) -> None: ...

class GetSandboxResponse(_message.Message):
    __slots__ = ["sandbox"]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    sandbox: _sandbox_pb2.Sandbox
    def __init__(self, sandbox: _Optional[_Union[_sandbox_pb2.Sandbox, _Mapping]] = ...) -> None: ...

class ListRepositoriesRequest(_message.Message):
    __slots__ = ["link_id"]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    link_id: str
    def __init__(self, link_id: _Optional[str] = ...) -> None: ...

class ListRepositoriesResponse(_message.Message):
    __slots__ = ["repositories", "truncated", "workspaces"]
    REPOSITORIES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    WORKSPACES_FIELD_NUMBER: _ClassVar[int]
    repositories: _containers.RepeatedCompositeFieldContainer[_sandbox_pb2.LocalRepository]
    truncated: bool
    workspaces: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, repositories: _Optional[_Iterable[_Union[_sandbox_pb2.LocalRepository, _Mapping]]] = ..., workspaces: _Optional[_Iterable[str]] = ..., truncated: bool = ...) -> None: ...

class ListSandboxesRequest(_message.Message):
    __slots__ = ["link_id", "measure"]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    MEASURE_FIELD_NUMBER: _ClassVar[int]
    link_id: str
    measure: bool
    def __init__(self, link_id: _Optional[str] = ..., measure: bool = ...) -> None: ...

class ListSandboxesResponse(_message.Message):
    __slots__ = ["sandboxes"]
    SANDBOXES_FIELD_NUMBER: _ClassVar[int]
    sandboxes: _containers.RepeatedCompositeFieldContainer[_sandbox_pb2.Sandbox]
    def __init__(self, sandboxes: _Optional[_Iterable[_Union[_sandbox_pb2.Sandbox, _Mapping]]] = ...) -> None: ...

class PushSandboxRequest(_message.Message):
    __slots__ = ["sandbox_id"]
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    def __init__(self, sandbox_id: _Optional[str] = ...) -> None: ...

class PushSandboxResponse(_message.Message):
    __slots__ = ["branch", "pull_request_url", "remote_url"]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    PULL_REQUEST_URL_FIELD_NUMBER: _ClassVar[int]
    REMOTE_URL_FIELD_NUMBER: _ClassVar[int]
    branch: str
    pull_request_url: str
    remote_url: str
    def __init__(self, remote_url: _Optional[str] = ..., branch: _Optional[str] = ..., pull_request_url: _Optional[str] = ...) -> None: ...
