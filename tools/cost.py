"""`make cost`: what the configured endpoints cost per month while nobody calls them, per environment.

An endpoint's idle cost is what keeps running without traffic: nothing for a serverless endpoint (SageMaker scales it
to zero; this platform configures no provisioned concurrency), and the idle floor of an instance endpoint, that is
autoscaling's ``min_instances`` (or the fixed ``instance_count``), billed per instance-hour around the clock. The
prices come from a dated table in the repository, ``tools/prices.json``, where every price names its source: a figure
that is not there is an error naming the instance type and region, never a guess. Month: 730 hours (365 x 24 / 12, as
AWS's pricing pages count).

The table is JSON data rather than a Python dict so that a price update is a reviewable data change with its source
next to it, and is validated here (regions and instance types as the config checks them, positive prices, a date and
a source for each) before anything is computed.

Another config file: ``make cost ARGS="-c config=path.yaml"`` (or ``--config path.yaml``), or ``MLOPS_CONFIG``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from config.base import Region
from config.loader import REPO_ROOT, ConfigError, config_path_from, load_config
from config.model import PlatformConfig
from config.model_build import InferenceInstanceType
from config.serving import InstanceEndpoint, ServerlessEndpoint
from tools.synth import context_argument

PRICES_PATH = Path(__file__).resolve().with_name("prices.json")
HOURS_PER_MONTH = 730
AS_OF_RE = re.compile(r"^(\d{4}(-(0[1-9]|1[0-2]))?|undated)$")
NOT_INCLUDED = (
    "data capture storage (the S3 objects instance endpoints capture into the capture bucket), the endpoints' ML "
    "storage volumes, data transfer, CloudWatch alarms and logs, KMS requests; on-demand prices, before any "
    "Savings Plan"
)


def _https(value: str) -> str:
    if not value.startswith("https://") or len(value) <= len("https://"):
        raise ValueError(f"must be an https:// address, got {value!r}")
    return value


class _Data(BaseModel):
    """The table's schema: unknown keys are errors and nothing is coerced (prices are exact decimals)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class InstancePrice(_Data):
    """One instance type's hourly price in one region, with where it was read and what it refers to."""

    usd_per_hour: Decimal = Field(gt=0, allow_inf_nan=False)
    as_of: str = Field(pattern=AS_OF_RE.pattern, description="Month (YYYY-MM) or year the figure is of, or undated.")
    source: Annotated[str, AfterValidator(_https)]
    quote: str = Field(min_length=1, description="What the source says.")
    derived: str | None = Field(default=None, min_length=1, description="How the price follows when not verbatim.")


class PriceTable(_Data):
    about: str = Field(min_length=1)
    retrieved: date = Field(description="When the prices were taken from their sources.")
    currency: str = Field(pattern=r"^USD$")
    pricing_page: Annotated[str, AfterValidator(_https)]
    real_time_inference: dict[Region, dict[InferenceInstanceType, InstancePrice]] = Field(min_length=1)


class PriceTableError(Exception):
    """The price table cannot be read or is malformed."""


class MissingPricesError(Exception):
    """The config uses instance types the table has no price for; ``problems`` names each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_prices(path: Path = PRICES_PATH) -> PriceTable:
    """The price table in ``path``, validated; every problem names the file and the key."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PriceTableError(f"{path}: cannot read the price table: {exc.strerror}") from None
    try:
        return PriceTable.model_validate_json(text)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(part) for part in err["loc"] if part != "[key]") or "(top)"
            problems.append(f"{path}: {where}: {str(err['msg']).removeprefix('Value error, ')}")
        raise PriceTableError("\n".join(problems)) from None


@dataclass(frozen=True)
class Row:
    """One environment's endpoint while idle: what runs and what it costs."""

    environment: str
    region: str
    endpoint: str  # "serverless", "instances" or "none"
    running: str  # what runs while idle, in words
    instances: int
    instance_type: str | None = None
    price: InstancePrice | None = None

    @property
    def hourly(self) -> Decimal:
        return self.instances * self.price.usd_per_hour if self.price is not None else Decimal(0)

    @property
    def monthly(self) -> Decimal:
        return self.hourly * HOURS_PER_MONTH


def idle_floor(endpoint: InstanceEndpoint) -> tuple[int, str]:
    """The instances an instance endpoint keeps without traffic: autoscaling scales in to ``min_instances``; without
    autoscaling the count is fixed."""
    if endpoint.autoscaling is not None:
        return endpoint.autoscaling.min_instances, "autoscaling min_instances"
    return endpoint.instance_count, "instance_count"


def idle_rows(config: PlatformConfig, table: PriceTable, prices_path: Path = PRICES_PATH) -> list[Row]:
    """One row per environment, in config order; :class:`MissingPricesError` lists every instance type or region the
    table lacks (all of them at once, so that one edit of the table fixes the run)."""
    rows: list[Row] = []
    problems: list[str] = []
    for name, env in config.environments.items():
        endpoint = env.serving.endpoint if env.serving is not None else None
        if endpoint is None:
            rows.append(Row(name, env.region, "none", "no endpoint (no serving section)", 0))
        elif isinstance(endpoint, ServerlessEndpoint):
            running = f"nothing, 0 instances ({endpoint.memory_mb} MB, pay per request)"
            rows.append(Row(name, env.region, "serverless", running, 0))
        else:
            count, why = idle_floor(endpoint)
            kind = endpoint.instance_type
            regional = table.real_time_inference.get(env.region)
            price = regional.get(kind) if regional is not None else None
            if price is None:
                where = f"environments.{name}.serving.endpoint.instance_type"
                if regional is None:
                    listed = ", ".join(sorted(table.real_time_inference))
                    lack = f"the table has no prices for region {env.region} (regions listed: {listed})"
                else:
                    lack = f"the table lists {env.region}: {', '.join(sorted(regional))}"
                problems.append(
                    f"{where}: no price of {kind} in {env.region} in {_shown(prices_path)}: {lack}. Add the price "
                    f"of {kind} in {env.region} with its source and date ({table.pricing_page})"
                )
            rows.append(Row(name, env.region, "instances", f"{count} x {kind} ({why})", count, kind, price))
    if problems:
        raise MissingPricesError(problems)
    return rows


def _shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (as the README and `make` name files)."""
    return path.relative_to(REPO_ROOT).as_posix() if path.is_relative_to(REPO_ROOT) else str(path)


def _money(value: Decimal, places: str) -> str:
    return str(value.quantize(Decimal(places), rounding=ROUND_HALF_UP))


def format_report(rows: Sequence[Row], table: PriceTable, config_path: Path, prices_path: Path = PRICES_PATH) -> str:
    """The table of rows, the total, and the footer: the prices used with their dates and sources, and what is not
    counted."""
    header = ("environment", "region", "endpoint", "running while idle", "$/hour", f"$/month ({HOURS_PER_MONTH} h)")
    body = [
        (
            r.environment,
            r.region,
            "no endpoint" if r.endpoint == "none" else r.endpoint,
            r.running + (" *" if r.price is not None and r.price.derived else ""),
            _money(r.hourly, "0.001"),
            _money(r.monthly, "0.01"),
        )
        for r in rows
    ]
    total_hourly = sum((r.hourly for r in rows), Decimal(0))
    total = ("total", "", "", "", _money(total_hourly, "0.001"), _money(total_hourly * HOURS_PER_MONTH, "0.01"))
    widths = [max(len(line[i]) for line in [header, *body, total]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(cell.rjust(width) if i >= 4 else cell.ljust(width) for i, (cell, width) in pairs)

    rule = "  ".join("-" * w for w in widths)
    lines = [
        f"Idle cost of the endpoints configured in {_shown(config_path)} ({table.currency}, before tax)",
        "",
        line(header),
        rule,
        *(line(cells) for cells in body),
        rule,
        line(total),
        "",
        f"Prices: {_shown(prices_path)}, retrieved {table.retrieved.isoformat()}; pricing page {table.pricing_page}",
    ]
    used = {(r.region, r.instance_type): r.price for r in rows if r.price is not None and r.instance_type is not None}
    for (region, kind), price in sorted(used.items(), key=lambda item: (item[0][0], str(item[0][1]))):
        lines.append(f"  {region} {kind}: ${price.usd_per_hour}/h, as of {price.as_of}, {price.source}")
        if price.derived:
            lines.append(f"    * derived: {price.derived}")
    if any(r.endpoint == "serverless" for r in rows):
        lines.append(
            "Serverless: no charge while idle (SageMaker scales it to zero; no provisioned concurrency is configured); "
            "requests are billed by duration x memory and data processed (pricing page)."
        )
    lines.append(f"Not included: {NOT_INCLUDED}.")
    return "\n".join(lines)


def config_location(contexts: Sequence[str], config: str | None, environ: Mapping[str, str]) -> Path:
    """The config file to read: ``--config`` or ``-c config=`` (relative to the current folder, checked to exist, as
    `make synth` takes it), then ``$MLOPS_CONFIG``, then the app's default (both relative to the app's folder, where
    the CDK app runs)."""
    chosen = [f"config={config}"] if config is not None else []
    for item in contexts:
        if not item.startswith("config=") and "=" in item:
            raise ValueError(f"-c {item!r}: `make cost` reads only -c config=PATH")
        chosen.append(item)
    values = [context_argument(item).split("=", 1)[1] for item in chosen]
    if len(set(values)) > 1:
        raise ValueError(f"more than one config file given: {', '.join(values)}")
    path = config_path_from(values[0] if values else None, environ)
    return path if path.is_absolute() else REPO_ROOT / path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.cost",
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog="example: python -m tools.cost -c config=config/other.yaml (make cost ARGS='-c config=...')",
    )
    parser.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="config=PATH",
        help="the config file, as `make synth` takes it (default config/environments.yaml, or $MLOPS_CONFIG)",
    )
    parser.add_argument("--config", metavar="PATH", help="the config file (same as -c config=PATH)")
    parser.add_argument("--prices", type=Path, default=PRICES_PATH, help="the price table (default tools/prices.json)")
    args = parser.parse_args(argv)
    try:
        path = config_location(args.context, args.config, os.environ)
    except (ValueError, ConfigError) as exc:
        parser.error(str(exc))  # exits 2 with the usage line
    try:
        config = load_config(path)
        table = load_prices(args.prices)
        rows = idle_rows(config, table, args.prices)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    except PriceTableError as exc:
        print(exc, file=sys.stderr)
        return 1
    except MissingPricesError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        print("No cost printed: a price the config needs is missing (never guessed).", file=sys.stderr)
        return 1
    print(format_report(rows, table, path, args.prices))
    return 0


if __name__ == "__main__":
    sys.exit(main())
