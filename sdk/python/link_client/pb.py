"""Every message and enum of the Link API (link.v1), from the generated modules in one namespace.

    from link_client import pb
    pb.SendMessageRequest(thread_id=..., text="ls", harness="shell", link_id=...)
"""
from link_client._gen.google.rpc.error_details_pb2 import *  # noqa: F401,F403
from link_client._gen.google.rpc.status_pb2 import *  # noqa: F401,F403
from link_client._gen.link.v1.link_service_pb2 import *  # noqa: F401,F403
from link_client._gen.link.v1.run_pb2 import *  # noqa: F401,F403
from link_client._gen.link.v1.sandbox_pb2 import *  # noqa: F401,F403
from link_client._gen.link.v1.sandbox_service_pb2 import *  # noqa: F401,F403
from link_client._gen.link.v1.thread_service_pb2 import *  # noqa: F401,F403
from link_client._gen.link.v1.types_pb2 import *  # noqa: F401,F403
from link_client._gen.link.v1.user_service_pb2 import *  # noqa: F401,F403
