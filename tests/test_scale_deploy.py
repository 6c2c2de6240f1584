"""docker-compose.scale.yml and docker/nginx-api.conf, checked without a Docker engine: the
override parses, the load balancer publishes the API port and reaches the replicas on the
port `rag serve` listens on, and the UI goes through it."""

from __future__ import annotations

import re

import pytest

from tests import compose
from tests.conftest import ROOT

yaml = pytest.importorskip("yaml", reason="install the 'dev' extra")

OVERRIDE = ROOT / "docker-compose.scale.yml"
NGINX = ROOT / "docker" / "nginx-api.conf"


class ComposeLoader(yaml.SafeLoader):
    """YAML with Compose's ``!reset`` / ``!override`` tags (read as their plain values)."""


ComposeLoader.add_constructor("!reset", lambda loader, node: loader.construct_sequence(node)
                              if isinstance(node, yaml.SequenceNode) else None)


@pytest.fixture(scope="module")
def override() -> dict:
    return yaml.load(compose.interpolate(OVERRIDE.read_text(), {}), Loader=ComposeLoader)["services"]


def test_replicas_publish_no_port_and_the_balancer_publishes_the_api_port(override) -> None:
    base = compose.load()["services"]
    assert override["api"]["ports"] == []
    assert base["api"]["ports"] == override["lb"]["ports"] == ["8000:8000"]


def test_nginx_listens_where_lb_publishes_and_proxies_to_the_api_port(override) -> None:
    conf = NGINX.read_text()
    api_port = compose.argv(compose.load()["services"]["api"])
    api_port = api_port[api_port.index("--port") + 1]
    assert re.search(r"listen 8000;", conf) and override["lb"]["ports"][0].endswith(":8000")
    assert re.search(rf"server api:{api_port}\b", conf)
    assert "proxy_buffering off;" in conf  # answers are server-sent events
    assert override["lb"]["volumes"] == ["./docker/nginx-api.conf:/etc/nginx/conf.d/default.conf:ro"]


def test_the_ui_talks_to_the_balancer_and_the_api_to_every_llm(override) -> None:
    assert override["ui"]["command"][-2:] == ["--api-url", "http://lb:8000"]
    assert override["api"]["environment"]["RAG_GENERATOR_BASE_URL"] == \
        compose.load()["services"]["api"]["environment"]["RAG_GENERATOR_BASE_URL"]
    urls = yaml.load(compose.interpolate(OVERRIDE.read_text(), {"LLM_BASE_URLS": "http://a:8001/v1,http://b:8001/v1"}),
                     Loader=ComposeLoader)["services"]["api"]["environment"]["RAG_GENERATOR_BASE_URL"]
    from rag.config import get_settings
    from rag.generate import make_generator

    gen = make_generator(get_settings(generator_backend="openai", generator_base_url=urls))
    assert gen.replicas.roots == ["http://a:8001", "http://b:8001"]
