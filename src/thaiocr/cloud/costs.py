"""The instance table (``prices.csv``): which instance types thaiocr knows, their price, size and speed.

The prices are approximate list prices and the speeds are labelled estimates; the CSV's header says
where each number comes from. SageMaker bills ``BillableTimeInSeconds * InstanceCount`` at the
on-demand rate; managed spot training saves by billing fewer seconds than it trained
(``1 - BillableTimeInSeconds / TrainingTimeInSeconds``).
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass, field
from importlib import resources

from thaiocr.errors import ThaiOCRError, did_you_mean

PRICE_REGION = "us-east-1"  # the region every instance has a price row for
COLUMNS = ("instance_type", "region", "usd_per_hour", "vcpus", "gpus", "relative_speed")


@dataclass(frozen=True)
class Price:
    """An hourly price and where it comes from: ``region`` is the table's row, ``requested`` the job's region."""

    usd_per_hour: float
    region: str
    requested: str

    @property
    def exact(self) -> bool:
        return self.region == self.requested

    def cost(self, seconds: float, instance_count: int = 1) -> float:
        return self.usd_per_hour * seconds / 3600 * instance_count

    def describe(self) -> str:
        where = f"{self.region} list price" if self.exact else f"{self.region} list price; {self.requested} may differ"
        return f"${self.usd_per_hour:.3f}/h, {where}"


@dataclass(frozen=True)
class Instance:
    name: str
    vcpus: int
    gpus: int
    relative_speed: float
    prices: dict[str, float] = field(default_factory=dict)

    @property
    def gpu(self) -> bool:
        return self.gpus > 0

    def price(self, region: str) -> Price:
        """The region's own row when the table has one, else the ``us-east-1`` row (and says so)."""
        row_region = region if region in self.prices else PRICE_REGION
        return Price(self.prices[row_region], row_region, region)


def price_region(region: str | None = None) -> str:
    """The region to price in: the one the other cloud commands would use (see
    :func:`~thaiocr.cloud.aws.find_region`), else us-east-1."""
    from thaiocr.cloud.aws import find_region

    return find_region(region) or PRICE_REGION


def money(usd: float) -> str:
    """Dollars with cents, or a tenth of a cent for the small sums of short jobs."""
    return f"${usd:.2f}" if usd >= 0.1 else f"${usd:.3f}"


def parse_table(text: str) -> dict[str, Instance]:
    """The instances of a price table; comment lines start with ``#``."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ThaiOCRError(f"price table: expected the columns {', '.join(COLUMNS)}")
    table: dict[str, Instance] = {}
    for row in reader:
        name = row["instance_type"]
        known = table.get(name) or Instance(name, int(row["vcpus"]), int(row["gpus"]), float(row["relative_speed"]))
        table[name] = Instance(known.name, known.vcpus, known.gpus, known.relative_speed,
                               {**known.prices, row["region"]: float(row["usd_per_hour"])})
    missing = [name for name, item in table.items() if PRICE_REGION not in item.prices]
    if missing:
        raise ThaiOCRError(f"price table: {', '.join(missing)} lack a {PRICE_REGION} row")
    return table


@functools.cache
def instances() -> dict[str, Instance]:
    text = (resources.files("thaiocr.cloud") / "prices.csv").read_text(encoding="utf-8")
    return parse_table(text)


def instance(name: str) -> Instance:
    """The table's entry for an instance type; an unknown name gets a "did you mean"."""
    table = instances()
    if name not in table:
        raise ThaiOCRError(
            f"unknown instance type {name!r}{did_you_mean(name, table)}; "
            "other types need a row in thaiocr/cloud/prices.csv"
        )
    return table[name]
