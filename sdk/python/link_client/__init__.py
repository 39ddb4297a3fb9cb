"""link_client: a typed Python client of the Link control plane's gRPC API.

    from link_client import LinkClient, pb, reason_of

    with LinkClient("https://link.example.com:9090", token_file="~/.link-token") as client:
        for link in client.links.ListLinks(pb.ListLinksRequest()).links:
            print(link.id, link.hostname)

The request and response messages are in ``link_client.pb`` (every message and enum of the API);
failures are ``grpc.RpcError`` whose machine-readable reason ``reason_of(error)`` decodes.
"""
from link_client.client import LinkClient, follow_run
from link_client.errors import ERROR_DOMAIN, error_info_of, metadata_of, reason_of

__all__ = ["LinkClient", "follow_run", "reason_of", "metadata_of", "error_info_of", "ERROR_DOMAIN"]
