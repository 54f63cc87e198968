"""Deterministic, streaming generator of the benchmark's portfolio data set (no downloads).

Three CSV inputs shaped like the portfolio workload (accounts, transactions, holdings):

- `accounts.csv`: `accounts` rows, 5 columns.
- `txns_NNN.csv`: `transactions` rows split over `files` files (one file = one load batch, so load parallelism is
  the file count), 8 columns: txn_id, ts, account_id, ticker, side, qty, price, fee.
- `holdings.csv`: one row per (account, held ticker, period end): `accounts x HELD_TICKERS x 2` rows, 5 columns
  (100,000 at 1,000 accounts), the right side of the grouped lookup.

Transactions draw from `ALL_TICKERS` tickers of which only `HELD_TICKERS` have holdings, so the left join also has
unmatched rows. Every file has its own PRNG seeded from (seed, file), so files are reproducible independently and
rows never have to be held in memory: they are formatted and written in chunks.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

HELD_TICKERS = 50
ALL_TICKERS = 55
PERIOD_ENDS = ("2023-06-30", "2023-12-31")
YEAR_START = dt.datetime(2023, 1, 1)
SECONDS_PER_YEAR = 365 * 24 * 3600
CHUNK_ROWS = 10_000
TXN_HEADER = "txn_id,ts,account_id,ticker,side,qty,price,fee\n"


@dataclass(frozen=True)
class Scale:
    """What to generate; the defaults are the issue's default scale."""

    accounts: int = 1_000
    transactions: int = 1_000_000
    files: int = 12
    seed: int = 20260522

    def __post_init__(self) -> None:
        if self.accounts < 1 or self.transactions < self.files or self.files < 1:
            raise ValueError(f"invalid scale {self}")

    @property
    def holdings(self) -> int:
        return self.accounts * HELD_TICKERS * len(PERIOD_ENDS)

    def file_rows(self, file_idx: int) -> int:
        """Rows of transactions file `file_idx`: an even split, the first files taking the remainder."""
        base, extra = divmod(self.transactions, self.files)
        return base + (1 if file_idx < extra else 0)

    def key(self) -> str:
        return f"a{self.accounts}_t{self.transactions}_f{self.files}_s{self.seed}"


@dataclass(frozen=True)
class DataSet:
    """Where the generated files are and how many rows each input has (the row-count oracle of the bench)."""

    root: Path
    scale: Scale
    txn_files: tuple[Path, ...]

    @property
    def accounts_csv(self) -> Path:
        return self.root / "accounts.csv"

    @property
    def holdings_csv(self) -> Path:
        return self.root / "holdings.csv"


def account_id(i: int) -> str:
    return f"ACC{i:06d}"


def ticker(i: int) -> str:
    return f"TK{i:03d}"


def _write_accounts(path: Path, scale: Scale) -> None:
    rng = random.Random(f"{scale.seed}/accounts")
    regions = ("EMEA", "AMER", "APAC")
    lines = ["account_id,name,region,opened,risk\n"]
    for i in range(scale.accounts):
        opened = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(3000))
        lines.append(f"{account_id(i)},Account {i},{rng.choice(regions)},{opened.isoformat()},{rng.randrange(1, 6)}\n")
    path.write_text("".join(lines))


def _write_holdings(path: Path, scale: Scale) -> None:
    rng = random.Random(f"{scale.seed}/holdings")
    with path.open("w") as out:
        out.write("account_id,ticker,d,qty,cost\n")
        for a in range(scale.accounts):
            acc = account_id(a)
            out.write(
                "".join(
                    f"{acc},{ticker(t)},{d},{rng.randrange(0, 100_000)},{rng.randrange(100, 10_000_000) / 100:.2f}\n"
                    for t in range(HELD_TICKERS)
                    for d in PERIOD_ENDS
                )
            )


def _write_txns(path: Path, scale: Scale, file_idx: int, first_id: int) -> None:
    rng = random.Random(f"{scale.seed}/txns/{file_idx}")
    rows = scale.file_rows(file_idx)
    accounts = [account_id(i) for i in range(scale.accounts)]
    tickers = [ticker(i) for i in range(ALL_TICKERS)]
    # Formatting a datetime per row is the slow part of generation; seconds map to text through a cheap cache.
    ts_cache: dict[int, str] = {}
    with path.open("w") as out:
        out.write(TXN_HEADER)
        for start in range(0, rows, CHUNK_ROWS):
            chunk = []
            for n in range(start, min(rows, start + CHUNK_ROWS)):
                second = rng.randrange(SECONDS_PER_YEAR) // 60 * 60
                ts = ts_cache.get(second)
                if ts is None:
                    ts = ts_cache[second] = (YEAR_START + dt.timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S")
                chunk.append(
                    f"{first_id + n},{ts},{accounts[rng.randrange(scale.accounts)]},"
                    f"{tickers[rng.randrange(ALL_TICKERS)]},{'BS'[rng.randrange(2)]},{rng.randrange(1, 1000)},"
                    f"{rng.randrange(100, 100_000) / 100:.2f},{rng.random() * 10:.4f}\n"
                )
            out.write("".join(chunk))


def generate(root: Path, scale: Scale) -> DataSet:
    """Write the data set under `root/<scale key>/` unless it is already complete there; return its description."""
    folder = root / scale.key()
    files = tuple(folder / f"txns_{i:03d}.csv" for i in range(scale.files))
    data = DataSet(folder, scale, files)
    manifest = folder / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text()) == asdict(scale):
        return data
    folder.mkdir(parents=True, exist_ok=True)
    _write_accounts(data.accounts_csv, scale)
    _write_holdings(data.holdings_csv, scale)
    first_id = 0
    for i, path in enumerate(files):
        _write_txns(path, scale, i, first_id)
        first_id += scale.file_rows(i)
    manifest.write_text(json.dumps(asdict(scale)))
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/capillaries-bench/data"))
    parser.add_argument("--accounts", type=int, default=Scale.accounts)
    parser.add_argument("--transactions", type=int, default=Scale.transactions)
    parser.add_argument("--files", type=int, default=Scale.files)
    parser.add_argument("--seed", type=int, default=Scale.seed)
    a = parser.parse_args()
    data = generate(a.out, Scale(a.accounts, a.transactions, a.files, a.seed))
    print(data.root)


if __name__ == "__main__":
    main()
