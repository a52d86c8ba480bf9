#!/usr/bin/python3
"""Where mflowd's CPU goes, from a perf profile of the daemons.

    perf record -F 2000 -g -p PID_A,PID_B -o perf.data -- sleep 5
    /usr/bin/python3 scripts/testbed/perf_breakdown.py perf.data [--per-64k-us US]

Reads `perf report --sort sym` (self time) and sorts every symbol into one of:
copies (the kernel's copy_{to,from}_iter and memcpy: the bytes crossing into and
out of the kernel), wake-ups and scheduling (context switches, wake-ups,
futex/epoll sleeps), kernel network stack and system calls (everything else in
the kernel), mflow's own processing (user space), and its checksums (user
space). With --per-64k-us (mflowd's CPU microseconds per 64 KiB delivered, e.g.
the testbed's `mflowd` CPU s/GB x 65.536) each share is also given in
microseconds per 64 KiB.
"""

import argparse
import re
import subprocess
import sys

SCHED = ("finish_task_switch", "_raw_spin_unlock_irqrestore", "schedule", "try_to_wake_up",
         "futex", "ep_poll", "pv_native_safe_halt", "native_write_msr", "irqentry_exit",
         "pv_queued_spin_unlock", "__switch_to", "pick_next", "dequeue_", "enqueue_")
COPY = ("_copy_to_iter", "_copy_from_iter", "memcpy", "memmove", "copy_user")


def category(kind: str, sym: str) -> str:
    if any(k in sym for k in COPY):
        return "copies"
    if kind == "k" and any(k in sym for k in SCHED):
        return "wake-ups and scheduling"
    if "Checksum" in sym:
        return "checksums (user space)"
    if kind == ".":
        return "mflow processing (user space)"
    return "kernel network stack and system calls"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("perf_data")
    ap.add_argument("--per-64k-us", type=float, default=0.0)
    args = ap.parse_args()
    out = subprocess.run(["perf", "report", "-i", args.perf_data, "--no-children", "--sort", "sym",
                          "--stdio", "-g", "none"], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        return 1
    shares: dict[str, float] = {}
    for line in out.stdout.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+\[(.)\]\s+(.*)", line)
        if m:
            c = category(m.group(2), m.group(3).strip())
            shares[c] = shares.get(c, 0.0) + float(m.group(1))
    total = sum(shares.values()) or 1.0
    for c, v in sorted(shares.items(), key=lambda kv: -kv[1]):
        us = f"  {args.per_64k_us * v / total:6.1f} us per 64 KiB" if args.per_64k_us else ""
        print(f"{c:40s} {100 * v / total:5.1f} %{us}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
