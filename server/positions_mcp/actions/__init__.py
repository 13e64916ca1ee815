"""Use-cases without MCP: reads, and the one confirmed-action pipeline."""
