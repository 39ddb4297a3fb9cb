"""Decoding the machine-readable reason of a failed call.

A Link server sends, next to the gRPC status code, a ``google.rpc.Status`` in the
``grpc-status-details-bin`` trailer whose details hold one ``google.rpc.ErrorInfo``: its ``reason``
(``LINK_OFFLINE``, ``THREAD_BUSY``, ``UNAUTHENTICATED``, ...) and ``metadata``. Branch on the reason,
never on the message text.
"""
from __future__ import annotations

from typing import Dict, Optional

import grpc

from link_client._gen.google.rpc.error_details_pb2 import ErrorInfo
from link_client._gen.google.rpc.status_pb2 import Status

#: The ErrorInfo domain of every error a Link server sends.
ERROR_DOMAIN = "link.v1"
_DETAILS_KEY = "grpc-status-details-bin"


def error_info_of(error: BaseException) -> Optional[ErrorInfo]:
    """The ErrorInfo of a failed call (a ``grpc.RpcError``), or None when it carries none."""
    trailers = error.trailing_metadata() if isinstance(error, grpc.Call) else None
    for key, value in trailers or ():
        if key != _DETAILS_KEY:
            continue
        status = Status()
        status.ParseFromString(value if isinstance(value, bytes) else value.encode("latin-1"))
        for detail in status.details:
            if detail.type_url.endswith("/" + ErrorInfo.DESCRIPTOR.full_name):
                info = ErrorInfo()
                detail.Unpack(info)
                return info
    return None


def reason_of(error: BaseException) -> Optional[str]:
    """The machine-readable reason of a failed call (``"THREAD_NOT_FOUND"``), or None."""
    info = error_info_of(error)
    return info.reason if info is not None else None


def metadata_of(error: BaseException) -> Dict[str, str]:
    """The details that come with the reason (``{"field": "harness"}``); empty when there are none."""
    info = error_info_of(error)
    return dict(info.metadata) if info is not None else {}
