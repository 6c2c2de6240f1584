"""Read docker-compose.yml as Compose does: YAML with merge keys, ``${VAR:-default}``
interpolation, and each service's command line (entrypoint + command)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

#: ``$$`` (a literal dollar), ``${NAME}``, ``${NAME:-default}`` / ``${NAME-default}``, ``$NAME``.
_VAR = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}"
                  r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


def variables(text: str) -> set[str]:
    """Every variable the text interpolates."""
    return {m.group("name") or m.group("bare") for m in _VAR.finditer(text) if m.group(0) != "$$"}


def interpolate(text: str, env: dict[str, str]) -> str:
    """Substitute variables the way Compose does (``:-`` also replaces an empty value)."""
    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group("name") or m.group("bare")
        value = env.get(name)
        if m.group("op") == ":-" and not value:
            return m.group("default")
        if m.group("op") == "-" and value is None:
            return m.group("default")
        return value or ""
    return _VAR.sub(sub, text)


def load(env: dict[str, str] | None = None) -> dict:
    """The compose file, interpolated with ``env`` (default: every variable at its default).

    As in Compose, the YAML is parsed first and its strings interpolated afterwards, so
    ``KEY: ${EMPTY:-}`` is the empty string, not null.
    """
    import yaml

    def walk(node):
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return interpolate(node, env or {}) if isinstance(node, str) else node

    return walk(yaml.safe_load(COMPOSE.read_text()))


def env_example() -> dict[str, str]:
    """``NAME=value`` lines of .env.example."""
    out = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            out[name.strip()] = value.strip()
    return out


def argv(service: dict) -> list[str]:
    """The service's command line: its entrypoint followed by its command."""
    entry, command = service.get("entrypoint") or [], service.get("command") or []
    return [str(a) for a in [*entry, *command]]


def with_option(args: list[str], option: str, value: str) -> list[str]:
    """``args`` with ``option``'s value replaced (e.g. ``--port`` by a free port)."""
    i = args.index(option)
    return [*args[: i + 1], value, *args[i + 2:]]


def local_env(service: dict, home: Path, **overrides: str) -> dict[str, str]:
    """A service's environment for a run on this machine: data in ``home``, no container
    paths (the model cache comes from the test helpers), ``overrides`` on top."""
    env = {k: str(v) for k, v in service["environment"].items()
           if k not in ("HF_HOME", "RAG_HOST", "RAG_PORT", "RAG_MODELS_HOME")}
    env["RAG_HOME"] = str(home)
    env.update(overrides)
    return env
