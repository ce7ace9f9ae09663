"""`make cost` (tools/cost.py): the idle monthly cost per environment follows from the config and the price table.

Expected figures are computed here from the config and the table the tool reads (never copied from its output), so a
price update in tools/prices.json or a change of the shipped config keeps these tests meaningful.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.loader import DEFAULT_CONFIG_PATH, REPO_ROOT, load_config
from config.serving import InstanceEndpoint, ServerlessEndpoint
from tools import cost

SHIPPED = REPO_ROOT / DEFAULT_CONFIG_PATH


def money(value: Decimal, places: str = "0.01") -> str:
    return str(value.quantize(Decimal(places), rounding=ROUND_HALF_UP))


def shipped_data() -> dict[str, Any]:
    data = yaml.safe_load(SHIPPED.read_text())
    assert isinstance(data, dict)
    return data


def in_region(data: dict[str, Any], region: str) -> dict[str, Any]:
    """``data`` with every environment and the delivery pipeline in ``region`` (a registry serves its own region)."""
    for env in data["environments"].values():
        env["region"] = region
    data["delivery"]["region"] = region
    return data


def prod_on(data: dict[str, Any], instance_type: str, **endpoint: Any) -> dict[str, Any]:
    """``data`` with prod's instance endpoint on ``instance_type`` (allowed by model_build), other keys replaced."""
    data["model_build"]["inference_instance_types"] = sorted({"ml.m5.large", instance_type})
    data["environments"]["prod"]["serving"]["endpoint"].update(instance_type=instance_type, **endpoint)
    return data


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    def write(data: dict[str, Any]) -> Path:
        path = tmp_path / "config" / "other.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data))
        return path

    return write


def price_entry(usd: str) -> dict[str, str]:
    return {"usd_per_hour": usd, "as_of": "2026-11", "source": "https://example.com/p", "quote": f"${usd} per hour"}


@pytest.fixture
def write_prices(tmp_path: Path) -> Callable[[dict[str, dict[str, dict[str, str]]]], Path]:
    def write(regions: dict[str, dict[str, dict[str, str]]]) -> Path:
        path = tmp_path / "prices.json"
        table = {
            "about": "test prices",
            "retrieved": "2026-11-30",
            "currency": "USD",
            "pricing_page": "https://example.com/pricing",
            "real_time_inference": regions,
        }
        path.write_text(json.dumps(table))
        return path

    return write


@pytest.fixture(autouse=True)
def _no_config_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLOPS_CONFIG", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cost.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def row_of(out: str, environment: str) -> str:
    lines = [line for line in out.splitlines() if line.split()[:1] == [environment]]
    assert len(lines) == 1, out
    return lines[0]


def test_shipped_config_figures_follow_from_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    config = load_config(SHIPPED)
    table = cost.load_prices()
    code, out, err = run(capsys)
    assert code == 0, err
    total = Decimal(0)
    instance_envs = 0
    for name, env in config.environments.items():
        line = row_of(out, name)
        endpoint = env.serving.endpoint if env.serving is not None else None
        if isinstance(endpoint, InstanceEndpoint):
            instance_envs += 1
            floor = endpoint.autoscaling.min_instances if endpoint.autoscaling else endpoint.instance_count
            price = table.real_time_inference[env.region][endpoint.instance_type]
            monthly = floor * price.usd_per_hour * 730
            total += monthly
            assert line.split()[-1] == money(monthly)
            assert f"{floor} x {endpoint.instance_type}" in line
            assert price.source in out
            assert price.as_of in out
        elif isinstance(endpoint, ServerlessEndpoint):
            assert line.split()[-1] == "0.00"
            assert "pay per request" in line
    assert instance_envs, "the shipped config is expected to have an instance endpoint (prod)"
    assert row_of(out, "total").split()[-1] == money(total)
    assert f"retrieved {table.retrieved.isoformat()}" in out
    assert "data capture storage" in out.split("Not included:")[1]


def test_idle_rows_compute_the_idle_floor_times_the_price_times_730_hours() -> None:
    config = load_config(SHIPPED)
    rows = {row.environment: row for row in cost.idle_rows(config, cost.load_prices())}
    prod = config.environments["prod"].serving
    assert prod is not None
    assert isinstance(prod.endpoint, InstanceEndpoint)
    assert prod.endpoint.autoscaling is not None
    price = cost.load_prices().real_time_inference["eu-west-1"]["ml.m5.large"].usd_per_hour
    assert rows["prod"].monthly == prod.endpoint.autoscaling.min_instances * price * 730
    assert rows["dev"].monthly == rows["staging"].monthly == 0


def test_idle_floor_is_autoscaling_min_not_the_deployed_count(
    capsys: pytest.CaptureFixture[str], write_config: Callable[[dict[str, Any]], Path], write_prices: Any
) -> None:
    prices = write_prices({"eu-west-1": {"ml.m5.large": price_entry("0.5")}})
    scaled = prod_on(shipped_data(), "ml.m5.large", instance_count=4)
    scaled["environments"]["prod"]["serving"]["endpoint"]["autoscaling"] = {"min_instances": 3, "max_instances": 6}
    code, out, err = run(capsys, "-c", f"config={write_config(scaled)}", "--prices", str(prices))
    assert code == 0, err
    assert row_of(out, "prod").split()[-1] == money(3 * Decimal("0.5") * 730)

    fixed = prod_on(shipped_data(), "ml.m5.large", instance_count=5)
    del fixed["environments"]["prod"]["serving"]["endpoint"]["autoscaling"]
    code, out, err = run(capsys, "--config", str(write_config(fixed)), "--prices", str(prices))
    assert code == 0, err
    assert row_of(out, "prod").split()[-1] == money(5 * Decimal("0.5") * 730)
    assert "5 x ml.m5.large (instance_count)" in row_of(out, "prod")


def test_prices_are_region_aware(
    capsys: pytest.CaptureFixture[str], write_config: Callable[[dict[str, Any]], Path], write_prices: Any
) -> None:
    prices = write_prices(
        {"eu-west-1": {"ml.m5.large": price_entry("0.2")}, "us-east-1": {"ml.m5.large": price_entry("0.1")}}
    )
    code, out, err = run(
        capsys, "-c", f"config={write_config(in_region(shipped_data(), 'us-east-1'))}", "--prices", str(prices)
    )
    assert code == 0, err
    assert row_of(out, "prod").split()[-1] == money(2 * Decimal("0.1") * 730)
    assert "us-east-1 ml.m5.large: $0.1/h" in out


def test_an_environment_without_serving_says_no_endpoint(
    capsys: pytest.CaptureFixture[str], write_config: Callable[[dict[str, Any]], Path]
) -> None:
    data = shipped_data()
    del data["environments"]["staging"]["serving"]
    code, out, err = run(capsys, "-c", f"config={write_config(data)}")
    assert code == 0, err
    line = row_of(out, "staging")
    assert "no endpoint" in line
    assert line.split()[-1] == "0.00"


def test_an_instance_type_missing_from_the_table_exits_1_naming_it(
    capsys: pytest.CaptureFixture[str], write_config: Callable[[dict[str, Any]], Path], write_prices: Any
) -> None:
    prices = write_prices({"eu-west-1": {"ml.m5.large": price_entry("0.2")}})
    data = prod_on(shipped_data(), "ml.c5.xlarge")
    code, out, err = run(capsys, "-c", f"config={write_config(data)}", "--prices", str(prices))
    assert code == 1
    assert out == ""
    assert "no price of ml.c5.xlarge in eu-west-1" in err
    assert "environments.prod.serving.endpoint.instance_type" in err


def test_a_region_missing_from_the_table_exits_1_naming_it(
    capsys: pytest.CaptureFixture[str], write_config: Callable[[dict[str, Any]], Path], write_prices: Any
) -> None:
    prices = write_prices({"eu-west-1": {"ml.m5.large": price_entry("0.2")}})
    data = in_region(shipped_data(), "us-west-2")
    code, out, err = run(capsys, "-c", f"config={write_config(data)}", "--prices", str(prices))
    assert code == 1
    assert out == ""
    assert "no prices for region us-west-2" in err
    assert "ml.m5.large" in err


def test_another_config_by_c_config_wins_over_mlops_config(
    capsys: pytest.CaptureFixture[str],
    write_config: Callable[[dict[str, Any]], Path],
    write_prices: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    prices = write_prices({"eu-west-1": {"ml.m5.large": price_entry("0.25")}})
    data = shipped_data()
    data["environments"]["prod"]["serving"]["endpoint"].update(instance_count=7)
    data["environments"]["prod"]["serving"]["endpoint"]["autoscaling"].update(min_instances=7, max_instances=8)
    path = write_config(data)
    broken = tmp_path / "broken.yaml"
    broken.write_text("project: {name: x}\n")
    monkeypatch.setenv("MLOPS_CONFIG", str(broken))
    code, out, err = run(capsys, "-c", f"config={path}", "--prices", str(prices))
    assert code == 0, err
    assert row_of(out, "prod").split()[-1] == money(7 * Decimal("0.25") * 730)
    assert str(path) in out.splitlines()[0]

    monkeypatch.setenv("MLOPS_CONFIG", str(path))
    code, out, err = run(capsys, "--prices", str(prices))
    assert code == 0, err
    assert row_of(out, "prod").split()[-1] == money(7 * Decimal("0.25") * 730)


def test_a_config_file_that_does_not_exist_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cost.main(["-c", f"config={tmp_path / 'missing.yaml'}"])
    assert exit_info.value.code == 2
    assert "missing.yaml" in capsys.readouterr().err


def test_the_shipped_price_table_is_well_formed() -> None:
    raw = json.loads(cost.PRICES_PATH.read_text())
    table = cost.load_prices()
    assert table.retrieved.isoformat() == raw["retrieved"]
    assert table.pricing_page.startswith("https://")
    assert table.real_time_inference
    for region, prices in table.real_time_inference.items():
        assert prices, f"{region}: no prices"
        for kind, price in prices.items():
            assert price.usd_per_hour > 0, (region, kind)
            assert price.source.startswith("https://"), (region, kind)
            assert price.quote, (region, kind)
            assert cost.AS_OF_RE.fullmatch(price.as_of), (region, kind)
            assert Decimal(str(raw["real_time_inference"][region][kind]["usd_per_hour"])) == price.usd_per_hour


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda e: e.update(usd_per_hour=-0.1), "usd_per_hour"),
        (lambda e: e.pop("source"), "source"),
        (lambda e: e.update(source="example.com/p"), "https://"),
        (lambda e: e.update(as_of="last year"), "as_of"),
    ],
)
def test_a_malformed_price_table_exits_1_naming_the_entry(
    capsys: pytest.CaptureFixture[str],
    write_prices: Any,
    change: Callable[[dict[str, Any]], object],
    named: str,
) -> None:
    entry: dict[str, Any] = price_entry("0.2")
    change(entry)
    prices = write_prices({"eu-west-1": {"ml.m5.large": entry}})
    code, out, err = run(capsys, "--prices", str(prices))
    assert code == 1
    assert out == ""
    assert "real_time_inference.eu-west-1.ml.m5.large" in err
    assert named in err


def test_a_price_table_with_an_unknown_region_or_instance_type_is_refused(write_prices: Any) -> None:
    with pytest.raises(cost.PriceTableError, match="eu-wset-1"):
        cost.load_prices(write_prices({"eu-wset-1": {"ml.m5.large": price_entry("0.2")}}))
    with pytest.raises(cost.PriceTableError, match=r"ml\.m5\.larg\b"):
        cost.load_prices(write_prices({"eu-west-1": {"ml.m5.larg": price_entry("0.2")}}))
