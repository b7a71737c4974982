"""The machine description and the table of medians."""
import os
import platform
import statistics


def machine_info() -> dict:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": f"{platform.system()} {platform.release()}",
            "python": platform.python_version()}


def _median(values):
    values = [v for v in values if v]
    return statistics.median(values) if values else None


def summarize(runs, reference_of) -> list:
    """One row per (label, pipeline) in first-seen order: medians for Cachemere and its reference.

    `runs` are RunResults; `reference_of(label)` names the reference server for that row. A side is
    marked client-bound if the median of its runs' generator busy fraction exceeds the threshold."""
    from bench.measure import CLIENT_BOUND
    order, groups = [], {}
    for run in runs:
        key = (run.label, run.pipeline)
        if key not in groups:
            order.append(key)
            groups[key] = []
        groups[key].append(run)
    rows = []
    for label, pipeline in order:
        ref = reference_of(label)
        row = {"test": label, "P": pipeline, "reference": ref}
        for side, name in (("cachemere", "cachemere"), ("ref", ref)):
            mine = [r for r in groups[(label, pipeline)] if r.server == name]
            row[side] = _median(r.rps for r in mine)
            row[f"{side}_per_cpu_s"] = _median(r.per_cpu_s for r in mine)
            busy = _median(r.client_busy for r in mine)
            row[f"{side}_client_bound"] = bool(busy and busy > CLIENT_BOUND)
            row[f"{side}_failed"] = sum(1 for r in mine if r.rps is None)
        row["ratio"] = row["cachemere"] / row["ref"] if row["cachemere"] and row["ref"] else None
        row["cpu_ratio"] = (row["cachemere_per_cpu_s"] / row["ref_per_cpu_s"]
                            if row["cachemere_per_cpu_s"] and row["ref_per_cpu_s"] else None)
        rows.append(row)
    return rows


def _num(value, fmt=",.0f"):
    return format(value, fmt) if value else "-"


def _mark(row, side):
    return ("*" if row[f"{side}_client_bound"] else "") + ("!" if row[f"{side}_failed"] else "")


def format_table(rows) -> str:
    head = (f"{'test':26} {'P':>3} {'ref':>9} {'cachemere/s':>12} {'reference/s':>13} {'ratio':>6}   "
            f"{'c req/cpu-s':>12} {'r req/cpu-s':>12} {'ratio':>6}")
    lines = [head, "-" * len(head)]
    for row in rows:
        lines.append(
            f"{row['test'][:26]:26} {row['P']:>3} {row['reference']:>9} "
            f"{_num(row['cachemere']) + _mark(row, 'cachemere'):>12} {_num(row['ref']) + _mark(row, 'ref'):>13} "
            f"{_num(row['ratio'], '.2f'):>6}   {_num(row['cachemere_per_cpu_s']):>12} "
            f"{_num(row['ref_per_cpu_s']):>12} {_num(row['cpu_ratio'], '.2f'):>6}")
    if any(r["cachemere_client_bound"] or r["ref_client_bound"] for r in rows):
        lines.append("* the load generator was >90% busy on its core: that rate is the generator's ceiling")
    if any(r["cachemere_failed"] or r["ref_failed"] for r in rows):
        lines.append("! some runs failed (see the errors above); the median is over the others")
    return "\n".join(lines)
