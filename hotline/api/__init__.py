"""The FastAPI app, the CLI and the composition root."""
