"""Documents cannot drift: every `python -m fcnseg.*` command in the repository's Markdown parses.

Each command's flags are parsed by its own module's absl flags, as `--only_check_args` does
(flagfiles read, unknown flags, bad values, validators and required flags refused), one
process per command module. What this cannot catch: what the commands check only once they
run (a missing file or folder, a model of other classes, flags that do not go together, which
the library refuses when it builds its config), commands written other than as
`python -m fcnseg.<command>`, and what a command prints or writes.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest
from documented_commands import documented_commands

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
# Imports the command's module (which defines its flags) and parses each argument list.
CHECKER = """
import importlib, json, sys
from absl import app, flags
importlib.import_module(sys.argv[1])
app.define_help_flags()  # as app.run does: --help, --helpshort, --helpfull
results = []
for arguments in json.loads(sys.stdin.read()):
    flags.FLAGS.unparse_flags()
    try:
        flags.FLAGS([sys.argv[1], *arguments])
        results.append(None)
    except flags.Error as error:
        results.append(str(error).splitlines()[0])
    except SystemExit:  # --helpshort and the like print the help and exit
        results.append(None if any(a.startswith("--help") for a in arguments) else "exited while parsing")
print(json.dumps(results))
"""


def parse_errors(commands):
    """(command, error) for each command whose flags its module refuses."""
    by_module = {}
    for command in commands:
        by_module.setdefault(command.module, []).append(command)
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    checks = {
        module: subprocess.Popen(
            [sys.executable, "-c", CHECKER, module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPOSITORY,
            env=environment,
        )
        for module in by_module
    }
    errors = []
    for module, process in checks.items():
        stdout, stderr = process.communicate(json.dumps([list(c.arguments) for c in by_module[module]]), timeout=600)
        assert process.returncode == 0, f"{module}: {stderr[-2000:]}"
        errors += [(c, e) for c, e in zip(by_module[module], json.loads(stdout.splitlines()[-1])) if e]
    return errors


@pytest.mark.slow
def test_every_documented_command_parses():
    commands = documented_commands(REPOSITORY)
    modules = {command.module for command in commands}
    assert {"fcnseg.train", "fcnseg.evaluate", "fcnseg.predict", "fcnseg.export", "fcnseg.convert"} <= modules
    assert len(commands) > 40
    errors = parse_errors(commands)
    assert not errors, "\n".join(f"{command}\n    {error}" for command, error in errors)


@pytest.mark.slow
def test_a_renamed_flag_or_a_bad_value_fails(tmp_path):
    (tmp_path / "guide.md").write_text(
        "Train with\n\n```bash\npython -m fcnseg.evaluate --model=m.keras --dataset=camvid \\\n"
        "    --splitt=val\n```\n\nor `python -m fcnseg.evaluate\n--model=m.keras --flagfile=configs/quickstart.flags "
        "--batch_size=two`.\n"
    )
    commands = documented_commands(tmp_path)
    assert [command.line for command in commands] == [4, 8]
    errors = [error for _, error in parse_errors(commands)]
    assert len(errors) == 2
    assert "splitt" in errors[0]
    assert "batch_size" in errors[1]
