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


# --------------------------------------------------------------------------- the compose api service on it

POLICY = """# Vacation policy

Employees of Zorblatt Industries get 27 vacation days per year.

Unused vacation days expire at the end of March of the following year.
"""
QUESTIONS = [f"{q} (asked by employee {i})" for i, q in enumerate([
    "How many vacation days do Zorblatt employees get?",
    "When do unused vacation days expire at Zorblatt Industries?",
] * 6)]


def test_compose_api_answers_concurrently_through_vllm(vllm_server_url, tmp_path, models_home) -> None:
    """``rag serve`` with the api service's environment: 12 asks at once reach vLLM together
    (the old fixed pool of 4 threads let at most 4 through).

    The requests pass through a counting proxy that holds the first ones until 5 are in flight
    (or 15 s pass): with a pool of 4 the fifth never comes and the peak stays 4. Sampling
    vLLM's running gauge instead once saw 0 in 24 scrapes, when the small model abstained after
    its one-token answerability score and each request was over within milliseconds."""
    from concurrent.futures import ThreadPoolExecutor

    from rag.client import RAGClient
    from tests.counting_proxy import counting_proxy

    with counting_proxy(vllm_server_url, gather=5) as (proxy_url, count), \
            vllm_server.api_on_vllm(proxy_url, tmp_path / "home", models_home) as url:
        client = RAGClient(url, timeout=300)
        client.create_collection("policy")
        (tmp_path / "policy.md").write_text(POLICY)
        assert client.wait_for_job(client.upload("policy", [tmp_path / "policy.md"]).job_id).state == "succeeded"
        with ThreadPoolExecutor(len(QUESTIONS)) as pool:
            answers = list(pool.map(lambda q: client.ask("policy", q, max_tokens=48), QUESTIONS))
    assert all(a.model == vllm_server.SERVED_NAME for a in answers), [a.reason for a in answers]
    # Every ask reached vLLM through the proxy (a score, and a stream unless it abstained there).
    assert count.total >= len(QUESTIONS), count
    assert count.peak > 4, f"at most {count.peak} requests were in vLLM at once ({count.total} in all)"


# --------------------------------------------------------------------------- replicas


def metric_total(vllm_url: str, name: str) -> float:
    """Sum of a vLLM counter over its labels (e.g. ``vllm:request_success_total``)."""
    import httpx

    text = httpx.get(vllm_url + "/metrics", timeout=30).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


def closed_port_url() -> str:
    from tests.api_server import free_port

    return f"http://127.0.0.1:{free_port()}"


QUESTION = [{"role": "user", "content": "Name one colour of the sky."}]


def test_rotation_skips_a_replica_that_is_down(vllm_server_url) -> None:
    """A real server and a port where nothing listens: every answer comes from the live one;
    the dead one is tried once, then left out of the rotation."""
    from rag.generate.openai_compat import OpenAICompatGenerator

    dead = closed_port_url()
    done_before = metric_total(vllm_server_url, "vllm:request_success_total")
    with OpenAICompatGenerator(f"{dead}/v1,{vllm_server_url}/v1", timeout=60, retries=0, recheck_after=60) as gen:
        answers = [gen.generate(QUESTION, max_tokens=8) for _ in range(4)]
        status = {s["url"]: s for s in gen.replicas.status()}
    assert all(a.text and a.completion_tokens for a in answers)
    assert metric_total(vllm_server_url, "vllm:request_success_total") - done_before == 4
    assert status[dead]["up"] is False and status[dead]["failures"] == 1
    assert status[vllm_server_url]["up"] is True and status[vllm_server_url]["in_flight"] == 0


def test_rotation_over_two_real_servers_one_stopped_midway(vllm_server_url, tmp_path) -> None:
    """Two real vLLM servers share the requests; the second is stopped mid-test and the
    requests after it all succeed on the first."""
    from rag.generate.openai_compat import OpenAICompatGenerator

    first, gen = vllm_server_url, None
    try:
        with vllm_server.running_vllm(tmp_path / "second.log") as second:
            gen = OpenAICompatGenerator([first, second], timeout=60, retries=0, recheck_after=60)
            counts = {url: metric_total(url, "vllm:request_success_total") for url in (first, second)}
            shared = [gen.generate(QUESTION, max_tokens=8).text for _ in range(6)]
            served = {url: metric_total(url, "vllm:request_success_total") - counts[url] for url in (first, second)}
        # The second server is stopped now.
        before = metric_total(first, "vllm:request_success_total")
        after = [gen.generate(QUESTION, max_tokens=8).text for _ in range(4)]
        status = {s["url"]: s for s in gen.replicas.status()}
    finally:
        if gen is not None:
            gen.close()
    assert served == {first: 3, second: 3}, served
    assert len(set(shared)) == 1 and shared[0], shared  # the same model, greedy: the same answer on both
    assert after == shared[:4]
    assert metric_total(first, "vllm:request_success_total") - before == 4
    assert status[second]["up"] is False and status[second]["failures"] == 1, status
