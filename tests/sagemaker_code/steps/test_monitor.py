"""The monitor step end to end through ``main`` with MLOPS_LOCAL_AWS_ROOT: the live package's baseline comes from a
real Preprocess run on the German Credit sample, the traffic from the sample's raw rows with synthetic scores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from sagemaker_code.steps import contract, monitor
from sagemaker_code.steps.monitor_io import LocalAws, S3Location, hour_prefixes
from sagemaker_code.steps.preprocess import preprocess
from sagemaker_code.steps.spec import DatasetSpec
from tests.sagemaker_code.steps.test_monitor_support import (
    ARN,
    CAPTURE_BUCKET,
    DATA_BUCKET,
    ENDPOINT,
    PARAMETER,
    LocalAwsRoot,
    local_root,
    record,
    sample_rows,
    score,
    truth_line,
)
from tests.step_fixtures import SAMPLE

END = datetime(2026, 12, 1, 12, tzinfo=UTC)
NAMESPACE = "mlops/Monitoring"
ROWS = sample_rows()
BASE_DIMENSIONS = [{"Name": "Environment", "Value": "dev"}, {"Name": "Endpoint", "Value": ENDPOINT}]


@pytest.fixture(scope="module")
def train_statistics(spec: DatasetSpec, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """statistics.json of a real Preprocess run (the train split of the sample)."""
    output = tmp_path_factory.mktemp("preprocess")
    preprocess(SAMPLE, spec, output)
    statistics: dict[str, object] = json.loads((output / "baseline" / "statistics.json").read_text())
    return statistics


@pytest.fixture
def aws(tmp_path: Path, spec: DatasetSpec, train_statistics: dict[str, object]) -> Iterator[LocalAwsRoot]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(contract.LOCAL_AWS_ROOT, str(tmp_path / "aws"))
        yield local_root(tmp_path / "aws", spec, train_statistics)


def traffic(count: int, seed: int = 0, *, shift_amount: float = 1.0, per_record: int = 1) -> list[str]:
    """Capture lines of ``count`` rows drawn from the sample, spread over the hour before END."""
    rng = np.random.default_rng(seed)
    lines = []
    for start in range(0, count, per_record):
        rows = [list(ROWS[i][:20]) for i in rng.integers(len(ROWS), size=min(per_record, count - start))]
        for row in rows:
            row[4] = str(int(int(row[4]) * shift_amount))
        moment = END - timedelta(minutes=59) + timedelta(seconds=start * 3000 / count)
        lines.append(record(rows, [float(p) for p in score(rows)], moment, f"req-{seed}-{start}"))
    return lines


def run(spec_path: Path, tmp_path: Path, *extra: str, truth: bool = True, min_rows: int = 200) -> int:
    args = [
        *("--live-model-parameter", PARAMETER, "--capture-uri", f"s3://{CAPTURE_BUCKET}/endpoints/{ENDPOINT}/"),
        *("--ground-truth-uri", f"s3://{DATA_BUCKET}/ground-truth/{ENDPOINT}/" if truth else ""),
        *("--window-end", END.isoformat(), "--window-hours", "1", "--label-lookback-hours", "24"),
        *("--min-rows", str(min_rows), "--psi-threshold", "0.2", "--p-value", "0.05"),
        *("--di-lower", "0.8", "--di-upper", "1.25", "--namespace", NAMESPACE, "--environment", "dev"),
        *("--endpoint", ENDPOINT, "--spec", str(spec_path), "--output", str(tmp_path / "out"), *extra),
    ]
    return monitor.main(args)


def report(tmp_path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((tmp_path / "out" / monitor.REPORT_FILE).read_text())
    return data


def metrics(aws: LocalAwsRoot, name: str, **dimensions: str) -> list[float]:
    wanted = BASE_DIMENSIONS + [{"Name": key, "Value": value} for key, value in dimensions.items()]
    return [
        float(datum["Value"])  # type: ignore[arg-type]
        for datum in aws.metrics()
        if datum["MetricName"] == name and datum["Dimensions"] == wanted
    ]


def names(aws: LocalAwsRoot) -> set[str]:
    return {str(datum["MetricName"]) for datum in aws.metrics()}


def test_steady_traffic_is_ok_and_publishes_every_figure(aws: LocalAwsRoot, spec_path: Path, tmp_path: Path) -> None:
    aws.write_capture(END - timedelta(minutes=30), traffic(1000, per_record=3))
    assert run(spec_path, tmp_path) == 0
    result = report(tmp_path)
    assert result["state"] == "ok", result["alerts"]
    assert metrics(aws, "CapturedRows") == [1000.0]
    assert metrics(aws, "InsufficientData") == [0.0]
    assert metrics(aws, "DriftedFeatures") == [0.0]
    # a few sample rows lie outside the train split's [min, max] (the test split's extremes): violations, not drift
    assert 0 < metrics(aws, "SchemaViolationRate")[0] < 0.01
    assert metrics(aws, "LabelledRows") == [0.0]  # labels configured, none arrived
    assert 0 < metrics(aws, "PositiveRate")[0] < 1
    assert metrics(aws, "PredictionPSI")[0] < 0.2
    assert len(metrics(aws, "DisparateImpact", Facet="age")) == 1
    assert len(metrics(aws, "FeaturePSI", Feature="credit_amount")) == 1
    assert names(aws) >= {"MaxFeaturePSI", "MissingValueRate", "BiasViolations", "FeatureMissingRate"}
    assert not names(aws) & {"AUC", "Accuracy", "ExpectedCost"}
    datum = aws.metrics()[0]
    assert (datum["Namespace"], datum["Timestamp"]) == (NAMESPACE, END.isoformat())
    published = json.loads((tmp_path / "out" / monitor.METRICS_FILE).read_text())
    assert len(published["MetricData"]) == len(aws.metrics())
    page = (tmp_path / "out" / monitor.MARKDOWN_FILE).read_text()
    assert "OK" in page
    assert "credit_amount" in page


def test_a_drifted_feature_is_flagged_and_alarms(aws: LocalAwsRoot, spec_path: Path, tmp_path: Path) -> None:
    aws.write_capture(END - timedelta(minutes=30), traffic(1000, shift_amount=1.8))
    assert run(spec_path, tmp_path) == 0
    result = report(tmp_path)
    assert result["state"] == "alert"
    quality = result["data_quality"]
    assert isinstance(quality, dict)
    assert [f["feature"] for f in quality["features"] if f["drifted"]] == ["credit_amount"]
    assert metrics(aws, "DriftedFeatures") == [1.0]
    assert metrics(aws, "FeaturePSI", Feature="credit_amount")[0] >= 0.2
    assert metrics(aws, "SchemaViolationRate")[0] > 0  # amounts above the train maximum
    assert "**drift**" in (tmp_path / "out" / monitor.MARKDOWN_FILE).read_text()


def test_delayed_labels_in_the_lookback(aws: LocalAwsRoot, spec_path: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    picks = rng.integers(len(ROWS), size=400)
    early = END - timedelta(hours=20)  # predicted 20 h ago (inside the 24 h look-back)
    lines = [record([ROWS[i][:20]], [float(score([ROWS[i]])[0])], early + timedelta(seconds=n), f"e{n}")
             for n, i in enumerate(picks)]  # fmt: skip
    stale = record([ROWS[0][:20]], [0.9], END - timedelta(hours=30), "stale")
    aws.write_capture(early, lines)
    aws.write_capture(END - timedelta(hours=30), [stale])
    aws.write_capture(END - timedelta(minutes=5), traffic(250))
    truth = [truth_line(f"e{n}", ROWS[i][20]) for n, i in enumerate(picks)]
    aws.write_truth(END - timedelta(hours=2), truth[:300])  # arrived before the window's end
    aws.write_truth(END + timedelta(hours=1), truth[300:])  # arrives after it: not used yet
    aws.write_truth(END - timedelta(hours=1), [truth_line("stale", "2")])  # its prediction is older than the look-back
    assert run(spec_path, tmp_path) == 0
    quality = report(tmp_path)["model_quality"]
    assert isinstance(quality, dict)
    assert quality["labelled_rows"] == 300
    y = np.array([ROWS[i][20] == "1" for i in picks[:300]], dtype=np.int64)
    probabilities = score([ROWS[i] for i in picks[:300]])
    decided = (probabilities >= 0.5).astype(np.int64)
    assert metrics(aws, "LabelledRows") == [300.0]
    assert metrics(aws, "Accuracy") == [pytest.approx(float(np.mean(decided == y)))]
    cost = (5 * np.sum((decided == 1) & (y == 0)) + np.sum((decided == 0) & (y == 1))) / 300
    assert metrics(aws, "ExpectedCost") == [pytest.approx(float(cost))]
    assert 0.5 < metrics(aws, "AUC")[0] < 1
    assert metrics(aws, "CapturedRows") == [250.0]  # the window holds only the last hour's rows


def test_a_lookback_shorter_than_the_window_joins_only_its_own_predictions(
    aws: LocalAwsRoot, spec_path: Path, tmp_path: Path
) -> None:
    lines = traffic(300)  # predicted in the last hour (inside a 1 h look-back)
    older = [record([ROWS[n][:20]], [0.7], END - timedelta(minutes=90, seconds=-n), f"old{n}") for n in range(100)]
    aws.write_capture(END - timedelta(minutes=30), lines)
    aws.write_capture(END - timedelta(minutes=90), older)
    keys = [json.loads(line)["eventMetadata"]["inferenceId"] for line in lines]
    aws.write_truth(
        END - timedelta(minutes=5), [truth_line(key, "1") for key in keys + [f"old{n}" for n in range(100)]]
    )
    assert run(spec_path, tmp_path, "--window-hours", "2", "--label-lookback-hours", "1") == 0
    assert metrics(aws, "CapturedRows") == [400.0]
    assert metrics(aws, "LabelledRows") == [300.0]


def test_too_few_rows_is_insufficient_data_not_an_alarm(aws: LocalAwsRoot, spec_path: Path, tmp_path: Path) -> None:
    aws.write_capture(END - timedelta(minutes=30), traffic(50, shift_amount=3.0))
    assert run(spec_path, tmp_path) == 0
    assert report(tmp_path)["state"] == "insufficient_data"
    assert names(aws) == {"CapturedRows", "InsufficientData", "LabelledRows"}
    assert metrics(aws, "InsufficientData") == [1.0]
    assert metrics(aws, "CapturedRows") == [50.0]


def test_no_live_model(aws: LocalAwsRoot, spec_path: Path, tmp_path: Path) -> None:
    (aws.root / "ssm" / PARAMETER.lstrip("/")).write_text("none\n")
    aws.write_capture(END - timedelta(minutes=30), traffic(300))
    assert run(spec_path, tmp_path) == 0
    assert report(tmp_path)["state"] == "no_live_model"
    assert names(aws) == {"CapturedRows", "InsufficientData"}
    assert metrics(aws, "CapturedRows") == [300.0]


def test_a_package_without_a_prediction_baseline(
    tmp_path: Path,
    spec: DatasetSpec,
    spec_path: Path,
    train_statistics: dict[str, object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    aws = local_root(tmp_path / "aws", spec, train_statistics, with_predictions=False)
    monkeypatch.setenv(contract.LOCAL_AWS_ROOT, str(aws.root))
    aws.write_capture(END - timedelta(minutes=30), traffic(300))
    assert run(spec_path, tmp_path, truth=False) == 0
    prediction = report(tmp_path)["prediction"]
    assert isinstance(prediction, dict)
    assert prediction["available"] is False
    assert "prediction_baseline" in prediction["reason"]
    assert "PredictionPSI" not in names(aws)
    assert {"PositiveRate", "DriftedFeatures"} <= names(aws)
    assert "LabelledRows" not in names(aws)  # no ground truth configured


def test_bad_records_count_as_schema_violations(aws: LocalAwsRoot, spec_path: Path, tmp_path: Path) -> None:
    lines = traffic(300)
    lines[10] = "{truncated"
    lines[20] = lines[20].replace("A1", "Z9", 1)  # an unknown checking status
    aws.write_capture(END - timedelta(minutes=30), lines)
    assert run(spec_path, tmp_path) == 0
    result = report(tmp_path)
    assert result["rows"]["unparsable_records"] == 1  # type: ignore[index]
    assert metrics(aws, "CapturedRows") == [300.0]
    assert metrics(aws, "SchemaViolationRate") == [pytest.approx(2 / 300)]


def test_a_window_of_only_broken_records(aws: LocalAwsRoot, spec_path: Path, tmp_path: Path) -> None:
    lines = [line.replace('\\"probability\\": ', '\\"probability\\": 7') for line in traffic(250)]  # p = 7.x
    aws.write_capture(END - timedelta(minutes=30), lines)
    assert run(spec_path, tmp_path) == 0
    assert metrics(aws, "CapturedRows") == [250.0]
    assert metrics(aws, "SchemaViolationRate") == [1.0]
    assert "MissingValueRate" not in names(aws)
    assert "PositiveRate" not in names(aws)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("statistics", "the baseline statistics cannot be read"),
        ("parameter", "the live model parameter cannot be read"),
        ("package", "the live model package cannot be described"),
    ],
)
def test_real_failures_exit_non_zero_naming_what(
    aws: LocalAwsRoot,
    spec_path: Path,
    tmp_path: Path,
    *,
    breakage: str,
    message: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if breakage == "statistics":
        next((aws.root / "s3").rglob("statistics.json")).unlink()
    elif breakage == "parameter":
        (aws.root / "ssm" / PARAMETER.lstrip("/")).unlink()
    else:
        next((aws.root / "registry").rglob("*.json")).unlink()
    assert run(spec_path, tmp_path) == 1
    assert message in caplog.text
    assert not (tmp_path / "out").exists()
    assert aws.metrics() == []


def test_bad_arguments(spec_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(spec_path, tmp_path, "--p-value", "1.5")
    assert exit_info.value.code == 2
    assert "--p-value must be between 0 and 1" in capsys.readouterr().err


class SpyAws(LocalAws):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.listed: list[str] = []

    def keys(self, location: S3Location) -> list[str]:
        self.listed.append(location.key)
        return super().keys(location)


def test_only_the_windows_hours_are_listed(aws: LocalAwsRoot, spec: DatasetSpec, tmp_path: Path) -> None:
    aws.write_capture(END - timedelta(minutes=30), traffic(300), variant="A")
    aws.write_capture(END - timedelta(minutes=30), traffic(300, seed=1), variant="B")
    aws.write_capture(END - timedelta(days=40), ["{garbage from long ago"], variant="A")
    spy = SpyAws(aws.root)
    settings = monitor.settings_of(
        monitor.build_parser().parse_args(
            [*("--live-model-parameter", PARAMETER, "--capture-uri", f"s3://{CAPTURE_BUCKET}/endpoints/{ENDPOINT}/"),
             *("--window-end", "2026-12-01T12:00:00Z", "--window-hours", "2", "--label-lookback-hours", "48"),
             *("--min-rows", "100", "--psi-threshold", "0.2", "--p-value", "0.05", "--di-lower", "0.8"),
             *("--di-upper", "1.25", "--namespace", NAMESPACE, "--environment", "dev", "--endpoint", ENDPOINT)]
        ),
        monitor.build_parser(),
    )  # fmt: skip
    result = monitor.monitor(settings, spec, spy)
    assert result["rows"]["captured"] == 600
    assert result["model_package"]["arn"] == ARN
    hours = ["2026/12/01/10/", "2026/12/01/11/"]  # no labels configured: the 2 h window only
    assert spy.listed == [f"endpoints/{ENDPOINT}/{variant}/{hour}" for variant in ("A", "B") for hour in hours]


def test_hour_prefixes() -> None:
    end = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)
    assert hour_prefixes(end - timedelta(hours=1), end) == ["2026/12/01/11/", "2026/12/01/12/"]
    assert hour_prefixes(END - timedelta(hours=1), END) == ["2026/12/01/11/"]
    assert hour_prefixes(datetime(2026, 12, 31, 23, tzinfo=UTC), datetime(2027, 1, 1, 0, 1, tzinfo=UTC)) == [
        "2026/12/31/23/",
        "2027/01/01/00/",
    ]
