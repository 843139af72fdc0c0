#!/usr/bin/env python3
"""Turn the raw output of `make bench` into JSON, a markdown table and a plot.

    bench_report.py --log GUEST.LOG --meta META.TXT --out DIR
                    [--latest results/VARIANT] [--readme results/README-section-VARIANT.md]
                    [--splice results/README.md] [--headline README.md [--results results]]
    bench_report.py --headline README.md      # only README's headline ratios
    bench_report.py --rerender results/VARIANT/runs.json [--variant NAME]
                    --latest results/NAME [--readme ...] [--splice ...] [--headline ...]

GUEST.LOG is qemu/guest-bench.sh's stdout: per run, fio's JSON and the
measurements taken around it between "@@" markers.  META.TXT holds the host's
key=value facts (scripts/bench.sh).  Writes DIR/runs/*.json (one per run),
DIR/runs.json, DIR/table.md, DIR/plot.svg; with --latest, copies the last
three there; with --readme, writes the variant's "## Benchmark..." section,
which --splice puts in place of the one of the same heading in
results/README.md; --headline regenerates README.md's table of headline
ratios from every results/*/runs.json.  --rerender renders a published
runs.json again (table, plot, section) without a guest log, e.g. after a
variant's directory moved.  The A/A verdicts come from bench_stats.py, which
`make run`'s summary shares.

The kernel a run measured (7.3, the default, or the 6.12 LTS) names the
stock path everywhere ("stock 7.3"): meta.txt's kernel_series, which
scripts/bench.sh writes, or for runs older than it the guest's uname.
Standard library only.  Exit status 0 even if targets are missed (they are
reported, not asserted); 1 if no run could be parsed.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import sys

import bench_profile
import bench_stats
from bench_stats import med_range, num, ratio, rfmt

# The row table, qemu/bench-rows.tsv: key, number, cache, colour, short, label.
ROWS_TSV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qemu", "bench-rows.tsv")


def read_rows(path=ROWS_TSV):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                key, no, cache, colour, short, label = line.rstrip("\n").split("\t")
                rows.append({"key": key, "no": no, "cache": cache, "colour": colour,
                             "short": short, "label": label})
    return rows


# scripts/lib.sh's default RASYNC_KERNEL: its variants carry no suffix, the
# others "-<series>" (results/icount-6.12/).
DEFAULT_KERNEL = "7.3"


def kernel_series(meta, guest=None):
    """The kernel series a run measured ("7.3", "6.12"): meta.txt's
    kernel_series, else (runs from before bench.sh recorded it) the guest's
    uname ("6.12.118-rasync"), else the kernel image's build path
    (".../k/6.12.118-1_deb12u1-.../bzImage"); "?" if none says."""
    k = (meta or {}).get("kernel_series")
    if k:
        return k
    m = re.match(r"(\d+\.\d+)[.-]", (guest or {}).get("uname", "") + "-")
    if m:
        return m.group(1)
    m = re.search(r"/k/(\d+\.\d+)[.-]", (meta or {}).get("kernel", ""))
    return m.group(1) if m else "?"


def stock_name(kernel):
    """What the rows without rasync run: "stock 7.3"."""
    return f"stock {kernel}"


def base_variant(meta, guest=None):
    """The kind of run, without its kernel's suffix: "seed" for seed-6.12."""
    v, k = meta.get("variant", ""), kernel_series(meta, guest)
    return v.removesuffix("-" + k) if k != DEFAULT_KERNEL else v


def heading_suffix(meta, guest=None):
    """", Linux 6.12" for a variant published with its kernel's suffix
    (results/icount-6.12/), so that its README section and the default
    kernel's one of the same kind stand side by side; "" otherwise."""
    k = kernel_series(meta, guest)
    if k != DEFAULT_KERNEL and meta.get("variant", "").endswith("-" + k):
        return f", Linux {k}"
    return ""


def shown_command(meta, guest=None):
    """The command that reproduces a run: bench.sh's, with RASYNC_KERNEL=
    for a run of another kernel that predates bench.sh naming it (then
    `make bench` meant 6.12)."""
    cmd = (meta or {}).get("command", "?")
    k = kernel_series(meta, guest)
    if k not in (DEFAULT_KERNEL, "?") and "RASYNC_KERNEL=" not in cmd and cmd != "?":
        cmd = f"RASYNC_KERNEL={k} {cmd}"
    return cmd


RAW_ROW_TABLE = read_rows()
KERNEL = "?"


def use_kernel(kernel):
    """Name the stock rows for `kernel` ("3 stock 7.3"): the row tables are
    module-wide, one run's report at a time."""
    global KERNEL, ROW_TABLE, ROWS, ROW, SHORT, COLOURS
    KERNEL = kernel
    ROW_TABLE = [{**r, "short": r["short"].replace("{kernel}", kernel),
                  "label": r["label"].replace("{kernel}", kernel)} for r in RAW_ROW_TABLE]
    # key, seed-style number, label, cold/hot
    ROWS = [(r["key"], r["no"], r["label"], r["cache"]) for r in ROW_TABLE]
    ROW = {r[0]: r for r in ROWS}
    SHORT = {r["key"]: r["short"] for r in ROW_TABLE}
    COLOURS = {r["key"]: r["colour"] for r in ROW_TABLE}


use_kernel(DEFAULT_KERNEL)


def kv_lines(lines):
    out = {}
    for line in lines:
        if "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def parse_fio_json(text):
    """fio may print a note line before its JSON: decode from the first '{'."""
    i = text.find("{")
    if i < 0:
        raise ValueError("no JSON object in fio output")
    obj, _ = json.JSONDecoder().raw_decode(text[i:])
    return obj


def parse_log(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [l.rstrip("\r\n") for l in f]
    guest, layout, runs, dmesg = {}, {}, [], []
    done = fatal = None
    i = 0

    def block(start, end):
        nonlocal i
        body = []
        i += 1
        while i < len(lines) and not lines[i].startswith(end):
            body.append(lines[i])
            i += 1
        return body

    cur = None
    while i < len(lines):
        line = lines[i]
        if line.startswith("@@GUEST-BEGIN"):
            guest = kv_lines(block("@@GUEST-BEGIN", "@@GUEST-END"))
        elif line.startswith("@@LAYOUT "):
            layout = kv_lines(line.split()[1:])
        elif line.startswith("@@RUN-BEGIN "):
            cur = {"header": kv_lines(line.split()[1:]), "errors": []}
        elif cur is not None and line.startswith("@@CONFIG "):
            cur["config"] = kv_lines(line.split()[1:])
        elif cur is not None and line.startswith("@@FIO-RC "):
            cur["fio_rc"] = int(line.split()[1])
        elif cur is not None and line.startswith("@@TIME"):
            cur["time_raw"] = line[len("@@TIME"):].strip()
        elif cur is not None and line.startswith("@@IOWQ-EVENTS"):
            cur["iowq_raw"] = line.split()[1:] or [""]
        elif cur is not None and line.startswith("@@PEAK-IOU-WRK"):
            cur["peak_raw"] = line.split()[1:] or [""]
        elif cur is not None and line.startswith("@@IO-PHASE-CPU"):
            cur["io_cpu_raw"] = line.split()[1:]
        elif cur is not None and line.startswith("@@MEMORY "):
            cur["memory"] = kv_lines(line.split()[1:])
        elif cur is not None and line.startswith("@@RECLAIM-BEFORE"):
            cur["reclaim_before"] = kv_lines(line.split()[1:])
        elif cur is not None and line.startswith("@@RECLAIM-AFTER"):
            cur["reclaim_after"] = kv_lines(line.split()[1:])
        elif cur is not None and line.startswith("@@STATS-BEGIN"):
            cur["stats_raw"] = block("@@STATS-BEGIN", "@@STATS-END")
        elif cur is not None and line.startswith("@@PROFILE-BEGIN"):
            cur["profile_hz"] = num(kv_lines(line.split()[1:]).get("hz"))
            cur["profile_raw"] = block("@@PROFILE-BEGIN", "@@PROFILE-END")
        elif cur is not None and line.startswith("@@FIO-JSON-BEGIN"):
            cur["fio_raw"] = "\n".join(block("@@FIO-JSON-BEGIN", "@@FIO-JSON-END"))
        elif cur is not None and line.startswith("@@RUN-END"):
            runs.append(cur)
            cur = None
        elif line.startswith("@@DMESG-BEGIN"):
            dmesg = block("@@DMESG-BEGIN", "@@DMESG-END")
        elif line.startswith("@@BENCH-DONE"):
            done = line
        elif line.startswith("@@BENCH-FATAL"):
            fatal = line[len("@@BENCH-FATAL"):].strip()
        i += 1
    if cur is not None:
        cur["errors"].append("run output truncated (guest died?)")
    return {"guest": guest, "layout": layout, "runs": runs, "dmesg": dmesg,
            "done": done, "fatal": fatal}


def build_run(raw):
    h, cfg = raw["header"], raw.get("config", {})
    run = {
        "round": int(h.get("round", 0)),
        "seq": int(h.get("seq", 0)),
        "row": h.get("row", "?"),
        "config": cfg,
        "fio_rc": raw.get("fio_rc"),
        "errors": list(raw["errors"]),
    }
    row = ROW.get(run["row"])
    run["row_no"] = row[1] if row else "?"
    run["temp"] = row[3] if row else cfg.get("temp")
    if run["fio_rc"] not in (0, None):
        run["errors"].append(f"fio exited with status {run['fio_rc']}")

    # fio
    try:
        fj = parse_fio_json(raw.get("fio_raw", ""))
        job = fj["jobs"][0]
        rd = job["read"]
        pct = rd.get("clat_ns", {}).get("percentile", {})
        # fio's slat for io_uring: from queueing an IO to the return of the
        # io_uring_enter() that submitted it (one SQE per call at fio's
        # default iodepth_batch_submit=1): the submitter's time in the call.
        spct = rd.get("slat_ns", {}).get("percentile", {})
        run.update({
            "iops": rd["iops"],
            "bw_kib_s": rd["bw"],
            "total_ios": rd["total_ios"],
            "io_bytes": rd["io_bytes"],
            "fio_runtime_s": rd["runtime"] / 1000.0,
            "clat_mean_us": rd["clat_ns"]["mean"] / 1000.0,
            "clat_p50_us": pct.get("50.000000", 0) / 1000.0,
            "clat_p99_us": pct.get("99.000000", 0) / 1000.0,
            "clat_p999_us": pct.get("99.900000", 0) / 1000.0,
            "slat_p50_us": spct["50.000000"] / 1000.0 if "50.000000" in spct else None,
            "slat_p99_us": spct["99.000000"] / 1000.0 if "99.000000" in spct else None,
            "fio_job_usr_cpu_pct": job.get("usr_cpu"),
            "fio_job_sys_cpu_pct": job.get("sys_cpu"),
            "fio_job_ctx": job.get("ctx"),
            "fio_error": job.get("error"),
            "fio_version": fj.get("fio version"),
        })
        if job.get("error"):
            run["errors"].append(f"fio job error {job['error']}")
    except (ValueError, KeyError, IndexError, TypeError) as e:
        run["errors"].append(f"fio JSON unusable: {e}")

    # busybox time: "%e %U %S %w %c" = wall user sys voluntary involuntary
    t = (raw.get("time_raw") or "").split()
    if len(t) == 5 and all(num(x) is not None for x in t):
        wall, usr, sys_, vcs, ics = (num(x) for x in t)
        run.update({
            "wall_s": wall, "user_s": usr, "sys_s": sys_,
            "cpu_s": usr + sys_,
            "cpu_pct": 100.0 * (usr + sys_) / wall if wall > 0 else None,
            "ctx_voluntary": int(vcs), "ctx_involuntary": int(ics),
            "ctx_total": int(vcs + ics),
        })
        if run.get("total_ios"):
            run["cpu_us_per_io"] = 1e6 * run["cpu_s"] / run["total_ios"]
            run["ctx_per_io"] = run["ctx_total"] / run["total_ios"]
    else:
        run["errors"].append(f"process accounting unusable: {raw.get('time_raw')!r}")

    # Sampled in the guest: "uptime_cs ticks" at the first and last sample
    # of the I/O phase (ticks are USER_HZ=100, i.e. centiseconds too).
    ic = [num(x) for x in raw.get("io_cpu_raw", [])]
    if len(ic) == 4 and None not in ic and ic[2] > ic[0]:
        run["io_phase_s"] = (ic[2] - ic[0]) / 100.0
        run["io_phase_cpu_pct"] = 100.0 * (ic[3] - ic[1]) / (ic[2] - ic[0])
    sect = num(cfg.get("disk_sectors_read"))
    if sect is not None:
        run["disk_reads_4k"] = sect * 512 / 4096
        if run.get("total_ios"):
            run["disk_reads_per_io"] = run["disk_reads_4k"] / run["total_ios"]
    ev = num((raw.get("iowq_raw") or [""])[0])
    run["iowq_events"] = int(ev) if ev is not None else None
    pk = num((raw.get("peak_raw") or [""])[0])
    run["peak_iou_wrk"] = int(pk) if pk is not None else None
    stats = {}
    for line in raw.get("stats_raw", []):
        parts = line.split()
        if len(parts) == 2 and num(parts[1]) is not None:
            stats[parts[0]] = int(num(parts[1]))
    run["rasync_stats"] = stats
    if "profile_raw" in raw:
        prof = bench_profile.parse(raw["profile_raw"])
        run["profile_hz"] = raw.get("profile_hz")
        run["profile"] = [[t, d, s, n] for (t, d, s), n in sorted(prof.items(), key=lambda kv: -kv[1])]
        if not prof:
            run["errors"].append("perf recorded no samples")
    mem = raw.get("memory", {})
    if mem:
        lk, ml, oom = num(mem.get("lock_kb")), num(mem.get("mlocked_kb")), num(mem.get("ooms"))
        run["lock_asked_mb"] = lk / 1024 if lk else None
        run["mlocked_mb"] = ml / 1024 if ml is not None else None
        run["ooms"] = int(oom) if oom is not None else None
        if oom:
            run["errors"].append(f"{int(oom)} OOM kill(s) during the run")
        if run["temp"] == "mp" and not ml:
            run["errors"].append("nothing was mlocked (fio --lockmem failed?)")
    rb, ra = raw.get("reclaim_before", {}), raw.get("reclaim_after", {})
    run["reclaim"] = {k: int(num(ra[k]) - num(rb[k])) for k in ra
                      if num(ra.get(k)) is not None and num(rb.get(k)) is not None}
    ref = run["reclaim"].get("workingset_refault_file")
    if ref is not None and run.get("total_ios"):
        run["refaults_per_io"] = ref / run["total_ios"]
    return run


METRICS = ["iops", "clat_p50_us", "clat_p99_us", "cpu_pct", "io_phase_cpu_pct", "cpu_us_per_io",
           "ctx_total", "ctx_per_io", "iowq_events", "peak_iou_wrk", "wall_s", "user_s", "sys_s",
           "disk_reads_per_io", "slat_p50_us", "slat_p99_us", "mlocked_mb", "refaults_per_io"]


def summarize(runs):
    summ = bench_stats.summarize(runs, [key for key, *_ in ROWS], METRICS)
    for key, s in summ.items():
        rr = [r for r in runs if r["row"] == key and not r["errors"]]
        names = list(dict.fromkeys(k for r in rr for k in r["rasync_stats"]))
        s["rasync_stats"] = {k: med_range([r["rasync_stats"].get(k) for r in rr]) for k in names}
    return summ


def iowq_runs(runs, rows, clean=False):
    """The runs of `rows` that counted io-wq events (and had no error, if clean)."""
    return [r for r in runs if r["row"] in rows and r.get("iowq_events") is not None
            and not (clean and r["errors"])]


def ratios_and_targets(runs, summ):
    rat = {
        "rasync_over_stock_iops_cold": ratio(runs, summ, "rasync", "stock"),
        "rasync_over_stock_iops_hot": ratio(runs, summ, "hot_rasync", "hot_stock"),
        "rasync_over_iowq_iops": ratio(runs, summ, "rasync", "iowq"),
        "rasync_over_iowq_cpu": ratio(runs, summ, "rasync", "iowq", "cpu_pct"),
        "rasync_over_iowq_cpu_per_io": ratio(runs, summ, "rasync", "iowq", "cpu_us_per_io"),
        "rasync_over_direct_iops": ratio(runs, summ, "rasync", "direct"),
        "stock_over_direct_iops": ratio(runs, summ, "stock", "direct"),
        "rasync_over_pvsync_iops": ratio(runs, summ, "rasync", "pvsync"),
        # the decomposition: A/A noise floor, the hook alone, the Rust path
        "aa_iops_cold": ratio(runs, summ, "stock_aa", "stock"),
        "aa_iops_hot": ratio(runs, summ, "hot_stock_aa", "hot_stock"),
        "hook_over_stock_iops_cold": ratio(runs, summ, "hook", "stock"),
        "hook_over_stock_iops_hot": ratio(runs, summ, "hot_hook", "hot_stock"),
        "aa_cpu_per_io_cold": ratio(runs, summ, "stock_aa", "stock", "cpu_us_per_io"),
        "aa_cpu_per_io_hot": ratio(runs, summ, "hot_stock_aa", "hot_stock", "cpu_us_per_io"),
        "hook_over_stock_cpu_per_io_cold": ratio(runs, summ, "hook", "stock", "cpu_us_per_io"),
        "hook_over_stock_cpu_per_io_hot": ratio(runs, summ, "hot_hook", "hot_stock", "cpu_us_per_io"),
        "rasync_over_stock_cpu_per_io_cold": ratio(runs, summ, "rasync", "stock", "cpu_us_per_io"),
        "rasync_over_stock_cpu_per_io_hot": ratio(runs, summ, "hot_rasync", "hot_stock",
                                                  "cpu_us_per_io"),
        # memory pressure: the submitter's side of rasync's tradeoff
        "aa_iops_mp": ratio(runs, summ, "mp_stock_aa", "mp_stock"),
        "rasync_over_stock_iops_mp": ratio(runs, summ, "mp_rasync", "mp_stock"),
        "aa_slat_p99_mp": ratio(runs, summ, "mp_stock_aa", "mp_stock", "slat_p99_us"),
        "rasync_over_stock_slat_p99_mp": ratio(runs, summ, "mp_rasync", "mp_stock", "slat_p99_us"),
        "aa_cpu_per_io_mp": ratio(runs, summ, "mp_stock_aa", "mp_stock", "cpu_us_per_io"),
        "rasync_over_stock_cpu_per_io_mp": ratio(runs, summ, "mp_rasync", "mp_stock",
                                                 "cpu_us_per_io"),
    }
    ev = {k: [r["iowq_events"] for r in iowq_runs(runs, (k,))]
          for k in ("stock", "rasync", "hot_stock", "hot_rasync")}
    all_ev = [e for v in ev.values() for e in v]
    rat["iowq_events_rows_3_4"] = {k: v for k, v in ev.items()}

    def tgt(name, r, op, limit):
        if r is None:
            return {"target": name, "status": "n/a", "value": None}
        v = r["value"]
        ok = v >= limit if op == ">=" else v <= limit
        return {"target": name, "status": "MET" if ok else "MISSED", "value": v,
                "min": r.get("min"), "max": r.get("max")}

    stock = stock_name(KERNEL)
    targets = [
        tgt(f"rasync ≥ 1.00× {stock} IOPS, cold", rat["rasync_over_stock_iops_cold"], ">=", 1.0),
        tgt(f"rasync ≥ 1.00× {stock} IOPS, hot", rat["rasync_over_stock_iops_hot"], ">=", 1.0),
        tgt(f"rasync ≤ 1.00× {stock} CPU per IO, cold",
            rat["rasync_over_stock_cpu_per_io_cold"], "<=", 1.0),
        tgt(f"rasync ≤ 1.00× {stock} CPU per IO, hot",
            rat["rasync_over_stock_cpu_per_io_hot"], "<=", 1.0),
        tgt(f"hook only ≤ 1.01× {stock} CPU per IO, cold", rat["hook_over_stock_cpu_per_io_cold"],
            "<=", 1.01),
        tgt(f"hook only ≤ 1.01× {stock} CPU per IO, hot", rat["hook_over_stock_cpu_per_io_hot"],
            "<=", 1.01),
        tgt("rasync ≥ 1.3× io-wq IOPS", rat["rasync_over_iowq_iops"], ">=", 1.3),
        tgt("rasync CPU ≤ 0.65× io-wq CPU (% of one CPU)", rat["rasync_over_iowq_cpu"], "<=", 0.65),
        # the seed's "same work, less CPU", where a busy vCPU caps CPU %
        tgt("rasync CPU per IO ≤ 0.65× io-wq's", rat["rasync_over_iowq_cpu_per_io"], "<=", 0.65),
        tgt("cold buffered QD32 (rasync) ≥ 0.9× O_DIRECT QD32 IOPS", rat["rasync_over_direct_iops"], ">=", 0.9),
    ]
    mp_ev = [r["iowq_events"] for r in iowq_runs(runs, ("mp_rasync",), clean=True)]
    stock_mp_ev = [r["iowq_events"] for r in iowq_runs(runs, ("mp_stock", "mp_stock_aa"), clean=True)]
    targets.append(tgt(f"memory pressure: rasync ≥ 1.00× {stock} IOPS (4m/3m)",
                       rat["rasync_over_stock_iops_mp"], ">=", 1.0))
    name = ("memory pressure: 0 io-wq events on rasync (4m, every run); stock (3m, 3m′): "
            + ("/".join(str(e) for e in stock_mp_ev) or "–"))
    if mp_ev:
        targets.append({"target": name, "status": "MET" if max(mp_ev) == 0 else "MISSED",
                        "value": max(mp_ev), "min": min(mp_ev), "max": max(mp_ev)})
    else:
        targets.append({"target": name, "status": "n/a", "value": None})
    if all_ev:
        targets.append({"target": "0 io-wq events on rows 3–4 (cold and hot, every run)",
                        "status": "MET" if max(all_ev) == 0 else "MISSED",
                        "value": max(all_ev), "min": min(all_ev), "max": max(all_ev)})
    else:
        targets.append({"target": "0 io-wq events on rows 3–4 (cold and hot, every run)",
                        "status": "n/a", "value": None})
    return rat, targets


# ---------------------------------------------------------------- formatting

def stock_eagain(kernel):
    """Where the stock path of `kernel` gives an IOCB_WAITQ read -EAGAIN,
    which io_uring punts to io-wq."""
    cause = ("when readahead could not add the folio (its allocations do not retry under "
             "reclaim)")
    if kernel == "6.12":
        return ("6.12's `filemap_get_pages()` returns -EAGAIN to an `IOCB_WAITQ` read " + cause)
    return (f"{kernel}'s `filemap_get_pages()` calls `filemap_create_folio()` {cause}, which "
            "returns -EAGAIN to an `IOCB_NOWAIT` or `IOCB_WAITQ` read")


def noise_verdict(r, aa, name, metric="iops"):
    """The verdict suffix of a ratio (bench_stats.verdict_text), none for A/A."""
    if name.startswith("A/A"):
        return ""
    return bench_stats.verdict_text(r, aa, metric)


def fmt(x, nd=0):
    if x is None:
        return "–"
    if nd == 0:
        return f"{x:,.0f}".replace(",", " ") if abs(x) >= 10000 else f"{x:.0f}"
    return f"{x:.{nd}f}"


def cell(s, nd=0):
    if not s:
        return "–"
    if s["n"] == 1 or s["min"] == s["max"]:
        return fmt(s["median"], nd)
    return f"{fmt(s['median'], nd)} ({fmt(s['min'], nd)}–{fmt(s['max'], nd)})"


def jump_label_text(meta):
    jl = meta.get("kernel_config_jump_label", "")
    if jl == "CONFIG_JUMP_LABEL=y":
        return "static keys patched (CONFIG_JUMP_LABEL=y)"
    return "no CONFIG_JUMP_LABEL (a static key is a load and compare)" if jl else "CONFIG_JUMP_LABEL unknown"


def mitigation_summary(meta, guest):
    cfg = meta.get("kernel_config_mitigations", "")
    parts = []
    if "# CONFIG_CPU_MITIGATIONS is not set" in cfg or "# CONFIG_SPECULATION_MITIGATIONS is not set" in cfg:
        parts.append("kernel built without CPU mitigations (CONFIG_CPU_MITIGATIONS not set, tinyconfig)")
    elif "CONFIG_CPU_MITIGATIONS=y" in cfg:
        parts.append("kernel built with CONFIG_CPU_MITIGATIONS=y")
    else:
        parts.append("tinyconfig-based kernel (no mitigation options in its .config)")
    vul = {k[5:]: v for k, v in guest.items() if k.startswith("vuln.")}
    if vul:
        mit = sorted(k for k, v in vul.items() if v.startswith("Mitigation"))
        vln = sorted(k for k, v in vul.items() if v.startswith("Vulnerable"))
        na = sorted(k for k, v in vul.items() if v.startswith("Not affected"))
        s = f"guest reports {len(mit)} mitigated, {len(vln)} vulnerable, {len(na)} not affected"
        if mit:
            s += " (mitigated: " + ", ".join(mit) + ")"
        parts.append(s)
    elif guest.get("vuln"):
        parts.append("guest has no /sys/devices/system/cpu/vulnerabilities")
    return "; ".join(parts)


def mode_text(meta):
    rt = int(meta.get("runtime", "0") or 0)
    if rt > 0:
        cold = f"time-based, {rt} s per run, `--norandommap`"
    else:
        cold = "size-based, every block read once (as in the seed)"
    return cold


def table_md(runs, summ, rat, targets, meta, guest, layout):
    out = []
    size, hot = meta.get("size", "?"), meta.get("hot_size", "?")
    out.append(f"fio `rw=randread bs=4k`, buffered unless row 5; cold rows on a {size} ext4 file "
               f"(guest RAM {meta.get('guest_mem_mb', '?')} MiB), caches dropped before each run, "
               f"{mode_text(meta)}; hot rows on a {hot} file read once (`cat`) right before each run, "
               f"{meta.get('hot_runtime', '?')} s. {meta.get('rounds', '?')} rounds, rows interleaved, "
               f"order rotated per round. Cells: median (min–max) over rounds. Every row ran on "
               f"the {meta.get('kernel_variant', 'run')} kernel ({guest.get('uname', '?')}: "
               f"{jump_label_text(meta)}; {mitigation_summary(meta, guest)}).")
    out.append("")
    out.append("| # | row | cache | IOPS | p50 clat µs | p99 clat µs | CPU % of 1 CPU | CPU % I/O phase "
               "| CPU µs/IO | ctx switches | io-wq events | peak iou-wrk | disk reads/IO | wall s |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key, no, label, temp in ROWS:
        s = summ.get(key)
        if not s:
            if any(r["row"] == key for r in runs):
                out.append(f"| {no} | {label} | {temp} | failed | | | | | | | | | | |")
            continue
        out.append(f"| {no} | {label} | {temp} | {cell(s['iops'])} | {cell(s['clat_p50_us'])} "
                   f"| {cell(s['clat_p99_us'])} | {cell(s['cpu_pct'], 1)} | {cell(s['io_phase_cpu_pct'], 1)} "
                   f"| {cell(s['cpu_us_per_io'], 1)} "
                   f"| {cell(s['ctx_total'])} | {cell(s['iowq_events'])} | {cell(s['peak_iou_wrk'])} "
                   f"| {cell(s['disk_reads_per_io'], 2)} | {cell(s['wall_s'], 1)} |")
    out.append("")
    out.append("CPU % = user+sys of the whole fio process including its io-wq (`iou-wrk`) threads "
               "(busybox `time`, wait4 rusage), over the process's wall time, fio start-up included; "
               "CPU % I/O phase = the same process-wide utime+stime (`/proc/<pid>/stat`) sampled "
               "from the job's start to fio's last ~100 ms, without start-up; CPU µs/IO = whole-process "
               "CPU / IOs; ctx switches = voluntary+involuntary of the whole process; io-wq events = "
               "`io_uring:io_uring_queue_async_work` hits; peak iou-wrk sampled every ~100 ms; "
               "disk reads/IO = 4 KiB read from the virtio disk (`/sys/block/vda/stat`) per IO "
               "(cache misses for buffered rows; 1.00 = fully cold).")
    out.append("")
    if meta.get("icount"):
        shift = int(meta["icount"])
        out.append(f"Under `-icount shift={shift}` guest time advances 2^{shift} ns per guest "
                   "instruction, so CPU µs/IO is guest instructions per IO "
                   f"(× {1000 >> shift if shift < 10 else 1000 / (1 << shift):g} per µs): "
                   "deterministic, whatever else the host does.")
        out.append("")
    out.append("**Ratios** (of medians; per-round ratios in parentheses)")
    out.append("")
    out.append("| ratio | value |")
    out.append("|---|---|")
    stock = stock_name(KERNEL)
    lines = [
        (f"rasync / {stock} IOPS, cold (4/3)", rat["rasync_over_stock_iops_cold"]),
        (f"rasync / {stock} IOPS, hot (4h/3h)", rat["rasync_over_stock_iops_hot"]),
        ("rasync / io-wq IOPS (4/2)", rat["rasync_over_iowq_iops"]),
        ("rasync / io-wq CPU % (4/2)", rat["rasync_over_iowq_cpu"]),
        ("rasync / io-wq CPU per IO (4/2)", rat["rasync_over_iowq_cpu_per_io"]),
        ("buffered rasync / O_DIRECT IOPS (4/5)", rat["rasync_over_direct_iops"]),
        ("buffered stock / O_DIRECT IOPS (3/5)", rat["stock_over_direct_iops"]),
        ("rasync QD32 / preadv QD1 IOPS (4/1)", rat["rasync_over_pvsync_iops"]),
        ("A/A: stock / stock IOPS, cold (3′/3)", rat["aa_iops_cold"]),
        ("A/A: stock / stock IOPS, hot (3h′/3h)", rat["aa_iops_hot"]),
        ("hook only / stock IOPS, cold (3k/3)", rat["hook_over_stock_iops_cold"]),
        ("hook only / stock IOPS, hot (3kh/3h)", rat["hook_over_stock_iops_hot"]),
        ("A/A: stock / stock CPU per IO, cold (3′/3)", rat["aa_cpu_per_io_cold"]),
        ("A/A: stock / stock CPU per IO, hot (3h′/3h)", rat["aa_cpu_per_io_hot"]),
        ("hook only / stock CPU per IO, cold (3k/3)", rat["hook_over_stock_cpu_per_io_cold"]),
        ("hook only / stock CPU per IO, hot (3kh/3h)", rat["hook_over_stock_cpu_per_io_hot"]),
        (f"rasync / {stock} CPU per IO, cold (4/3)", rat["rasync_over_stock_cpu_per_io_cold"]),
        (f"rasync / {stock} CPU per IO, hot (4h/3h)", rat["rasync_over_stock_cpu_per_io_hot"]),
        ("A/A: stock / stock IOPS, memory pressure (3m′/3m)", rat["aa_iops_mp"]),
        (f"rasync / {stock} IOPS, memory pressure (4m/3m)", rat["rasync_over_stock_iops_mp"]),
        ("A/A: stock / stock CPU per IO, memory pressure (3m′/3m)", rat["aa_cpu_per_io_mp"]),
        (f"rasync / {stock} CPU per IO, memory pressure (4m/3m)",
         rat["rasync_over_stock_cpu_per_io_mp"]),
        ("A/A: stock / stock p99 submit time, memory pressure (3m′/3m)", rat["aa_slat_p99_mp"]),
        (f"rasync / {stock} p99 submit time, memory pressure (4m/3m)",
         rat["rasync_over_stock_slat_p99_mp"]),
    ]
    floors = {"iops": {"cold": rat.get("aa_iops_cold"), "hot": rat.get("aa_iops_hot"),
                       "mp": rat.get("aa_iops_mp")},
              "cpu": {"cold": rat.get("aa_cpu_per_io_cold"), "hot": rat.get("aa_cpu_per_io_hot"),
                      "mp": rat.get("aa_cpu_per_io_mp")},
              "slat": {"mp": rat.get("aa_slat_p99_mp")}}
    for name, r in lines:
        if r is None:   # a row of it was not run, or failed (see below)
            continue
        kind = "cpu" if "CPU per IO" in name else "slat" if "submit time" in name else "iops"
        temp = "mp" if "memory pressure" in name else "hot" if "hot" in name else "cold"
        metric = {"cpu": "cpu_us_per_io", "slat": "slat_p99_us"}.get(kind, "iops")
        if "CPU %" in name:
            metric = "cpu_pct"
        out.append(f"| {name} | {rfmt(r)}{noise_verdict(r, floors[kind].get(temp), name, metric)} |")
    ev = rat["iowq_events_rows_3_4"]
    evs = ", ".join(f"{SHORT[k].split(' ', 1)[0]}: {'/'.join(str(x) for x in v)}"
                    for k, v in ev.items() if v)
    if evs:
        out.append(f"| io-wq events, rows 3–4 (each run) | {evs} |")
    out.append("")
    out.append("**Targets** (reported, not asserted). For reference, the seed (2020, 4 GiB, "
               "size-based, real hardware): preadv 73.8 s ~13% CPU; io-wq 12.05 s ~82%; async "
               "buffered 9.28 s ~52% — i.e. 1.30× io-wq's speed at 0.63× its CPU.")
    out.append("")
    absent = [t["target"] for t in targets if t["value"] is None]
    for t in targets:
        if t["value"] is None:
            continue
        elif isinstance(t["value"], int):
            v = f"max {t['value']} (per run {t['min']}–{t['max']})"
        else:
            v = f"{t['value']:.3f}×"
            if t.get("min") is not None and t["min"] != t["max"]:
                v += f" (rounds {t['min']:.3f}–{t['max']:.3f})"
        out.append(f"- {t['status']}: {t['target']} — measured {v}")
    if absent:
        out.append(f"- not measured in this run (rows left out or failed): {'; '.join(absent)}")
    cold_ev = {k: [(r["iowq_events"], r.get("total_ios") or 0) for r in iowq_runs(runs, (k,))]
               for k in ("stock", "rasync")}
    if any(e for v in cold_ev.values() for e, _ in v):
        frac = ", ".join(f"{SHORT[k].split(' ', 1)[1]} {sum(e for e, _ in v)} of {sum(n for _, n in v)} reads"
                         for k, v in cold_ev.items() if v)
        none = [SHORT[k].split(' ', 1)[1] for k, v in cold_ev.items() if v and not any(e for e, _ in v)]
        out.append(f"- (note) io-wq punts on cold rows 3–4: {frac}. "
                   + (f"{' and '.join(none)} had none. " if none else "")
                   + "Where the stock path punts: " + stock_eagain(KERNEL) + ", and io_uring then "
                   "punts the read to io-wq; rows 3m/4m measure that case on purpose.")
    sl = {k: summ[k]["slat_p99_us"] for k in ("mp_stock", "mp_rasync")
          if k in summ and summ[k].get("slat_p99_us")}
    if len(sl) == 2:
        st, ra = sl["mp_stock"]["median"], sl["mp_rasync"]["median"]
        out.append(f"- (info) memory pressure, the submitter's p99 time per `io_uring_enter()` "
                   f"(fio slat): stock {st:.1f} µs, rasync {ra:.1f} µs "
                   f"({rfmt(rat['rasync_over_stock_slat_p99_mp'])} of stock"
                   + (f", {ra - st:+.1f} µs" if ra > st else "")
                   + "); what rasync does in that time instead of punting: "
                   "the folio allocation and `->read_folio` of reads readahead could not start.")
    cpi = rat.get("rasync_over_iowq_cpu_per_io")
    if cpi:
        out.append(f"- (info) rasync CPU per IO vs io-wq: {rfmt(cpi)}"
                   + (" — under TCG a task that does all the work itself runs its vCPU near 100%, "
                      "so CPU per IO is the fairer efficiency measure here"
                      if meta.get("accel") == "tcg" else ""))
    mp_rows = [key for key, *_ in ROWS if key.startswith("mp_") and key in summ]
    if mp_rows:
        out.append("")
        out.append(mp_table(summ, mp_rows, meta, guest))
    stat_rows = [k for k in ("stock", "rasync", "hot_stock", "hot_rasync", "mp_stock", "mp_rasync")
                 if k in summ]
    if stat_rows and any(summ[k]["rasync_stats"] for k in stat_rows):
        out.append("")
        out.append("**rasync stats** (`/sys/kernel/debug/rasync/stats`, reset before each run; median per run)")
        out.append("")
        # the module's names, in the order of its stats file
        names = list(dict.fromkeys(n for k in stat_rows for n in summ[k]["rasync_stats"]))
        out.append("| row | " + " | ".join(names) + " |")
        out.append("|---|" + "---|" * len(names))
        for k in stat_rows:
            st = summ[k]["rasync_stats"]
            out.append(f"| {SHORT[k]} | " + " | ".join(fmt(st[n]["median"]) if st.get(n) else "–"
                                                     for n in names) + " |")
    if meta.get("other_guests_max", "0") != "0" or float(meta.get("host_load_mean", "0")) > 3.0:
        out.append("")
        out.append(f"WARNING: the host was busy during this run (1-min load mean "
                   f"{meta.get('host_load_mean')}, max {meta.get('host_load_max')}; other QEMU guests at "
                   f"once: up to {meta.get('other_guests_max', '?')}): spreads are wide, trust ratios "
                   "within a round more than absolute figures.")
    if "jiffies" in guest.get("clocksource", ""):
        out.append("")
        out.append(f"WARNING: the guest clocksource was {guest['clocksource']} (4 ms resolution): "
                   "latency percentiles and short timings are quantized.")
    prof = bench_profile.profile_md(runs, lambda k: SHORT.get(k, k))
    if prof:
        out += ["", prof.rstrip()]
    bad = [r for r in runs if r["errors"]]
    if bad:
        out.append("")
        out.append("**Failed runs** (left out of the medians)")
        out.append("")
        for r in bad:
            out.append(f"- round {r['round']} {r['row']}: {'; '.join(r['errors'])}")
    return "\n".join(out) + "\n"


def mp_table(summ, keys, meta, guest):
    """The memory-pressure rows from the submitter's side."""
    out = ["**Memory pressure** (rows 3m, 3m′, 4m: cold QD32 reads while fio `--lockmem` holds "
           f"all of MemAvailable but {guest.get('mp_leave_mb', '?')} MiB mlocked; median (min–max) "
           "over rounds)", ""]
    out.append("| row | IOPS | p50 clat µs | p99 clat µs | p50 submit µs | p99 submit µs | io-wq events "
               "| CPU µs/IO | mlocked MiB | file refaults/IO |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for k in keys:
        s = summ[k]
        out.append(f"| {SHORT[k]} | {cell(s['iops'])} | {cell(s['clat_p50_us'])} | {cell(s['clat_p99_us'])} "
                   f"| {cell(s['slat_p50_us'], 1)} | {cell(s['slat_p99_us'], 1)} | {cell(s['iowq_events'])} "
                   f"| {cell(s['cpu_us_per_io'], 1)} | {cell(s['mlocked_mb'])} "
                   f"| {cell(s['refaults_per_io'], 2)} |")
    out.append("")
    out.append("Submit µs = fio's `slat`: from queueing an IO to the return of the `io_uring_enter()` "
               "that submitted it, one SQE per call (fio's default `iodepth_batch_submit=1`), i.e. "
               "the submitting task's time in the call, including any folio allocation, reclaim and "
               "`->read_folio` it does there; mlocked = `Mlocked` in /proc/meminfo halfway through "
               "the run; file refaults/IO = "
               "`workingset_refault_file` per IO (reads of file pages reclaim had dropped). "
               "CPU µs/IO includes fio faulting in the locked memory at start-up.")
    return "\n".join(out)


# ---------------------------------------------------------------- SVG plot

def esc(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def nice_max(v):
    if v <= 0:
        return 1.0
    import math
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * e >= v:
            return m * e
    return 10 * e


def panel(x0, y0, w, title, items, unit, nd=0):
    """Horizontal bars: items = [(label, colour, median, min, max)]."""
    lab_w, bar_h, gap = 150, 18, 8
    h = 28 + len(items) * (bar_h + gap) + 24
    vmax = nice_max(max([it[4] for it in items if it[4] is not None] + [1e-9]))
    pw = w - lab_w - 70
    s = [f'<text x="{x0}" y="{y0 + 16}" font-weight="bold">{esc(title)}</text>']
    top = y0 + 28
    for t in range(0, 5):
        v = vmax * t / 4
        x = x0 + lab_w + pw * t / 4
        s.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" '
                 f'y2="{top + len(items) * (bar_h + gap)}" stroke="#ddd"/>')
        s.append(f'<text x="{x:.1f}" y="{top + len(items) * (bar_h + gap) + 14}" '
                 f'text-anchor="middle" font-size="10" fill="#555">{esc(fmt(v, nd if vmax < 10 else 0))}</text>')
    for i, (label, colour, med, lo, hi) in enumerate(items):
        y = top + i * (bar_h + gap)
        s.append(f'<text x="{x0 + lab_w - 6}" y="{y + bar_h - 5}" text-anchor="end">{esc(label)}</text>')
        if med is None:
            s.append(f'<text x="{x0 + lab_w + 4}" y="{y + bar_h - 5}" fill="#a00">no data</text>')
            continue
        bw = pw * med / vmax
        s.append(f'<rect x="{x0 + lab_w}" y="{y}" width="{bw:.1f}" height="{bar_h}" fill="{colour}"/>')
        if lo is not None and hi is not None and hi > lo:
            xl, xh = x0 + lab_w + pw * lo / vmax, x0 + lab_w + pw * hi / vmax
            ym = y + bar_h / 2
            s.append(f'<line x1="{xl:.1f}" y1="{ym}" x2="{xh:.1f}" y2="{ym}" stroke="#222"/>')
            s.append(f'<line x1="{xl:.1f}" y1="{y + 3}" x2="{xl:.1f}" y2="{y + bar_h - 3}" stroke="#222"/>')
            s.append(f'<line x1="{xh:.1f}" y1="{y + 3}" x2="{xh:.1f}" y2="{y + bar_h - 3}" stroke="#222"/>')
        xt = x0 + lab_w + max(bw, pw * (hi or med) / vmax) + 5
        s.append(f'<text x="{xt:.1f}" y="{y + bar_h - 5}" font-size="11">{esc(fmt(med, nd))}{esc(unit)}</text>')
    return "\n".join(s), h


def plot_svg(summ, meta):
    def items(keys, metric):
        out = []
        for k in keys:
            s = summ.get(k, {}).get(metric)
            out.append((SHORT[k], COLOURS[k], s["median"] if s else None,
                        s["min"] if s else None, s["max"] if s else None))
        return out

    cold = [r["key"] for r in ROW_TABLE if r["cache"] == "cold"]
    hot = [r["key"] for r in ROW_TABLE if r["cache"] == "hot"]
    mp = [r["key"] for r in ROW_TABLE if r["cache"] == "mp"]
    w = 760
    parts, y = [], 44
    for title, keys, metric, unit, nd in (
            ("Cold 4K random read IOPS (median, whiskers min–max)", cold, "iops", "", 0),
            ("Hot-cache 4K random read IOPS", hot, "iops", "", 0),
            ("CPU, % of one CPU (whole fio process incl. io-wq workers)", cold + hot, "cpu_pct", "%", 1),
            ("p99 completion latency, µs", cold + hot, "clat_p99_us", " µs", 0),
            ("Memory pressure: cold IOPS with most of RAM mlocked", mp, "iops", "", 0),
            ("Memory pressure: p99 submit time (fio slat: time in io_uring_enter), µs", mp,
             "slat_p99_us", " µs", 1)):
        keys = [k for k in keys if k in summ]
        if not keys:
            continue
        svg, h = panel(10, y, w - 20, title, items(keys, metric), unit, nd)
        parts.append(svg)
        y += h + 10
    sub = (f"rasync bench: {meta.get('size', '?')} file, {mode_text(meta).split(',')[0]}, "
           f"{meta.get('rounds', '?')} rounds, accel {meta.get('accel', '?')}, "
           f"{meta.get('start', '')}")
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{y}" '
            f'viewBox="0 0 {w} {y}" font-family="sans-serif" font-size="12">\n'
            f'<rect width="100%" height="100%" fill="white"/>\n'
            f'<text x="10" y="20" font-size="15" font-weight="bold">io_uring buffered 4K random reads: '
            f'rasync vs {esc(stock_name(KERNEL))} vs io-wq</text>\n'
            f'<text x="10" y="36" font-size="11" fill="#555">{esc(sub)}</text>\n')
    return head + "\n".join(parts) + "\n</svg>\n"


# ---------------------------------------------------------------- README

ICOUNT_HEADING = "## Benchmark: guest instructions per IO"


ONECPU_HEADING = "## Benchmark: one vCPU"


MEMPRESSURE_HEADING = "## Benchmark: memory pressure"


SEED_HEADING = "## Benchmark: the seed's full experiment"
DEMO_HEADING = "## Benchmark: the demo's shape"
PROFILE_HEADING = "## Benchmark: where the CPU time per IO goes"


def provenance(meta, guest=None):
    """Where a variant's numbers come from: command, time, commit, kernel, guest."""
    guest = guest or {}
    return ("Command: `" + shown_command(meta, guest) + "`, " + meta.get("start", "?") + ", git "
            + meta.get("git_head", "?") + ", Linux " + kernel_series(meta, guest)
            + " (" + guest.get("uname", "?") + "), guest " + meta.get("guest_smp", "?") + " vCPUs, "
            + meta.get("guest_mem_mb", "?") + " MiB, accelerator " + meta.get("accel", "?").upper()
            + (" with -icount shift=" + meta["icount"] if meta.get("icount") else "")
            + ", bench wall time " + meta.get("wall_s", "?") + " s.")


def variant_section(heading, intro, table, meta, guest=None):
    """A README section of a bench variant: heading, one paragraph, the table."""
    return "\n".join([heading, "", intro + " " + provenance(meta, guest), "", table.rstrip(),
                      ""]) + "\n"


def readme_section(table, meta, guest, layout):
    """The variant's section of results/README.md; a variant of a kernel
    other than the default one says so in its heading (", Linux 6.12")."""
    sec = variant_readme_section(table, meta, guest, layout)
    head, rest = sec.split("\n", 1)
    return head + heading_suffix(meta, guest) + "\n" + rest


def variant_readme_section(table, meta, guest, layout):
    acc = meta.get("accel", "?").upper()
    kind = base_variant(meta, guest)
    if kind.startswith("demo"):
        single = meta.get("tcg_thread") not in (None, "", "multi") and not meta.get("icount")
        return variant_section(
            DEMO_HEADING + ("" if meta.get("guest_smp") != "1" else ", one vCPU")
            + ("" if not meta.get("icount") else ", instructions")
            + ("" if not single else ", one host thread for all vCPUs")
            + ("" if meta.get("kernel_variant") != "distro" else ", distro-like kernel"),
            "The shape `make run` shows (published to `results/" + meta.get("variant", "?") + "/`): "
            "a " + meta.get("size", "?") + " file in a " + meta.get("guest_mem_mb", "?") + " MiB "
            "guest, size-based (`RASYNC_BENCH_RUNTIME=0`: every 4 KiB block read once, in random "
            "order), so the file fits in RAM and nothing is reclaimed; caches dropped before each "
            "run. `make run` prints three rounds of it in one boot; this is the same shape over "
            + meta.get("rounds", "?") + " rounds with the A/A row."
            + (" Every run under `perf record -e cpu-clock -a` (`RASYNC_BENCH_PROFILE=1`, "
               + meta.get("profile_hz", "?") + " Hz on every CPU): the profile tables split each "
               "row's CPU µs per IO by function." if meta.get("profile") == "1" else "")
            + (" Under `-icount shift=" + meta["icount"] + "`: CPU µs per IO counts guest "
               "instructions, whatever else the host runs." if meta.get("icount") else "")
            + (" With `RASYNC_TCG_THREAD=" + meta.get("tcg_thread", "?") + "`: every vCPU on one "
               "host thread, where guest atomics and barriers cost no more than other "
               "instructions." if single else ""),
            table, meta, guest)
    if meta.get("profile") == "1":
        return variant_section(
            PROFILE_HEADING + ("" if meta.get("guest_smp") != "1" else ", one vCPU")
            + ("" if not meta.get("icount") else ", instructions")
            + ("" if meta.get("kernel_variant") != "distro" else ", distro-like kernel"),
            "The rows under `perf record -e cpu-clock -a` in the guest (`RASYNC_BENCH_PROFILE=1`, "
            "published to `results/" + meta.get("variant", "?") + "/`): Debian's perf samples "
            "every CPU " + meta.get("profile_hz", "?") + " times a second, so a row's samples per "
            "IO are its CPU µs per IO, split by function"
            + (" (under icount the clock is virtual: samples count guest instructions)"
               if meta.get("icount") else "")
            + "; each pair of rows a target compares gets the functions that make its gap.",
            table, meta, guest)
    if meta.get("kernel_variant") == "distro":
        base = kind.removesuffix("-distro")
        heading = {"icount": ICOUNT_HEADING, "one-cpu": ONECPU_HEADING,
                   "mempressure": MEMPRESSURE_HEADING}.get(base, "## Benchmark") + ", distro-like kernel"
        return variant_section(
            heading,
            "The rows again on the distro-like run kernel (`RASYNC_BENCH_KERNEL=distro`, "
            "`qemu/config/distro.config`, published to `results/" + meta.get("variant", "?") + "/`): "
            "the run kernel plus `CONFIG_JUMP_LABEL=y` (the hook's static key is a patched jump, "
            "not a load and compare) and the default CPU mitigations as distributions build them "
            "(a retpoline thunk on the hook's indirect call, page-table isolation on every "
            "syscall; no return thunks: Debian 12's clang 14 cannot build them). Every row of "
            "this table ran on that kernel: " + guest.get("uname", "?") + "; "
            + jump_label_text(meta) + "; " + mitigation_summary(meta, guest) + ".",
            table, meta, guest)
    if meta.get("icount"):
        return variant_section(
            ICOUNT_HEADING,
            "The same bench under `-icount shift=" + meta["icount"] + "` (`RASYNC_ICOUNT="
            + meta["icount"] + " make bench`, published to `results/" + meta.get("variant", "?")
            + "/`): virtual time "
            "advances with every guest instruction, so CPU µs per IO counts guest instructions "
            "and the ratios do not depend on what else the host runs. IOPS here are in virtual "
            "time.",
            table, meta, guest)
    if kind == "seed":
        return variant_section(
            SEED_HEADING,
            "The seed's experiment as it ran it: size-based, every 4 KiB block of the file read "
            "once in random order (`RASYNC_BENCH_RUNTIME=0`, published to `results/seed/`), on a "
            + meta.get("size", "?") + " file. The seed's figures (2020, real hardware): preadv "
            "73.8 s, io-wq 12.05 s, async buffered 9.28 s; the table's `wall s` column is each "
            "run's wall time here, fio's start-up included.",
            table, meta, guest)
    if kind == "mempressure":
        return variant_section(
            MEMPRESSURE_HEADING,
            "The tradeoff rasync makes on purpose, from the submitter's side (`RASYNC_BENCH_ROWS="
            "\"mp_stock mp_stock_aa mp_rasync\" make bench`, published to `results/mempressure/`; "
            "the same rows run in the default `make bench` too): with most of RAM mlocked, "
            "readahead's allocations fail and " + stock_eagain(KERNEL).replace(
                " when readahead could not add the folio (its allocations do not retry under "
                "reclaim)", "") + ", which io_uring punts to io-wq; rasync instead allocates the "
            "folio and starts `->read_folio` in the submitting task, inside `io_uring_enter()`.",
            table, meta, guest)
    if meta.get("guest_smp") == "1":
        return variant_section(
            ONECPU_HEADING,
            "The same bench in a guest with one vCPU (`RASYNC_BENCH_SMP=1 make bench`, published "
            "to `results/one-cpu/`): fio and the io-wq workers its punted reads run on share that "
            "CPU, so io-wq's work cannot hide on an otherwise idle second vCPU. This is the seed's "
            "comparison of the same work for less CPU.",
            table, meta, guest)
    rt = int(meta.get("runtime", "0") or 0)
    lines = [
        "## Benchmark",
        "",
        "`make bench` reproduces the table of the 2020 cover letter (“Add support for async "
        "buffered reads”: preadv, io_uring punting to io-wq, io_uring with async buffered reads) "
        "on the run (non-debug) kernel (`scripts/bench.sh`, guest side "
        "`qemu/guest-bench.sh`, report `scripts/bench_report.py`): one boot lays the files out on "
        "ext4, the host flushes the image, a second boot runs every row. Rows: 1 preadv QD1 (the seed's "
        "first row); 2 io_uring QD32 with `kernel.io_uring_async_buffered_reads=0`, every buffered "
        "read punted to io-wq (the seed's “Mainline”); 3 io_uring QD32 on the " + stock_name(KERNEL)
        + " async path "
        "(rasync loaded, `enabled=N`); 4 io_uring QD32 with rasync serving the reads (`enabled=Y`, "
        "the seed's “This patchset”); 5 io_uring QD32 `direct=1`, the device limit for cold random "
        "reads; 3h/4h rows 3 and 4 with the file in the page cache. The decomposition of rasync's "
        "cost: 3′/3h′ are rows 3/3h measured again as rows of their own (A/A: their ratio to 3/3h is "
        "the noise floor every other ratio is judged against); 3k/3kh run with the hook registered "
        "but every read passed to `filemap_read_stock()` (`hook_only=Y`): what the hook alone costs. "
        "3m/3m′/4m are rows 3/3′/4 under memory pressure: fio `--lockmem` holds all of MemAvailable "
        "but `RASYNC_BENCH_MP_LEAVE_MB` (64) MiB mlocked, so readahead's allocations fail and the "
        "submitter's time in `io_uring_enter()` (fio `slat`) shows what rasync's reads of missing "
        "folios cost it. rasync.ko stays loaded in every row; all rows but 3k, 3kh, 4, 4h and 4m "
        "run with `enabled=N` (stock `filemap_read()`). `RASYNC_ICOUNT=0` runs the guest under `-icount shift=0`, where "
        "CPU µs per IO is guest instructions per IO; `RASYNC_TCG_THREAD=single` runs all vCPUs on "
        "one host thread, where guest atomics and barriers cost no more than other instructions.",
        "",
        "Knobs: `RASYNC_BENCH_SIZE` (cold file, default `1G`), `RASYNC_BENCH_RUNTIME` (seconds per "
        "run, time-based with `--norandommap`, default `30`; `0` = size-based, every block read "
        "once like the seed), `RASYNC_BENCH_ROUNDS` (default `5`; each round runs every row once, "
        "order rotated), `RASYNC_BENCH_MEM` (guest MiB, default `512`), `RASYNC_BENCH_HOT_SIZE` "
        "(default `128M`), `RASYNC_BENCH_HOT_RUNTIME`, `RASYNC_BENCH_ROWS` (only `mp_` rows: "
        "published to `results/mempressure/`), `RASYNC_BENCH_MP_LEAVE_MB`, `RASYNC_BENCH_SMP` "
        "(`1`: `results/one-cpu/`), `RASYNC_BENCH_KERNEL` (`distro`: the run kernel with "
        "`CONFIG_JUMP_LABEL` and CPU mitigations, `results/*-distro/`), `RASYNC_ICOUNT` "
        "(`results/icount/`), `RASYNC_KERNEL` (`6.12`: the LTS instead of 7.3, "
        "`results/*-6.12/`). The seed's full "
        "experiment, where the machine allows: `RASYNC_BENCH_SIZE=4G RASYNC_BENCH_RUNTIME=0 make bench`. "
        "Outputs: `results/latest/table.md`, `plot.svg`, `runs.json` (every run: IOPS, clat "
        "percentiles, whole-process CPU and context switches, io-wq events, peak `iou-wrk` threads, "
        "rasync stats); raw guest output in `out/<kernel>/bench/<timestamp>/`.",
        "",
        f"Latest results — command: `{shown_command(meta, guest)}`, {meta.get('start', '?')}, "
        f"git {meta.get('git_head', '?')}{' (dirty tree)' if meta.get('git_dirty', '0') not in ('0', '') else ''}, "
        f"bench wall time {meta.get('wall_s', '?')} s.",
        "",
        f"- Accelerator: **{acc}**{' with -icount shift=' + meta['icount'] if meta.get('icount') else ''}"
        f"{' (thread=' + meta['tcg_thread'] + ')' if meta.get('tcg_thread') not in (None, '', 'multi') and not meta.get('icount') else ''} "
        f"(`qemu/accel.sh`), guest {guest.get('nproc', meta.get('guest_smp', '?'))} vCPUs, "
        f"{meta.get('guest_mem_mb', '?')} MiB RAM, kernel {guest.get('uname', '?')}, {guest.get('fio', 'fio')}.",
        f"- Host: {meta.get('host_nproc', '?')} CPUs, {meta.get('host_cpu_model', '?')}; "
        f"load average {meta.get('host_loadavg_start', '?')} at start, {meta.get('host_loadavg_end', '?')} at end"
        + (f"; 1-min load during the run mean {meta['host_load_mean']}, max {meta['host_load_max']} "
           f"(the bench guest alone ≈ 2), other QEMU guests at once: up to {meta.get('other_guests_max', '?')}"
           if meta.get("host_load_mean") else "") + ".",
        f"- Kernel: the {meta.get('kernel_variant', 'run')} kernel for every row; "
        f"{jump_label_text(meta)}; mitigations: {mitigation_summary(meta, guest)}. Syscalls are "
        "cheaper than on a distro kernel with mitigations on, which flatters the rows that make "
        "more of them (`RASYNC_BENCH_KERNEL=distro` measures that kernel).",
        f"- Guest clocksource: {guest.get('clocksource', '?')}"
        + (" — jiffies resolution (4 ms): latency percentiles are meaningless."
           if "jiffies" in guest.get("clocksource", "") else "."),
        f"- The disk is a raw image on the host (virtio-blk), so “device” reads are served from the "
        "host's page cache through QEMU's emulation.",
    ]
    if rt > 0:
        lines.append(f"- Cold rows are time-based ({rt} s) with `--norandommap`: blocks read earlier "
                     "in a run can be hit again later, so a long run is not perfectly cold.")
    if acc == "TCG":
        lines.append("- Under TCG every guest instruction is emulated: absolute figures are far below "
                     "real hardware and show mechanisms, not speed; compare rows only as ratios "
                     "within one run.")
    lines += ["", table.rstrip(), ""]
    return "\n".join(lines) + "\n"


# The headline ratios README.md quotes, one table for all variants:
# (results directory, what, ratio key, A/A ratio key, metric); "{stock}" in
# what is the stock path of the run's kernel ("stock 7.3").  Each row is
# quoted for the directory and for the same variant measured on another
# kernel (results/icount-6.12/), if published, with a kernel column.
HEADLINE = [
    ("demo", "rasync / {stock} IOPS, `make run`'s shape", "rasync_over_stock_iops_cold",
     "aa_iops_cold", "iops"),
    ("demo", "rasync / io-wq IOPS, `make run`'s shape", "rasync_over_iowq_iops", "aa_iops_cold", "iops"),
    ("demo", "rasync / io-wq CPU per IO, `make run`'s shape", "rasync_over_iowq_cpu_per_io",
     "aa_cpu_per_io_cold", "cpu_us_per_io"),
    ("demo-icount", "rasync / {stock} instructions per IO, `make run`'s shape",
     "rasync_over_stock_cpu_per_io_cold", "aa_cpu_per_io_cold", "cpu_us_per_io"),
    ("latest", "rasync / io-wq IOPS, cold, file 2× RAM", "rasync_over_iowq_iops", "aa_iops_cold", "iops"),
    ("latest", "rasync / io-wq CPU per IO, cold", "rasync_over_iowq_cpu_per_io", "aa_cpu_per_io_cold",
     "cpu_us_per_io"),
    ("latest", "rasync / {stock} IOPS, cold", "rasync_over_stock_iops_cold", "aa_iops_cold", "iops"),
    ("latest", "rasync / {stock} IOPS, hot", "rasync_over_stock_iops_hot", "aa_iops_hot", "iops"),
    ("latest", "rasync / {stock} CPU per IO, cold", "rasync_over_stock_cpu_per_io_cold",
     "aa_cpu_per_io_cold", "cpu_us_per_io"),
    ("icount", "rasync / {stock} instructions per IO, cold", "rasync_over_stock_cpu_per_io_cold",
     "aa_cpu_per_io_cold", "cpu_us_per_io"),
    ("icount", "rasync / {stock} instructions per IO, hot", "rasync_over_stock_cpu_per_io_hot",
     "aa_cpu_per_io_hot", "cpu_us_per_io"),
    ("one-cpu", "rasync / io-wq IOPS, one vCPU", "rasync_over_iowq_iops", "aa_iops_cold", "iops"),
    ("one-cpu", "rasync / io-wq CPU per IO, one vCPU", "rasync_over_iowq_cpu_per_io",
     "aa_cpu_per_io_cold", "cpu_us_per_io"),
    ("mempressure", "rasync / {stock} IOPS, memory pressure", "rasync_over_stock_iops_mp", "aa_iops_mp",
     "iops"),
]
HEADLINE_BEGIN = "<!-- headline ratios: generated by scripts/bench_report.py from results/*/runs.json -->"
HEADLINE_END = "<!-- end of headline ratios -->"


def kernel_dirs(results, d):
    """d and the same variant published for other kernels (d-6.12), those
    that exist under `results`, d first."""
    try:
        names = sorted(os.listdir(results))
    except OSError:
        names = []
    other = [n for n in names if re.fullmatch(re.escape(d) + r"-\d+\.\d+", n)]
    return [x for x in [d] + other if os.path.exists(os.path.join(results, x, "runs.json"))]


def headline_rows(results):
    """README's headline ratios as published: [{"dir", "what", "kernel",
    "ratio", "aa", "metric", "meta", "guest"}], in HEADLINE's order, each
    variant's other kernels right after it."""
    docs, out = {}, []
    for d, what, key, aa_key, metric in HEADLINE:
        for x in kernel_dirs(results, d):
            if x not in docs:
                with open(os.path.join(results, x, "runs.json"), encoding="utf-8") as f:
                    docs[x] = json.load(f)
            doc = docs[x]
            r = doc["ratios"].get(key)
            if not r:
                continue
            k = kernel_series(doc["meta"], doc.get("guest"))
            out.append({"dir": x, "what": what.format(stock=stock_name(k)), "kernel": k, "ratio": r,
                        "aa": doc["ratios"].get(aa_key), "metric": metric, "meta": doc["meta"],
                        "guest": doc.get("guest", {})})
    return out


def headline_md(results):
    """README's table of the headline ratios, each with its kernel, its A/A
    floor, its verdict and the command behind it, read from the published
    runs.json."""
    out = ["| ratio | kernel | value (per-round range) | A/A floor | verdict | results |",
           "|---|---|---|---|---|---|"]
    used = {}
    for h in headline_rows(results):
        r, aa, d = h["ratio"], h["aa"], h["dir"]
        floor = bench_stats.noise_floor(aa)
        v = bench_stats.verdict(r, aa, h["metric"])
        out.append(f"| {h['what']} | {h['kernel']} | {rfmt(r)} "
                   f"| {'±%.1f%%' % (floor * 100) if floor is not None else '–'} "
                   f"| {v or 'no A/A row'} | [`results/{d}/`](results/{d}/table.md) |")
        used.setdefault(d, h)
    out.append("")
    for d, h in used.items():
        m = h["meta"]
        rounds = m.get("rounds", "?")
        out.append(f"- `results/{d}/`: `{shown_command(m, h['guest'])}` ({m.get('start', '?')[:10]}, "
                   f"git {m.get('git_head', '?')}, Linux {h['kernel']} "
                   f"({h['guest'].get('uname', '?')}), {rounds} round{'s' if rounds != '1' else ''}, "
                   f"bench wall time {m.get('wall_s', '?')} s)")
    return "\n".join([HEADLINE_BEGIN] + out + [HEADLINE_END]) + "\n"


def splice_headline(path, results):
    """Replace the text between README's headline markers with headline_md()."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    i, j = text.find(HEADLINE_BEGIN), text.find(HEADLINE_END)
    if i < 0 or j < i:
        raise SystemExit(f"{path}: no headline markers ({HEADLINE_BEGIN!r} ... {HEADLINE_END!r})")
    j += len(HEADLINE_END) + 1
    with open(path, "w", encoding="utf-8") as f:
        f.write(text[:i] + headline_md(results) + text[j:])


def splice_readme(path, section):
    """Replace the section of README `path` that starts with the first line
    of `section` (up to the next "## " heading or the end) with `section`,
    or add it after the section of the same kind on the default kernel (for
    a "..., Linux 6.12" heading), else after the "## Benchmark" section: the
    README's benchmark text is generated, never edited by hand."""
    heading = section.split("\n", 1)[0]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start = text.find("\n" + heading + "\n")
    # a new section of another kernel goes right after the default kernel's
    # section of the same kind ("..., Linux 6.12" after "...")
    base = re.sub(r", Linux \d+\.\d+$", "", heading)
    at = text.find("\n" + base + "\n") if base != heading else -1
    if start < 0 and at >= 0:
        nxt = text.find("\n## ", at + 1)
        start = len(text) if nxt < 0 else nxt
        text = text[:start].rstrip("\n") + "\n\n" + heading + "\n" + text[start:]
        start = text.find("\n" + heading + "\n")
    if start < 0:
        bench = text.find("\n## Benchmark\n")
        if bench < 0:
            raise SystemExit(f"{path}: no '## Benchmark' section")
        nxt = text.find("\n## ", bench + 1)
        start = len(text) if nxt < 0 else nxt
        text = text[:start].rstrip("\n") + "\n\n" + heading + "\n" + text[start:]
        start = text.find("\n" + heading + "\n")
    start += 1
    nxt = text.find("\n## ", start + 1)
    end = len(text) if nxt < 0 else nxt + 1
    tail = text[end:]
    with open(path, "w", encoding="utf-8") as f:
        f.write(text[:start] + section.rstrip("\n") + "\n" + ("\n" + tail if tail else ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log")
    ap.add_argument("--meta")
    ap.add_argument("--out")
    ap.add_argument("--latest")
    ap.add_argument("--splice", help="results/README.md whose section of this variant is replaced")
    ap.add_argument("--headline", help="README.md whose headline-ratio table is regenerated "
                    "from the runs.json files under --results")
    ap.add_argument("--results", help="the published results directory (for --headline)")
    ap.add_argument("--readme")
    ap.add_argument("--hostload", help="lines 'epoch loadavg1 other_qemu_guests' sampled during the run")
    ap.add_argument("--rerender", metavar="RUNS.JSON",
                    help="render a published runs.json again (to --latest, --readme, --splice, "
                    "--headline) instead of a guest log")
    ap.add_argument("--variant", help="with --rerender: the variant's new name (its directory "
                    "under results/ moved, e.g. icount -> icount-6.12)")
    a = ap.parse_args()
    if a.rerender:
        return rerender(a)
    if a.headline and not a.log:    # only the headline table, from what is published
        splice_headline(a.headline, a.results or os.path.join(os.path.dirname(a.headline), "results"))
        return 0
    if not (a.log and a.meta and a.out):
        ap.error("--log, --meta and --out are required (or --headline alone)")

    with open(a.meta, encoding="utf-8") as f:
        meta = kv_lines(l.rstrip("\n") for l in f)
    if a.hostload and os.path.exists(a.hostload):
        loads, guests = [], []
        with open(a.hostload, encoding="utf-8") as f:
            for line in f:
                p = line.split()
                if len(p) == 3 and num(p[1]) is not None and num(p[2]) is not None:
                    loads.append(num(p[1]))
                    guests.append(int(num(p[2])))
        if loads:
            meta["host_load_mean"] = f"{statistics.mean(loads):.2f}"
            meta["host_load_max"] = f"{max(loads):.2f}"
            meta["other_guests_max"] = str(max(guests))
    parsed = parse_log(a.log)
    use_kernel(kernel_series(meta, parsed["guest"]))
    runs = [build_run(r) for r in parsed["runs"]]
    runs.sort(key=lambda r: r["seq"])
    os.makedirs(os.path.join(a.out, "runs"), exist_ok=True)
    for r in runs:
        with open(os.path.join(a.out, "runs", f"r{r['round']}-{r['seq']:02d}-{r['row']}.json"),
                  "w", encoding="utf-8") as f:
            json.dump(r, f, indent=1, sort_keys=True)

    if parsed["fatal"]:
        print(f"bench: guest reported a fatal error: {parsed['fatal']}", file=sys.stderr)
    if not parsed["done"]:
        print("bench: the guest did not finish (no @@BENCH-DONE): partial results", file=sys.stderr)
    if not runs:
        print("bench: no run could be parsed from the guest log", file=sys.stderr)
        return 1

    return publish(a, meta, parsed["guest"], parsed["layout"], runs, bool(parsed["done"]),
                   parsed["fatal"], parsed["dmesg"])


def rerender(a):
    """--rerender: a published runs.json rendered again by this script (its
    runs as they were measured; labels, ratios and verdicts recomputed), to
    --latest (default: the runs.json's directory)."""
    with open(a.rerender, encoding="utf-8") as f:
        old = json.load(f)
    meta = dict(old["meta"])
    if a.variant:
        meta["variant"] = a.variant
    use_kernel(kernel_series(meta, old.get("guest")))
    a.latest = a.latest or os.path.dirname(os.path.abspath(a.rerender))
    a.out = a.latest
    runs = sorted(old["runs"], key=lambda r: r["seq"])
    return publish(a, meta, old.get("guest", {}), old.get("layout", {}), runs, old.get("complete"),
                   old.get("fatal"), old.get("dmesg_tail", []))


def publish(a, meta, guest, layout, runs, complete, fatal, dmesg):
    """runs.json, table.md and plot.svg to --out (and --latest); the README
    section (--readme, --splice) and the headline table (--headline)."""
    summ = summarize(runs)
    rat, targets = ratios_and_targets(runs, summ)
    table = table_md(runs, summ, rat, targets, meta, guest, layout)
    doc = {
        "meta": meta,
        "guest": guest,
        "layout": layout,
        "complete": complete,
        "fatal": fatal,
        "mitigations": mitigation_summary(meta, guest),
        "rows": [{"key": k, "no": n, "label": l, "cache": t} for k, n, l, t in ROWS],
        "summary": summ,
        "ratios": rat,
        "targets": targets,
        "profiles": bench_profile.summary(runs),
        "runs": runs,
        "dmesg_tail": dmesg,
    }
    files = {
        "runs.json": json.dumps(doc, indent=1, sort_keys=False) + "\n",
        "table.md": table,
        "plot.svg": plot_svg(summ, meta),
    }
    for name, text in files.items():
        with open(os.path.join(a.out, name), "w", encoding="utf-8") as f:
            f.write(text)
    if a.latest and os.path.abspath(a.latest) != os.path.abspath(a.out):
        os.makedirs(a.latest, exist_ok=True)
        for name in files:
            shutil.copyfile(os.path.join(a.out, name), os.path.join(a.latest, name))
    if a.readme:
        os.makedirs(os.path.dirname(os.path.abspath(a.readme)), exist_ok=True)
        section = readme_section(table, meta, guest, layout)
        with open(a.readme, "w", encoding="utf-8") as f:
            f.write(section)
        if a.splice:
            splice_readme(a.splice, section)
        if a.headline:
            splice_headline(a.headline, a.results or os.path.dirname(os.path.abspath(a.latest)))

    print(table)
    where = a.latest or a.out
    print(f"bench: wrote {'' if a.rerender else os.path.join(a.out, 'runs') + '/*.json and '}"
          f"{where}/{{runs.json,table.md,plot.svg}}" + (f" and {a.readme}" if a.readme else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
