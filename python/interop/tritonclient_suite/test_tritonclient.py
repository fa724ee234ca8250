"""NVIDIA's tritonclient (HTTP with and without binary tensors, and gRPC) against the real binary.

Each test runs on three doors: `http-json` (tensors as JSON), `http-binary` (Triton's binary tensor data
extension, tritonclient's default) and `grpc` (inference.GRPCInferenceService). Answers must equal
/batch-predict's for the same texts exactly (labels, and confidences and probabilities to the last bit:
JSON floats round-trip, binary ones are the bits); errors must surface as tritonclient's own
InferenceServerException carrying the server's message.
"""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as tgrpc
import tritonclient.http as thttp
from tritonclient.utils import InferenceServerException

DOORS = ["http-json", "http-binary", "grpc"]

# (model name, version) as a client sends them -> the version that must answer.
REFS = [
    ("sentiment", "", "sentiment-v2"),   # a bare name: its default version
    ("sentiment", "1", "sentiment-v1"),  # a bare number means v1
    ("sentiment", "v1", "sentiment-v1"),
    ("spam", "", "spam-v1"),
    ("spam-v1", "", "spam-v1"),          # the full id as the name
    ("spam-v1", "1", "spam-v1"),
]


class Door:
    """One tritonclient transport, with the few calls that differ between them."""

    def __init__(self, kind: str, server):
        self.kind = kind
        self.grpc = kind == "grpc"
        self.binary = kind == "http-binary"
        self.mod = tgrpc if self.grpc else thttp
        self.client = self.mod.InferenceServerClient(url=server.grpc if self.grpc else server.http)

    def input(self, texts, name="text", shape=None):
        inp = self.mod.InferInput(name, shape or [len(texts)], "BYTES")
        data = np.array(texts, dtype=object).reshape(inp.shape())
        if self.grpc:
            inp.set_data_from_numpy(data)
        else:
            inp.set_data_from_numpy(data, binary_data=self.binary)
        return inp

    def output(self, name):
        if self.grpc:
            return self.mod.InferRequestedOutput(name)
        return self.mod.InferRequestedOutput(name, binary_data=self.binary)

    def infer(self, name, texts, version="", outputs=None, **kw):
        return self.client.infer(name, [self.input(texts)], model_version=version,
                                 outputs=[self.output(o) for o in outputs] if outputs else None, **kw)

    def response(self, result) -> dict:
        """The response header as a dict (gRPC: the protobuf message, as tritonclient returns it)."""
        if self.grpc:
            r = result.get_response()
            return {"model_name": r.model_name, "model_version": r.model_version, "id": r.id,
                    "outputs": [{"name": o.name} for o in r.outputs]}
        return result.get_response()

    def close(self):
        self.client.close()


@pytest.fixture(params=DOORS)
def door(request, server):
    d = Door(request.param, server)
    yield d
    d.close()


def labels_of(server, model_id: str) -> list[str]:
    return next(m["labels"] for m in server.json("GET", "/models")["models"] if m["id"] == model_id)


def text_of(b) -> str:
    return b.decode() if isinstance(b, bytes) else b


def assert_same_as_batch_predict(server, model_id, texts, result):
    """label, confidence and probabilities equal /batch-predict's for texts on model_id."""
    want = server.batch_predict(texts, model_id)
    order = labels_of(server, model_id)
    labels = [text_of(x) for x in result.as_numpy("label")]
    conf = result.as_numpy("confidence")
    probs = result.as_numpy("probabilities")
    assert labels == [w["label"] for w in want]
    assert conf.dtype == np.float64 and conf.tolist() == [w["confidence"] for w in want]
    assert probs.shape == (len(texts), len(order))
    assert probs.tolist() == [[w["probabilities"][lab] for lab in order] for w in want]


def test_health(door):
    assert door.client.is_server_live()
    assert door.client.is_server_ready()
    assert door.client.is_model_ready("sentiment")
    assert door.client.is_model_ready("sentiment", "1")
    assert door.client.is_model_ready("spam-v1")


def test_unknown_model_is_not_ready(door):
    if door.grpc:  # the gRPC door answers NOT_FOUND for a model the repository does not have
        with pytest.raises(InferenceServerException) as e:
            door.client.is_model_ready("nope")
        assert e.value.status() == "StatusCode.NOT_FOUND"
        assert e.value.message() == "model not found: nope"
    else:  # OIP REST: a 4xx is "false"
        assert door.client.is_model_ready("nope") is False


def test_server_metadata(door):
    md = door.client.get_server_metadata()
    if door.grpc:
        md = {"name": md.name, "version": md.version, "extensions": list(md.extensions)}
    assert md["name"] == "mlserve"
    assert md["version"]
    assert {"binary_tensor_data", "model_repository"} <= set(md["extensions"])


@pytest.mark.parametrize("name,version,model_id", [r for r in REFS if r[1] != "v1"])
def test_model_metadata(door, server, name, version, model_id):
    md = door.client.get_model_metadata(name, version)
    n_labels = len(labels_of(server, model_id))
    if door.grpc:
        md = {"name": md.name, "versions": list(md.versions), "platform": md.platform,
              "inputs": [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)} for t in md.inputs],
              "outputs": [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)} for t in md.outputs]}
    else:  # the labels, the columns of probabilities, are in REST's parameters
        assert md["parameters"]["model_id"] == model_id
        assert md["parameters"]["labels"] == labels_of(server, model_id)
    assert md["name"] == name
    assert md["platform"] == "mlserve-sklearn"
    assert model_id.rsplit("-", 1)[1] in md["versions"]
    assert md["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    assert md["outputs"] == [
        {"name": "label", "datatype": "BYTES", "shape": [-1]},
        {"name": "confidence", "datatype": "FP64", "shape": [-1]},
        {"name": "probabilities", "datatype": "FP64", "shape": [-1, n_labels]},
    ]


@pytest.mark.parametrize("name,version,model_id", REFS)
def test_infer_equals_batch_predict(door, server, texts, name, version, model_id):
    result = door.infer(name, texts, version, outputs=["label", "confidence", "probabilities"],
                        request_id="interop-1")
    resp = door.response(result)
    assert resp["model_name"] == name
    assert resp["model_version"] == model_id.rsplit("-", 1)[1]
    assert resp["id"] == "interop-1"
    assert_same_as_batch_predict(server, model_id, texts, result)


def test_infer_default_outputs(door, server, texts):
    """No outputs asked for: all three, as the protocol says."""
    result = door.client.infer("sentiment", [door.input(texts)])
    assert [o["name"] for o in door.response(result)["outputs"]] == ["label", "confidence", "probabilities"]
    assert_same_as_batch_predict(server, "sentiment-v2", texts, result)


def test_infer_shape_n_by_1(door, server, texts):
    """A [N,1] input is N texts."""
    result = door.client.infer("sentiment", [door.input(texts, shape=[len(texts), 1])])
    assert_same_as_batch_predict(server, "sentiment-v2", texts, result)


def test_infer_requested_outputs_only(door, server, texts):
    result = door.infer("spam", texts[:3], outputs=["confidence"])
    assert [o["name"] for o in door.response(result)["outputs"]] == ["confidence"]
    assert result.as_numpy("label") is None
    want = server.batch_predict(texts[:3], "spam-v1")
    assert result.as_numpy("confidence").tolist() == [w["confidence"] for w in want]


def test_infer_parameters(door, server):
    """timeout_ms and return_probabilities pass through the protocol's parameters."""
    result = door.client.infer("sentiment", [door.input(["a fine film"])],
                               parameters={"timeout_ms": 5000, "return_probabilities": False})
    assert [o["name"] for o in door.response(result)["outputs"]] == ["label", "confidence"]
    assert text_of(result.as_numpy("label")[0]) == server.batch_predict(["a fine film"], "sentiment-v2")[0]["label"]


# A failing call as the JSON body the REST door would get, so the message the server itself
# sends can be read first and compared with what the client's exception carries.
def _json_request(texts, name="text"):
    return {"inputs": [{"name": name, "datatype": "BYTES", "shape": [len(texts)], "data": texts}]}


@pytest.mark.parametrize("case", ["unknown model", "unknown version", "unknown input", "unknown output"])
def test_errors_carry_the_servers_message(door, server, case):
    model, version, inputs, outputs = "sentiment", "", ["text"], None
    if case == "unknown model":
        model = "nope"
    elif case == "unknown version":
        version = "9"
    elif case == "unknown input":
        inputs = ["txt"]
    elif case == "unknown output":
        outputs = ["logits"]
    path = f"/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/infer"
    doc = _json_request(["hello"], inputs[0])
    if outputs:
        doc["outputs"] = [{"name": o} for o in outputs]
    status, message = server.error_message("POST", path, doc)
    with pytest.raises(InferenceServerException) as e:
        door.client.infer(model, [door.input(["hello"], name=inputs[0])], model_version=version,
                          outputs=[door.output(o) for o in outputs] if outputs else None)
    want_code = {404: "StatusCode.NOT_FOUND", 400: "StatusCode.INVALID_ARGUMENT"}[status]
    assert e.value.status() == (want_code if door.grpc else str(status))
    if door.grpc and case == "unknown output":
        # The gRPC door words this one itself (it checks outputs before the server core sees them).
        assert e.value.message().startswith('invalid inference request: unknown output "logits"')
    else:
        assert e.value.message() == message


def test_too_many_texts(door):
    with pytest.raises(InferenceServerException) as e:
        door.client.infer("sentiment", [door.input(["x"] * 101)])
    assert e.value.status() == ("StatusCode.INVALID_ARGUMENT" if door.grpc else "400")
    assert "100" in e.value.message(), e.value.message()


def test_model_metadata_unknown(door):
    with pytest.raises(InferenceServerException) as e:
        door.client.get_model_metadata("nope")
    assert e.value.status() == ("StatusCode.NOT_FOUND" if door.grpc else "404")
    assert e.value.message() == "model not found: nope"


def _request_count(server, endpoint: str) -> float:
    """mlserve_http_request_duration_seconds_count summed over the 200s booked under endpoint."""
    import urllib.request
    with urllib.request.urlopen(f"http://{server.metrics}/metrics", timeout=30) as resp:
        text = resp.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("mlserve_http_request_duration_seconds_count{") and \
                f'endpoint="{endpoint}"' in line and 'code="200"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_tell_the_doors_apart(server):
    """Each door's inferences are booked under its own endpoint label."""
    endpoints = {"http-binary": "/v2/models/{name}/infer", "grpc": "/inference.GRPCInferenceService/ModelInfer"}
    for kind, endpoint in endpoints.items():
        before = _request_count(server, endpoint)
        d = Door(kind, server)
        try:
            d.infer("sentiment", ["metrics check"])
        finally:
            d.close()
        assert _request_count(server, endpoint) == before + 1, endpoint


def test_grpc_health_checking_protocol(server):
    """grpc.health.v1.Health/Check answers SERVING, for the server and for the inference service
    (messages written out by hand: HealthCheckRequest{service}, HealthCheckResponse{status: 1})."""
    import grpc
    with grpc.insecure_channel(server.grpc) as ch:
        check = ch.unary_unary("/grpc.health.v1.Health/Check")
        assert check(b"", timeout=30) == b"\x08\x01"
        service = b"inference.GRPCInferenceService"
        assert check(b"\x0a" + bytes([len(service)]) + service, timeout=30) == b"\x08\x01"
        with pytest.raises(grpc.RpcError) as e:
            check(b"\x0a\x04nope", timeout=30)
        assert e.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.fixture(params=["http-json", "http-binary"])
def http_door(request, server):
    d = Door(request.param, server)
    yield d
    d.close()


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_http_compression(http_door, server, texts, algorithm):
    """tritonclient.http's request_compression_algorithm (the body as Content-Encoding gzip or deflate)
    and response_compression_algorithm (Accept-Encoding: the server may answer uncompressed)."""
    door = http_door
    result = door.client.infer("sentiment", [door.input(texts)], request_compression_algorithm=algorithm,
                               response_compression_algorithm=algorithm)
    assert_same_as_batch_predict(server, "sentiment-v2", texts, result)


def test_model_repository_extension(own_server):
    """tritonclient.http's repository calls on the registry: index, unload, load (on a server of its own,
    since they change what serves); a refusal surfaces with the server's message."""
    c = thttp.InferenceServerClient(url=own_server.http)
    try:
        index = {(m["name"], m["version"]): m["state"] for m in c.get_model_repository_index()}
        assert index == {("sentiment", "v1"): "READY", ("sentiment", "v2"): "READY", ("spam", "v1"): "READY"}
        c.unload_model("sentiment-v1")  # not a default: unloaded
        assert c.is_model_ready("sentiment", "1") is False
        assert c.is_model_ready("sentiment") is True  # the default, v2, still serves
        c.load_model("sentiment-v1")  # a full id is loaded and made its name's default
        assert c.is_model_ready("sentiment", "1") is True
        assert c.get_model_metadata("sentiment")["parameters"]["model_id"] == "sentiment-v1"
        with pytest.raises(InferenceServerException) as e:
            c.unload_model("sentiment-v1")  # now the default: the registry keeps it
        assert e.value.status() == "409"
        assert "default" in e.value.message(), e.value.message()
        with pytest.raises(InferenceServerException) as e:
            c.load_model("nope")
        assert (e.value.status(), e.value.message()) == ("404", "model not found: nope")
    finally:
        c.close()
