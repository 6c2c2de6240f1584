"""docker-compose.yml, the Dockerfiles and the extras, checked without a Docker engine:
the compose file is parsed and its wiring checked, and each service's command is run
outside a container (``rag ui`` here, ``rag serve`` with each service's environment;
the ``llm`` command is the vLLM test server of tests/vllm_server.py)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from importlib import metadata

import httpx
import pytest

from tests import compose
from tests.api_server import free_port, running_server
from tests.conftest import ROOT

pytest.importorskip("yaml", reason="install the 'dev' extra")

GPU_STACK = {"llm", "api", "ui"}
CPU_STACK = {"api-cpu", "ui-cpu"}
DOCKER = ROOT / "docker"


@pytest.fixture(scope="module")
def services() -> dict:
    return compose.load()["services"]


def container_port(service: dict) -> str:
    args = compose.argv(service)
    return args[args.index("--port") + 1]


def test_services_and_profiles(services):
    assert set(services) == GPU_STACK | CPU_STACK
    for name in GPU_STACK:  # `docker compose up` starts the GPU stack
        assert "profiles" not in services[name], name
    for name in CPU_STACK:
        assert services[name]["profiles"] == ["cpu"], name


def test_gpus_are_reserved_for_llm_and_api_only(services):
    def gpu(service):
        devices = service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
        return any("gpu" in d.get("capabilities", []) for d in devices)

    assert {name for name, s in services.items() if gpu(s)} == {"llm", "api"}


def test_healthchecks_probe_the_port_each_command_listens_on(services):
    paths = {"llm": "/health", "api": "/readyz", "api-cpu": "/readyz", "ui": "/_stcore/health",
             "ui-cpu": "/_stcore/health"}
    for name, path in paths.items():
        service = services[name]
        probe = " ".join(service["healthcheck"]["test"])
        assert f"127.0.0.1:{container_port(service)}{path}" in probe, (name, probe)
        assert service["healthcheck"]["start_period"]


def test_ports_publish_what_the_commands_listen_on(services):
    published = {name: [p.rsplit(":", 2) for p in s["ports"]] for name, s in services.items()}
    for name, service in services.items():
        assert published[name][0][-1] == container_port(service), name
    assert published["api"][0][-2:] == ["8000", "8000"] and published["ui"][0][-2:] == ["8501", "8501"]
    assert published["llm"][0][0] == "127.0.0.1"  # vLLM has no auth: loopback only


def test_depends_on_waits_for_health(services):
    assert services["api"]["depends_on"] == {"llm": {"condition": "service_healthy"}}
    assert services["ui"]["depends_on"] == {"api": {"condition": "service_healthy"}}
    assert services["ui-cpu"]["depends_on"] == {"api-cpu": {"condition": "service_healthy"}}
    assert "depends_on" not in services["api-cpu"]  # embedded llama.cpp: no llm service


def test_the_api_reaches_the_llm_service_with_its_window(services):
    api, llm = services["api"]["environment"], compose.argv(services["llm"])
    assert api["RAG_GENERATOR_BACKEND"] == "openai"
    assert api["RAG_GENERATOR_BASE_URL"] == f"http://llm:{container_port(services['llm'])}/v1"
    assert str(api["RAG_GENERATOR_CONTEXT_WINDOW"]) == llm[llm.index("--max-model-len") + 1]
    for option in ("--max-model-len", "--gpu-memory-utilization", "--tensor-parallel-size"):
        assert option in llm
    assert services["ui"]["command"][-1] == "http://api:8000" and services["ui-cpu"]["command"][-1] == "http://api-cpu:8000"


def test_volumes_hold_collections_models_and_the_model_cache(services):
    declared = set(compose.load()["volumes"])
    for name in ("api", "api-cpu"):
        mounts = dict(v.split(":")[:2] for v in services[name]["volumes"])
        env = services[name]["environment"]
        assert mounts["rag-data"] == env["RAG_HOME"] and mounts["rag-models"] == env["RAG_MODELS_HOME"], name
        assert set(mounts) <= declared
    llm_cache = dict(v.split(":")[:2] for v in services["llm"]["volumes"])["hf-cache"]
    assert llm_cache == services["llm"]["environment"]["HF_HOME"] == services["api"]["environment"]["HF_HOME"]


def test_service_environments_are_valid_settings(services, monkeypatch):
    from rag.config import Settings, get_settings

    for name in ("api", "api-cpu"):
        env = services[name]["environment"]
        unknown = [k for k in env if k.startswith("RAG_") and k[4:].lower() not in Settings.model_fields]
        assert not unknown, (name, unknown)
        for key in [k for k in os.environ if k.startswith("RAG_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, str(value))
        settings = get_settings()
        assert settings.port == 8000 and str(settings.home) == "/data", name
        assert settings.api_key is None or not settings.api_key.get_secret_value(), "API_KEY unset must mean no key"
    assert get_settings().generator_backend == "llamacpp" and get_settings().index_device == "cpu"  # api-cpu


def test_env_example_documents_every_variable_with_the_same_default():
    documented = compose.env_example()
    used = compose.variables(compose.COMPOSE.read_text())
    assert set(documented) == used
    defaults = dict(re.findall(r"\$\{([A-Z_]+):-([^}]*)\}", compose.COMPOSE.read_text()))
    assert {k: v for k, v in documented.items()} == {k: defaults.get(k, "") for k in documented}
    # `rag` reads RAG_* keys from a .env file too: the compose variables must not leak into it.
    assert not [k for k in documented if k.startswith("RAG_")]
    text = compose.ENV_EXAMPLE.read_text()
    for name in documented:  # each one has a comment right above it
        assert re.search(rf"#[^\n]*\n{name}=", text), name


def test_commands_are_real_cli_commands(services):
    from rag.cli.main import build_parser

    for name, service in services.items():
        args = compose.argv(service)
        if name == "llm":
            assert args[:2] == ["vllm", "serve"]
            continue
        assert args[0] == "rag"
        parsed = build_parser().parse_args(args[1:])
        assert parsed.host == "0.0.0.0" and str(parsed.port) == container_port(service)


# ------------------------------------------------------------------ images and extras

def stages(dockerfile: str) -> list[str]:
    return re.findall(r"^FROM\s+\S+(?:\s+AS\s+(\S+))?", (DOCKER / dockerfile).read_text(), re.M)


def installed_extras(dockerfile: str) -> list[set[str]]:
    return [set(m.split(",")) for m in re.findall(r'pip install [^\n]*"\.\[([a-z,]+)\]"', (DOCKER / dockerfile).read_text())]


def extras() -> dict[str, list[str]]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def test_dockerfiles_are_multi_stage_with_the_build_targets_compose_names(services):
    assert {"build-gpu", "build-cpu", "gpu", "cpu"} <= set(stages("api.Dockerfile"))
    assert len(stages("ui.Dockerfile")) >= 2
    for service in services.values():
        build = service.get("build")
        if build:
            assert (ROOT / build["dockerfile"]).exists()
            assert build.get("target") in (None, *stages(os.path.basename(build["dockerfile"])))


def test_no_install_has_two_faiss_builds():
    faiss = {name for name, deps in extras().items() if any(d.startswith("faiss") for d in deps)}
    assert faiss == {"cpu", "gpu"}
    make_extras = set(re.search(r"^EXTRAS \?= (\S+)", (ROOT / "Makefile").read_text(), re.M).group(1).split(","))
    for chosen in [make_extras, *installed_extras("api.Dockerfile"), *installed_extras("ui.Dockerfile")]:
        assert len(chosen & faiss) <= 1, chosen
        assert set(chosen) <= set(extras()), chosen
    assert installed_extras("ui.Dockerfile") == [{"ui"}]


def _closure(requirements: list[str]) -> set[str]:
    """Distributions installed for these requirements (extras of dependencies ignored)."""
    seen: set[str] = set()
    todo = [re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [re.split(r"[\s<>=!~;\[(]", r, maxsplit=1)[0].lower().replace("_", "-")
                 for r in reqs if "extra ==" not in r]
    return seen


def test_the_ui_image_installs_no_torch_and_no_faiss():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pytest.importorskip("streamlit", reason="install the 'ui' extra")
    installed = _closure(project["dependencies"] + extras()["ui"])
    assert "streamlit" in installed and "httpx" in installed
    assert not {"torch", "faiss-cpu", "faiss-gpu", "sentence-transformers", "llama-cpp-python"} & installed


# ------------------------------------------------------------------ the commands, outside containers

BLOCKED = ("torch", "faiss", "sentence_transformers", "llama_cpp", "transformers")


@pytest.mark.slow
def test_ui_command_runs_without_torch_or_faiss(services, tmp_path):
    """The ``ui`` service's command, on a free port, with the heavy modules made unimportable."""
    blocked = tmp_path / "blocked"
    for module in BLOCKED:
        (blocked / module).mkdir(parents=True)
        (blocked / module / "__init__.py").write_text(f"raise ImportError('{module} is not in the UI image')\n")
    port = free_port()
    args = compose.with_option(compose.with_option(compose.argv(services["ui"]), "--host", "127.0.0.1"),
                               "--port", str(port))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["PYTHONPATH"] = os.pathsep.join([str(blocked), str(ROOT)])
    log = tmp_path / "ui.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "rag.cli.main", *args[1:]], env=env, cwd=tmp_path,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
    assert "http://api:8000" in log.read_text()


@pytest.mark.slow
def test_api_cpu_command_serves_with_its_environment(services, tmp_path, models_home):
    """``rag serve`` with the api-cpu service's environment (the small model, for speed)."""
    env = compose.local_env(services["api-cpu"], tmp_path / "home",
                            RAG_GENERATOR_MODEL="smollm2-135m-instruct-q4_1", RAG_GENERATOR_CONTEXT_WINDOW="2048")
    with running_server(tmp_path / "home", models_home, env=env) as url:
        assert httpx.get(url + "/readyz", timeout=10).status_code == 200


@pytest.mark.parametrize(("backend", "workers", "expected"), [("openai", 0, 64), ("llamacpp", 0, 4), ("openai", 200, 200)])
def test_asks_run_as_concurrently_as_the_backend_allows(settings, backend, workers, expected):
    pytest.importorskip("fastapi", reason="install the 'server' extra")
    from rag.api.app import create_app

    settings = settings.model_copy(update={"generator_backend": backend, "ask_workers": workers})
    app = create_app(settings, warm_up=False)
    assert app.state.ask_executor._max_workers == expected
    app.state.ask_executor.shutdown()
