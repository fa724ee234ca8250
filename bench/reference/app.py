"""Reference server for bench/: mlserve's /predict and /batch-predict written
the way the seed describes them (FastAPI + uvicorn + scikit-learn + joblib),
kept small and fair: the model is loaded once per worker, endpoints are sync
(FastAPI runs them in its thread pool), one predict_proba call per request.

Run: MODEL_PATH=models/spam/v1/model.joblib MODEL_ID=spam-v1 \
     uvicorn app:app --app-dir bench/reference --workers $(nproc)
"""

import os
import time
import uuid

import joblib
from fastapi import FastAPI
from pydantic import BaseModel, Field

MODEL = joblib.load(os.environ["MODEL_PATH"])
MODEL_ID = os.environ.get("MODEL_ID", "model-v1")
CLASSES = [str(c) for c in MODEL.classes_]

app = FastAPI(title="reference")


class PredictRequest(BaseModel):
    text: str = Field(min_length=1)
    model_version: str | None = None


class PredictResponse(BaseModel):
    label: str
    confidence: float
    latency_ms: float
    model_version: str
    request_id: str
    cached: bool = False


class BatchPredictRequest(BaseModel):
    texts: list[str] = Field(min_length=1, max_length=100)
    model_version: str | None = None


class BatchPrediction(BaseModel):
    label: str
    confidence: float
    cached: bool = False


class BatchPredictResponse(BaseModel):
    predictions: list[BatchPrediction]
    total_latency_ms: float
    model_version: str
    request_id: str


@app.post("/predict", response_model=PredictResponse)
def predict(req: PredictRequest) -> PredictResponse:
    t0 = time.perf_counter()
    proba = MODEL.predict_proba([req.text])[0]
    i = int(proba.argmax())
    return PredictResponse(
        label=CLASSES[i],
        confidence=float(proba[i]),
        latency_ms=(time.perf_counter() - t0) * 1000,
        model_version=MODEL_ID,
        request_id=uuid.uuid4().hex,
    )


@app.post("/batch-predict", response_model=BatchPredictResponse)
def batch_predict(req: BatchPredictRequest) -> BatchPredictResponse:
    t0 = time.perf_counter()
    proba = MODEL.predict_proba(req.texts)
    idx = proba.argmax(axis=1)
    preds = [
        BatchPrediction(label=CLASSES[int(i)], confidence=float(p[int(i)]))
        for i, p in zip(idx, proba)
    ]
    return BatchPredictResponse(
        predictions=preds,
        total_latency_ms=(time.perf_counter() - t0) * 1000,
        model_version=MODEL_ID,
        request_id=uuid.uuid4().hex,
    )


@app.get("/health/ready")
def ready() -> dict:
    return {"status": "ready"}
