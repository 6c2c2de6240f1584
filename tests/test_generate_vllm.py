"""The OpenAI-compatible generator against a real ``vllm serve`` (CPU build) on loopback.

Needs ``scripts/vllm/setup.sh`` to have run (venv + converted SmolLM2-135M). Without
it the tests are skipped locally and fail in CI (``CI`` set). The server starts once
per module (40-100 s to healthy on 2 cores) and is stopped after it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from rag.generate.testing import GeneratorContract
from tests import vllm_server

pytestmark = pytest.mark.slow


# Module scope, not session: the server holds ~3-5 GB of memory (weights, 2 GiB KV
# cache, worker); free it as soon as the tests that need it are done.
@pytest.fixture(scope="module")
def vllm_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``vllm serve`` (the compose ``llm`` command) on a free loopback port; its base URL without /v1."""
    reason = vllm_server.missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        with vllm_server.running_vllm(tmp_path_factory.mktemp("vllm") / "serve.log") as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def vllm_generator(vllm_server_url: str):
    from rag.generate.openai_compat import OpenAICompatGenerator

    gen = OpenAICompatGenerator(vllm_server_url + "/v1", timeout=60, retries=1)
    yield gen
    gen.close()


class TestVLLMContract(GeneratorContract):
    @pytest.fixture
    def generator(self, vllm_generator):
        return vllm_generator


def test_discovers_model_and_window(vllm_generator) -> None:
    assert vllm_generator.model == "smollm2-135m"
    assert vllm_generator.context_window == 2048


TEXTS = [" ".join("abcdefghijklmnopqrstuvwxyz"), "Zorblatt Industries grants 27 vacation days per year.",
         "Prix : 1 234,56 € — ünïcödé, 数字 and\ttabs\n\nnew lines", ""]


def server_count(url: str, text: str) -> int:
    import httpx

    body = {"model": vllm_server.SERVED_NAME, "prompt": text, "add_special_tokens": False}
    return httpx.post(url + "/tokenize", json=body, timeout=30).json()["count"]


def test_count_tokens_is_local_and_exact(vllm_generator, vllm_server_url) -> None:
    # The tokenizer of the folder the server reports loading (``root`` in /v1/models),
    # not a /tokenize round trip per passage, and the same counts as the server's.
    assert [vllm_generator.count_tokens(t) for t in TEXTS] == [server_count(vllm_server_url, t) for t in TEXTS]
    assert vllm_generator._local_count and vllm_generator._can_tokenize is None


def test_count_tokens_asks_the_server_without_a_local_tokenizer(vllm_server_url) -> None:
    from rag.generate.openai_compat import OpenAICompatGenerator

    with OpenAICompatGenerator(vllm_server_url, tokenizer="/no/such/tokenizer", retries=0) as gen:
        assert [gen.count_tokens(t) for t in TEXTS] == [server_count(vllm_server_url, t) for t in TEXTS]
        assert gen._local_count is False and gen._can_tokenize is True


def test_unknown_model_is_a_generator_error(vllm_server_url: str) -> None:
    from rag.generate import GeneratorError, GeneratorUnavailableError
    from rag.generate.openai_compat import OpenAICompatGenerator

    gen = OpenAICompatGenerator(vllm_server_url, model="no-such-model", retries=0)
    with pytest.raises(GeneratorError, match="404") as info:
        gen.generate([{"role": "user", "content": "Hi"}], max_tokens=2)
    assert not isinstance(info.value, GeneratorUnavailableError)
