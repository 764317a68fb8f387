from tests.support import auth


async def test_organ_created(catalog):
    r = await catalog.post("/api/v1/catalog/organs", headers=auth("admin"), json={
        "code": "91350100M000100Y43", "name": "测试市人民政府", "kind": "peoples_government"})
    assert r.status_code == 201, r.text
    r = await catalog.get("/api/v1/catalog/organs/91350100M000100Y43")
    assert r.json()["name"] == "测试市人民政府"
