"""bench/report_vs.py: turns the reports of one bench/run-vs into bench/results/vs.json and
vs.md: callwire and Janus side by side, per scenario, with callwire/Janus ratios. Reads TMPD
(the run's folder: SERVER-SCENARIO-ROOMS.json, commands.txt, callwire.sha256, media.txt),
RESULTS, ROOT, SCENARIOS and SERVERS from the environment."""

import datetime
import glob
import json
import os
import platform
import re
import subprocess
import sys

tmp = os.environ["TMPD"]
results = os.environ["RESULTS"]
root = os.environ["ROOT"]
sys.path.insert(0, os.path.join(root, "bench"))
from machine import cpu_model, mem_total_mb, sh  # noqa: E402

CPU_GOAL = 0.5  # callwire's CPU per forwarded packet at most half of Janus's
LOSS_LIMIT = 1.0  # percent
NAMES = {"1to1": "1:1 audio+video", "mesh10": "10 participants, all publishing",
         "2x50": "2 publishers × 50 subscribers"}

scenarios = os.environ.get("SCENARIOS", "1to1 mesh10 2x50").split()
servers = os.environ.get("SERVERS", "callwire janus").split()

runs = {}
for path in glob.glob(os.path.join(tmp, "*-*-*.json")):
    m = re.match(r"(callwire|janus)-(\w+)-(\d+)\.json$", os.path.basename(path))
    if not m or os.path.getsize(path) == 0:
        continue
    with open(path) as f:
        runs.setdefault((m.group(1), m.group(2)), []).append(json.load(f))
for v in runs.values():
    v.sort(key=lambda r: r["rooms"])


def janus_version():
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "janus"],
                             capture_output=True, text=True, check=True).stdout.strip()
        return "Janus " + out + " (Debian)"
    except (OSError, subprocess.CalledProcessError):
        return "Janus (version unknown)"


commit = sh("git", "rev-parse", "--short", "HEAD")
if sh("git", "status", "--porcelain", "--untracked-files=no"):
    commit += " (with uncommitted changes)"
machine = {
    "nproc": os.cpu_count(),
    "cpu": cpu_model(),
    "kernel": platform.release(),
    "memory_mb": mem_total_mb(),
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "commit": commit,
    "callwire_sha256": open(os.path.join(tmp, "callwire.sha256")).read().strip(),
    "janus": janus_version(),
    "media": open(os.path.join(tmp, "media.txt")).read().strip().splitlines(),
    "load_average": open("/proc/loadavg").read().split()[:3],
}
commands = ["make bench-vs   # = make build && bench/run-vs (inside bench/janus/netns)"] + \
    open(os.path.join(tmp, "commands.txt")).read().splitlines()


def passing(r):
    return r["loss"]["lost_pct"] < LOSS_LIMIT and r["errors"] == 0


summary = {}
for sc in scenarios:
    s = {}
    for srv in servers:
        rs = runs.get((srv, sc), [])
        if not rs:
            s[srv] = None
            continue
        base = rs[0]
        ok = [r for r in rs if passing(r)]
        best = max(ok, key=lambda r: r["window"]["forwarded_per_sec"]) if ok else None
        s[srv] = {
            "base": base,
            "max": best,
            # The search stopped at a failing run (loss or errors), or ran out of steps:
            # then the maximum is a lower bound.
            "max_is_bound": bool(rs) and not passing(rs[-1]),
            "runs": [{"rooms": r["rooms"], "forwarded_per_sec": r["window"]["forwarded_per_sec"],
                      "lost_pct": r["loss"]["lost_pct"], "errors": r["errors"],
                      "p99": r["latency_ms"]["p99"],
                      "server_cpu_util": r["window"]["server_cpu_util"],
                      "generator_cpu_util": r["window"]["generator_cpu_util"]} for r in rs],
        }
    summary[sc] = s


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt_ratio(x):
    return "–" if x is None else f"{x:.2f}×"


def shared(c, j):
    """Server CPU per forwarded packet over every load both servers passed (the same rooms,
    windows of the same length): callwire's ÷ Janus's, the loads, and each load's ratio."""
    cr = {r["rooms"]: r for r in c["runs"] if r["lost_pct"] < LOSS_LIMIT and not r["errors"]}
    jr = {r["rooms"]: r for r in j["runs"] if r["lost_pct"] < LOSS_LIMIT and not r["errors"]}
    loads = sorted(set(cr) & set(jr))
    if not loads:
        return None, [], []
    def per(runs):
        return sum(runs[k]["server_cpu_util"] for k in loads) / \
            sum(runs[k]["forwarded_per_sec"] for k in loads)
    each = [(cr[k]["server_cpu_util"] / cr[k]["forwarded_per_sec"]) /
            (jr[k]["server_cpu_util"] / jr[k]["forwarded_per_sec"]) for k in loads]
    return per(cr) / per(jr), loads, each


goals = {}
for sc, s in summary.items():
    c, j = s.get("callwire"), s.get("janus")
    if c and j:
        cpu = ratio(c["base"]["window"]["server_cpu_s_per_million"],
                    j["base"]["window"]["server_cpu_s_per_million"])
        all_loads, loads, each = shared(c, j)
        goals[sc] = {"cpu_ratio_base": cpu, "cpu_ratio_shared_loads": all_loads,
                     "shared_loads_rooms": loads, "cpu_ratio_each_load": each,
                     "cpu_goal_met": all_loads is not None and all_loads <= CPU_GOAL}

doc = {"machine": machine, "commands": commands, "summary": summary, "goals": goals}
os.makedirs(results, exist_ok=True)
with open(os.path.join(results, "vs.json"), "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")


def cell(run, fn):
    return "–" if run is None else fn(run)


out = ["# callwire and Janus side by side: latest results", "",
       f"{machine['date']}, commit {machine['commit']} (callwire binary sha256 "
       f"{machine['callwire_sha256']}…) against {machine['janus']}; {machine['nproc']} CPUs "
       f"({machine['cpu']}), {machine['memory_mb']} MB, Linux {machine['kernel']}; load "
       f"average at the end: {' '.join(machine['load_average'])}.", "",
       "Both servers in one network namespace on a veth address, one after the other, fresh "
       "for each run, joined by the same generator (`sfu remote`) replaying the same "
       "recording. Every figure of a row comes from the same run of each server; ratios are "
       "callwire ÷ Janus (below 1: callwire uses less).", ""]
for sc in scenarios:
    s = summary.get(sc, {})
    c, j = s.get("callwire"), s.get("janus")
    cb = c["base"] if c else None
    jb = j["base"] if j else None
    out += [f"## {NAMES.get(sc, sc)}", ""]
    if cb:
        out += [f"Base load: {cb['rooms']} room(s) of {cb['participants'] // cb['rooms']}, "
                f"{cb['participants']} participants, {cb['publishers']} publishing.", ""]
    out += ["| measure | callwire | Janus | callwire / Janus |", "|---|---|---|---|"]

    def row(name, fn, num=None, fmt=None):
        cv = cell(cb, fn)
        jv = cell(jb, fn)
        r = ratio(num(cb), num(jb)) if num and cb and jb else None
        out.append(f"| {name} | {cv} | {jv} | {fmt(r) if fmt else fmt_ratio(r)} |")

    row("forwarded packets/s at the base load",
        lambda r: f"{r['window']['forwarded_per_sec']:,.0f}")
    row("server CPU seconds per million forwarded packets",
        lambda r: f"{r['window']['server_cpu_s_per_million']:.2f}",
        lambda r: r["window"]["server_cpu_s_per_million"],
        lambda x: "–" if x is None else f"**{x:.2f}×**")
    g = goals.get(sc)
    if g and g["cpu_ratio_shared_loads"] is not None:
        x = g["cpu_ratio_shared_loads"]
        out.append("| the same over every load both passed (" +
                   ", ".join(f"{k} room{'s' if k > 1 else ''}" for k in g["shared_loads_rooms"]) +
                   "; each: " + ", ".join(f"{e:.2f}×" for e in g["cpu_ratio_each_load"]) +
                   ") | | | " + f"**{x:.2f}×**" +
                   (" (goal ≤ 0.5: met)" if x <= CPU_GOAL else " (goal ≤ 0.5: **not met**)") + " |")
    row("server CPU busy (of one core)", lambda r: f"{100 * r['window']['server_cpu_util']:.0f} %")
    row("added latency p50 / p99 (ms)",
        lambda r: f"{r['latency_ms']['p50']:.3f} / {r['latency_ms']['p99']:.3f}",
        lambda r: r["latency_ms"]["p99"])
    row("memory per participant (KB of server RSS)",
        lambda r: f"{r['memory']['per_participant_kb']:,.0f}",
        lambda r: r["memory"]["per_participant_kb"])
    row("loss at the base load", lambda r: f"{r['loss']['lost_pct']:.2f} %")

    def max_cell(x):
        if not x or not x["max"]:
            return "–"
        m = x["max"]
        bound = "" if x["max_is_bound"] else " (or more: the search ended)"
        return (f"{m['window']['forwarded_per_sec']:,.0f}{bound} ({m['rooms']} rooms, "
                f"{m['loss']['lost_pct']:.2f} % lost, latency p99 {m['latency_ms']['p99']:.1f} ms)")
    mr = None
    if c and j and c["max"] and j["max"]:
        mr = ratio(c["max"]["window"]["forwarded_per_sec"], j["max"]["window"]["forwarded_per_sec"])
    out.append(f"| highest forwarded packets/s with under 1 % loss | {max_cell(c)} | "
               f"{max_cell(j)} | {fmt_ratio(mr)} |")
    out.append("")
    for name, x in (("callwire", c), ("Janus", j)):
        if x:
            steps = ", ".join(f"{r['rooms']} rooms: {r['forwarded_per_sec']:,.0f}/s, "
                              f"{r['lost_pct']:.2f} % lost, p99 {r['p99']:.1f} ms, "
                              f"server {100 * r['server_cpu_util']:.0f} %, "
                              f"generator {100 * r['generator_cpu_util']:.0f} %"
                              + (f", {r['errors']} errors" if r["errors"] else "")
                              for r in x["runs"])
            out.append(f"{name}: {steps}.")
            out.append("")
out += ["Recording replayed by every publisher:", "", "```"] + machine["media"] + ["```", "",
        "Commands (inside the namespace; `$APP`, `$KEY` and `$PID` stand for each run's):", "",
        "```"]
out += [re.sub(r"--app \S+ --key \S+", "--app $APP --key $KEY",
               re.sub(r"--server-pid \d+", "--server-pid $PID", c)) for c in commands]
out += ["```", ""]
with open(os.path.join(results, "vs.md"), "w") as f:
    f.write("\n".join(out))
