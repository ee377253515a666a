"""Running several commands at once: a command-line check spends most of its seconds
importing TensorFlow on one core, so two cores run a batch of them in half the time."""

import subprocess


def run_together(commands, timeout=600, env=None):
    """Starts every command at once; returns their `subprocess.CompletedProcess`es (text
    stdout and stderr), in order, once all have ended."""
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for command in commands
    ]
    results = []
    try:
        for command, process in zip(commands, processes):
            stdout, stderr = process.communicate(timeout=timeout)
            results.append(subprocess.CompletedProcess(command, process.returncode, stdout, stderr))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return results
