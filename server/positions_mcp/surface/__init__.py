"""The MCP surface, kept thin: tools, resources, prompts and the HTTP transport."""
