"""The interoperability suite's server: the real mlserve binary, on kernel-chosen loopback ports.

Two suites, each its own pytest process: `.venv-interop/bin/pytest -q python/interop/tritonclient_suite`
and `... python/interop/kserve_suite` (after scripts/setup-interop.sh; `make test-interop` does all three).
tritonclient and the KServe SDK each register their own copy of the protocol's `inference.*` protobuf
messages in protobuf's process-wide descriptor pool, and the second import fails ("duplicate symbol"), so
one process cannot import both; a session that collects both is refused with that reason. The binary is built with `go build` once per session (MLSERVE_BIN names a
prebuilt one instead). It serves a copy of the sample repository's scikit-learn versions (the ONNX ones
need ONNX Runtime, which this suite does not), with every listener on port 0: the addresses it bound are
read back from its log, so no port is guessed and none can be taken by someone else in between.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30
HTTP_TIMEOUT_S = 30


HERE = Path(__file__).resolve().parent
SUITES = ("tritonclient_suite", "kserve_suite")
_collected = pytest.StashKey[set]()


def pytest_ignore_collect(collection_path, config):
    """Refuses a session that would import both clients (see the module doc)."""
    path = Path(collection_path)
    if path.parent == HERE and path.name in SUITES:
        seen = config.stash.setdefault(_collected, set())
        seen.add(path.name)
        if len(seen) > 1:
            raise pytest.UsageError(
                "tritonclient and the KServe SDK cannot be imported in one process (each registers the "
                "protocol's inference.* protobufs); run python/interop/tritonclient_suite and "
                "python/interop/kserve_suite as two pytest runs, as `make test-interop` does")
    return None


@dataclass
class Server:
    """A running `mlserve serve`: its addresses (host:port) and its log so far."""

    http: str = ""
    grpc: str = ""
    metrics: str = ""
    log: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return "http://" + self.http

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """One plain HTTP call (urllib): the status, headers and body, errors included."""
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, method: str, path: str, doc=None):
        """A JSON call that must succeed: the decoded answer."""
        body = None if doc is None else json.dumps(doc).encode()
        status, _, out = self.request(method, path, body, {"Content-Type": "application/json"})
        assert status == 200, f"{method} {path}: {status} {out[:500]!r}"
        return json.loads(out)

    def batch_predict(self, texts: list[str], model: str) -> list[dict]:
        """/batch-predict's answers (with probabilities) for texts on the version model names."""
        return self.json("POST", "/batch-predict",
                         {"texts": texts, "model_version": model, "return_probabilities": True})["predictions"]

    def error_message(self, method: str, path: str, doc) -> tuple[int, str]:
        """The status and {"error": ...} message the server answers a failing JSON call with."""
        status, headers, out = self.request(method, path, json.dumps(doc).encode(),
                                            {"Content-Type": "application/json"})
        assert status >= 400, f"{method} {path} answered {status}"
        assert headers.get("Content-Type") == "application/json", headers
        return status, json.loads(out)["error"]


def _build(tmp: Path) -> str:
    override = os.environ.get("MLSERVE_BIN")
    if override:
        return override
    out = tmp / "mlserve"
    proc = subprocess.run(["go", "build", "-o", str(out), "./cmd/mlserve"], cwd=REPO,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"go build ./cmd/mlserve failed:\n{proc.stderr}", pytrace=False)
    return str(out)


def _sklearn_models(dst: Path) -> None:
    """Copies the sample repository's scikit-learn versions (framework: sklearn) into dst."""
    for manifest in sorted((REPO / "models").glob("*/v*/model.yaml")):
        if re.search(r"^framework:\s*sklearn\s*$", manifest.read_text(), re.M):
            version = manifest.parent
            shutil.copytree(version, dst / version.parent.name / version.name)


_ADDR = {
    "serving the Open Inference Protocol over gRPC": [("grpc", r"\baddr=(\S+)")],
    "serving": [("http", r"\baddr=(\S+)"), ("metrics", r"\bmetrics=(\S+)")],
}


@pytest.fixture(scope="session")
def mlserve_binary(tmp_path_factory) -> str:
    return _build(tmp_path_factory.mktemp("bin"))


@pytest.fixture(scope="session")
def server(tmp_path_factory, mlserve_binary):
    """The running server, stopped (SIGTERM, then a clean exit checked) when the session ends."""
    yield from _serve(tmp_path_factory.mktemp("mlserve"), mlserve_binary)


@pytest.fixture
def own_server(tmp_path_factory, mlserve_binary):
    """A server of the test's own, for a test that changes what serves (the repository extension)."""
    yield from _serve(tmp_path_factory.mktemp("mlserve"), mlserve_binary)


def _serve(tmp: Path, binary: str):
    models = tmp / "models"
    _sklearn_models(models)
    cfg = tmp / "config.yaml"
    cfg.write_text(f"models_dir: {models}\ndefault_model: sentiment-v2\nversions:\n  keep_loaded: 3\n")
    env = {**os.environ, "MLSERVE_ADMIN_TOKEN": "", "MLSERVE_LOG_FORMAT": "text"}
    proc = subprocess.Popen([binary, "serve", "--config", str(cfg), "--addr", "127.0.0.1:0",
                             "--metrics-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    srv = Server()
    bound = threading.Event()

    def read_log():
        for line in proc.stderr:
            srv.log.append(line)
            m = re.search(r'\bmsg=("[^"]*"|\S+)', line)
            for key, pattern in _ADDR.get(m.group(1).strip('"') if m else "", []):
                setattr(srv, key, re.search(pattern, line).group(1))
            if srv.http and srv.grpc and srv.metrics:
                bound.set()

    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        if not bound.wait(START_TIMEOUT_S):
            pytest.fail(f"mlserve did not report its addresses:\n{''.join(srv.log)}", pytrace=False)
        while True:  # bounded: START_TIMEOUT_S in all
            if proc.poll() is not None:
                pytest.fail(f"mlserve exited ({proc.returncode}):\n{''.join(srv.log)}", pytrace=False)
            if srv.request("GET", "/health/ready")[0] == 200:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"mlserve not ready after {START_TIMEOUT_S} s:\n{''.join(srv.log)}", pytrace=False)
            time.sleep(0.05)
        # Every version the suite asks for by id serves before the first test.
        while {"spam-v1", "sentiment-v1", "sentiment-v2"} - {
                m["id"] for m in srv.json("GET", "/models")["models"] if m["status"] == "ready"}:
            if time.monotonic() > deadline:
                pytest.fail(f"sample versions not loaded after {START_TIMEOUT_S} s:\n{''.join(srv.log)}",
                            pytrace=False)
            time.sleep(0.05)
        yield srv
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"mlserve did not stop on SIGTERM:\n{''.join(srv.log)}", pytrace=False)
        reader.join(STOP_TIMEOUT_S)
        if code != 0:
            pytest.fail(f"mlserve exited with {code}:\n{''.join(srv.log)}", pytrace=False)


@pytest.fixture(scope="session")
def texts():
    """The texts every door is compared on: the parity suite's hand-written hard set (empty and
    whitespace-only texts, accents, CJK, emoji, Turkish dotted capitals, long texts)."""
    return json.loads((REPO / "python" / "tests" / "hard_texts.json").read_text())
