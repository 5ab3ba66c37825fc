#!/usr/bin/env python3
"""Seeds a Distribution registry for benches/mirror: COUNT two-platform images (an OCI
index over linux/amd64 and linux/arm64), each platform one gzip layer of LAYER_MB
megabytes of random bytes, as REPO:1.0 … REPO:1.(COUNT-1). With --big MB, one single-platform image
REPO-big:1.0 whose one layer is MB megabytes, uploaded from a file (never in memory).
Usage: seed.py URL REPO COUNT LAYER_MB [--big MB --file PATH]"""
import gzip
import hashlib
import http.client
import json
import os
import sys
import urllib.parse

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def connect(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=600)


def push_blob(url, repo, data=None, path=None):
    h = hashlib.sha256()
    if path:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        size = os.path.getsize(path)
    else:
        h.update(data)
        size = len(data)
    digest = "sha256:" + h.hexdigest()
    c = connect(url)
    c.request("HEAD", f"/v2/{repo}/blobs/{digest}")
    r = c.getresponse(); r.read()
    if r.status == 200:
        return digest, size
    c.request("POST", f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
    r = c.getresponse(); r.read()
    assert r.status == 202, r.status
    loc = r.getheader("Location")
    loc = urllib.parse.urlsplit(loc)
    target = loc.path + "?" + (loc.query + "&" if loc.query else "") + "digest=" + digest
    body = open(path, "rb") if path else data
    c = connect(url)
    c.request("PUT", target, body=body, headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"})
    r = c.getresponse(); r.read()
    assert r.status == 201, (r.status, digest)
    return digest, size


def push_manifest(url, repo, ref, media_type, doc):
    data = json.dumps(doc).encode()
    c = connect(url)
    c.request("PUT", f"/v2/{repo}/manifests/{ref}", body=data, headers={"Content-Type": media_type})
    r = c.getresponse(); r.read()
    assert r.status == 201, (r.status, ref)
    return "sha256:" + hashlib.sha256(data).hexdigest(), len(data)


def image(url, repo, os_, arch, layer):
    ld, ls = layer
    config = json.dumps({"architecture": arch, "os": os_, "rootfs": {"type": "layers", "diff_ids": [ld]}}).encode()
    cd, cs = push_blob(url, repo, config)
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": OCI_CONFIG, "digest": cd, "size": cs},
           "layers": [{"mediaType": OCI_LAYER, "digest": ld, "size": ls}]}
    return doc


def main():
    url, repo, count, layer_mb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if "--big" in sys.argv:
        path = sys.argv[sys.argv.index("--file") + 1]
        layer = push_blob(url, repo + "-big", path=path)
        doc = image(url, repo + "-big", "linux", "amd64", layer)
        push_manifest(url, repo + "-big", "1.0", OCI_MANIFEST, doc)
        return
    for i in range(count):
        children = []
        for arch in ("amd64", "arm64"):
            # Really gzip (of random bytes, so about as large): a copier that looks at the
            # bytes finds them compressed as the media type says, and keeps them as they are.
            layer = push_blob(url, repo, gzip.compress(os.urandom(layer_mb * 1000 * 1000), 1))
            doc = image(url, repo, "linux", arch, layer)
            d, s = push_manifest(url, repo, "sha256:" + hashlib.sha256(json.dumps(doc).encode()).hexdigest(), OCI_MANIFEST, doc)
            children.append({"mediaType": OCI_MANIFEST, "digest": d, "size": s,
                             "platform": {"os": "linux", "architecture": arch}})
        push_manifest(url, repo, f"1.{i}", OCI_INDEX, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children})


main()
