#!/usr/bin/env python3
"""The summary `make run` prints: per pass (vCPUs online) and mode, the
median IOPS, CPU and io-wq punts over the rounds, then one verdict per ratio
against the A/A spread of the two stock modes, in `make bench`'s words
(scripts/bench_stats.py).

    demo_summary.py GUEST.LOG [--wall SECONDS]

GUEST.LOG is the output of qemu/guest-demo.sh: one "@@DEMO key=value ..."
line per run between "@@DEMO-BEGIN ..." and "@@DEMO-END".  Exit status 1 if
no run could be parsed.  Standard library only.
"""

import argparse
import sys

import bench_stats
from bench_stats import num, rfmt

# "{k}": the guest kernel's version (@@DEMO-BEGIN kernel=), e.g. "stock 7.3"
MODES = [("rasync", "rasync"), ("stock", "stock {k}"), ("stock_aa", "stock A/A"), ("iowq", "io-wq")]
METRICS = ["iops", "cpu_pct", "cpu_us_per_io", "punts"]
# (what, a, b, metric, the A/A pair's metric)
RATIOS = [
    ("rasync / stock {k} IOPS", "rasync", "stock", "iops"),
    ("rasync / io-wq IOPS", "rasync", "iowq", "iops"),
    ("rasync / stock {k} CPU per IO", "rasync", "stock", "cpu_us_per_io"),
    ("rasync / io-wq CPU per IO", "rasync", "iowq", "cpu_us_per_io"),
]


def kv(words):
    out = {}
    for w in words:
        if "=" in w:
            k, v = w.split("=", 1)
            out[k] = v
    return out


def parse(path):
    """(facts of @@DEMO-BEGIN, [run], finished?)"""
    head, runs, done = {}, [], False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            w = line.split()
            if not w:
                continue
            if w[0] == "@@DEMO-BEGIN":
                head = kv(w[1:])
            elif w[0] == "@@DEMO-END":
                done = True
            elif w[0] == "@@DEMO":
                runs.append(build_run(kv(w[1:])))
    return head, runs, done


def build_run(d):
    run = {"cpus": int(num(d.get("cpus")) or 0), "round": int(num(d.get("round")) or 0),
           "row": d.get("mode", "?"), "errors": [], "stats": d.get("stats", "")}
    if d.get("rc") not in ("0", None):
        run["errors"].append(f"fio exited with status {d.get('rc')}")
    kib, iops, wall = num(d.get("kib")), num(d.get("iops")), num(d.get("wall_s"))
    usr, sys_ = num(d.get("user_s")), num(d.get("sys_s"))
    run["iops"] = iops
    run["punts"] = num(d.get("punts"))
    run["online"] = num(d.get("online"))
    if None in (kib, iops, wall, usr, sys_) or not kib or not wall:
        run["errors"].append("fio or time output unusable")
        return run
    ios = kib / 4
    run["ios"] = ios
    run["cpu_pct"] = 100 * (usr + sys_) / wall
    run["cpu_us_per_io"] = 1e6 * (usr + sys_) / ios
    return run


def fmt(s, nd=0):
    if not s:
        return "–"
    f = (lambda x: f"{x:.{nd}f}")
    return f(s["median"]) if s["min"] == s["max"] else f"{f(s['median'])} ({f(s['min'])}–{f(s['max'])})"


def summary(head, runs, done, wall=None):
    out = []
    k = head.get("kernel", "?")
    size, rt = head.get("size", "?"), head.get("runtime", "?")
    out.append(f"== summary: fio io_uring QD32 4K random reads of a {size} file on ext4, every block "
               f"read once (at most {rt} s), cold cache; {head.get('rounds', '?')} rounds in one boot, "
               "order reversed every other round; median (min–max) over the rounds")
    for c in sorted({r["cpus"] for r in runs}, reverse=True):
        rr = [r for r in runs if r["cpus"] == c]
        summ = bench_stats.summarize(rr, [m for m, _ in MODES], METRICS)
        online = {int(r["online"]) for r in rr if r.get("online")}
        out.append(f"   {c} vCPU{'s' if c > 1 else ''} online"
                   + (f" (nproc said {sorted(online)})" if online and online != {c} else "") + ":")
        out.append(f"   {'mode':<11} {'IOPS':>22}  {'CPU % of a vCPU':>17}  {'CPU µs per IO':>20}  "
                   f"{'io-wq punts':>11}")
        for m, label in MODES:
            label = label.format(k=k)
            s = summ.get(m)
            if not s:
                if any(r["row"] == m for r in rr):
                    out.append(f"   {label:<11} failed")
                continue
            out.append(f"   {label:<11} {fmt(s['iops']):>22}  {fmt(s['cpu_pct']):>17}  "
                       f"{fmt(s['cpu_us_per_io'], 1):>20}  {fmt(s['punts']):>11}")
        aa = {met: bench_stats.ratio(rr, summ, "stock_aa", "stock", met)
              for met in ("iops", "cpu_us_per_io")}
        for what, a, b, met in RATIOS:
            r = bench_stats.ratio(rr, summ, a, b, met)
            if r is None:
                continue
            what = what.format(k=k)
            out.append(f"   {what + ':':<32} {rfmt(r)}{bench_stats.verdict_text(r, aa[met], met)}")
        if aa["iops"]:
            out.append(f"   {'A/A stock / stock IOPS:':<32} {rfmt(aa['iops'])}")
        if "iowq" in summ and "rasync" in summ and summ["iowq"]["cpu_pct"] and summ["rasync"]["cpu_pct"]:
            wq, ra = summ["iowq"]["cpu_pct"]["median"], summ["rasync"]["cpu_pct"]["median"]
            out.append(f"   CPU: io-wq kept {wq / 100:.2f} vCPUs busy, rasync {ra / 100:.2f}"
                       + (": io-wq's workers ran beside fio, on the other vCPU" if c > 1 and wq > 110
                          else ""))
    bad = [r for r in runs if r["errors"]]
    for r in bad:
        out.append(f"   left out: {r['cpus']} vCPUs round {r['round']} {r['row']}: {'; '.join(r['errors'])}")
    if not done:
        out.append("   WARNING: the guest did not finish (no @@DEMO-END): partial results")
    if wall is not None:
        out.append(f"== make run took {wall // 60} min {wall % 60} s")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--wall", type=int, help="seconds make run took, for the last line")
    a = ap.parse_args()
    head, runs, done = parse(a.log)
    if not runs:
        print("make run: no fio run could be parsed from " + a.log, file=sys.stderr)
        return 1
    sys.stdout.write(summary(head, runs, done, a.wall))
    return 0


if __name__ == "__main__":
    sys.exit(main())
