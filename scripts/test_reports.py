#!/usr/bin/env python3
"""`make check`'s host check of the reports (no guest): the A/A verdict both
reports share, `make run`'s summary on a made-up guest log, and README's
headline table against what results/ publishes (every ratio it quotes is
printed in its variant's table.md).  Prints "# ..." lines on failure; exit
status 1 if anything failed.  Standard library only."""

import json
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

# The kernel a run measured names the stock path: meta.txt's kernel_series
# (bench.sh writes it), else the guest's uname, else the kernel image's path.
ks = bench_report.kernel_series
check(ks({"kernel_series": "7.3"}, {"uname": "6.12.118-rasync"}) == "7.3", "kernel_series wins")
check(ks({}, {"uname": "6.12.118-rasync"}) == "6.12", "6.12 from the guest's uname")
check(ks({}, {"uname": "7.3.4-rasync"}) == "7.3", "7.3 from the guest's uname")
check(ks({"kernel": "/root/.cache/rasync/k/6.12.118-1_deb12u1-713d/run-f3ba/arch/x86/boot/bzImage"},
         {}) == "6.12", "6.12 from the kernel image's path")
check(ks({}, {}) == "?", "no kernel known")
sc = bench_report.shown_command
check(sc({"command": "make bench"}, {"uname": "6.12.118-rasync"}) == "RASYNC_KERNEL=6.12 make bench",
      "a 6.12 run from before bench.sh named the kernel: its command gains RASYNC_KERNEL=6.12")
check(sc({"command": "RASYNC_KERNEL=6.12 make bench", "kernel_series": "6.12"})
      == "RASYNC_KERNEL=6.12 make bench", "a command that names its kernel stays")
check(sc({"command": "make bench", "kernel_series": "7.3"}) == "make bench", "7.3 is the default")
check(bench_report.heading_suffix({"variant": "icount-6.12"}, {"uname": "6.12.118-rasync"})
      == ", Linux 6.12", "a -6.12 variant's heading says 6.12")
check(bench_report.heading_suffix({"variant": "latest"}, {"uname": "6.12.118-rasync"}) == "",
      "an unsuffixed variant keeps its heading (the next run of the default kernel replaces it)")
check(bench_report.heading_suffix({"variant": "icount", "kernel_series": "7.3"}) == "",
      "the default kernel's heading has no suffix")


def fake_runs(stock_punts):
    """Cold and hot stock, A/A and rasync rows over two rounds; the stock
    rows punt `stock_punts` reads to io-wq."""
    runs, seq = [], 0
    for rnd in (1, 2):
        for row, iops, cpu in (("stock", 1000, 6.0), ("stock_aa", 1010, 6.1), ("rasync", 990, 6.2),
                               ("hot_stock", 3000, 3.6), ("hot_stock_aa", 3000, 3.6),
                               ("hot_rasync", 2990, 3.6)):
            seq += 1
            runs.append({"round": rnd, "seq": seq, "row": row, "errors": [], "iops": iops * (1 + rnd / 100),
                         "cpu_us_per_io": cpu, "total_ios": 5000, "rasync_stats": {},
                         "iowq_events": stock_punts if row == "stock" else 0})
    return runs


for kernel, meta, guest in (("7.3", {"kernel_series": "7.3", "variant": "icount", "icount": "0"},
                             {"uname": "7.3.4-rasync"}),
                            ("6.12", {"variant": "icount-6.12", "icount": "0"},
                             {"uname": "6.12.118-rasync"})):
    other = "6.12" if kernel == "7.3" else "7.3"
    bench_report.use_kernel(bench_report.kernel_series(meta, guest))
    runs = fake_runs(3)
    summ = bench_report.summarize(runs)
    rat, targets = bench_report.ratios_and_targets(runs, summ)
    table = bench_report.table_md(runs, summ, rat, targets, meta, guest, {})
    section = bench_report.readme_section(table, meta, guest, {})
    svg = bench_report.plot_svg(summ, meta)
    for want in (f"| 3 | io_uring QD32, stock {kernel} async (enabled=N) |",
                 f"| rasync / stock {kernel} IOPS, cold (4/3) |",
                 f"| rasync / stock {kernel} CPU per IO, hot (4h/3h) |",
                 f"rasync ≤ 1.00× stock {kernel} CPU per IO, cold",
                 f"Where the stock path punts: {kernel}'s `filemap_get_pages()`"):
        check(want in table, f"{kernel} table lacks {want!r}")
    check(f"rasync vs stock {kernel} vs io-wq" in svg, f"{kernel} plot title")
    for text, what in ((table, "table"), (section, "section"), (svg, "plot")):
        check(f"stock {other}" not in text and f"{other}'s" not in text and "{kernel}" not in text,
              f"the {kernel} {what} names the other kernel or a placeholder")
    head = section.split("\n", 1)[0]
    check(head == "## Benchmark: guest instructions per IO" + (", Linux 6.12" if kernel == "6.12" else ""),
          f"{kernel} section heading: {head}")
    check(f"published to `results/{meta['variant']}/`" in section and f"Linux {kernel} (" in section,
          f"the {kernel} section names its directory and kernel")
    check(("filemap_create_folio()" in table) == (kernel == "7.3"),
          f"{kernel}: which function gives the stock path's -EAGAIN")
bench_report.use_kernel(bench_report.DEFAULT_KERNEL)

# Every kind of run keeps its section on 6.12, the heading suffixed.
for kind, extra in (("latest", {}), ("seed", {"runtime": "0"}), ("mempressure", {}),
                    ("one-cpu", {"guest_smp": "1"}), ("icount", {"icount": "0"}),
                    ("icount-distro", {"icount": "0", "kernel_variant": "distro"}),
                    ("demo-icount", {"icount": "0", "runtime": "0"}),
                    ("profile", {"profile": "1"})):
    heads = []
    for kernel, suffix in (("7.3", ""), ("6.12", "-6.12")):
        meta = {**extra, "variant": kind + suffix, "kernel_series": kernel}
        bench_report.use_kernel(kernel)
        heads.append(bench_report.readme_section("table", meta, {}, {}).split("\n", 1)[0])
    check(heads[1] == heads[0] + ", Linux 6.12", f"{kind} on 6.12: {heads[1]!r} (7.3: {heads[0]!r})")

# A 6.12 section lands after the 7.3 one of its kind, and replaces itself.
with tempfile.TemporaryDirectory() as tmp:
    p = os.path.join(tmp, "README.md")
    with open(p, "w", encoding="utf-8") as f:
        f.write("# R\n\n## Benchmark\n\nmain\n\n## Benchmark: one vCPU\n\n1\n\n## Benchmark: seed\n\ns\n")
    bench_report.splice_readme(p, "## Benchmark: one vCPU, Linux 6.12\n\nold\n")
    bench_report.splice_readme(p, "## Benchmark: one vCPU, Linux 6.12\n\n612\n")
    bench_report.splice_readme(p, "## Benchmark: one vCPU\n\n73\n")
    with open(p, encoding="utf-8") as f:
        got = f.read()
    check(got == "# R\n\n## Benchmark\n\nmain\n\n## Benchmark: one vCPU\n\n73\n\n"
          "## Benchmark: one vCPU, Linux 6.12\n\n612\n\n## Benchmark: seed\n\ns\n",
          "splice of a 6.12 section:\n" + got)

# The headline table: a kernel column, each variant's other kernels after it.
with tempfile.TemporaryDirectory() as tmp:
    for d, meta, guest, value in (("icount", {"kernel_series": "7.3"}, {"uname": "7.3.4-rasync"}, 1.02),
                                  ("icount-6.12", {}, {"uname": "6.12.118-rasync"}, 1.055)):
        os.makedirs(os.path.join(tmp, d))
        rat = {"rasync_over_stock_cpu_per_io_cold": r(value, value - 0.01, value + 0.01),
               "aa_cpu_per_io_cold": r(1.0, 0.99, 1.01)}
        with open(os.path.join(tmp, d, "runs.json"), "w", encoding="utf-8") as f:
            json.dump({"meta": {**meta, "command": "c", "rounds": "5"}, "guest": guest, "ratios": rat}, f)
    md = bench_report.headline_md(tmp)
    rows = [l for l in md.splitlines() if l.startswith("| rasync")]
    check(len(rows) == 2 and rows[0].startswith("| rasync / stock 7.3 instructions per IO, cold | 7.3 | 1.020×")
          and rows[1].startswith("| rasync / stock 6.12 instructions per IO, cold | 6.12 | 1.055×"),
          "headline rows of icount and icount-6.12:\n" + "\n".join(rows))
    check("`results/icount-6.12/`: `RASYNC_KERNEL=6.12 c` (?, git ?, Linux 6.12 (6.12.118-rasync)" in md,
          "headline footnote names the 6.12 kernel:\n" + md)

# README's headline table quotes what results/ publishes, and names the
# kernel every published variant ran.
res = os.path.join(ROOT, "results")
md = bench_report.headline_md(res)
lines = md.splitlines()
rows = bench_report.headline_rows(res)
for h in rows:
    p = os.path.join(res, h["dir"], "table.md")
    row = [l for l in lines if l.startswith(f"| {h['what']} | {h['kernel']} |")
           and f"(results/{h['dir']}/table.md)" in l]
    check(len(row) == 1, f"headline has no row for {h['what']} of results/{h['dir']}/")
    if not row:
        continue
    check(h["kernel"] in ("7.3", "6.12"), f"results/{h['dir']}/: kernel {h['kernel']}")
    check(h["dir"].endswith("-6.12") or h["kernel"] == "6.12" or "6.12" not in h["what"],
          f"results/{h['dir']}/ is {h['kernel']} but says {h['what']}")
    if "stock" in h["what"] and "A/A" not in h["what"]:
        check(f"stock {h['kernel']}" in h["what"], f"{h['what']} does not name stock {h['kernel']}")
    value = row[0].split(" | ")[2]
    with open(p, encoding="utf-8") as f:
        check(value in f.read(), f"{p} does not print the headline's {h['what']}: {value}")
check(rows, "the headline table has no row")
for name in sorted(os.listdir(res)):
    p = os.path.join(res, name, "runs.json")
    if os.path.exists(p):
        with open(p, encoding="utf-8") as f:
            doc = json.load(f)
        k = bench_report.kernel_series(doc["meta"], doc.get("guest"))
        check(k in ("7.3", "6.12"), f"results/{name}/: no kernel series ({k})")
        check(k == "6.12" or not name.endswith("-6.12"), f"results/{name}/ ran {k}")
with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
    check(md in f.read(), "README.md's headline table is not what results/*/runs.json give "
          "(python3 scripts/bench_report.py --headline README.md regenerates it)")

print(f"# reports: {'ok' if not failed else str(failed) + ' failed'}")
sys.exit(1 if failed else 0)
