"""Medians, ratios of medians and the verdict against the A/A noise floor:
the one implementation that `make bench`'s report (scripts/bench_report.py)
and `make run`'s summary (scripts/demo_summary.py) share, so that both say
"inside the noise", "faster" or "slower" on the same grounds.

A run is a dict with at least "round", "row", "errors" (a list; runs with
errors are left out) and its metrics ("iops", "cpu_us_per_io", ...).
Standard library only.
"""

import statistics

# Metrics where a smaller ratio is the better one, and the words a verdict
# uses for each direction: (better, worse).
WORDS = {
    "iops": ("faster", "slower"),
    "cpu_pct": ("less CPU", "more CPU"),
    "io_phase_cpu_pct": ("less CPU", "more CPU"),
    "cpu_us_per_io": ("less CPU per IO", "more CPU per IO"),
    "slat_p99_us": ("faster", "slower"),
}
LOWER_IS_BETTER = {"cpu_pct", "io_phase_cpu_pct", "cpu_us_per_io", "slat_p99_us",
                   "clat_p50_us", "clat_p99_us"}
INSIDE = "inside the noise"


def num(s):
    """A float from a field of guest output, or None if it is not one."""
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def med_range(vals):
    """{"median", "min", "max", "n"} of the values that are not None, or None."""
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def summarize(runs, rows, metrics):
    """{row: {metric: med_range, "runs": n}} over the runs without errors."""
    summ = {}
    for key in rows:
        rr = [r for r in runs if r["row"] == key and not r["errors"]]
        if not rr:
            continue
        s = {m: med_range([r.get(m) for r in rr]) for m in metrics}
        s["runs"] = len(rr)
        summ[key] = s
    return summ


def ratio(runs, summ, a, b, metric="iops"):
    """Ratio of medians a/b, and the spread of the per-round ratios
    (a round's first run of each row)."""
    if a not in summ or b not in summ or not summ[a].get(metric) or not summ[b].get(metric):
        return None
    ma, mb = summ[a][metric]["median"], summ[b][metric]["median"]
    if not mb:
        return None
    per = []
    for rnd in sorted({r["round"] for r in runs}):
        x = [r.get(metric) for r in runs if r["round"] == rnd and r["row"] == a and not r["errors"]]
        y = [r.get(metric) for r in runs if r["round"] == rnd and r["row"] == b and not r["errors"]]
        if x and y and x[0] is not None and y[0]:
            per.append(x[0] / y[0])
    return {"value": ma / mb, "per_round": per,
            "min": min(per) if per else None, "max": max(per) if per else None}


def noise_floor(aa):
    """Largest deviation from 1 of the A/A ratio (its median and every round)."""
    if not aa:
        return None
    vals = [aa["value"]] + [x for x in (aa.get("min"), aa.get("max")) if x is not None]
    return max(abs(v - 1) for v in vals)


def verdict(r, aa, metric="iops"):
    """"inside the noise", or the direction ("faster", "slower", "less CPU per
    IO", ...) of a ratio r whose deviation from 1 exceeds the A/A floor of aa;
    None if either is missing."""
    floor = noise_floor(aa)
    if r is None or floor is None:
        return None
    if abs(r["value"] - 1) <= floor:
        return INSIDE
    better, worse = WORDS.get(metric, ("higher", "lower"))
    up = r["value"] > 1
    if metric in LOWER_IS_BETTER:
        return worse if up else better
    return better if up else worse


def verdict_text(r, aa, metric="iops"):
    """' — inside the noise (A/A ±x%)' or ' — faster than the noise (A/A ±x%)',
    the suffix both reports put after a ratio; '' without an A/A."""
    v = verdict(r, aa, metric)
    if v is None:
        return ""
    floor = f"A/A ±{noise_floor(aa) * 100:.1f}%"
    if v == INSIDE:
        return f" — {INSIDE} ({floor})"
    return f" — {v}, beyond the noise ({floor})"


def rfmt(r, nd=3):
    """'0.863× (rounds 0.863–1.120)'."""
    if r is None:
        return "–"
    s = f"{r['value']:.{nd}f}×"
    if r.get("min") is not None and len(r.get("per_round", [])) > 1:
        s += f" (rounds {r['min']:.{nd}f}–{r['max']:.{nd}f})"
    return s
