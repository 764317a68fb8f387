"""Use cases of the statistics service. Never imports fastapi; never commits."""
