#!/usr/bin/env python3
"""Writes a Trivy JSON report of about SIZE_MB megabytes by repeating the vulnerability
entries of a real Trivy report (the centos-7 fixture from Trivy's own test suite), each copy
with a numbered id so that no two entries merge.

Usage: generate.py TEMPLATE OUT [SIZE_MB]
"""
import copy
import json
import sys

template, out = sys.argv[1], sys.argv[2]
size = int(sys.argv[3]) if len(sys.argv) > 3 else 50
doc = json.load(open(template))
entries = [v for r in doc.get("Results", []) for v in (r.get("Vulnerabilities") or [])]
one = len(json.dumps(entries[0]))
per_entry = sum(len(json.dumps(e)) for e in entries) / len(entries)
count = int(size * 1024 * 1024 / per_entry)
vulns = []
for i in range(count):
    e = copy.deepcopy(entries[i % len(entries)])
    e["VulnerabilityID"] = f"CVE-2099-{i:07d}"
    vulns.append(e)
result = copy.deepcopy(doc["Results"][0])
result["Vulnerabilities"] = vulns
doc["Results"] = [result]
with open(out, "w") as f:
    json.dump(doc, f)
print(f"{out}: {count} findings")
