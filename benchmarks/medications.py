"""The dispensary under load: dispense throughput with contention, and the on-hand query.

Starts the embedded database and `fhir-server serve`, stocks 2,000 products x 5 lots x 3 locations
(products and lots are Medications created over the API in batch Bundles; the 30,000 opening balances
are written straight into the ledger, one receipt entry per lot x location, as the write rule would:
receiving them one SupplyDelivery at a time takes most of an hour on a busy machine; `--receive` does
that instead), then:

- dispenses (POST MedicationDispense, 1 unit, a named lot) for `--seconds` at 1 and at 16 clients;
  half of the dispenses go to a few hot lots holding few units, so writers collide on them (retried
  inside the server) and run them empty (409). Prints dispenses/s, p50/p95 latency and the 409 rate;
- checks the ledger afterwards: for every lot x location the sum of its entries equals its last
  balance, no balance is negative, and there is one dispense entry per dispense answered 201;
- times `Medication/$on-hand?product=...` (15 rows) for random products: p50/p95.

Usage: ``python benchmarks/medications.py [--products 2000] [--seconds 10] [--hot-lots 4] [--hot-units 150]``
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from bson.decimal128 import Decimal128
from harness import fhir_server
from pymongo import MongoClient

from fhir_server.medications.stock.model import PRODUCT
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.stock_ledger import entry_id

LOTS_PER_PRODUCT, LOCATIONS = 5, 3
RECEIVED = 1000
"""Units of each lot received at each location (the hot lots get `--hot-units` instead)."""
BUNDLE = 100
HEADERS = {"Content-Type": "application/fhir+json"}


def _ids(answer: dict[str, Any]) -> list[str]:
    ids = []
    for entry in answer["entry"]:
        status = entry["response"]["status"]
        if not status.startswith("201"):
            raise RuntimeError(f"a batch entry failed: {entry['response']}")
        ids.append(entry["response"]["location"].split("/_history/")[0].rsplit("/", 2)[-1])
    return ids


async def _batch(client: httpx.AsyncClient, resources: list[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for start in range(0, len(resources), BUNDLE):
        entries = [{"resource": r, "request": {"method": "POST", "url": r["resourceType"]}}
                   for r in resources[start : start + BUNDLE]]  # fmt: skip
        response = await client.post("/", json={"resourceType": "Bundle", "type": "batch", "entry": entries})
        response.raise_for_status()
        ids += _ids(response.json())
    return ids


async def _parallel(client: httpx.AsyncClient, resources: list[dict[str, Any]], lanes: int = 4) -> list[str]:
    size = -(-len(resources) // lanes)
    parts = await asyncio.gather(*(_batch(client, resources[i : i + size]) for i in range(0, len(resources), size)))
    return [resource_id for part in parts for resource_id in part]


@dataclass
class Stock:
    products: list[str]
    lots: list[str]
    locations: list[str]
    hot: list[str] = field(default_factory=list)


async def stock_up(
    client: httpx.AsyncClient, uri: str, products: int, hot_lots: int, hot_units: int, receive: bool
) -> Stock:
    locations = [f"Location/{i}" for i in await _batch(client, [
        {"resourceType": "Location", "name": name, "status": "active"}
        for name in ("Pharmacy room", "Vaccine fridge", "Treatment room")
    ])]  # fmt: skip
    product_ids = await _parallel(client, [
        {"resourceType": "Medication", "status": "active", "code": {"text": f"Product {n}"}, "form": {"text": "tablet"}}
        for n in range(products)
    ])  # fmt: skip
    expiry = (date.today() + timedelta(days=400)).isoformat()
    lot_bodies = [
        {"resourceType": "Medication", "status": "active", "code": {"text": f"Product {n}"},
         "batch": {"lotNumber": f"L{n}-{k}", "expirationDate": expiry},
         "extension": [{"url": PRODUCT, "valueReference": {"reference": f"Medication/{product_id}"}}]}
        for n, product_id in enumerate(product_ids) for k in range(LOTS_PER_PRODUCT)
    ]  # fmt: skip
    lots = [f"Medication/{i}" for i in await _parallel(client, lot_bodies)]
    hot = lots[:hot_lots]
    units = {(lot, where): hot_units if lot in hot and where == locations[0] else RECEIVED
             for lot in lots for where in locations}  # fmt: skip
    if receive:
        receipts = [
            {"resourceType": "SupplyDelivery", "status": "completed", "destination": {"reference": where},
             "suppliedItem": {"quantity": {"value": quantity}, "itemReference": {"reference": lot}}}
            for (lot, where), quantity in units.items()
        ]  # fmt: skip
        await _parallel(client, receipts)
    else:
        open_balances(uri, product_ids, units)
    return Stock([f"Medication/{i}" for i in product_ids], lots, locations, hot)


def open_balances(uri: str, product_ids: list[str], units: dict[tuple[str, str], int]) -> None:
    """One receipt entry per lot x location, numbered per product x location as the write rule numbers them."""
    at = datetime.now(UTC)
    seq: dict[tuple[str, str], tuple[int, int]] = {}
    entries = []
    products = {
        lot: f"Medication/{product_ids[n // LOTS_PER_PRODUCT]}"
        for n, lot in enumerate(dict.fromkeys(each for each, _where in units))
    }
    for (lot, where), quantity in units.items():
        key = (products[lot], where)
        number, balance = seq.get(key, (0, 0))
        number, balance = number + 1, balance + quantity
        seq[key] = (number, balance)
        amount = Decimal128(str(quantity))
        entries.append({"_id": entry_id(key[0], where, number), "product": key[0], "lot": lot, "location": where,
                        "seq": number, "kind": "receipt", "quantity": amount, "lotBalance": amount,
                        "balance": Decimal128(str(balance)), "at": at})  # fmt: skip
    with MongoClient(uri) as client:
        client["bench"]["stock_ledger"].insert_many(entries, ordered=False)


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    created: int = 0
    refused: int = 0
    other: dict[int, int] = field(default_factory=dict)


async def dispense_for(base: str, stock: Stock, clients: int, seconds: float, hot_share: float) -> tuple[Run, float]:
    run = Run()
    deadline = time.monotonic() + seconds

    async def client_loop(seed: int) -> None:
        rng = random.Random(seed)
        async with httpx.AsyncClient(base_url=base, headers=HEADERS, timeout=120) as client:
            while time.monotonic() < deadline:
                if rng.random() < hot_share:
                    lot, where = rng.choice(stock.hot), stock.locations[0]
                else:
                    lot, where = rng.choice(stock.lots), rng.choice(stock.locations)
                body = {"resourceType": "MedicationDispense", "status": "completed", "quantity": {"value": 1},
                        "medicationReference": {"reference": lot}, "location": {"reference": where}}  # fmt: skip
                started = time.perf_counter()
                response = await client.post("/MedicationDispense", json=body)
                run.latencies.append(time.perf_counter() - started)
                if response.status_code == 201:
                    run.created += 1
                elif response.status_code == 409:
                    run.refused += 1
                else:
                    run.other[response.status_code] = run.other.get(response.status_code, 0) + 1

    started = time.monotonic()
    await asyncio.gather(*(client_loop(seed) for seed in range(clients)))
    return run, time.monotonic() - started


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


def check_ledger(uri: str, dispensed: int) -> str:
    """The ledger against the balances: every lot x location's entries sum to its last balance."""
    with MongoClient(uri) as client:
        ledger = client["bench"]["stock_ledger"]
        pipeline = [
            {"$sort": {"lot": 1, "location": 1, "seq": -1}},
            {"$group": {"_id": {"lot": "$lot", "location": "$location"}, "sum": {"$sum": "$quantity"},
                        "last": {"$first": "$lotBalance"}, "lowest": {"$min": "$lotBalance"}}},
        ]  # fmt: skip
        groups = list(ledger.aggregate(pipeline, allowDiskUse=True))
        mismatched = sum(1 for g in groups if g["sum"].to_decimal() != g["last"].to_decimal())
        negative = sum(1 for g in groups if g["lowest"].to_decimal() < 0)
        entries = ledger.count_documents({"kind": "dispense"})
    verdict = "OK" if mismatched == negative == 0 and entries == dispensed else "MISMATCH"
    return (f"ledger check {verdict}: {len(groups)} lot x location balances, {mismatched} not equal to the sum of "
            f"their entries, {negative} ever negative; {entries} dispense entries for {dispensed} dispenses "
            "answered 201")  # fmt: skip


async def on_hand_p95(base: str, stock: Stock, queries: int) -> str:
    latencies = []
    rng = random.Random(7)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for _n in range(queries):
            started = time.perf_counter()
            response = await client.get("/Medication/$on-hand", params={"product": rng.choice(stock.products)})
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
            rows = len(response.json()["parameter"])
            if rows != LOTS_PER_PRODUCT * LOCATIONS:
                raise RuntimeError(f"$on-hand answered {rows} rows")
    return (f"$on-hand?product= ({LOTS_PER_PRODUCT * LOCATIONS} rows), {queries} queries: "
            f"p50 {_percentile(latencies, 0.5):.1f} ms, p95 {_percentile(latencies, 0.95):.1f} ms")  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmbeddedDatabase(Path(tmp)) as database,
        fhir_server(database.uri) as server,
    ):
        base = f"{server.base}/fhir"
        async with httpx.AsyncClient(base_url=base, headers=HEADERS, timeout=600) as client:
            started = time.monotonic()
            stock = await stock_up(client, database.uri, args.products, args.hot_lots, args.hot_units, args.receive)
            took = time.monotonic() - started
        lots = len(stock.lots)
        print(f"stocked {args.products} products x {LOTS_PER_PRODUCT} lots x {LOCATIONS} locations "
              f"({lots * LOCATIONS} lot x location balances) in {took:.0f} s")  # fmt: skip
        dispensed = 0
        for clients in (1, 16):
            run, elapsed = await dispense_for(base, stock, clients, args.seconds, args.hot_share)
            answered = len(run.latencies)
            dispensed += run.created
            print(f"{clients:>2} clients: {answered / elapsed:.1f} dispenses/s answered "
                  f"({run.created / elapsed:.1f}/s written), p50 {_percentile(run.latencies, 0.5):.1f} ms, "
                  f"p95 {_percentile(run.latencies, 0.95):.1f} ms, 409 rate {run.refused / answered:.1%} "
                  f"({args.hot_share:.0%} of the dispenses go to {len(stock.hot)} hot lots of {args.hot_units} units)"
                  + (f", other statuses {run.other}" if run.other else ""))  # fmt: skip
        print(check_ledger(database.uri, dispensed))
        print(await on_hand_p95(base, stock, args.queries))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--hot-lots", type=int, default=4)
    parser.add_argument("--hot-units", type=int, default=150)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--receive", action="store_true", help="receive every lot as a SupplyDelivery (slow)")
    parser.add_argument("--hot-share", type=float, default=0.5, help="the share of dispenses on the hot lots")
    asyncio.run(main(parser.parse_args()))
