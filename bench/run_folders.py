"""What the benches that score trained runs share: finding finished run folders, and keeping a
record of scored runs in a JSON file of the repository."""

import glob
import json
import os
import pathlib
import sys

from fcnseg import files


def finished_runs(patterns):
    """The run folders that the glob `patterns` name, sorted; ends the bench with a one-line error
    if a pattern matches nothing or a folder holds no finished run (no metrics.json)."""
    folders = sorted(folder for pattern in patterns for folder in glob.glob(pattern))
    missing = [pattern for pattern in patterns if not glob.glob(pattern)]
    if missing:
        sys.exit(f"error: --runs {', '.join(missing)} matches no folder.")
    unfinished = [folder for folder in folders if not os.path.isfile(os.path.join(folder, "metrics.json"))]
    if unfinished:
        sys.exit(f"error: --runs {', '.join(unfinished)} holds no finished run (no metrics.json).")
    return folders


def merged_records(path, new_rows, key):
    """The records of the JSON file `path` with `new_rows` merged in, each replacing the records of
    the same `key(row)`, sorted by key; written back (atomically) when there are new rows."""
    path = pathlib.Path(path)
    rows = json.loads(path.read_text()) if path.is_file() else []
    replaced = {key(row) for row in new_rows}
    rows = sorted([row for row in rows if key(row) not in replaced] + new_rows, key=key)
    if new_rows:
        path.parent.mkdir(parents=True, exist_ok=True)
        files.write_text(path, json.dumps(rows, indent=2) + "\n")
    return rows
