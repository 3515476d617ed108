"""The MCP adapter: tools, resources and prompts over the services (never SQL).

server.py builds the server (`build_mcp`); record_tools, query_tools, legacy_tools and resources
register what it offers; backend.py is where tools send their work (local services or the
forwarder); http.py mounts it in the web app (/mcp, /sse); stdio.py runs `fortium-metrics mcp`
(embedded, or forwarder.py + spool.py towards a remote server); errors.py maps domain errors.
Nothing is built at import time.
"""
