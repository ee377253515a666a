"""The machine a benchmark ran on, for its report."""

import os
import platform
import threading


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, or what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def peak_memory_added(function):
    """(function's result, GB by which the process's resident memory peaked above its level
    at the call), the memory sampled every 50 ms on a thread."""
    page = os.sysconf("SC_PAGE_SIZE")

    def resident():
        with open("/proc/self/statm") as file:
            return int(file.read().split()[1]) * page

    start = peak = resident()
    done = threading.Event()

    def watch():
        nonlocal peak
        while not done.wait(0.05):
            peak = max(peak, resident())

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = function()
    finally:
        done.set()
        watcher.join()
    return result, (max(peak, resident()) - start) / 1e9


def cpu_seconds_by_cpu():
    """[busy CPU seconds since boot of each CPU], every process and the kernel: user, nice,
    system, irq and softirq time from /proc/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = []
    with open("/proc/stat") as file:
        for line in file:
            name, *values = line.split()
            if name.startswith("cpu") and name != "cpu":
                user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in values[:7])
                seconds.append((user + nice + system + irq + softirq) / ticks)
    return seconds
