"""A trivial upstream for the gateway benchmark: ../shared/bench/bare_app.py's `/model` route, served under a
service prefix so the gateway can route to it (the gateway only forwards /api/v1/{catalog,requests,stats}).

Run: uvicorn scripts.bench_upstream:app --host 127.0.0.1 --port 8111 --no-access-log
Routes: GET /api/v1/catalog/model (Pydantic return type, same payload as bare_app), GET /readyz.
"""

from fastapi import FastAPI
from pydantic import BaseModel

PAYLOAD = {"status": "ok", "service": "bench", "items": [1, 2, 3], "message": "你好，世界"}


class Payload(BaseModel):
    status: str
    service: str
    items: list[int]
    message: str


_MODEL = Payload(**PAYLOAD)
app = FastAPI()


@app.get("/api/v1/catalog/model")
async def model_route() -> Payload:
    return _MODEL


@app.get("/readyz")
async def readyz() -> dict[str, str]:
    return {"status": "ok"}
