"""Use cases of the catalogue, one module per concern. Never imports fastapi; raises errors.*; never commits."""
