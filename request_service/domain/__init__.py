"""Use cases of the request service, one module per concern. Never imports fastapi; never commits."""
