#!/usr/bin/env python3
"""The driver of benches/pgbouncer-vs-python (run that script, not this file).

For each charm (the Rust pgbouncer-k8s binary, the Python ops port in
tests/python-pgbouncer) it runs the same ops-sim scenario:
- RUNS times with each hook's charm run through the measure launcher
  (benches/support/measure.c): per hook, the simulator's wall time and the
  charm process's own CPU time, peak RSS and write counters;
- once under strace -f: per hook, the hook tools the charm ran (successful
  execve by its children), its Pebble requests (HTTP request lines it wrote
  to a socket) and the bytes it wrote to regular files.
Then it prints one table per hook kind with both charms and the ratios.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

LEADER = "pgbouncer-k8s/0"
CLIENTS = [f"client-{chr(ord('a') + i // 26)}{chr(ord('a') + i % 26)}" for i in range(26 * 26)]


def scenario(charm_dir, port, user, password, units, clients, updates, backend_changes=3,
             configs=({"max_db_connections": 44}, {"pool_mode": "transaction"},
                      {"listen_port": 6433})):
    apps = {"postgresql": {"units": 1, "endpoints": {
        "database": {"role": "provides", "interface": "postgresql_client"}}}}
    for app in clients:
        apps[app] = {"units": 1, "endpoints": {
            "database": {"role": "requires", "interface": "postgresql_client"}}}
    steps = [{"deploy": {"units": min(units, 3)}}]
    steps += [{"add-unit": {}} for _ in range(units - min(units, 3))]
    steps.append({"relate": {"endpoint": "backend-database", "app": "postgresql",
                             "remote-endpoint": "database",
                             "app-data": {"endpoints": f"127.0.0.1:{port}", "username": user,
                                          "password": password, "database": "pgbouncer"}}})
    for app in clients:
        steps.append({"relate": {"endpoint": "database", "app": app, "remote-endpoint": "database",
                                 "app-data": {"database": f"bench_{app.replace('-', '_')}"}}})
    # The backend's app databag changes (as a PostgreSQL charm's does on a
    # failover): the leader checks its auth user and every client again.
    for n in range(backend_changes):
        steps.append({"set-remote-data": {"endpoint": "backend-database", "app": "postgresql",
                                          "data": {"read-only-endpoints": f"127.0.0.1:{port + 0}",
                                                   "version": f"15.{n}"}}})
    steps += [{"config": dict(c)} for c in configs]
    steps += [{"update-status": {}} for _ in range(updates)]
    return {"model": "bench", "charm": {"dir": str(charm_dir)}, "apps": apps, "steps": steps}


def kind(record):
    hook, unit = record["hook"], record["unit"]
    role = "leader" if unit == LEADER else "follower"
    if hook.startswith("pgb-peers-relation-") or hook.startswith("backend-database-relation-") \
            or hook.startswith("database-relation-"):
        return f"{hook} ({role})"
    return hook


def run_sim(args, charm, scenario_path, env, workdir):
    cmd = [args.sim, str(scenario_path), "--format", "json", "--hooks", "--workdir", str(workdir)]
    if charm["binary"]:
        cmd += ["--charm-binary", charm["binary"]]
    started = time.monotonic()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    total = time.monotonic() - started
    if out.returncode != 0:
        sys.exit(f"ops-sim failed for {charm['name']}: {out.stderr[-2000:]}")
    result = json.loads(out.stdout)
    FINAL[charm["name"]] = result
    return result["hooks"], total


# The last simulator report of each charm: the counting run's, compared at the end.
FINAL = {}


def masked(report):
    """The final model without what is random in each run (passwords, their md5 hashes and
    their SCRAM verifiers, whose salts are random)."""
    text = json.dumps({k: report[k] for k in ("units", "relations", "app_status")}, sort_keys=True)
    text = re.sub(r"md5[0-9a-f]{32}", "md5…", text)
    text = re.sub(r"SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+",
                  "SCRAM-SHA-256$…", text)
    text = re.sub(r'((?:password|relation_id_\d+)\\?": \\?")[A-Za-z0-9]{24}', r"\1…", text)
    text = re.sub(r":[A-Za-z0-9]{24}@", ":…@", text)
    return text


def differences(a, b, path="", limit=12):
    """Where two JSON values differ: up to `limit` (path, left, right), shortened."""
    out = []

    def walk(x, y, at):
        if len(out) >= limit or x == y:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y)):
                walk(x.get(k), y.get(k), f"{at}/{k}")
        elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            for i, (p, q) in enumerate(zip(x, y)):
                walk(p, q, f"{at}[{i}]")
        else:
            out.append((at, json.dumps(x)[:160], json.dumps(y)[:160]))

    walk(a, b, path)
    return out


def parse_strace(path):
    """Hook tools run, Pebble requests and bytes written to files, by the charm process."""
    tools, pebble, disk_bytes, files = Counter(), Counter(), 0, Counter()
    charm_pid, exec_pids = None, set()
    line_re = re.compile(r"^(\d+)\s+(\w+)\((.*)\)\s+=\s+(-?\d+)")
    unfinished = {}
    for line in path.read_text(errors="replace").splitlines():
        # strace -f splits a call that another process interrupts in two lines.
        start = re.match(r"^(\d+)\s+(.*) <unfinished \.\.\.>$", line)
        if start:
            unfinished[start[1]] = start[2]
            continue
        resumed = re.match(r"^(\d+)\s+<\.\.\. \w+ resumed>(.*)$", line)
        if resumed:
            line = f"{resumed[1]} {unfinished.pop(resumed[1], '')}{resumed[2]}"
        m = line_re.match(line)
        if not m:
            continue
        pid, call, argstr, ret = int(m[1]), m[2], m[3], int(m[4])
        if charm_pid is None:
            charm_pid = pid
            continue
        if call == "execve" and ret == 0 and pid != charm_pid:
            exec_pids.add(pid)
            tools[os.path.basename(argstr.split('"')[1])] += 1
            continue
        if pid in exec_pids or ret <= 0:
            continue
        fd = re.match(r"\d+<([^>]*)>", argstr)
        target = fd[1] if fd else ""
        if call in ("write", "writev", "sendto", "sendmsg") and ("UNIX" in target or "socket" in target):
            req = re.search(r'"(GET|POST|PUT|DELETE|PATCH) (/v1/[a-z/-]+)', argstr)
            if req:
                pebble[f"{req[1]} {req[2]}"] += 1
        elif call in ("write", "writev", "pwrite64", "pwritev", "pwritev2") \
                and target.startswith("/") and not target.startswith(("/dev/", "/proc/")):
            disk_bytes += ret
            files[target] += ret
    return tools, pebble, disk_bytes, files


def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def measure(args, charm, port, user, password, work):
    """Timing runs and one counting run of `charm`."""
    scen = work / f"{charm['name']}.yaml"
    scen.write_text(json.dumps(scenario(charm["dir"], port, user, password, args.units,
                                        CLIENTS[:args.clients], args.updates)))
    samples, totals = defaultdict(list), []
    for run in range(args.runs):
        out = work / f"{charm['name']}-measure-{run}.jsonl"
        env = dict(os.environ, BENCH_MEASURE_OUT=str(out))
        wd = work / f"{charm['name']}-wd-{run}"
        hooks, total = run_sim(args, charm, scen, env, wd)
        totals.append(total)
        shutil.rmtree(wd, ignore_errors=True)
        own = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
        if len(own) != len(hooks):
            sys.exit(f"{charm['name']}: {len(hooks)} hooks but {len(own)} measurements")
        for h, o in zip(hooks, own):
            if h["unit"] != o["unit"] or not o["hook"].endswith(h["hook"]):
                sys.exit(f"{charm['name']}: measurement {o} is not of hook {h}")
            samples[kind(h)].append({"wall_ms": h["duration_ms"], "exit": h["exit_code"],
                                     "cpu_ms": o["cpu_us"] / 1000,
                                     "own_wall_ms": o["own_wall_us"] / 1000,
                                     "rss_kib": o["hwm_kib"]})
        print(f"  {charm['name']} run {run + 1}/{args.runs}: {len(hooks)} hooks in {total:.1f} s",
              file=sys.stderr)
    # The counting run: the same scenario, each hook's charm under strace.
    traces = work / f"{charm['name']}-traces"
    traces.mkdir()
    env = dict(os.environ, BENCH_STRACE_DIR=str(traces))
    counting = dict(charm, binary=charm["strace_binary"], dir=charm["strace_dir"])
    scen2 = work / f"{charm['name']}-strace.yaml"
    scen2.write_text(json.dumps(scenario(counting["dir"], port, user, password, args.units,
                                         CLIENTS[:args.clients], args.updates)))
    hooks, _ = run_sim(args, counting, scen2, env, work / f"{charm['name']}-wd-strace")
    trace_files = sorted(traces.iterdir(), key=lambda p: int(p.name.split(".")[0]))
    if len(trace_files) != len(hooks):
        sys.exit(f"{charm['name']}: {len(hooks)} hooks but {len(trace_files)} traces")
    counts = defaultdict(list)
    for h, t in zip(hooks, trace_files):
        counts[kind(h)].append(parse_strace(t))
    return samples, counts, totals, hooks


def scale(args, charm, work):
    """One run of a bigger model: hooks run, total time, the charm's total CPU."""
    scen = work / f"{charm['name']}-scale.yaml"
    scen.write_text(json.dumps(scenario(charm["dir"], args.port, args.user, args.password,
                                        args.units, CLIENTS[:args.clients], 1, backend_changes=0,
                                        configs=({"max_db_connections": 44},))))
    out = work / f"{charm['name']}-scale.jsonl"
    env = dict(os.environ, BENCH_MEASURE_OUT=str(out))
    hooks, total = run_sim(args, charm, scen, env, work / f"{charm['name']}-scale-wd")
    own = [json.loads(line) for line in out.read_text().splitlines()]
    kinds = Counter(kind(h) for h in hooks)
    cpu = sum(o["cpu_us"] for o in own) / 1e6
    wall = sum(h["duration_ms"] for h in hooks) / 1000
    print(f"| {charm['name']} | {args.units} | {args.clients} | {len(hooks)} "
          f"| {sum(h['exit_code'] != 0 for h in hooks)} | {total:.1f} | {wall:.1f} | {cpu:.2f} "
          f"| {max(o['hwm_kib'] for o in own)} |")
    print("  hooks by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    sys.stdout.flush()


def summarize_counts(entries):
    """Mean per hook of each counter, over the counting run's hooks of one kind."""
    n = len(entries)
    tools, pebble, disk = Counter(), Counter(), 0
    zero_disk = 0
    for t, p, d, _ in entries:
        tools.update(t)
        pebble.update(p)
        disk += d
        zero_disk += d == 0
    return {"n": n, "tools": {k: v / n for k, v in tools.items()},
            "pebble": {k: v / n for k, v in pebble.items()},
            "tool_calls": sum(tools.values()) / n, "pebble_requests": sum(pebble.values()) / n,
            "disk_bytes": disk / n, "hooks_without_disk_writes": zero_disk}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", required=True)
    ap.add_argument("--rust-binary", required=True,
                    help="what the simulator links as the Rust charm's dispatch")
    ap.add_argument("--rust-dir", required=True)
    ap.add_argument("--python-dir", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--units", type=int, default=6)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--updates", type=int, default=3)
    ap.add_argument("--work", required=True)
    ap.add_argument("--json", help="also write every number here")
    ap.add_argument("--only", choices=["rust", "python"], help="measure one charm")
    ap.add_argument("--scale", action="store_true",
                    help="one run of a model with --units units and --clients clients")
    args = ap.parse_args()
    work = Path(args.work)
    rust = {"name": "rust", "dir": args.rust_dir, "binary": args.rust_binary,
            "strace_binary": str(work / "rust-strace-dispatch"), "strace_dir": args.rust_dir}
    python = {"name": "python", "dir": args.python_dir, "binary": None,
              "strace_binary": None, "strace_dir": str(work / "py-strace")}
    if args.scale:
        print("| charm | units | client relations | hooks | failed | scenario s | hook wall s "
              "| charm CPU s | peak RSS KiB |")
        print("|---|---|---|---|---|---|---|---|---|")
        for charm in (rust, python):
            if not args.only or charm["name"] == args.only:
                scale(args, charm, work)
        return
    # One unmeasured run first, so that every measured run of either charm
    # finds the same roles and databases in PostgreSQL (ALTER, not CREATE).
    warm = work / "warm-up.yaml"
    warm.write_text(json.dumps(scenario(rust["dir"], args.port, args.user, args.password,
                                        args.units, CLIENTS[:args.clients], args.updates)))
    run_sim(args, rust, warm, dict(os.environ), work / "warm-up-wd")
    results = {}
    for charm in (rust, python):
        if args.only and charm["name"] != args.only:
            continue
        print(f"measuring {charm['name']}...", file=sys.stderr)
        results[charm["name"]] = measure(args, charm, args.port, args.user, args.password, work)
    report(args, results)
    if len(results) == 2:
        same = masked(FINAL["rust"]) == masked(FINAL["python"])
        print("final model (units, statuses, container files, services, databags; passwords masked): "
              + ("identical for both charms" if same else "DIFFERENT between the charms"))
        if not same:
            for at, r, p in differences(json.loads(masked(FINAL["rust"])),
                                        json.loads(masked(FINAL["python"]))):
                print(f"  {at}: rust {r}, python {p}")


def fmt(x, digits=1):
    return "-" if x is None or x != x else f"{x:.{digits}f}"


def report(args, results):
    for samples, counts, _, _ in results.values():
        samples["(all hooks)"] = [x for k, v in list(samples.items()) for x in v]
        counts["(all hooks)"] = [x for k, v in list(counts.items()) for x in v]
    kinds = sorted({k for r in results.values() for k in r[0]})
    table, data = [], {}
    for k in kinds:
        row = {"kind": k}
        for name, (samples, counts, _, _) in results.items():
            s = samples.get(k, [])
            c = summarize_counts(counts[k]) if counts.get(k) else None
            row[name] = {
                "n": len(s), "failed": sum(x["exit"] != 0 for x in s),
                "wall_median": pct([x["wall_ms"] for x in s], 0.5),
                "wall_p90": pct([x["wall_ms"] for x in s], 0.9),
                "cpu_median": pct([x["cpu_ms"] for x in s], 0.5),
                "cpu_p90": pct([x["cpu_ms"] for x in s], 0.9),
                "own_wall_median": pct([x["own_wall_ms"] for x in s], 0.5),
                "rss_median": pct([x["rss_kib"] for x in s], 0.5),
                "rss_max": max((x["rss_kib"] for x in s), default=float("nan")),
                "counts": c,
            }
        data[k] = row
        table.append(row)
    names = list(results)
    print()
    print("| hook kind | charm | n | wall median ms | wall p90 ms | own CPU median ms | own CPU p90 ms "
          "| peak RSS median KiB | peak RSS max KiB | hook-tool calls | Pebble requests | bytes to disk |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in table:
        for name in names:
            r = row[name]
            c = r["counts"] or {}
            print(f"| {row['kind']} | {name} | {r['n']}{' (' + str(r['failed']) + ' failed)' if r['failed'] else ''} "
                  f"| {fmt(r['wall_median'])} | {fmt(r['wall_p90'])} | {fmt(r['cpu_median'], 2)} "
                  f"| {fmt(r['cpu_p90'], 2)} | {fmt(r['rss_median'], 0)} | {r['rss_max']} | {fmt(c.get('tool_calls'))} "
                  f"| {fmt(c.get('pebble_requests'))} | {fmt(c.get('disk_bytes'), 0)} |")
        if len(names) == 2:
            a, b = row["rust"], row["python"]
            ratio = lambda x, y: fmt(x / y, 3) if x == x and y == y and y else "-"  # noqa: E731
            ca, cb = a["counts"] or {}, b["counts"] or {}
            print(f"| {row['kind']} | rust/python | | {ratio(a['wall_median'], b['wall_median'])} "
                  f"| {ratio(a['wall_p90'], b['wall_p90'])} | {ratio(a['cpu_median'], b['cpu_median'])} "
                  f"| {ratio(a['cpu_p90'], b['cpu_p90'])} | {ratio(a['rss_median'], b['rss_median'])} "
                  f"| {ratio(a['rss_max'], b['rss_max'])} "
                  f"| {ratio(ca.get('tool_calls', float('nan')), cb.get('tool_calls', float('nan')))} "
                  f"| {ratio(ca.get('pebble_requests', float('nan')), cb.get('pebble_requests', float('nan')))} | |")
    print()
    print("Hook-tool calls and Pebble requests per hook (mean over the counting run's hooks of that kind):")
    for row in table:
        for name in names:
            c = row[name]["counts"]
            if not c:
                continue
            tools = ", ".join(f"{t} {v:.1f}" for t, v in sorted(c["tools"].items()))
            pebble = ", ".join(f"{t} {v:.1f}" for t, v in sorted(c["pebble"].items()))
            print(f"- {row['kind']}, {name} (n={c['n']}, {c['hooks_without_disk_writes']} with no disk write): "
                  f"tools: {tools or 'none'}; pebble: {pebble or 'none'}")
    print()
    for name, (_, counts, totals, hooks) in results.items():
        files = Counter()
        for entries in counts.values():
            for _, _, _, f in entries:
                files.update(f)
        where = Counter(re.sub(r"[^/]*$", "*", path) for path in files)
        print(f"{name}: {len(hooks)} hooks per run; scenario wall time per run: median "
              f"{statistics.median(totals):.1f} s over {len(totals)} runs; in the counting run the charm "
              f"wrote {sum(files.values())} bytes to {len(files)} files "
              f"({', '.join(f'{n} in {w}' for w, n in where.items()) or 'none'})")
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1, default=str))


if __name__ == "__main__":
    main()
