"""The MCP endpoint of `serve`: the same permission-aware search as `/v1/search`, for agent hosts that speak
the Model Context Protocol (streamable HTTP at `/mcp`, built on the official `mcp` SDK).

resource.py publishes the OAuth protected resource metadata (RFC 9728) and names it in 401 challenges;
endpoint.py is the ASGI app at `/mcp`: it checks the bearer token with the REST verifier, then hands the
request to the SDK's session manager (stateless, JSON responses); tools.py holds the `search` and
`read_document` tools, which run the REST steps (retrieval/deps.py, retrieval/reading.py); rendering.py
writes the text an LLM reads beside the structured result.
"""

from retrieval.mcp.endpoint import McpEndpoint
from retrieval.mcp.resource import router as resource_metadata_router

__all__ = ["McpEndpoint", "resource_metadata_router"]
