#!/usr/bin/env python3
"""Generates a synthetic monorepo for the `check` benchmark.

Usage: generate.py OUT_DIR [--dockerfiles 6000 --manifests 3000 --compose 500 --workflows 500]

Deterministic (seeded): the same arguments always give the same tree.
"""
import argparse
import hashlib
import os
import random

BASES = [
    "alpine:3.20", "debian:bookworm-slim", "golang:1.23-alpine", "node:22-alpine",
    "python:3.12-slim", "gcr.io/distroless/static-debian12:nonroot",
    "cgr.dev/chainguard/static:latest", "ghcr.io/acme/base:2.{n}", "ubuntu:24.04", "nginx",
]


def digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def image(rng: random.Random, i: int) -> str:
    base = rng.choice(BASES).format(n=i % 17)
    if rng.random() < 0.5:
        base += "@" + digest(base + str(i % 97))
    return base


def dockerfile(rng, i):
    lines = [f"# syntax=docker/dockerfile:1.7@{digest('syntax')}", f"# service {i}", "ARG VERSION=1.0"]
    for stage in range(rng.randint(1, 3)):
        lines.append(f"FROM --platform=$BUILDPLATFORM {image(rng, i + stage)} AS stage{stage}")
        lines.append("WORKDIR /src")
        lines.append("COPY . .")
        lines.append("RUN --mount=type=cache,target=/root/.cache \\\n    make build VERSION=$VERSION")
        if stage:
            lines.append(f"COPY --from=stage{stage - 1} /out /out")
    lines.append(f"COPY --from={image(rng, i + 7)} /etc/ssl/certs /etc/ssl/certs")
    lines.append('ENTRYPOINT ["/out/app"]')
    return "\n".join(lines) + "\n"


def manifest(rng, i):
    docs = []
    for d in range(rng.randint(1, 3)):
        docs.append(f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}-{d}
  labels: {{ app: app-{i} }}
spec:
  replicas: 2
  template:
    spec:
      initContainers:
        - name: init
          image: {image(rng, i + d)}
      containers:
        - name: app
          image: "{image(rng, i + d + 1)}"
          args: ["--port", "8080"]
        - name: sidecar
          image: {image(rng, i + d + 2)}
""")
    return "---\n".join(docs)


def compose(rng, i):
    services = "".join(
        f"  svc{s}:\n    image: {image(rng, i + s)}\n    restart: always\n" for s in range(rng.randint(2, 5))
    )
    return f"services:\n{services}"


def workflow(rng, i):
    return f"""name: ci-{i}
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    container:
      image: {image(rng, i)}
    services:
      db:
        image: {image(rng, i + 1)}
    steps:
      - uses: docker://{image(rng, i + 2)}
"""


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--dockerfiles", type=int, default=6000)
    ap.add_argument("--manifests", type=int, default=3000)
    ap.add_argument("--compose", type=int, default=500)
    ap.add_argument("--workflows", type=int, default=500)
    a = ap.parse_args()
    rng = random.Random(42)
    for i in range(a.dockerfiles):
        write(f"{a.out}/services/s{i // 100}/svc{i}/Dockerfile", dockerfile(rng, i))
    for i in range(a.manifests):
        write(f"{a.out}/deploy/d{i // 100}/app{i}.yaml", manifest(rng, i))
    for i in range(a.compose):
        write(f"{a.out}/stacks/st{i // 100}/stack{i}/compose.yaml", compose(rng, i))
    for i in range(a.workflows):
        write(f"{a.out}/.github/workflows/ci{i}.yml", workflow(rng, i))
    with open(f"{a.out}/portcullis.toml", "w") as f:
        f.write('[images]\nallow = ["docker.io/library/{alpine,debian,golang,node,python}", '
                '"gcr.io/distroless/**", "cgr.dev/chainguard/**", "ghcr.io/acme/**", "docker.io/docker/dockerfile"]\n')


if __name__ == "__main__":
    main()
