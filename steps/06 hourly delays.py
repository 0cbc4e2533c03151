#!/usr/bin/env python3
"""Step 6 - hourly delays: median and 90th-percentile departure delay by hour of day.

Usage: python3 "steps/06 hourly delays.py" VALID_DIR OUTPUT_CSV

Reads every flights-YYYY-MM.csv partition in VALID_DIR (the validated rows) and
writes one row per local hour of scheduled departure (0-23).  Standard library
only, so the step runs on any python3 without an environment to install.

Delays are whole minutes, so each hour keeps a histogram (delay -> count) rather
than a list of 3M values: exact quantiles in constant memory.
"""
import csv
import math
import os
import re
import sys
import tempfile
from collections import Counter

# The layout validate writes (steps/lib/flights.ts VALID_COLUMNS).
EXPECTED_HEADER = ["row", "date", "delay", "distance", "origin", "destination"]
OUTPUT_HEADER = ["hour", "flights", "mean_delay", "median_delay", "p90_delay",
                 "min_delay", "max_delay", "share_delayed_15"]
PARTITION = re.compile(r"^flights-\d{4}-\d{2}\.csv$")


def kth(hist, k):
    """k-th smallest delay (1-based) of a delay -> count histogram."""
    seen = 0
    for delay in sorted(hist):
        seen += hist[delay]
        if seen >= k:
            return delay
    raise ValueError(f"k={k} out of range")


def nearest_rank(hist, n, q):
    """Nearest-rank percentile: smallest delay with at least ceil(q*n) flights at or below it."""
    return kth(hist, max(1, math.ceil(q * n)))


def median(hist, n):
    """Middle value; the mean of the two middle values when n is even (as statistics.median)."""
    return (kth(hist, (n + 1) // 2) + kth(hist, n // 2 + 1)) / 2


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    valid_dir, out_path = argv[1], argv[2]
    # Sorted only so the log reads in month order: the histograms do not depend on it.
    files = sorted(f for f in os.listdir(valid_dir) if PARTITION.match(f))
    if not files:
        sys.exit(f"no flights-YYYY-MM.csv partitions in {valid_dir}")

    hists = [Counter() for _ in range(24)]
    rows = 0
    for name in files:
        path = os.path.join(valid_dir, name)
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header != EXPECTED_HEADER:
                sys.exit(f"{path}: header {header}, expected {EXPECTED_HEADER}")
            for line_no, rec in enumerate(reader, start=2):
                try:
                    date, delay = rec[1], int(rec[2])
                    hour = int(date[11:13])  # local time: 2001-01-01T06:05 -> 6
                except (IndexError, ValueError) as err:
                    sys.exit(f"{path}:{line_no}: unreadable row {rec!r} ({err})")
                if not 0 <= hour <= 23:
                    sys.exit(f"{path}:{line_no}: hour {hour} out of range")
                hists[hour][delay] += 1
                rows += 1
        print(f"{name}: read", flush=True)

    out_rows = []
    for hour, hist in enumerate(hists):
        n = sum(hist.values())
        if n == 0:
            continue  # e.g. a small FLIGHTS_SAMPLE may have no 3 a.m. departures
        total = sum(d * c for d, c in hist.items())
        late = sum(c for d, c in hist.items() if d >= 15)
        out_rows.append([
            hour, n, f"{total / n:.4f}", f"{median(hist, n):.1f}", nearest_rank(hist, n, 0.9),
            min(hist), max(hist), f"{late / n:.4f}",
        ])

    # Temp file + rename in the same folder, so a crash never leaves half a CSV.
    out_dir = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".hourly-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(OUTPUT_HEADER)
            writer.writerows(out_rows)
        os.replace(tmp, out_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    print(f"{rows} flights in {len(files)} partitions -> {len(out_rows)} hours in {out_path}")


if __name__ == "__main__":
    main(sys.argv)
