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
