#!/usr/bin/env python3
"""Generates a synthetic monorepo for the `check` benchmark.

Usage: generate.py OUT_DIR [--dockerfiles 6000 --manifests 3000 --compose 500 --workflows 500
                            --bake 100 --kustomize 200 --charts 50 --gitlab 50]

Besides Dockerfiles, manifests, compose files and workflows, the tree holds the sources whose
meaning crosses files: bake files naming Dockerfiles with args and named contexts, compose
files with a `.env` and `build:` sections, kustomizations overriding images, Helm charts
(values, `Chart.yaml`, templates), a GitLab pipeline with local includes and `!reference`,
and workflow matrices.

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


def workflow_matrix(rng, i):
    versions = ", ".join(f'"{v}"' for v in ("3.19", "3.20", "3.21"))
    return f"""name: matrix-{i}
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        alpine: [{versions}]
        include:
          - alpine: edge
    container: alpine:${{{{ matrix.alpine }}}}
    steps:
      - run: true
"""


def compose_build(rng, i):
    return f"""services:
  app:
    build:
      context: ./app
      args:
        - BASE=${{BASE_IMAGE}}
      additional_contexts:
        tools: docker-image://{image(rng, i + 3)}
    image: ghcr.io/acme/app{i}:${{TAG}}
  db:
    image: postgres:${{PG_VERSION:-16}}
"""


def bake(rng, i):
    return f"""variable "REGISTRY" {{
  default = "ghcr.io/acme"
}}

target "base" {{
  context = "."
  contexts = {{
    src = "./src"
  }}
}}

target "app" {{
  inherits = ["base"]
  dockerfile = "Dockerfile"
  args = {{
    BASE = "${{REGISTRY}}/base:2.{i % 17}"
  }}
  contexts = {{
    certs = "docker-image://{image(rng, i + 5)}"
  }}
}}

target "variants" {{
  inherits = ["app"]
  matrix = {{
    flavor = ["slim", "full"]
  }}
  name = "variants-${{flavor}}"
  args = {{
    BASE = "${{REGISTRY}}/base:2.{i % 17}-${{flavor}}"
  }}
}}
"""


BAKE_DOCKERFILE = """ARG BASE=alpine:3.20
FROM $BASE
COPY --from=src / /src
COPY --from=certs /etc/ssl/certs /etc/ssl/certs
"""


def kustomization(rng, i):
    return f"""apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
images:
  - name: ghcr.io/acme/app{i}
    newTag: "1.{i % 9}"
  - name: busybox
    newName: {image(rng, i).split("@")[0].split(":")[0]}
    newTag: "1.36"
"""


def kustomize_resource(i):
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: app{i}
spec:
  template:
    spec:
      initContainers:
        - name: init
          image: busybox
      containers:
        - name: app
          image: ghcr.io/acme/app{i}:dev
"""


def chart(i):
    return {
        "Chart.yaml": f"apiVersion: v2\nname: app{i}\nversion: 0.1.{i}\nappVersion: \"2.{i % 7}.0\"\n",
        "values.yaml": f"""image:
  registry: ghcr.io
  repository: acme/app{i}
  tag: ""
  digest: ""
sidecar:
  image: busybox:1.36
metrics:
  exporterImage:
    registry: docker.io
    repository: prom/statsd-exporter
    tag: v0.26.0
""",
        "templates/deployment.yaml": """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  template:
    spec:
      containers:
        - name: app
          image: "{{ .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
""",
    }


def gitlab(rng, n):
    includes = "".join(f"  - local: ci/job{i}.yml\n" for i in range(n))
    root = f"""variables:
  REGISTRY: registry.example.com/acme
include:
{includes}
.base:
  image: {image(rng, 1)}
"""
    jobs = {}
    for i in range(n):
        jobs[f"ci/job{i}.yml"] = f"""variables:
  GO_VERSION: "1.2{i % 4}"
job{i}:
  image: !reference [.base, image]
  services:
    - name: $REGISTRY/db:{i % 5}
  script: [make]
go{i}:
  image: golang:$GO_VERSION
  script: [go test ./...]
"""
    return root, jobs


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
    ap.add_argument("--bake", type=int, default=100)
    ap.add_argument("--kustomize", type=int, default=200)
    ap.add_argument("--charts", type=int, default=50)
    ap.add_argument("--gitlab", type=int, default=50)
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
    for i in range(a.workflows // 10):
        write(f"{a.out}/.github/workflows/matrix{i}.yml", workflow_matrix(rng, i))
    for i in range(a.compose // 5):
        d = f"{a.out}/builds/b{i // 100}/build{i}"
        write(f"{d}/compose.yaml", compose_build(rng, i))
        write(f"{d}/.env", f"BASE_IMAGE={image(rng, i)}\nTAG=1.{i % 9}\n")
        write(f"{d}/app/Dockerfile", "ARG BASE\nFROM $BASE\nCOPY --from=tools /bin/tool /bin/\n")
    for i in range(a.bake):
        d = f"{a.out}/bake/k{i // 100}/bake{i}"
        write(f"{d}/docker-bake.hcl", bake(rng, i))
        write(f"{d}/Dockerfile", BAKE_DOCKERFILE)
    for i in range(a.kustomize):
        d = f"{a.out}/kustomize/k{i // 100}/app{i}"
        write(f"{d}/kustomization.yaml", kustomization(rng, i))
        write(f"{d}/deployment.yaml", kustomize_resource(i))
    for i in range(a.charts):
        for name, text in chart(i).items():
            write(f"{a.out}/charts/app{i}/{name}", text)
    if a.gitlab:
        root, jobs = gitlab(rng, a.gitlab)
        write(f"{a.out}/.gitlab-ci.yml", root)
        for name, text in jobs.items():
            write(f"{a.out}/{name}", text)
    with open(f"{a.out}/portcullis.toml", "w") as f:
        f.write('[images]\nallow = ["docker.io/library/{alpine,debian,golang,node,python}", '
                '"gcr.io/distroless/**", "cgr.dev/chainguard/**", "ghcr.io/acme/**", "docker.io/docker/dockerfile"]\n')


if __name__ == "__main__":
    main()
