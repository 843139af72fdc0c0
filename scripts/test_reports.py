#!/usr/bin/env python3
"""`make check`'s host check of the reports (no guest): the A/A verdict both
reports share, `make run`'s summary on a made-up guest log, and README's
headline table against what results/ publishes (every ratio it quotes is
printed in its variant's table.md).  Prints "# ..." lines on failure; exit
status 1 if anything failed.  Standard library only."""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_report  # noqa: E402
import bench_stats  # noqa: E402
import demo_summary  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
failed = 0


def check(ok, what):
    global failed
    if not ok:
        print(f"# FAIL: {what}")
        failed += 1


def r(v, lo=None, hi=None):
    return {"value": v, "min": lo if lo is not None else v, "max": hi if hi is not None else v,
            "per_round": [x for x in (lo, hi) if x is not None]}


# The verdict: the A/A floor is the largest deviation of the A/A ratio.
aa = r(1.05, 0.92, 1.10)
check(abs(bench_stats.noise_floor(aa) - 0.10) < 1e-9, "noise floor of 1.05 (0.92-1.10) is 10%")
check(bench_stats.verdict(r(1.09), aa) == "inside the noise", "1.09x IOPS inside a 10% floor")
check(bench_stats.verdict(r(1.20), aa) == "faster", "1.20x IOPS is faster")
check(bench_stats.verdict(r(0.80), aa) == "slower", "0.80x IOPS is slower")
check(bench_stats.verdict(r(0.80), aa, "cpu_us_per_io") == "less CPU per IO", "0.80x CPU per IO")
check(bench_stats.verdict(r(1.20), aa, "cpu_us_per_io") == "more CPU per IO", "1.20x CPU per IO")
check(bench_stats.verdict(r(1.20), None) is None, "no verdict without an A/A row")
check(bench_stats.verdict_text(r(0.8), aa) == " — slower, beyond the noise (A/A ±10.0%)",
      "verdict text: " + bench_stats.verdict_text(r(0.8), aa))

# make run's summary on a made-up log: two passes, three rounds.
lines = ["@@DEMO-BEGIN kernel=7.3 size=256M runtime=30 rounds=3 cpus=2,1 nproc=2"]
iops = {2: {"rasync": 10000, "stock": 10200, "stock_aa": 9900, "iowq": 15000},
        1: {"rasync": 8000, "stock": 8100, "stock_aa": 8000, "iowq": 5000}}
cpu = {2: {"rasync": 0.97, "stock": 0.97, "stock_aa": 0.97, "iowq": 1.30},
       1: {"rasync": 0.85, "stock": 0.85, "stock_aa": 0.85, "iowq": 0.85}}
for c in (2, 1):
    for rnd in (1, 2, 3):
        for m in ("rasync", "stock", "stock_aa", "iowq"):
            v = iops[c][m] * (1 + 0.01 * rnd)
            wall = 65536 / v
            lines.append(f"@@DEMO cpus={c} round={rnd} mode={m} rc=0 kib=262144 iops={v:.0f} "
                         f"runtime_ms={int(1000 * wall)} wall_s={wall:.3f} user_s=0 "
                         f"sys_s={cpu[c][m] * wall:.3f} punts={65536 if m == 'iowq' else 0} online={c}")
lines.append("@@DEMO-END")
with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
    f.write("\n".join(lines) + "\n")
head, runs, done = demo_summary.parse(f.name)
os.unlink(f.name)
out = demo_summary.summary(head, runs, done, 600)
check(done and len(runs) == 24, f"demo log: {len(runs)} runs parsed, done={done}")
for want in ("rasync / stock 7.3 IOPS:         0.980× (rounds 0.980–0.980) — inside the noise",
             "rasync / io-wq IOPS:             0.667× (rounds 0.667–0.667) — slower",
             "rasync / io-wq IOPS:             1.600× (rounds 1.600–1.600) — faster",
             "io-wq kept 1.30 vCPUs busy, rasync 0.97: io-wq's workers ran beside fio",
             "== make run took 10 min 0 s"):
    check(want in out, f"demo summary lacks {want!r}:\n{out}")

# README's headline table quotes what results/ publishes.
res = os.path.join(ROOT, "results")
md = bench_report.headline_md(res)
n = 0
for d, what, key, aa_key, metric in bench_report.HEADLINE:
    p = os.path.join(res, d, "table.md")
    row = [l for l in md.splitlines() if l.startswith(f"| {what} |")]
    if not row:
        continue
    n += 1
    value = row[0].split(" | ")[1]
    with open(p, encoding="utf-8") as f:
        check(value in f.read(), f"{p} does not print the headline's {what}: {value}")
check(n > 0, "the headline table has no row")
with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
    check(md in f.read(), "README.md's headline table is not what results/*/runs.json give "
          "(python3 scripts/bench_report.py --headline README.md regenerates it)")

print(f"# reports: {'ok' if not failed else str(failed) + ' failed'}")
sys.exit(1 if failed else 0)
