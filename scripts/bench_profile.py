"""Flat profiles of bench runs (RASYNC_BENCH_PROFILE=1): where each row's
CPU time per IO goes, by kernel or fio symbol, and how two rows differ.

The guest samples every CPU with `perf record -e cpu-clock -F HZ -a` while
fio runs and prints `perf report --sort comm,dso,sym` lines between
"@@PROFILE-BEGIN hz=HZ" and "@@PROFILE-END".  A sample stands for 1/HZ s of
one CPU (in icount mode, of virtual time: 1/HZ s worth of guest
instructions), so samples / HZ / IOs is CPU µs per IO, split by symbol and
by task (fio, its io-wq workers, the rest).  Idle (the CPU halted, or
polling in the idle loop) is counted apart; perf's own samples are left out.
"""

import re

# "  12.34%   1234  fio  [kernel.kallsyms]  [k] filemap_read"
LINE = re.compile(r"^\s*([\d.]+)%\s+(\d+)\s+(\S+)\s+(\S+)\s+\[(.)\]\s+(.+?)\s*$")
IDLE = re.compile(r"safe_halt|_idle$|_idle_call$|^cpu_idle|^do_idle|^mwait|^poll_idle|"
                  r"^cpuidle_enter|^acpi_idle")

# The pairs a profile explains: (row, baseline row), the gaps the bench's
# targets measure.
PAIRS = [("rasync", "stock"), ("rasync", "iowq"), ("hot_rasync", "hot_stock"),
         ("hook", "stock"), ("hot_hook", "hot_stock"), ("mp_rasync", "mp_stock"),
         ("stock_aa", "stock"), ("hot_stock_aa", "hot_stock")]
TOP = 12


class _V0:
    """A reader of Rust v0 mangled names (RFC 2603) for what a profile shows:
    paths, inherent and trait impls, generic arguments and back-references;
    anything else raises ValueError."""

    def __init__(self, s):
        self.s, self.i = s, 0

    def peek(self):
        return self.s[self.i] if self.i < len(self.s) else ""

    def eat(self, c):
        if self.peek() == c:
            self.i += 1
            return True
        return False

    def b62(self):
        if self.eat("_"):
            return 0
        n = 0
        while not self.eat("_"):
            c = self.peek()
            if not c:
                raise ValueError("base-62 number")
            n = n * 62 + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".index(c)
            self.i += 1
        return n + 1

    def ident(self):
        if self.eat("s"):
            self.b62()
        self.eat("u")
        j = self.i
        while self.peek().isdigit():
            self.i += 1
        if j == self.i:
            raise ValueError("identifier")
        n = int(self.s[j:self.i])
        self.eat("_")
        name = self.s[self.i:self.i + n]
        self.i += n
        return name

    def backref(self, parse):
        start = self.i - 1
        at = self.b62()
        if at >= start:
            raise ValueError("back-reference that does not point back")
        keep, self.i = self.i, at
        out = parse()
        self.i = keep
        return out

    def path(self):
        c = self.peek()
        if not c:
            raise ValueError("path past the end")
        self.i += 1
        if c == "C":
            return self.ident()
        if c == "N":
            self.i += 1
            outer = self.path()
            name = self.ident()
            return f"{outer}::{name}" if name else outer
        if c in "MXY":
            if c != "Y" and self.eat("s"):
                self.b62()
            if c != "Y":
                self.path()
            ty = self.type()
            return f"<{ty} as {self.path()}>" if c != "M" else f"<{ty}>"
        if c == "I":
            base = self.path()
            args = []
            while not self.eat("E"):
                args.append(self.type())
            return f"{base}<{', '.join(args)}>"
        if c == "B":
            return self.backref(self.path)
        raise ValueError(f"path tag {c!r}")

    BASIC = {"a": "i8", "b": "bool", "c": "char", "d": "f64", "e": "str", "f": "f32",
             "h": "u8", "i": "isize", "j": "usize", "l": "i32", "m": "u32", "n": "i128",
             "o": "u128", "s": "i16", "t": "u16", "u": "()", "v": "...", "x": "i64",
             "y": "u64", "z": "!", "p": "_"}

    def type(self):
        c = self.peek()
        if not c:
            raise ValueError("type past the end")
        if c in self.BASIC:
            self.i += 1
            return self.BASIC[c]
        if c in "RQ":
            self.i += 1
            if self.eat("L"):
                self.b62()
            return ("&" if c == "R" else "&mut ") + self.type()
        if c in "PO":
            self.i += 1
            return ("*const " if c == "P" else "*mut ") + self.type()
        if c == "S":
            self.i += 1
            return f"[{self.type()}]"
        if c == "T":
            self.i += 1
            items = []
            while not self.eat("E"):
                items.append(self.type())
            return f"({', '.join(items)})"
        if c == "B":
            self.i += 1
            return self.backref(self.type)
        return self.path()


def demangle(sym):
    """`rasync_main::rasync_read` for `_RNvCs..._11rasync_main11rasync_read`;
    other names as they are.  The crate's hash-like disambiguators go."""
    if not sym.startswith("_R"):
        return sym
    try:
        return _V0(sym[2:]).path()
    except (ValueError, IndexError, RecursionError):
        return sym


def task(comm):
    """fio, iou-wrk (its io-wq workers, one comm per thread), or other."""
    if comm == "fio":
        return "fio"
    if comm.startswith("iou-wrk"):
        return "iou-wrk"
    return "perf" if comm.startswith("perf") else "other"


def parse(lines):
    """{(task, dso, symbol): samples} of one @@PROFILE block."""
    prof = {}
    for line in lines:
        m = LINE.match(line)
        if m:
            key = (task(m.group(3)), m.group(4), demangle(m.group(6)))
            prof[key] = prof.get(key, 0) + int(m.group(2))
    return prof


def per_row(runs):
    """{row: {"ios", "runs", "hz", "us_per_sample_per_io", "busy_us_per_io",
    "idle_us_per_io", "tasks_us_per_io", "symbols": {(dso, sym): µs per IO}}},
    summed over the row's runs without errors."""
    acc = {}
    for r in runs:
        prof, hz, ios = r.get("profile"), r.get("profile_hz"), r.get("total_ios")
        if not prof or not hz or not ios or r["errors"]:
            continue
        a = acc.setdefault(r["row"], {"ios": 0, "samples": {}, "hz": hz, "runs": 0})
        a["ios"] += ios
        a["runs"] += 1
        for t, dso, sym, n in prof:
            if t != "perf":
                a["samples"][(t, dso, sym)] = a["samples"].get((t, dso, sym), 0) + n
    out = {}
    for row, a in acc.items():
        busy, idle, tasks = {}, 0.0, {}
        for (t, dso, sym), n in a["samples"].items():
            us = 1e6 * n / a["hz"] / a["ios"]
            if IDLE.search(sym):
                idle += us
                continue
            busy[(dso, sym)] = busy.get((dso, sym), 0) + us
            tasks[t] = tasks.get(t, 0) + us
        out[row] = {"ios": a["ios"], "runs": a["runs"], "hz": a["hz"],
                    "us_per_sample_per_io": 1e6 / a["hz"] / a["ios"],
                    "busy_us_per_io": sum(busy.values()), "idle_us_per_io": idle,
                    "tasks_us_per_io": tasks, "symbols": busy}
    return out


def short(dso):
    return {"[kernel.kallsyms]": "kernel"}.get(dso, dso.strip("[]"))


def pair_table(prof, a, b, label):
    """Markdown: the symbols that make the most of the a-b gap in CPU µs/IO."""
    pa, pb = prof[a]["symbols"], prof[b]["symbols"]
    keys = set(pa) | set(pb)
    diff = [k for k in sorted(keys, key=lambda k: -abs(pa.get(k, 0) - pb.get(k, 0)))
            if pa.get(k, 0) != pb.get(k, 0)][:TOP]
    ua, ub = prof[a]["us_per_sample_per_io"], prof[b]["us_per_sample_per_io"]
    ta, tb = prof[a]["busy_us_per_io"], prof[b]["busy_us_per_io"]
    lines = [f"**{label(a)} vs {label(b)}**: busy CPU {ta:.2f} vs {tb:.2f} µs per IO "
             f"({ta - tb:+.2f}, {ta / tb:.3f}×); idle {prof[a]['idle_us_per_io']:.2f} vs "
             f"{prof[b]['idle_us_per_io']:.2f} µs per IO; {prof[a]['runs']} and {prof[b]['runs']} "
             f"runs, {prof[a]['ios']} and {prof[b]['ios']} IOs. The {len(diff)} symbols whose "
             "µs per IO differ most (± is twice the sampling error: samples are Poisson "
             "counts):", "",
             f"| symbol | where | {label(a)} µs/IO | {label(b)} µs/IO | difference |",
             "|---|---|---|---|---|"]
    for k in diff:
        x, y = pa.get(k, 0), pb.get(k, 0)
        err = 2 * (x * ua + y * ub) ** 0.5
        lines.append(f"| `{k[1]}` | {short(k[0])} | {x:.3f} | {y:.3f} | {x - y:+.3f} ± {err:.3f} |")
    shown = sum(pa.get(k, 0) - pb.get(k, 0) for k in diff)
    lines.append(f"| *all others* | | | | {ta - tb - shown:+.3f} |")
    # The code one row runs and the other never does (10 samples or more
    # against none): for rasync against stock, the functions rasync
    # replaces and what it runs instead.
    for x, y, name, u in ((pa, pb, a, ua), (pb, pa, b, ub)):
        only = sorted(((k, v) for k, v in x.items() if v >= 10 * u and not y.get(k)),
                      key=lambda kv: -kv[1])
        if only:
            lines += ["", f"Only in {label(name)} (10 samples or more, none in the other): "
                      f"{sum(v for _, v in only):.3f} µs per IO in all: "
                      + ", ".join(f"`{k[1]}` {v:.3f}" for k, v in only) + "."]
    return "\n".join(lines) + "\n"


def profile_md(runs, label):
    """The profile section of table.md, or "" if no run was profiled."""
    prof = per_row(runs)
    if not prof:
        return ""
    hz = int(next(iter(prof.values()))["hz"])
    out = ["### Where the CPU time per IO goes (perf cpu-clock profiles)", "",
           f"Every CPU sampled at {hz} Hz while fio ran (`RASYNC_BENCH_PROFILE=1`); a sample is "
           f"1/{hz} s of one CPU, so samples per IO give CPU µs per IO by symbol, summed over "
           "the row's runs; all tasks (fio, io-wq workers, kthreads, interrupts), idle apart. "
           "Sampling itself costs CPU: compare rows of this run with each other, not with "
           "an unprofiled run. Samples cover fio's whole life (start-up, the cold rows' "
           "invalidation and exit too) while only the timed IOs divide them.", "",
           "| row | runs | busy CPU µs/IO | fio / io-wq workers / other | in rasync.ko | idle µs/IO "
           "| top symbols (µs/IO) |", "|---|---|---|---|---|---|---|"]
    for row, p in prof.items():
        top = sorted(p["symbols"].items(), key=lambda kv: -kv[1])[:5]
        t = p["tasks_us_per_io"]
        out.append(f"| {label(row)} | {p['runs']} | {p['busy_us_per_io']:.2f} | "
                   + " / ".join(f"{t.get(k, 0):.2f}" for k in ("fio", "iou-wrk", "other"))
                   + f" | {sum(v for k, v in p['symbols'].items() if k[0] == '[rasync]'):.2f}"
                   + f" | {p['idle_us_per_io']:.2f} | "
                   + ", ".join(f"`{k[1]}` {v:.2f}" for k, v in top) + " |")
    out.append("")
    for a, b in PAIRS:
        if a in prof and b in prof:
            out += [pair_table(prof, a, b, label), ""]
    return "\n".join(out)


def summary(runs):
    """The per-row profiles for runs.json."""
    return {row: {**p, "symbols": {f"{k[0]} {k[1]}": v for k, v in
                                   sorted(p["symbols"].items(), key=lambda kv: -kv[1])}}
            for row, p in per_row(runs).items()}
