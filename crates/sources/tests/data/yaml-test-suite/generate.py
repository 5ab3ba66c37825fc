#!/usr/bin/env python3
"""Regenerates this directory from a clone of https://github.com/yaml/yaml-test-suite.

The suite's `data` branch holds one directory per case (`ID/` or `ID/NN/` for a test with
several cases) with the input `in.yaml` and, for inputs a parser must refuse, an `error`
file. This script writes every input as `valid/ID[-NN].yaml` or `invalid/ID[-NN].yaml`,
byte for byte, and records the commit it read in COMMIT.

Usage: generate.py CLONE [REF]   (REF defaults to `data`)
"""
import pathlib
import shutil
import subprocess
import sys


def git(clone, *args):
    return subprocess.run(["git", "-C", clone, *args], check=True, capture_output=True).stdout


def main():
    clone = sys.argv[1]
    ref = sys.argv[2] if len(sys.argv) > 2 else "data"
    here = pathlib.Path(__file__).resolve().parent
    commit = git(clone, "rev-parse", ref).decode().strip()
    names = git(clone, "ls-tree", "-r", "--name-only", ref).decode().split("\n")
    files = set(names)
    for kind in ("valid", "invalid"):
        shutil.rmtree(here / kind, ignore_errors=True)
        (here / kind).mkdir()
    counts = {"valid": 0, "invalid": 0}
    for name in sorted(files):
        if not name.endswith("/in.yaml"):
            continue
        case = name[: -len("/in.yaml")]
        kind = "invalid" if f"{case}/error" in files else "valid"
        data = git(clone, "show", f"{commit}:{name}")
        (here / kind / (case.replace("/", "-") + ".yaml")).write_bytes(data)
        counts[kind] += 1
    (here / "COMMIT").write_text(f"{commit}\n")
    print(f"{commit}: {counts['valid']} valid, {counts['invalid']} invalid")


if __name__ == "__main__":
    main()
