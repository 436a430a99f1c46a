"""bench/report_sfu.py: turns the reports of one bench/run-sfu into bench/results/sfu.json,
sfu.md and sfu-callgrind.txt. Reads TMPD (the run's folder: saturate.json, saturate_cm.json,
paced.json, reference.json, streams.json, saturate_2w.json, saturate_40r.json, commands.txt, binary.sha256,
optional callgrind.json and callgrind.window), RESULTS and ROOT from the environment, and
COMMIT when set."""

import datetime
import json
import os
import platform
import re
import sys

tmp = os.environ["TMPD"]
results = os.environ["RESULTS"]
root = os.environ["ROOT"]
sys.path.insert(0, os.path.join(root, "bench"))
from machine import cpu_model, mem_total_mb, sh  # noqa: E402
GOAL = 250000.0  # forwarded SRTP packets per second per core


def load(name):
    path = os.path.join(tmp, name + ".json")
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return None
    with open(path) as f:
        return json.load(f)








commit = os.environ.get("COMMIT") or sh("git", "rev-parse", "--short", "HEAD")
if not os.environ.get("COMMIT") and sh("git", "status", "--porcelain", "--untracked-files=no"):
    commit += " (with uncommitted changes)"
runs = {n: load(n) for n in ("saturate", "saturate_cm", "paced", "reference", "streams",
                             "saturate_2w", "saturate_40r")}
grind = load("callgrind")
first = next((r for r in runs.values() if r), None)
machine = {
    "nproc": os.cpu_count(),
    "cpu": cpu_model(),
    "kernel": platform.release(),
    "memory_mb": mem_total_mb(),
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "commit": commit,
    "binary_sha256": open(os.path.join(tmp, "binary.sha256")).read().strip(),
    "srtp": (first["config"]["srtp_library"] +
             (" (crypto: nss)" if first["config"]["srtp_crypto"] == "nss" else "")
             ) if first else "unknown",
    "load_average": open("/proc/loadavg").read().split()[:3],
}
commands = ["make bench-sfu   # = make build && bench/run-sfu"] + \
    open(os.path.join(tmp, "commands.txt")).read().splitlines()

# ---- callgrind: the worker's user-space instructions in the window ----
callgrind = None
window_file = os.path.join(tmp, "callgrind.window")
if grind and os.path.exists(window_file):
    with open(window_file) as f:
        totals = next((int(line.split()[1]) for line in f if line.startswith("totals:")), 0)
    fwd = grind["window"]["forwarded"]

    def annotate(*args):
        out = sh("callgrind_annotate", "--threshold=100", *args, window_file)
        rows = []
        for line in out.splitlines():
            m = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(.*)$", line)
            if not m or "PROGRAM TOTALS" in line:
                continue
            ir = int(m.group(1).replace(",", ""))
            # Frames that were on the stack when the counts were zeroed (clone,
            # start_thread, worker_main) carry costs from before: left out.
            if ir > totals:
                continue
            # The binary ran from the run's temporary folder.
            rows.append((ir, re.sub(r"\[/[^\]]*/sfu\]", "[bench/sfu]", m.group(2))))
        return rows

    inclusive = annotate("--inclusive=yes")
    exclusive = annotate()

    def incl(name):
        return next((ir for ir, fn in inclusive if fn.split(" [")[0].endswith(":" + name)), 0)

    callgrind = {
        "forwarded": fwd,
        "instructions": totals,
        "per_forwarded": round(totals / fwd) if fwd else None,
        "srtp_protect_per_forwarded": round(incl("cw_srtp_protect") / fwd) if fwd else None,
        "srtp_unprotect_per_forwarded": round(incl("cw_srtp_unprotect") / fwd) if fwd else None,
        "config": grind["config"],
    }
    with open(os.path.join(results, "sfu-callgrind.txt"), "w") as f:
        f.write(f"# The SFU worker thread's user-space instructions (callgrind) over {fwd} "
                f"forwarded packets: {totals:,} in all, {callgrind['per_forwarded']:,} per "
                f"packet.\n# Inclusive, top functions (percentages of {totals:,}).\n")
        for ir, fn in inclusive[:45]:
            f.write(f"{ir:>14,} {100 * ir / totals:6.2f}%  {fn}\n")
        f.write("\n# Self, top functions.\n")
        for ir, fn in exclusive[:30]:
            f.write(f"{ir:>14,} {100 * ir / totals:6.2f}%  {fn}\n")


def w(run, key, default=0):
    return (run or {}).get("window", {}).get(key) or default


def per_core(run):
    return w(run, "forwarded_per_worker_cpu_second")


sat, cm, paced, ref = runs["saturate"], runs["saturate_cm"], runs["paced"], runs["reference"]
summary = {}
for name, r in runs.items():
    if not r:
        continue
    summary[name] = {
        "forwarded_per_sec": round(w(r, "forwarded_per_sec")),
        "forwarded_per_worker_cpu_second": round(per_core(r)),
        "worker_cpu_s_per_million_forwarded": round(w(r, "worker_cpu_s_per_million_forwarded"), 3),
        "worker_cpu_util": round(w(r, "worker_cpu_util"), 3),
        "worker_user_share": round(w(r, "worker_user_share"), 3),
        "generator_cpu_util": round(w(r, "generator_cpu_util"), 3),
        "latency_p50_ms": r["latency_ms"]["p50"],
        "latency_p99_ms": r["latency_ms"]["p99"],
        "loss_ratio": r["totals"]["loss_ratio"],
    }
goals = {"forwarded_per_core_ge_250000": bool(sat) and per_core(sat) >= GOAL}
errors = sum(r.get("errors", 0) for r in runs.values() if r) + \
    (grind.get("errors", 0) if grind else 0)
doc = {"machine": machine, "commands": commands, "summary": summary, "goals": goals,
       "callgrind": callgrind, "errors": errors, "runs": runs, "callgrind_run": grind}
with open(os.path.join(results, "sfu.json"), "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")


def yes(ok):
    return "met" if ok else "**not met**"


def topo(r):
    c = r["config"]
    s = f"{c['rooms']} rooms × ({c['publishers']} → {c['subscribers']})"
    if c["workers"] > 1:
        s += f", {c['workers']} workers"
    return s


def lat(r):
    ms = r["latency_ms"]
    return f"{ms['p50']:.3f} / {ms['p99']:.3f} / {ms['max']:.2f} ms"


def loss(r):
    t = r["totals"]
    return f"{t['lost']:,} of {t['copies_expected']:,} copies"


def cpu_note(r):
    s = f"worker thread {100 * w(r, 'worker_cpu_util'):.0f} % busy, generator " \
        f"{100 * w(r, 'generator_cpu_util'):.0f} %"
    # Runnable but not running: other processes of the machine held the CPU.
    waits = [f"the {who} {100 * w(r, key):.0f} %" for who, key in
             (("worker", "worker_wait_share"), ("generator", "generator_wait_share"))
             if w(r, key) >= 0.01]
    if waits:
        s += "; waited for a CPU: " + ", ".join(waits) + " of the window"
    return s


rows = []
if sat:
    refs = sat["reference"]
    rows.append((f"forwarded packets/s, saturation, {topo(sat)}, 1 worker, "
                 f"{sat['config']['size']} B, GCM",
                 f"{w(sat, 'forwarded_per_sec'):,.0f}", "", cpu_note(sat)))
    rows.append(("forwarded packets per worker CPU-second (GCM)",
                 f"{per_core(sat):,.0f}",
                 "≥ 250,000 per core — " + yes(goals["forwarded_per_core_ge_250000"]),
                 f"{w(sat, 'worker_cpu_ns_per_forwarded') / 1000:.2f} µs per packet = "
                 f"{w(sat, 'worker_ns_per_forwarded_vs_srtp_pair'):.2f}× one SRTP protect + "
                 f"unprotect ({refs['srtp_pair_ns'] / 1000:.2f} µs), "
                 f"{w(sat, 'worker_ns_per_forwarded_vs_udp'):.2f}× one loopback datagram "
                 f"sent and received ({refs['udp_sendrecv_ns'] / 1000:.2f} µs)"))
    rows.append(("worker CPU per million forwarded packets (GCM)",
                 f"{w(sat, 'worker_cpu_s_per_million_forwarded'):.2f} s", "",
                 f"{100 * w(sat, 'worker_user_share'):.0f} % of it in user space; "
                 f"SRTP protect alone {refs['srtp_protect_ns'] / 1000:.2f} µs"))
if cm:
    rows.append(("forwarded packets per worker CPU-second, AES_CM_128_HMAC_SHA1_80",
                 f"{per_core(cm):,.0f}", "",
                 f"{w(cm, 'worker_cpu_ns_per_forwarded') / 1000:.2f} µs per packet; one protect "
                 f"+ unprotect {cm['reference']['srtp_pair_ns'] / 1000:.2f} µs; "
                 f"{w(cm, 'forwarded_per_sec'):,.0f}/s"))
if paced and ref:
    rows.append((f"added latency at {w(paced, 'forwarded_per_sec'):,.0f} forwarded/s "
                 f"(half of saturation, {paced['config']['pps']:.0f} packets/s per publisher), "
                 "p50 / p99 / max", lat(paced), "",
                 f"reference at {w(ref, 'forwarded_per_sec'):,.0f}/s: {lat(ref)}; "
                 f"{cpu_note(paced)}"))
    rows.append(("loss at half of saturation", loss(paced), "0",
                 f"sequence gaps {paced['totals']['seq_gaps']}; kernel drops at the SFU's "
                 f"sockets {paced['totals']['udp_drops_at_sfu_sockets']}, at the generator's "
                 f"{paced['totals']['udp_drops_at_generator_sockets']}"))
r40 = runs["streams"]
if r40:
    rows.append((f"{topo(r40)}, 250 video + 50 audio packets/s per publisher: "
                 f"{w(r40, 'forwarded_per_sec'):,.0f} forwarded/s, latency p50 / p99 / max",
                 lat(r40), "", f"{loss(r40)} lost; {cpu_note(r40)}"))
s2 = runs["saturate_2w"]
if s2:
    rows.append((f"saturation, {topo(s2)}, not pinned (generator on the same 2 CPUs)",
                 f"{w(s2, 'forwarded_per_sec'):,.0f}/s", "",
                 f"{per_core(s2):,.0f} per worker CPU-second; {cpu_note(s2)}"))
s40 = runs["saturate_40r"]
if s40:
    rows.append((f"forwarded packets per worker CPU-second, saturation, {topo(s40)} "
                 f"({s40['setup']['peers']} SRTP sessions)", f"{per_core(s40):,.0f}", "",
                 f"{w(s40, 'worker_cpu_ns_per_forwarded') / 1000:.2f} µs per packet "
                 f"({w(s40, 'forwarded_per_sec'):,.0f}/s); {cpu_note(s40)}"))
if callgrind:
    rows.append(("worker user-space instructions per forwarded packet (callgrind)",
                 f"{callgrind['per_forwarded']:,}", "",
                 f"SRTP protect {callgrind['srtp_protect_per_forwarded']:,}, unprotect "
                 f"{callgrind['srtp_unprotect_per_forwarded']:,} (÷ 10 copies); over "
                 f"{callgrind['forwarded']:,} packets; noise-free"))
rows.append(("errors (all runs)", str(errors), "0", ""))

md = ["# SFU benchmark: latest results", "",
      f"{machine['date']}, commit {machine['commit']}, binary sha256 "
      f"{machine['binary_sha256']}…; {machine['nproc']} CPUs ({machine['cpu']}), "
      f"{machine['memory_mb']} MB, Linux {machine['kernel']}; {machine['srtp']}; "
      f"load average at the end: {' '.join(machine['load_average'])}.", "",
      "| measure | result | goal | same-run reference |", "|---|---|---|---|"]
md += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
md += ["", "Commands:", "", "```"] + commands + ["```", ""]
with open(os.path.join(results, "sfu.md"), "w") as f:
    f.write("\n".join(md))
