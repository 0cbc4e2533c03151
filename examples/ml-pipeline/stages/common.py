"""Helpers the stages share: the step's params (batch passes them as BATCH_PARAMS, JSON)."""
import json
import os


def params():
    return json.loads(os.environ.get("BATCH_PARAMS", "{}"))


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(value, f, indent=1, sort_keys=True)
        f.write("\n")
