"""Serving handler: raw rows score exactly as the evaluate step scored them; bad requests get a 4xx naming the fix.

The 4xx is checked through the serving toolkits' own code, as the sagemaker-xgboost 3.2-0 image runs them:

- single-model endpoints and batch transform: ``sagemaker_xgboost_container.serving:main`` builds a
  ``sagemaker_containers`` Transformer from the user module and serves it with that toolkit's Flask ``Worker``
  (gunicorn in front). That toolkit only imports with two fixes the image applies to it (``collections.Mapping``,
  sed-patched in its Dockerfile; a protobuf that accepts its 2020 ``record_pb2``, the image pins protobuf 3.20), so
  it runs in a fresh interpreter with those fixes, on the packaged model folder laid out as ``/opt/ml/model``;
- multi-model endpoints: ``sagemaker_inference``'s Transformer, called in-process with an MMS-like context.
"""

from __future__ import annotations

import base64
import csv
import inspect
import io
import json
import shutil
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from sagemaker_inference.transformer import Transformer  # type: ignore[import-untyped]

from sagemaker_code.steps import inference
from sagemaker_code.steps.artifacts import load_model_artifacts
from sagemaker_code.steps.evaluate import ScoredSplit, score_test_split
from sagemaker_code.steps.inference import (
    InvalidInputError,
    Predictions,
    ServingModel,
    model_fn,
    parse_request,
    predict,
    serialize,
    transform_fn,
)
from sagemaker_code.steps.spec import DatasetSpec
from tests.step_fixtures import PipelineRun


@pytest.fixture(scope="module")
def model(sample_run: PipelineRun) -> ServingModel:
    return model_fn(str(sample_run.model))


@pytest.fixture(scope="module")
def scores(sample_run: PipelineRun, spec: DatasetSpec) -> ScoredSplit:
    return score_test_split(load_model_artifacts(sample_run.model), sample_run.data / "test", spec)


@pytest.fixture(scope="module")
def raw_rows(sample_run: PipelineRun) -> list[dict[str, str]]:
    with (sample_run.data / "test" / "test_raw.csv").open() as file:
        return list(csv.DictReader(file))


def feature_csv(rows: list[dict[str, str]], spec: DatasetSpec) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows([row[column.name] for column in spec.feature_columns] for row in rows)
    return buffer.getvalue().encode()


def instances(rows: list[dict[str, str]], spec: DatasetSpec) -> list[dict[str, object]]:
    return [{column.name: row[column.name] for column in spec.feature_columns} for row in rows]


def serve(model: ServingModel, body: bytes | str, content_type: str, accept: str) -> tuple[str, str]:
    result = transform_fn(model, body, content_type, accept)
    assert isinstance(result, tuple)  # outside a Flask request: the tuple, or a raised error
    return result


# ---- the handler called directly -------------------------------------------------------------------------------


def test_csv_rows_score_exactly_as_evaluate(
    model: ServingModel, scores: ScoredSplit, raw_rows: list[dict[str, str]], spec: DatasetSpec
) -> None:
    body, content_type = serve(model, feature_csv(raw_rows, spec), "text/csv", "application/json")
    assert content_type == "application/json"
    predictions = json.loads(body)["predictions"]
    assert [p["probability"] for p in predictions] == scores.probabilities.tolist()
    assert [p["label"] == "1" for p in predictions] == (scores.predicted == 1).tolist()
    assert {p["label"] for p in predictions} <= {"1", "2"}


def test_json_instances_score_exactly_as_evaluate(
    model: ServingModel, scores: ScoredSplit, raw_rows: list[dict[str, str]], spec: DatasetSpec
) -> None:
    items = instances(raw_rows, spec)
    for item in items:  # JSON clients send numbers as numbers
        item["age_years"] = int(str(item["age_years"]))
    body, _ = serve(model, json.dumps({"instances": items}), "application/json; charset=utf-8", "*/*")
    assert [p["probability"] for p in json.loads(body)["predictions"]] == scores.probabilities.tolist()


def test_csv_response(model: ServingModel, raw_rows: list[dict[str, str]], spec: DatasetSpec) -> None:
    body, content_type = serve(model, feature_csv(raw_rows[:2], spec), "text/csv", "text/csv")
    assert content_type == "text/csv"
    lines = body.splitlines()
    assert len(lines) == 2
    probability, label = lines[0].split(",")
    assert 0 < float(probability) < 1
    assert label in {"1", "2"}


def test_missing_and_unseen_values_are_scored(
    model: ServingModel, raw_rows: list[dict[str, str]], spec: DatasetSpec
) -> None:
    row = dict(raw_rows[0])
    row["credit_amount"] = ""  # missing: the train median
    row["purpose"] = "A499"  # never seen in train: all zeros
    body, _ = serve(model, feature_csv([row], spec), "text/csv", "application/json")
    assert 0 < json.loads(body)["predictions"][0]["probability"] < 1


def test_output_labels_follow_the_threshold() -> None:
    body, _ = serialize(Predictions(probabilities=[0.25, 0.75], labels=["2", "1"]), "application/json")
    assert json.loads(body) == {
        "predictions": [{"probability": 0.25, "label": "2"}, {"probability": 0.75, "label": "1"}]
    }


def test_the_toolkits_would_load_the_module() -> None:
    """Both toolkits refuse a module with transform_fn and any of input_fn, predict_fn, output_fn."""
    assert callable(inference.transform_fn)
    assert [name for name in ("input_fn", "predict_fn", "output_fn") if hasattr(inference, name)] == []


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        pytest.param(
            "a,b", "application/x-npy", 415, "unsupported content type 'application/x-npy': send text/csv or", id="type"
        ),
        pytest.param("\n\n", "text/csv", 400, "the request has no rows", id="empty"),
        pytest.param(b"\xff", "text/csv", 400, "the request body is not UTF-8 text (byte 0)", id="not-utf8"),
        pytest.param("1,\ufffd", "text/csv", 400, "the request body is not UTF-8 text (line 1", id="replaced-bytes"),
        pytest.param("{", "application/json", 400, "the request is not valid JSON: Expecting", id="bad-json"),
        pytest.param('{"rows": []}', "application/json", 400, 'send {"instances": [{"<column>": value', id="no-inst"),
    ],
)
def test_bad_requests(body: str | bytes, content_type: str, status: int, message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_request(body, content_type)
    assert info.value.status_code == status
    assert str(info.value).startswith(message)


def test_wrong_field_count_names_the_row_and_the_columns(
    model: ServingModel, raw_rows: list[dict[str, str]], spec: DatasetSpec
) -> None:
    good = feature_csv(raw_rows[:1], spec).decode()
    with pytest.raises(InvalidInputError) as info:
        predict(parse_request(good + good.strip() + ",1\n", "text/csv"), model)
    assert info.value.status_code == HTTPStatus.BAD_REQUEST
    assert str(info.value).startswith(
        "row 2 has 21 fields, expected 20: the features checking_status, duration_months, credit_history,"
    )
    assert str(info.value).endswith("foreign_worker in this order, without the label")


def test_a_header_row_gets_a_hint(model: ServingModel, spec: DatasetSpec) -> None:
    header = ",".join(column.name for column in spec.columns)  # with the label: 21 fields
    with pytest.raises(InvalidInputError, match=r"row 1 has 21 fields, expected 20 \(a header\? send rows only\)"):
        predict(parse_request(header, "text/csv"), model)


def test_bad_values_name_the_row_and_column(
    model: ServingModel, raw_rows: list[dict[str, str]], spec: DatasetSpec
) -> None:
    rows = [dict(raw_rows[0]), dict(raw_rows[1])]
    rows[1]["age_years"] = "forty"
    with pytest.raises(InvalidInputError, match=r"^row 2, column 'age_years' \(numeric\): 'forty' is not a number$"):
        predict(parse_request(feature_csv(rows, spec), "text/csv"), model)
    items = instances(rows, spec)
    with pytest.raises(InvalidInputError, match=r"^instance 2, column 'age_years' \(numeric\): 'forty' is not a"):
        predict(parse_request(json.dumps({"instances": items}), "application/json"), model)


def test_json_keys_must_be_the_features(model: ServingModel, raw_rows: list[dict[str, str]], spec: DatasetSpec) -> None:
    instance = instances(raw_rows[:1], spec)[0]
    del instance["housing"]
    instance["credit_risk"] = "1"
    with pytest.raises(InvalidInputError) as info:
        predict(parse_request(json.dumps({"instances": [instance]}), "application/json"), model)
    assert str(info.value).startswith("instance 1: missing keys ['housing'] and unknown keys ['credit_risk']; expected")


def test_unsupported_accept_is_refused_before_scoring(model: ServingModel) -> None:
    with pytest.raises(InvalidInputError, match="unsupported accept type 'text/html'") as info:
        serialize(Predictions(probabilities=[0.5], labels=["1"]), "text/html")
    assert info.value.status_code == HTTPStatus.NOT_ACCEPTABLE
    with pytest.raises(InvalidInputError, match="unsupported accept type") as info:  # the body is never parsed
        transform_fn(model, "not a row", "text/csv", "text/html, image/png")
    assert info.value.status_code == HTTPStatus.NOT_ACCEPTABLE


# ---- requests through the toolkits ------------------------------------------------------------------------------


class Case(NamedTuple):
    """One request, the status it must get, and a text its body must contain."""

    body: bytes
    content_type: str
    accept: str
    status: int
    says: str


@pytest.fixture(scope="module")
def cases(raw_rows: list[dict[str, str]], spec: DatasetSpec) -> dict[str, Case]:
    good = feature_csv(raw_rows[:3], spec)
    bad_value = [dict(raw_rows[0]), dict(raw_rows[1])]
    bad_value[1]["age_years"] = "forty"
    keyed = instances(raw_rows[:1], spec)
    del keyed[0]["housing"]
    keyed[0]["credit_risk"] = "1"
    extra_field = good.decode().splitlines()[1] + ",1"
    latin1 = feature_csv([dict(raw_rows[0], purpose="A4\u00e9")], spec).decode().encode("latin-1")  # é: 0xE9
    return {
        "valid-csv": Case(good, "text/csv", "application/json", 200, '"predictions"'),
        "valid-json": Case(
            json.dumps({"instances": instances(raw_rows[:3], spec)}).encode(), "application/json", "*/*", 200, ""
        ),
        "content-type": Case(good, "application/x-npy", "application/json", 415, "send text/csv or application/json"),
        "valid-csv-out": Case(good, "text/csv", "text/csv", 200, ""),
        "not-utf8": Case(latin1, "text/csv", "application/json", 400, "is not UTF-8 text (line 1 has bytes"),
        "bad-json": Case(b'{"instances": [', "application/json", "application/json", 400, "is not valid JSON"),
        "no-instances": Case(b'{"rows": []}', "application/json", "application/json", 400, '{"instances": ['),
        "field-count": Case(good + extra_field.encode(), "text/csv", "application/json", 400, "row 4 has 21 fields"),
        "not-a-number": Case(
            feature_csv(bad_value, spec), "text/csv", "application/json", 400, "row 2, column 'age_years' (numeric)"
        ),
        "keys": Case(
            json.dumps({"instances": keyed}).encode(),
            "application/json",
            "application/json",
            400,
            "instance 1: missing keys ['housing'] and unknown keys ['credit_risk']",
        ),
        "accept": Case(good, "text/csv", "text/html", 406, "unsupported accept type 'text/html'"),
    }


def _flask_worker_answers(base_dir: str, requests_file: str, answers_file: str) -> None:
    """Runs in a fresh interpreter: the image's single-model stack, from serving:main, on ``base_dir/model``."""
    import base64
    import collections
    import collections.abc
    import importlib
    import json
    import os
    import sys
    from pathlib import Path

    os.environ.update(
        SAGEMAKER_BASE_DIR=base_dir,
        SAGEMAKER_PROGRAM="inference.py",
        SAGEMAKER_SUBMIT_DIRECTORY=str(Path(base_dir) / "model" / "code"),
        PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python",  # sagemaker_containers' record_pb2 predates protobuf 4
    )
    setattr(collections, "Mapping", collections.abc.Mapping)  # noqa: B010  # the image's sed on _mapping.py
    from sagemaker_containers import _env, _transformer, _worker  # type: ignore[import-untyped]

    serving_env = _env.ServingEnv()
    sys.path.insert(0, serving_env.module_dir)  # server.start: gunicorn --pythonpath and pip install of code/
    user_module = importlib.import_module(serving_env.module_name)
    # sagemaker_xgboost_container.serving._user_module_transformer
    handlers = {name: getattr(user_module, name, None) for name in ("input_fn", "predict_fn", "output_fn")}
    transform = getattr(user_module, "transform_fn", None)
    if transform is not None and any(handlers.values()):
        raise RuntimeError("Cannot use transform_fn implementation with input_fn, predict_fn, and/or output_fn")
    if transform is not None:
        transformer = _transformer.Transformer(model_fn=user_module.model_fn, transform_fn=transform)
    else:
        transformer = _transformer.Transformer(model_fn=user_module.model_fn, **handlers)
    transformer.initialize()  # model_fn(/opt/ml/model)
    client = _worker.Worker(transform_fn=transformer.transform, module_name=serving_env.module_name).test_client()
    answers = {}
    requests = json.loads(Path(requests_file).read_text(encoding="utf-8"))
    for name, request in requests.items():
        response = client.post("/invocations", data=base64.b64decode(request["body"]), headers=request["headers"])
        answers[name] = [response.status_code, response.mimetype, response.get_data(as_text=True)]
    answers["modules"] = sorted(name for name in sys.modules if name.startswith("sagemaker_code"))
    Path(answers_file).write_text(json.dumps(answers), encoding="utf-8")


@pytest.fixture(scope="module")
def flask_answers(
    sample_run: PipelineRun, cases: dict[str, Case], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Every case POSTed to /invocations of the single-model stack; name -> [status, mimetype, body]."""
    base = tmp_path_factory.mktemp("opt-ml")
    shutil.copytree(sample_run.model, base / "model")  # model.tar.gz as the container unpacks it
    requests = {
        name: {
            "body": base64.b64encode(case.body).decode(),
            "headers": {"Content-Type": case.content_type, "Accept": case.accept},
        }
        for name, case in cases.items()
    }
    (base / "requests.json").write_text(json.dumps(requests), encoding="utf-8")
    script = inspect.getsource(_flask_worker_answers) + "\nimport sys\n_flask_worker_answers(*sys.argv[1:])\n"
    args = [str(base), str(base / "requests.json"), str(base / "answers.json")]
    # -I: only the packaged code/ folder provides sagemaker_code, as in the container
    result = subprocess.run(
        [sys.executable, "-I", "-c", script, *args], capture_output=True, text=True, cwd=base, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"the sagemaker_containers worker did not run:\n{result.stderr[-4000:]}")
    answers: dict[str, Any] = json.loads((base / "answers.json").read_text(encoding="utf-8"))
    return answers


CASES = ["content-type", "not-utf8", "bad-json", "no-instances", "field-count", "not-a-number", "keys", "accept"]


@pytest.mark.parametrize("name", CASES)
def test_single_model_stack_answers_bad_requests_with_4xx(
    flask_answers: dict[str, Any], cases: dict[str, Case], name: str
) -> None:
    status, mimetype, body = flask_answers[name]
    assert (status, mimetype) == (cases[name].status, "application/json"), body
    error = json.loads(body)
    assert error["error"] == "InvalidInputError"
    assert cases[name].says in error["error-message"]


def test_single_model_stack_scores_valid_requests(flask_answers: dict[str, Any], scores: ScoredSplit) -> None:
    for name in ("valid-csv", "valid-json"):
        status, mimetype, body = flask_answers[name]
        assert (status, mimetype) == (200, "application/json"), body
        probabilities = [p["probability"] for p in json.loads(body)["predictions"]]
        assert all(0 <= p <= 1 for p in probabilities)
        assert probabilities == scores.probabilities[:3].tolist()
    status, mimetype, body = flask_answers["valid-csv-out"]
    assert (status, mimetype) == (200, "text/csv"), body
    assert [float(line.split(",")[0]) for line in body.splitlines()] == scores.probabilities[:3].tolist()
    assert flask_answers["modules"] == ["sagemaker_code", "sagemaker_code.steps", "sagemaker_code.steps.transform"]


class _MMSRequestProcessor(NamedTuple):
    headers: dict[str, str]

    def get_request_properties(self) -> dict[str, str]:
        return self.headers


class _MMSContext:
    """The part of multi-model-server's ``mms.context.Context`` that sagemaker_inference's Transformer uses."""

    def __init__(self, model_dir: Path, content_type: str, accept: str) -> None:
        self.system_properties = {"model_dir": str(model_dir)}
        self.request_processor = [_MMSRequestProcessor({"Content-Type": content_type, "Accept": accept})]
        self.status: tuple[int, str] | None = None
        self.content_type: str | None = None

    def set_response_status(self, code: int, phrase: str) -> None:
        self.status = (code, phrase)

    def set_response_content_type(self, index: int, value: str) -> None:
        self.content_type = value


@pytest.mark.parametrize("name", ["content-type", "field-count", "not-a-number", "accept", "valid-csv"])
def test_multi_model_stack_answers_with_the_error_status(
    sample_run: PipelineRun, cases: dict[str, Case], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = cases[name]
    monkeypatch.setenv("SAGEMAKER_PROGRAM", "sagemaker_code.steps.inference.py")  # the user module, found on sys.path
    context = _MMSContext(sample_run.model, case.content_type, case.accept)
    (body,) = Transformer().transform([{"body": bytearray(case.body)}], context)  # model_fn, then transform_fn
    if case.status == 200:
        assert context.status is None
        assert context.content_type == "application/json"
        assert all(0 <= p["probability"] <= 1 for p in json.loads(body)["predictions"])
    else:
        assert context.status == (case.status, HTTPStatus(case.status).phrase)
        assert case.says in body
