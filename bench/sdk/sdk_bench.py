"""bench/sdk/sdk_bench.py: what one C client (libcallwire, through the `callwire` softphone
commands) costs in a two-party audio call. bench/run-sdk runs it; it writes
bench/results/sdk.json, sdk.md and, with valgrind, sdk-callgrind.txt.

A fresh server (`callwire serve`), an app and two users over REST, both logged in with
`callwire login`; then alice runs `callwire answer --tone 880` and bob `callwire call alice
--tone 440`, each recording what it hears. Over a steady window (from WARMUP seconds after
both printed {"event":"joined"} to 1 s before the first hangs up) each client process is
measured from /proc: utime + stime of every thread (/proc/PID/stat, clock ticks) over the
window's wall time, the same from /proc/PID/task/*/schedstat (nanoseconds, a cross-check
of the ticks' 10 ms resolution), VmRSS sampled every 0.2 s and VmHWM. The server is
measured the same way, as the same run's context. Then, in the same run, the codec alone
(bench/sdk/opus_ref.c, the client's encoder settings) as the reference the client's CPU
is divided by; and a second, shorter call with alice under callgrind, instrumented only
over its steady window: user-space instructions per second of call, which other processes
of the machine cannot blur.

Environment: CALLWIRE (the binary), OPUS_REF (the reference, optional), TMPD, RESULTS,
ROOT; DURATION (20), WARMUP (2), GRIND_DURATION (12; 0: skip callgrind), COMMIT."""

import datetime
import json
import math
import os
import platform
import select
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import wave

root = os.environ["ROOT"]
tmp = os.environ["TMPD"]
results = os.environ["RESULTS"]
callwire = os.environ["CALLWIRE"]
opus_ref = os.environ.get("OPUS_REF", "")
duration = float(os.environ.get("DURATION", "20"))
warmup = float(os.environ.get("WARMUP", "2"))
grind_duration = float(os.environ.get("GRIND_DURATION", "12"))
sys.path.insert(0, os.path.join(root, "bench"))
from machine import cpu_model, mem_total_mb, sh  # noqa: E402

GOAL_CPU = 0.03          # of one core, per client
GOAL_RSS_KB = 8 * 1024   # resident, per client
TICK = os.sysconf("SC_CLK_TCK")
JOIN_DEADLINE = 30.0     # seconds from start to {"event":"joined"} (valgrind is slow)

procs = []


def log(msg):
    print(f"bench/run-sdk: {msg}", file=sys.stderr, flush=True)


def fail(msg):
    log(msg)
    for p in procs:
        if p.poll() is None:
            p.kill()
    sys.exit(1)


# ---- /proc ----

def cpu_ticks(pid):
    """(utime, stime) of every thread of pid (fields 14 and 15 of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def threads(pid):
    """{tid: (comm, ns on a CPU, ns waiting for one)} from /proc/PID/task/*/schedstat."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                run, wait = f.read().split()[:2]
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
        except (OSError, ValueError):
            continue
        out[tid] = (comm, int(run), int(wait))
    return out


def status(pid):
    """VmRSS, VmHWM, RssAnon, RssFile of pid, in kB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "Threads",
                     "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
                out[k] = int(v.split()[0])
    return out


class Probe:
    """A process's CPU over a window and its memory sampled through it."""

    def __init__(self, name, pid):
        self.name, self.pid = name, pid
        self.rss = []

    def switches(self):
        """Voluntary and involuntary context switches of every thread of pid."""
        n = 0
        for tid in os.listdir(f"/proc/{self.pid}/task"):
            try:
                with open(f"/proc/{self.pid}/task/{tid}/status") as f:
                    for line in f:
                        if "ctxt_switches" in line:
                            n += int(line.split()[1])
            except OSError:
                pass
        return n

    def start(self):
        self.t0 = time.monotonic()
        self.ticks0 = cpu_ticks(self.pid)
        self.threads0 = threads(self.pid)
        self.switches0 = self.switches()
        self.sample()

    def sample(self):
        self.rss.append(status(self.pid))

    def stop(self):
        self.t1 = time.monotonic()
        self.ticks1 = cpu_ticks(self.pid)
        self.threads1 = threads(self.pid)
        self.switches1 = self.switches()
        self.sample()

    def report(self):
        wall = self.t1 - self.t0
        run_ns = wait_ns = 0
        per_thread = {}
        for tid, (comm, run, wait) in self.threads1.items():
            c0, r0, w0 = self.threads0.get(tid, (comm, 0, 0))
            run_ns += run - r0
            wait_ns += wait - w0
            key = f"{comm} ({tid})"
            per_thread[key] = round((run - r0) / 1e9 / wall, 5)
        ut, st = self.ticks1[0] - self.ticks0[0], self.ticks1[1] - self.ticks0[1]
        ticks = ut + st
        last = self.rss[-1]
        return {
            "window_s": round(wall, 3),
            "cpu_ticks": ticks,
            "utime_ticks": ut,
            "stime_ticks": st,
            "cpu_of_one_core": round(ticks / TICK / wall, 5),
            "cpu_of_one_core_schedstat": round(run_ns / 1e9 / wall, 5),
            "waited_for_cpu_share": round(wait_ns / 1e9 / wall, 5),
            "threads": per_thread,
            "rss_kb_steady_mean": round(statistics.mean(s["VmRSS"] for s in self.rss)),
            "rss_kb_min": min(s["VmRSS"] for s in self.rss),
            "rss_kb_max": max(s["VmRSS"] for s in self.rss),
            "rss_anon_kb": last.get("RssAnon"),
            "rss_file_kb": last.get("RssFile"),
            "hwm_kb": last["VmHWM"],
            "samples": len(self.rss),
            "context_switches_per_s": round(
                (self.switches1 - self.switches0) / wall, 1),
        }


# ---- the server, the app, the users ----

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rest(base, method, path, token, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def start_server(data):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    err = open(data + ".log", "w")
    p = subprocess.Popen([callwire, "serve", "--listen", f"127.0.0.1:{port}", "--data", data],
                         stdout=subprocess.DEVNULL, stderr=err)
    procs.append(p)
    for _ in range(300):
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return p, base
        except OSError:
            pass
        time.sleep(0.1)
    fail(f"the server did not start; see {data}.log")


def setup(base, data):
    with open(os.path.join(data, "master.key")) as f:
        master = f.readline().strip()
    app = rest(base, "POST", "/v1/apps", master, {"name": "bench-sdk"})
    for uid in ("alice", "bob"):
        rest(base, "POST", f"/v1/apps/{app['appId']}/users", app["restApiKey"],
             {"uid": uid, "name": uid})
        r = subprocess.run([callwire, "login", "--server", base, "--app", app["appId"], "--uid",
                            uid, "--auth-key", app["authKey"], "--session",
                            os.path.join(tmp, uid + ".json")],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            fail(f"callwire login {uid} failed ({r.returncode}): {r.stderr.strip()}")


# ---- the clients ----

class Client:
    """One softphone command; its stdout read line by line, each JSON line timed."""

    def __init__(self, name, args, wrapper=()):
        self.name = name
        self.argv = list(wrapper) + [callwire] + args + ["--session",
                                                         os.path.join(tmp, name + ".json")]
        self.err_path = os.path.join(tmp, name + ".err")
        self.p = subprocess.Popen(self.argv, stdout=subprocess.PIPE,
                                  stderr=open(self.err_path, "w"), text=True)
        procs.append(self.p)
        self.lines = []
        self.joined = None
        self.lock = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            try:
                o = json.loads(line)
            except ValueError:
                o = {"unparsed": line.rstrip("\n")}
            with self.lock:
                self.lines.append(o)
                if o.get("event") == "joined" and self.joined is None:
                    self.joined = time.monotonic()
                self.lock.notify_all()

    def wait_joined(self, deadline):
        with self.lock:
            while self.joined is None:
                left = deadline - time.monotonic()
                if left <= 0 or self.p.poll() is not None:
                    return None
                self.lock.wait(min(left, 0.1))
            return self.joined

    def finish(self, timeout):
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = "killed"
        time.sleep(0.1)
        st = [o for o in self.lines if o.get("event") == "stats"]
        with open(self.err_path) as f:
            err = f.read().strip()
        return {"rc": rc, "stats": st[0] if st else None, "stderr": err[-2000:],
                "events": [o.get("event") for o in self.lines if "event" in o]}


def sleep_until(t):
    d = t - time.monotonic()
    if d > 0:
        time.sleep(d)


def read_wav(path):
    with wave.open(path, "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (48000, 1, 2):
            return None
        data = w.readframes(w.getnframes())
    return struct.unpack(f"<{len(data) // 2}h", data)


def power(pcm, f):
    """Goertzel: the power of frequency f in pcm (48 kHz)."""
    k = 2 * math.cos(2 * math.pi * f / 48000)
    s1 = s2 = 0.0
    for x in pcm:
        s1, s2 = x + k * s1 - s2, s1
    return s1 * s1 + s2 * s2 - k * s1 * s2


def heard(path, want, other):
    """Seconds 2-3 of a recording: the tone it should hold against the one it should not."""
    pcm = read_wav(path) if os.path.exists(path) else None
    if not pcm or len(pcm) < 3 * 48000:
        return {"ok": False, "why": "recording missing or shorter than 3 s"}
    part = pcm[2 * 48000:3 * 48000]
    pw, po = power(part, want), power(part, other)
    rms = math.sqrt(sum(x * x for x in part) / len(part))
    return {"ok": pw > 100 * po and rms > 1000, "want_hz": want,
            "want_over_other": round(pw / po, 1) if po > 0 else None, "rms": round(rms),
            "seconds": round(len(pcm) / 48000, 2)}


# ---- (a) the call, natively ----

def native_call(server, base):
    alice_wav, bob_wav = os.path.join(tmp, "alice-heard.wav"), os.path.join(tmp, "bob-heard.wav")
    d = f"{duration:g}"
    alice = Client("alice", ["answer", "--tone", "880", "--audio-out", alice_wav,
                             "--duration", d])
    bob = Client("bob", ["call", "alice", "--tone", "440", "--audio-out", bob_wav,
                         "--duration", d])
    deadline = time.monotonic() + JOIN_DEADLINE
    ja, jb = alice.wait_joined(deadline), bob.wait_joined(deadline)
    if ja is None or jb is None:
        fail(f"a client did not join: alice {alice.finish(5)}, bob {bob.finish(5)}")
    t0, t1 = max(ja, jb) + warmup, min(ja, jb) + duration - 1
    if t1 - t0 < 5:
        fail(f"the window would be {t1 - t0:.1f} s; raise DURATION")
    probes = [Probe("alice", alice.p.pid), Probe("bob", bob.p.pid), Probe("server", server.pid)]
    paced = None
    if opus_ref and os.access(opus_ref, os.X_OK):
        # The codec alone, paced like a call, over the same window: started now, it runs
        # past the window's end.
        paced = subprocess.Popen([opus_ref, "--paced", f"{duration + 2:g}", "440"])
        procs.append(paced)
        probes.append(Probe("codec_paced", paced.pid))
    sleep_until(t0)
    for p in probes:
        p.start()
    while time.monotonic() < t1 - 0.2:
        time.sleep(0.2)
        for p in probes:
            p.sample()
    sleep_until(t1)
    for p in probes:
        p.stop()
    out = {"alice": alice.finish(30), "bob": bob.finish(30)}
    for name, c in out.items():
        if c["rc"] != 0 or not c["stats"]:
            fail(f"{name} failed: {c}")
    out["alice"]["measure"] = probes[0].report()
    out["bob"]["measure"] = probes[1].report()
    out["server"] = {"measure": probes[2].report()}
    if paced:
        out["codec_paced"] = {"measure": probes[3].report()}
        paced.kill()
        paced.wait()
    out["alice"]["heard"] = heard(alice_wav, 440, 880)
    out["bob"]["heard"] = heard(bob_wav, 880, 440)
    out["joined_apart_s"] = round(abs(ja - jb), 3)
    return out


# ---- (b) the codec alone ----

def reference():
    if not opus_ref or not os.access(opus_ref, os.X_OK):
        return None
    runs = []
    for hz in ("440", "880", "440"):
        r = subprocess.run([opus_ref, f"{duration:g}", hz], capture_output=True, text=True,
                           timeout=60)
        if r.returncode == 0:
            runs.append(json.loads(r.stdout))
    if not runs:
        return None
    best = min(runs, key=lambda r: r["cpu_per_s"])
    best["runs_cpu_per_s"] = [r["cpu_per_s"] for r in runs]
    return best


# ---- (c) alice under callgrind ----

def count_calls(path, names):
    """Calls to the functions named, summed over every call site, from a callgrind file
    (names compressed as "(id) name" the first time, "(id)" after)."""
    ids, counts, cur = {}, {}, None
    with open(path) as f:
        for line in f:
            if line.startswith(("fn=", "cfn=", "cfi=", "cfl=")) or line.startswith("calls="):
                pass
            else:
                continue
            if line.startswith(("fn=", "cfn=")):
                rest = line.split("=", 1)[1].strip()
                if rest.startswith("("):
                    fid, _, name = rest[1:].partition(")")
                    name = name.strip()
                    if name:
                        ids[fid] = name
                    name = ids.get(fid, "")
                else:
                    name = rest
                cur = name if line.startswith("cfn=") else None
            elif line.startswith("calls=") and cur in names:
                counts[cur] = counts.get(cur, 0) + int(line[6:].split()[0])
    return counts


def grind(base):
    if grind_duration <= 0 or not shutil.which("valgrind"):
        return None
    out_file = os.path.join(tmp, "callgrind.out")
    d = f"{grind_duration:g}"
    alice = Client("alice", ["answer", "--tone", "880", "--audio-out",
                             os.path.join(tmp, "alice-grind.wav"), "--duration", d],
                   wrapper=["valgrind", "--tool=callgrind", "--instr-atstart=no",
                            f"--callgrind-out-file={out_file}"])
    time.sleep(1)  # valgrind starts slowly; answer takes the call that rings now anyway
    bob = Client("bob", ["call", "alice", "--tone", "440", "--audio-out",
                         os.path.join(tmp, "bob-grind.wav"), "--duration", d])
    deadline = time.monotonic() + JOIN_DEADLINE
    ja, jb = alice.wait_joined(deadline), bob.wait_joined(deadline)
    if ja is None or jb is None:
        log(f"callgrind: a client did not join: alice {alice.finish(10)}, bob {bob.finish(10)}")
        return None
    t0, t1 = max(ja, jb) + warmup, min(ja, jb) + grind_duration - 2
    probe = Probe("alice", alice.p.pid)
    sleep_until(t0)

    def toggle(state):
        a = time.monotonic()
        subprocess.run(["callgrind_control", "-i", state, str(alice.p.pid)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20)
        b = time.monotonic()
        return a, b

    on = toggle("on")
    probe.start()
    while time.monotonic() < t1 - 0.2:
        time.sleep(0.2)
        probe.sample()
    sleep_until(t1)
    probe.stop()
    off = toggle("off")
    res = {"alice": alice.finish(60), "bob": bob.finish(60)}
    # The window: from the middle of switching on to the middle of switching off; each
    # switch's whole span is its uncertainty.
    window = (off[0] + off[1]) / 2 - (on[0] + on[1]) / 2
    res["window_s"] = round(window, 3)
    res["window_uncertainty_s"] = round((on[1] - on[0]) + (off[1] - off[0]), 3)
    res["measure"] = probe.report()
    res["expected_packets"] = round(grind_duration * 50)
    if not os.path.exists(out_file):
        log("callgrind: no output")
        return res
    total = None
    with open(out_file) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                total = int(line.split()[1])
    res["instructions"] = total
    # Per 20 ms frame, from the number of frames encoded in the window: callgrind counts
    # the calls, so this does not hang on the window's timing. 50 frames make a second.
    calls = count_calls(out_file, ("opus_encode", "opus_decode"))
    res["calls"] = calls
    frames = calls.get("opus_encode", 0)
    if total and frames:
        res["instructions_per_frame"] = round(total / frames)
        res["instructions_per_s"] = round(total / frames * 50)
    res["instructions_per_s_by_window"] = round(total / window) if total else None
    incl = subprocess.run(["callgrind_annotate", "--inclusive=yes", out_file],
                          capture_output=True, text=True).stdout
    self_ = subprocess.run(["callgrind_annotate", out_file], capture_output=True,
                           text=True).stdout

    def table(text, n):
        lines = text.split("\n")
        start = next((i for i, ln in enumerate(lines) if "PROGRAM TOTALS" in ln), None)
        if start is None:
            return []
        return [ln for ln in lines[start:] if ln.strip() and not set(ln) <= {"-"}][:n]

    res["inclusive"] = table(incl, 60)
    res["self"] = table(self_, 32)
    # Shares of the window's instructions: the codec, SRTP, and the rest.
    shares = {}
    for key, names in (("opus_encode", ("opus_encode ",)), ("opus_decode", ("opus_decode ",)),
                       ("ssl_crypto", ("libcrypto", "libssl"))):
        for ln in res["inclusive"]:
            if any(n in ln + " " for n in names):
                try:
                    shares[key] = int(ln.split()[0].replace(",", ""))
                except ValueError:
                    pass
                break
    res["inclusive_of"] = shares
    return res


def main():
    os.makedirs(results, exist_ok=True)
    started = time.monotonic()
    data = os.path.join(tmp, "data")
    server, base = start_server(data)
    try:
        setup(base, data)
        log(f"call: alice answers with a 880 Hz tone, bob calls with 440 Hz, {duration:g} s")
        call = native_call(server, base)
        for n in ("alice", "bob", "server", "codec_paced"):
            if n not in call:
                continue
            m = call[n]["measure"]
            log(f"  {n}: {100 * m['cpu_of_one_core']:.2f} % of a core "
                f"({m['cpu_ticks']} ticks in {m['window_s']} s; schedstat "
                f"{100 * m['cpu_of_one_core_schedstat']:.2f} %), RSS {m['rss_kb_steady_mean']} kB, "
                f"peak {m['hwm_kb']} kB")
        ref = reference()
        if ref:
            log(f"  the codec alone: {100 * ref['cpu_per_s']:.2f} % of a core")
        log(f"callgrind: alice under callgrind, {grind_duration:g} s")
        cg = grind(base)
        if cg and cg.get("instructions_per_s"):
            log(f"  {cg['instructions_per_s']:,} instructions per second of call")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    report(call, ref, cg, time.monotonic() - started)


# ---- the report ----

def pct(x):
    return f"{100 * x:.2f} %"


def mb(kb):
    return f"{kb / 1024:.2f} MB"


def report(call, ref, cg, elapsed):
    commit = os.environ.get("COMMIT") or sh("git", "rev-parse", "--short", "HEAD")
    if not os.environ.get("COMMIT") and sh("git", "status", "--porcelain",
                                           "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    with open(os.path.join(tmp, "binary.sha256")) as f:
        sha = f.read().strip()
    machine = {
        "nproc": os.cpu_count(), "cpu": cpu_model(), "kernel": platform.release(),
        "memory_mb": mem_total_mb(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": commit, "binary_sha256": sha, "build_type": os.environ.get("BUILD_TYPE", "?"),
        "opus": ref["version"] if ref else "unknown",
        "load_average": open("/proc/loadavg").read().split()[:3],
    }
    a, b = call["alice"]["measure"], call["bob"]["measure"]
    srv = call["server"]["measure"]
    mean_cpu = (a["cpu_of_one_core"] + b["cpu_of_one_core"]) / 2
    mean_cpu_ns = (a["cpu_of_one_core_schedstat"] + b["cpu_of_one_core_schedstat"]) / 2
    mean_rss = (a["rss_kb_steady_mean"] + b["rss_kb_steady_mean"]) / 2
    mean_hwm = (a["hwm_kb"] + b["hwm_kb"]) / 2
    worst_cpu = max(a["cpu_of_one_core"], b["cpu_of_one_core"],
                    a["cpu_of_one_core_schedstat"], b["cpu_of_one_core_schedstat"])
    worst_hwm = max(a["hwm_kb"], b["hwm_kb"])
    works = all(call[n]["heard"]["ok"] for n in ("alice", "bob"))
    goals = {
        "cpu_under_3pct_of_a_core": {"met": worst_cpu < GOAL_CPU, "worst": worst_cpu},
        "resident_under_8MB": {"met": worst_hwm < GOAL_RSS_KB, "worst_peak_kb": worst_hwm},
        "call_carried_both_tones": works,
    }
    d = f"{duration:g}"
    commands = [
        "make bench-sdk   # = make build && bench/run-sdk",
        "callwire serve --listen 127.0.0.1:$PORT --data $TMP/data",
        "POST /v1/apps (master key), POST /v1/apps/$APP/users {alice, bob} (REST key)",
        "callwire login --server http://127.0.0.1:$PORT --app $APP --uid alice --auth-key $AUTH_KEY --session alice.json   # and bob",
        f"callwire answer --tone 880 --audio-out alice-heard.wav --duration {d} --session alice.json",
        f"callwire call alice --tone 440 --audio-out bob-heard.wav --duration {d} --session bob.json",
        f"opus_ref --paced {duration + 2:g} 440   # bench/sdk/opus_ref.c, alongside the call",
        f"opus_ref {d} 440; opus_ref {d} 880; opus_ref {d} 440   # after it; the least",
    ]
    if cg:
        g = f"{grind_duration:g}"
        commands += [
            f"valgrind --tool=callgrind --instr-atstart=no callwire answer --tone 880 --audio-out alice-grind.wav --duration {g} --session alice.json",
            f"callwire call alice --tone 440 --audio-out bob-grind.wav --duration {g} --session bob.json",
            f"callgrind_control -i on $ALICE_PID   # {warmup:g} s after both joined; -i off {g:s} - 2 s after",
        ]
    doc = {"machine": machine, "commands": commands,
           "config": {"duration_s": duration, "warmup_s": warmup, "grind_duration_s": grind_duration,
                      "clock_ticks_per_s": TICK},
           "call": call, "codec_alone": ref, "callgrind": cg, "goals": goals,
           "summary": {"mean_cpu_of_one_core": round(mean_cpu, 5),
                       "mean_cpu_of_one_core_schedstat": round(mean_cpu_ns, 5),
                       "mean_rss_kb": mean_rss, "mean_hwm_kb": mean_hwm,
                       "client_over_codec": round(mean_cpu_ns / ref["cpu_per_s"], 2) if ref else None,
                       "client_over_codec_paced": round(
                           mean_cpu_ns / call["codec_paced"]["measure"]["cpu_of_one_core_schedstat"], 2)
                       if "codec_paced" in call else None,
                       "instructions_per_s": cg.get("instructions_per_s") if cg else None},
           "elapsed_s": round(elapsed, 1)}
    with open(os.path.join(results, "sdk.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")

    if cg and cg.get("inclusive"):
        with open(os.path.join(results, "sdk-callgrind.txt"), "w") as f:
            f.write(f"# alice's (callwire answer) user-space instructions (callgrind) over "
                    f"{cg['window_s']} s of a two-party audio call, inclusive, top functions.\n")
            f.write("\n".join(cg["inclusive"]) + "\n\n# Self instructions, top functions.\n")
            f.write("\n".join(cg["self"]) + "\n")

    def row(label, fa, fb, fmean, goal="", note=""):
        return f"| {label} | {fa} | {fb} | {fmean} | {goal} | {note} |"

    w = a["window_s"]
    rows = [
        "| measure | alice (`answer`) | bob (`call`) | mean | goal | same-run reference |",
        "|---|---|---|---|---|---|",
        row("CPU, of one core (utime+stime ticks ÷ wall)", pct(a["cpu_of_one_core"]),
            pct(b["cpu_of_one_core"]), pct(mean_cpu),
            "< 3 % — " + ("met" if goals["cpu_under_3pct_of_a_core"]["met"] else "**not met**"),
            f"{a['cpu_ticks']} and {b['cpu_ticks']} ticks of 10 ms in {w} s"),
        row("CPU, of one core (schedstat, ns)", pct(a["cpu_of_one_core_schedstat"]),
            pct(b["cpu_of_one_core_schedstat"]), pct(mean_cpu_ns), "",
            f"waited for a CPU: {pct(a['waited_for_cpu_share'])} and "
            f"{pct(b['waited_for_cpu_share'])} of the window"),
        row("resident, steady (VmRSS, mean of the window)", mb(a["rss_kb_steady_mean"]),
            mb(b["rss_kb_steady_mean"]), mb(mean_rss), "",
            f"anonymous {mb(a['rss_anon_kb'])} / {mb(b['rss_anon_kb'])}, "
            f"file-backed (libraries) {mb(a['rss_file_kb'])} / {mb(b['rss_file_kb'])}"),
        row("resident, peak (VmHWM)", mb(a["hwm_kb"]), mb(b["hwm_kb"]), mb(mean_hwm),
            "< 8 MB — " + ("met" if goals["resident_under_8MB"]["met"] else "**not met**"), ""),
    ]
    pc = call.get("codec_paced", {}).get("measure")
    # utime and stime apart are in the JSON, not here: the kernel charges each 10 ms tick
    # to one or the other by where it lands, and two identical clients waking every 20 ms
    # for a fraction of a millisecond came out at 25 % and 82 % in the kernel.
    rows.append(row("context switches per second (every thread)",
                    f"{a['context_switches_per_s']:.0f}", f"{b['context_switches_per_s']:.0f}",
                    f"{(a['context_switches_per_s'] + b['context_switches_per_s']) / 2:.0f}", "",
                    "one audio frame every 20 ms is 50/s"))
    if pc:
        rows.append(row("the codec alone, paced at 50 frames/s, same window (schedstat)", "",
                        "", pct(pc["cpu_of_one_core_schedstat"]), "",
                        f"opus_ref --paced: encode + decode of one frame every 20 ms; a "
                        f"client is {mean_cpu_ns / pc['cpu_of_one_core_schedstat']:.2f}× that; "
                        f"{pc['context_switches_per_s']:.0f} context switches/s"))
    if ref:
        rows.append(row("the codec alone, back to back (CLOCK_PROCESS_CPUTIME_ID)", "", "",
                        pct(ref["cpu_per_s"]), "",
                        f"opus_ref: encode {pct(ref['encode_cpu_per_s'])}, decode "
                        f"{pct(ref['decode_cpu_per_s'])} per second of audio, hot caches"))
    if cg and cg.get("instructions_per_s"):
        m = cg["measure"]
        inc = cg.get("inclusive_of", {})
        parts = [f"{k} {100 * v / cg['instructions']:.0f} %" for k, v in inc.items()]
        rows.append(row("user-space instructions per second of call (callgrind)",
                        f"{cg['instructions_per_s']:,}", "", "", "",
                        f"{cg['instructions_per_frame']:,} per 20 ms frame × 50 "
                        f"({cg['calls'].get('opus_encode')} frames encoded, "
                        f"{cg['calls'].get('opus_decode')} decoded in the window; "
                        f"by the window's {cg['window_s']} s ± {cg['window_uncertainty_s']} s: "
                        f"{cg['instructions_per_s_by_window']:,}/s); inclusive: "
                        f"{', '.join(parts)}; valgrind's process "
                        f"{pct(m['cpu_of_one_core_schedstat'])} busy"))
    rows.append(row("server CPU, of one core (same window)", "", "", pct(srv["cpu_of_one_core"]),
                    "", f"RSS {mb(srv['rss_kb_steady_mean'])}; forwards both streams"))

    def stats_line(n):
        s = call[n]["stats"]
        return (f"{n}: sent {s['audioPacketsSent']}, received {s['audioPacketsReceived']}, "
                f"decoded {s['framesDecoded']}, concealed {s['framesConcealed']}, late "
                f"{s['packetsLate']}, lost {s['packetsLost']}, NACKs {s['nackSent']}, rtt "
                f"{s['rttMs']} ms; heard {call[n]['heard']['want_hz']} Hz: "
                f"{'yes' if call[n]['heard']['ok'] else 'NO'} "
                f"({call[n]['heard']['want_over_other']}× the other tone's power)")

    md = [
        "# libcallwire client: latest results", "",
        f"{machine['date']}, commit {machine['commit']}, binary sha256 {sha}… "
        f"({machine['build_type']}); {machine['nproc']} CPUs ({machine['cpu']}), "
        f"{machine['memory_mb']} MB, Linux {machine['kernel']}; {machine['opus']}; "
        f"load average at the end: {' '.join(machine['load_average'])}.", "",
        f"A two-party audio call of {d} s through a local server; each client measured over "
        f"{w} s from {warmup:g} s after both joined. Included in a client's figures: Opus "
        f"encode (32 kb/s, complexity 5, in-band FEC) and decode of 50 frames/s, the tone "
        f"source, the jitter buffer, DTLS-SRTP, RTCP, ICE, the WebSocket to the server and "
        f"the WAV recording of what it hears. The video path (640x480/30) is not built in "
        f"the client: not measured.", "",
    ] + rows + ["", "Calls: " + "; ".join(stats_line(n) for n in ("alice", "bob")) + "."]
    if cg:
        s = cg["alice"].get("stats") or {}
        sb = cg["bob"].get("stats") or {}
        md += ["", f"Under callgrind (alice, {grind_duration:g} s call): alice sent "
               f"{s.get('audioPacketsSent')} (of {cg['expected_packets']} for the whole call), "
               f"decoded {s.get('framesDecoded')}, concealed {s.get('framesConcealed')}, late "
               f"{s.get('packetsLate')}; bob received {sb.get('audioPacketsReceived')} and "
               f"concealed {sb.get('framesConcealed')}; exit codes {cg['alice']['rc']} and "
               f"{cg['bob']['rc']}."]
    md += ["", "Commands:", "", "```"] + commands + ["```", ""]
    with open(os.path.join(results, "sdk.md"), "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    main()
