#!/usr/bin/env python3
"""The baseline of `hvguard fleet report` in docs/benchmarks.md: a plain Python loop that
json.load()s every *.json file under a folder and counts nodes by their worst finding (the
least a fleet summary does). Usage: python3 python_json_load.py FOLDER"""

import json
import os
import sys

ORDER = ["critical", "high", "medium", "low", "info"]


def main(folder):
    worst = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            if not name.endswith(".json"):
                continue
            with open(os.path.join(root, name), "rb") as handle:
                doc = json.load(handle)
            if doc.get("schema") != "hvguard.report/v1":
                continue
            seen = {f["severity"] for f in doc.get("findings", [])}
            bucket = next((s for s in ORDER if s in seen), "none")
            worst[bucket] = worst.get(bucket, 0) + 1
    print(json.dumps(worst, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
