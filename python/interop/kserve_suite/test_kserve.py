"""The KServe Python SDK's InferenceRESTClient (V2 and V1) and InferenceGRPCClient against the real binary.

The SDK's clients are asynchronous; each test runs its calls in one asyncio.run. Answers must equal
/batch-predict's for the same texts exactly; errors must surface as the SDK's own exceptions
(httpx.HTTPStatusError over REST, grpc.RpcError over gRPC) carrying the server's message.
"""

from __future__ import annotations

import asyncio

import grpc
import httpx
import numpy as np
import pytest
from kserve import InferenceGRPCClient, InferenceRESTClient, InferInput, InferRequest, RESTConfig

# (name as the SDK's REST client puts it into the path, gRPC model_version) -> the version that answers.
# The REST client has no version argument: a version is asked for by the full id as the name.
REFS = [("sentiment", "", "sentiment-v2"), ("sentiment-v1", "", "sentiment-v1"), ("spam", "", "spam-v1")]
GRPC_REFS = REFS + [("sentiment", "1", "sentiment-v1"), ("sentiment", "v1", "sentiment-v1")]


def run(coro):
    return asyncio.run(coro)


def rest(protocol: str) -> InferenceRESTClient:
    return InferenceRESTClient(RESTConfig(protocol=protocol, retries=0, timeout=30))


def request(texts, name, version="", binary=False, request_id="kserve-1") -> InferRequest:
    inp = InferInput("text", [len(texts)], "BYTES")
    inp.set_data_from_numpy(np.array(texts, dtype=object), binary_data=binary)
    return InferRequest(model_name=name, model_version=version or None, infer_inputs=[inp],
                        request_id=request_id)


def labels_of(server, model_id):
    return next(m["labels"] for m in server.json("GET", "/models")["models"] if m["id"] == model_id)


def assert_same_as_batch_predict(server, model_id, texts, response):
    want = server.batch_predict(texts, model_id)
    order = labels_of(server, model_id)
    out = {o.name: o.as_numpy() for o in response.outputs}
    assert [x.decode() if isinstance(x, bytes) else x for x in out["label"].tolist()] == [w["label"] for w in want]
    assert out["confidence"].tolist() == [w["confidence"] for w in want]
    assert out["probabilities"].tolist() == [[w["probabilities"][lab] for lab in order] for w in want]


def test_rest_v2_health(server):
    async def calls():
        c = rest("v2")
        try:
            return (await c.is_server_live(server.url), await c.is_server_ready(server.url),
                    await c.is_model_ready(server.url, "sentiment"), await c.is_model_ready(server.url, "spam-v1"),
                    await c.is_model_ready(server.url, "nope"))
        finally:
            await c.close()
    assert run(calls()) == (True, True, True, True, False)


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize("name,version,model_id", REFS)
def test_rest_v2_infer_equals_batch_predict(server, texts, binary, name, version, model_id):
    async def call():
        c = rest("v2")
        try:
            return await c.infer(server.url, request(texts, name, binary=binary), model_name=name)
        finally:
            await c.close()
    resp = run(call())
    assert resp.model_name == name
    # The SDK's REST decoding drops model_version; the response's parameters name the version.
    assert resp.parameters["model_id"] == model_id
    assert resp.id == "kserve-1"
    assert_same_as_batch_predict(server, model_id, texts, resp)


@pytest.mark.parametrize("name", ["nope", "sentiment-v9"])
def test_rest_v2_error_carries_the_servers_message(server, name):
    doc = {"id": "kserve-1", "inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["hello"]}]}
    status, message = server.error_message("POST", f"/v2/models/{name}/infer", doc)

    async def call():
        c = rest("v2")
        try:
            await c.infer(server.url, request(["hello"], name), model_name=name)
        finally:
            await c.close()
    with pytest.raises(httpx.HTTPStatusError) as e:
        run(call())
    assert e.value.response.status_code == status == 404
    assert str(e.value).startswith(message + ", '404 Not Found'"), str(e.value)


def test_rest_v1_health(server):
    async def calls():
        c = rest("v1")
        try:
            return (await c.is_server_live(server.url), await c.is_model_ready(server.url, "sentiment"),
                    await c.is_model_ready(server.url, "spam-v1"))
        finally:
            await c.close()
    assert run(calls()) == (True, True, True)


@pytest.mark.parametrize("name,version,model_id", REFS)
def test_rest_v1_predict_equals_batch_predict(server, texts, name, version, model_id):
    async def call():
        c = rest("v1")
        try:
            return await c.infer(server.url, {"instances": texts, "parameters": {"return_probabilities": True}},
                                 model_name=name)
        finally:
            await c.close()
    got = run(call())["predictions"]
    want = server.batch_predict(texts, model_id)
    assert [(p["label"], p["confidence"], p["probabilities"]) for p in got] == \
        [(w["label"], w["confidence"], w["probabilities"]) for w in want]


def test_rest_v1_error_carries_the_servers_message(server):
    status, message = server.error_message("POST", "/v1/models/nope:predict", {"instances": ["hello"]})

    async def call():
        c = rest("v1")
        try:
            await c.infer(server.url, {"instances": ["hello"]}, model_name="nope")
        finally:
            await c.close()
    with pytest.raises(httpx.HTTPStatusError) as e:
        run(call())
    assert e.value.response.status_code == status == 404
    assert str(e.value).startswith(message + ", '404 Not Found'"), str(e.value)


def grpc_client(server) -> InferenceGRPCClient:
    return InferenceGRPCClient(server.grpc, timeout=30, retries=0)


def test_grpc_health(server):
    async def calls():
        c = grpc_client(server)
        try:
            return (await c.is_server_live(), await c.is_server_ready(), await c.is_model_ready("sentiment"),
                    await c.is_model_ready("spam-v1"))
        finally:
            await c.close()
    assert run(calls()) == (True, True, True, True)


@pytest.mark.parametrize("name,version,model_id", GRPC_REFS)
def test_grpc_infer_equals_batch_predict(server, texts, name, version, model_id):
    async def call():
        c = grpc_client(server)
        try:
            return await c.infer(request(texts, name, version))
        finally:
            await c.close()
    resp = run(call())
    assert resp.model_name == name
    assert resp.model_version == model_id.rsplit("-", 1)[1]
    assert resp.id == "kserve-1"
    assert_same_as_batch_predict(server, model_id, texts, resp)


@pytest.mark.parametrize("call", ["infer", "model ready"])
def test_grpc_error_carries_the_servers_message(server, call):
    doc = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["hello"]}]}
    _, message = server.error_message("POST", "/v2/models/nope/infer", doc)

    async def go():
        c = grpc_client(server)
        try:
            if call == "infer":
                await c.infer(request(["hello"], "nope"))
            else:
                await c.is_model_ready("nope")
        finally:
            await c.close()
    with pytest.raises(grpc.RpcError) as e:
        run(go())
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert e.value.details() == message
