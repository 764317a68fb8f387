"""compose.yaml (issue 17 item 6) cannot run here (no Docker), so its settings are checked against the code: every
<SERVICE>_/GATEWAY_ variable it sets names a real setting, the gateway lists both instances of each service, and
each catalogue instance has a search index volume of its own."""

from pathlib import Path

import yaml

from catalog_service.config import Settings as CatalogSettings
from gateway.config import GatewaySettings
from request_service.config import Settings as RequestSettings
from stats_service.config import Settings as StatsSettings
from tests.support import ROOT

PREFIXES = {"CATALOG_": CatalogSettings, "REQUEST_": RequestSettings, "STATS_": StatsSettings,
            "GATEWAY_": GatewaySettings}


def compose() -> dict:
    return yaml.safe_load((Path(ROOT) / "compose.yaml").read_text())


def test_every_variable_names_a_setting():
    unknown = []
    for name, service in compose()["services"].items():
        for variable in (service.get("environment") or {}):
            for prefix, settings in PREFIXES.items():
                if variable.startswith(prefix) and variable.removeprefix(prefix).lower() not in settings.model_fields:
                    unknown.append(f"{name}: {variable}")
    assert unknown == []


def test_two_instances_per_service_behind_the_gateway_and_a_standby():
    services = compose()["services"]
    env = services["gateway"]["environment"]
    pools = GatewaySettings(catalog_urls=env["GATEWAY_CATALOG_URLS"], request_urls=env["GATEWAY_REQUEST_URLS"],
                            stats_urls=env["GATEWAY_STATS_URLS"]).upstream_pools()
    for service, urls in pools.items():
        assert len(urls) == 2, (service, urls)
        for url in urls:
            host = url.split("//", 1)[1].split(":", 1)[0]
            assert host in services and services[host]["command"][1].startswith(f"{service}_service.app"), url
    assert services["catalog-1"]["volumes"] != services["catalog-2"]["volumes"]  # one search index per instance
    assert services["catalog-1"]["environment"]["CATALOG_ATTACHMENT_STORE"] == "database"
    standby = "\n".join(services["postgres-standby"]["command"])
    assert "pg_basebackup" in standby and " -R " in standby
