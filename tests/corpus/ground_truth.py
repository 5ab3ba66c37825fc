#!/usr/bin/env python3
"""Independent ground truth for the corpus: every image reference per file.

Written apart from portcullis's parsers, following what the real tools do:
BuildKit for Dockerfiles (global ARGs, platform ARGs for linux/amd64 and linux/arm64,
stage names, named contexts), docker compose (interpolation with the `.env` beside the
compose file, build args), kustomize (`images:` overrides applied down from each top-level
kustomization), Helm (values image maps, an empty tag is the chart's appVersion), GitHub
Actions (job containers, services, `docker://` steps, matrix expansion) and GitLab CI
(`extends`, `!reference`, anchors, global and job variables, local includes; only
`.gitlab-ci.yml`, `*.gitlab-ci.yml` and locally included files are GitLab CI).

Usage: python3 tests/corpus/ground_truth.py > tests/corpus/expected.json

Each entry: file (relative to the repository directory), line (1-based, where the text that
decides the image is written), written (the text as written), image (normalized effective
image, or null when a variable without a value decides it) and source (which rule found it).
OVERRIDES at the end holds per-entry corrections found by reading the files, each with why.
"""

import glob
import itertools
import json
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
PLATFORMS = [("linux", "amd64", ""), ("linux", "arm64", "")]

# --------------------------------------------------------------------------- references

REF_RE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?"
    r"(?:@sha(?:256:[0-9a-f]{64}|512:[0-9a-f]{128}))?$"
)


def normalize(ref):
    """Docker's normalization: nginx -> docker.io/library/nginx (tag and digest kept)."""
    digest = ""
    if "@" in ref:
        ref, digest = ref.split("@", 1)
        digest = "@" + digest
    name, tag = ref, ""
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        name, tag = ref[:colon], ref[colon:]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host = first.lower()
        if host in ("index.docker.io", "registry-1.docker.io"):
            host = "docker.io"
        path = rest
    else:
        host, path = "docker.io", name
    if host == "docker.io" and "/" not in path:
        path = "library/" + path
    return f"{host}/{path}{tag}{digest}"


def is_ref(text):
    return bool(text) and REF_RE.match(text) is not None


# --------------------------------------------------------------------------- variables

VAR_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


class Unresolved(Exception):
    pass


def expand(text, env, empty_ok=False):
    """Shell-style expansion as BuildKit and compose do; a variable without a value that
    decides the reference raises Unresolved (portcullis reports it as unresolved)."""

    def sub(m):
        name = m.group(1) or m.group(4)
        op, word = m.group(2), m.group(3)
        val = env.get(name)
        if op in (":-", "-"):
            if val is None or (op == ":-" and val == ""):
                return expand(word, env, empty_ok)
            return val
        if op in (":+", "+"):
            if val is None or (op == ":+" and val == ""):
                return ""
            return expand(word, env, empty_ok)
        if op in (":?", "?"):
            if val is None or (op == ":?" and val == ""):
                raise Unresolved(name)
            return val
        if val is None:
            if empty_ok:
                return ""
            raise Unresolved(name)
        return val

    text = text.replace("$$", "\0")
    return VAR_RE.sub(sub, text).replace("\0", "$")


# --------------------------------------------------------------------------- output

ENTRIES = []


def add(file, line, written, image, source):
    ENTRIES.append(
        {"file": file, "line": line, "written": written, "image": image, "source": source}
    )


def add_ref(file, line, written, value, source):
    """value: expanded text, or None when unresolved."""
    if value is None:
        add(file, line, written, None, source)
    elif is_ref(value):
        add(file, line, written, normalize(value), source)
    else:
        add(file, line, written, "INVALID:" + value, source)


# --------------------------------------------------------------------------- Dockerfile


def dockerfile_instructions(text):
    """(line, keyword, rest) for each instruction; parser directives and heredocs handled."""
    lines = text.split("\n")
    escape = "\\"
    syntax = None
    for i, l in enumerate(lines):
        m = re.match(r"^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$", l)
        if not m:
            break
        if m.group(1).lower() == "escape":
            escape = m.group(2)
        if m.group(1).lower() == "syntax":
            syntax = (i + 1, m.group(2))
    out = []
    i = 0
    while i < len(lines):
        l = lines[i]
        if not l.strip() or l.lstrip().startswith("#"):
            i += 1
            continue
        start = i
        buf = l
        segs = [(i + 1, l)]
        while buf.rstrip().endswith(escape) and i + 1 < len(lines):
            buf = buf.rstrip()[: -len(escape)]
            i += 1
            nxt = lines[i]
            while nxt.lstrip().startswith("#") and i + 1 < len(lines):
                i += 1
                nxt = lines[i]
            buf += " " + nxt
            segs.append((i + 1, nxt))
        parts = buf.strip().split(None, 1)
        kw = parts[0].upper()
        rest = parts[1] if len(parts) > 1 else ""

        def where(token, segs=segs, kw=kw):
            # The physical line holding the token (the first after the keyword).
            for n, (ln, text) in enumerate(segs):
                body = text.split(None, 1)[1] if n == 0 and len(text.split(None, 1)) > 1 else ("" if n == 0 else text)
                if token in body:
                    return ln
            return segs[0][0]

        out.append((where, kw, rest))
        for tag in re.findall(r"<<-?[\"']?([A-Za-z_]+)[\"']?", rest) if kw in ("RUN", "COPY", "ADD") else []:
            i += 1
            while i < len(lines) and lines[i].strip() != tag:
                i += 1
        i += 1
    return syntax, out


def platform_envs():
    for os_, arch, var in PLATFORMS:
        plat = f"{os_}/{arch}" + (f"/{var}" if var else "")
        env = {
            "TARGETOS": os_, "TARGETARCH": arch, "TARGETVARIANT": var, "TARGETPLATFORM": plat,
            "BUILDOS": "linux", "BUILDARCH": "amd64", "BUILDVARIANT": "",
            "BUILDPLATFORM": "linux/amd64",
        }
        yield env


AUTO = set(next(platform_envs()).keys())


def parse_arg(rest):
    out = []
    for tok in rest.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            out.append((k, v.strip("\"'")))
        else:
            out.append((tok, None))
    return out


def dockerfile(path, file, builds):
    """builds: list of (args dict, contexts dict); one empty build when nothing defines one."""
    text = open(path, encoding="utf-8", errors="replace").read()
    syntax, instrs = dockerfile_instructions(text)
    if syntax:
        add_ref(file, syntax[0], syntax[1], syntax[1], "dockerfile-syntax")
    found = {}
    for build_args, contexts in builds or [({}, {})]:
        for penv in platform_envs():
            global_env = {}
            stages = set()
            stage_env = None
            in_stage = False
            for where, kw, rest in instrs:
                if kw == "ARG":
                    for k, v in parse_arg(rest):
                        target = stage_env if in_stage else global_env
                        if k in build_args:
                            v = build_args[k]
                        elif v is not None:
                            try:
                                v = expand(v, target, empty_ok=True)
                            except Unresolved:
                                v = None
                        if in_stage:
                            if v is None and k in global_env:
                                v = global_env[k]
                            if v is None and k in AUTO:
                                v = penv[k]
                        target[k] = v
                elif kw == "FROM":
                    toks = rest.split()
                    toks = [t for t in toks if not t.startswith("--")]
                    written = toks[0]
                    name = toks[2].lower() if len(toks) >= 3 and toks[1].lower() == "as" else None
                    env = dict(penv)
                    env.update(global_env)
                    val = resolve(written, env)
                    record(found, file, where(written), written, val, stages, contexts, "dockerfile-from")
                    if name:
                        stages.add(name)
                    in_stage = True
                    stage_env = dict(penv) if False else {}
                elif kw in ("COPY", "ADD", "RUN"):
                    for flag in re.findall(r"--(?:from|mount)=(\S+)", rest):
                        if kw == "RUN":
                            if not flag.startswith(("type=", "from=")) and "from=" not in flag:
                                continue
                            opts = dict(
                                o.split("=", 1) for o in flag.split(",") if "=" in o
                            )
                            if "from" not in opts:
                                continue
                            written = opts["from"]
                            ctx = "dockerfile-run-mount"
                        else:
                            if not rest.startswith("--from") and f"--from={flag}" not in rest:
                                continue
                            written = flag
                            ctx = "dockerfile-copy-from"
                        if written.isdigit():
                            continue
                        val = resolve(written, stage_env or {})
                        record(found, file, where("from=" + written), written, val, stages, contexts, ctx)
    for (line, written, val, ctx) in found:
        add_ref(file, line, written, val, ctx)


def resolve(written, env):
    try:
        return expand(written, env)
    except Unresolved:
        return None


def record(found, file, line, written, val, stages, contexts, ctx):
    if val is not None:
        low = val.lower()
        if low == "scratch" or low in stages:
            return
        if val in contexts:
            c = contexts[val]
            if c.startswith("docker-image://"):
                val = c[len("docker-image://"):]
            else:
                return
    found[(line, written, val, ctx)] = True


# --------------------------------------------------------------------------- YAML helpers


def load_nodes(path):
    text = open(path, encoding="utf-8").read()
    loader = yaml.SafeLoader
    return list(yaml.compose_all(text, Loader=GitlabLoader))


class GitlabLoader(yaml.SafeLoader):
    pass


def _ref_ctor(loader, node):
    return node


GitlabLoader.add_constructor("!reference", _ref_ctor)


def line_of(node):
    return node.start_mark.line + 1


def mget(node, key):
    if isinstance(node, yaml.MappingNode):
        for k, v in merged_items(node):
            if k.value == key:
                return v
    return None


def merged_items(node):
    items = []
    for k, v in node.value:
        if k.tag == "tag:yaml.org,2002:merge" or (k.value == "<<" and k.tag.endswith("merge")):
            srcs = v.value if isinstance(v, yaml.SequenceNode) else [v]
            for s in srcs:
                items.extend(merged_items(s))
        else:
            items = [(a, b) for a, b in items if a.value != k.value]
            items.append((k, v))
    return items


def plain(node):
    """A composed node to plain Python (strings stay strings)."""
    if isinstance(node, yaml.ScalarNode):
        return node.value
    if isinstance(node, yaml.SequenceNode):
        return [plain(n) for n in node.value]
    if isinstance(node, yaml.MappingNode):
        return {k.value: plain(v) for k, v in merged_items(node)}
    return None


def is_scalar(n):
    return isinstance(n, yaml.ScalarNode) and n.tag == "tag:yaml.org,2002:str"


# --------------------------------------------------------------------------- compose


def read_env_file(path):
    env = {}
    if not os.path.exists(path):
        return env
    for l in open(path, encoding="utf-8"):
        l = l.strip()
        if not l or l.startswith("#"):
            continue
        if l.startswith("export "):
            l = l[7:]
        if "=" not in l:
            continue
        k, v = l.split("=", 1)
        v = v.strip()
        if v[:1] in ("'", '"') and v.endswith(v[0]) and len(v) > 1:
            v = v[1:-1]
        else:
            v = re.sub(r"\s+#.*$", "", v)
        try:
            v = expand(v, env, empty_ok=True) if not v.startswith("'") else v
        except Unresolved:
            pass
        env[k.strip()] = v
    return env


def compose(path, file, root, builds):
    env = read_env_file(os.path.join(os.path.dirname(path), ".env"))
    for doc in load_nodes(path):
        services = mget(doc, "services")
        if not isinstance(services, yaml.MappingNode):
            continue
        for _, svc in merged_items(services):
            img = mget(svc, "image")
            if is_scalar(img):
                add_ref(file, line_of(img), img.value, resolve_c(img.value, env), "compose-image")
            build = mget(svc, "build")
            if build is None:
                continue
            b = plain(build)
            if isinstance(b, str):
                b = {"context": b}
            ctx = resolve_c(b.get("context", "."), env) or "."
            base = os.path.normpath(os.path.join(os.path.dirname(path), ctx))
            df = resolve_c(b.get("dockerfile", "Dockerfile"), env) or "Dockerfile"
            dfp = os.path.normpath(os.path.join(base, df))
            args = b.get("args") or {}
            if isinstance(args, list):
                args = dict(a.split("=", 1) if "=" in a else (a, env.get(a)) for a in args)
            args = {k: resolve_c(str(v), env) for k, v in args.items() if v is not None}
            contexts = {k: resolve_c(v, env) for k, v in (b.get("additional_contexts") or {}).items()}
            builds.setdefault(dfp, []).append((args, contexts))


def resolve_c(text, env):
    try:
        return expand(text, env, empty_ok=True)
    except Unresolved:
        return None


# --------------------------------------------------------------------------- Kubernetes

WORKLOAD_KEYS = ("containers", "initContainers", "ephemeralContainers")


def kubernetes(path, file, images_for):
    for doc in load_nodes(path):
        if not isinstance(doc, yaml.MappingNode) or mget(doc, "kind") is None:
            continue
        walk_image_keys(doc, file, images_for)


def walk_image_keys(node, file, images_for, depth=0):
    if isinstance(node, yaml.MappingNode):
        for k, v in merged_items(node):
            if k.value == "image" and is_scalar(v) and is_ref(v.value):
                for img in images_for(v.value):
                    add(file, line_of(v), v.value, img, "kubernetes")
            else:
                walk_image_keys(v, file, images_for, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            walk_image_keys(v, file, images_for, depth + 1)


def image_name(ref):
    r = ref.split("@")[0]
    if r.rfind(":") > r.rfind("/"):
        r = r[: r.rfind(":")]
    return r


def apply_override(ref, ov):
    name = image_name(ref)
    rest = ref[len(name):]
    tag = rest.split("@")[0]
    digest = "@" + ref.split("@")[1] if "@" in ref else ""
    if ov.get("newName"):
        name = ov["newName"]
    if ov.get("newTag") is not None:
        tag = ":" + str(ov["newTag"])
    if ov.get("digest"):
        tag, digest = "", "@" + ov["digest"]
    return name + tag + digest


def kustomizations(root):
    """Maps each kustomization dir to (images, children dirs, resource files)."""
    out = {}
    for p in glob.glob(os.path.join(root, "**", "kustomization.y*ml"), recursive=True):
        d = os.path.dirname(p)
        k = yaml.safe_load(open(p)) or {}
        kids, files = [], []
        for r in (k.get("resources") or []) + (k.get("components") or []) + (k.get("bases") or []):
            rp = os.path.normpath(os.path.join(d, r))
            if os.path.isdir(rp):
                kids.append(rp)
            elif os.path.isfile(rp):
                files.append(rp)
        out[d] = (p, k.get("images") or [], kids, files)
    return out


def kustomize_chains(root):
    """resource file -> list of override chains (inner first), one per top-level way."""
    ks = kustomizations(root)
    children = {c for _, _, kids, _ in ks.values() for c in kids}
    chains = {}

    def down(d, chain, seen):
        if d not in ks or d in seen:
            return
        _, images, kids, files = ks[d]
        chain = [images] + chain
        for f in files:
            chains.setdefault(f, []).append(chain)
        for kd in kids:
            down(kd, chain, seen | {d})

    for d in ks:
        if d not in children:
            down(d, [], frozenset())
    return ks, chains


def kustomize_entries(ks, root):
    for d, (p, images, _, _) in ks.items():
        file = os.path.relpath(p, root)
        doc = load_nodes(p)[0]
        seq = mget(doc, "images")
        if not isinstance(seq, yaml.SequenceNode):
            continue
        for entry in seq.value:
            e = plain(entry)
            if not (e.get("newTag") is not None or e.get("digest")):
                continue
            at = mget(entry, "newTag") or mget(entry, "newName") or mget(entry, "name")
            eff = apply_override(e["name"], e)
            add_ref(file, line_of(at), at.value, eff, "kustomize-images")


def images_for_factory(chains, path):
    def images_for(ref):
        ways = chains.get(path)
        if not ways:
            return [normalize(ref)]
        out = []
        for chain in ways:
            r = ref
            for images in chain[::-1][::-1]:  # inner first
                for ov in images:
                    if image_name(r) == ov.get("name") or normalize(image_name(r)) == normalize(ov.get("name", "")):
                        r = apply_override(r, ov)
                        break
            n = normalize(r)
            if n not in out:
                out.append(n)
        return out

    return images_for


# --------------------------------------------------------------------------- Helm


def helm_values(path, file, app_version):
    for doc in load_nodes(path):
        helm_walk(doc, file, app_version)


def helm_walk(node, file, app_version):
    if isinstance(node, yaml.MappingNode):
        for k, v in merged_items(node):
            key = k.value
            if (key == "image" or key.endswith("Image")) and isinstance(v, yaml.MappingNode) and is_scalar(mget(v, "repository")):
                repo = mget(v, "repository")
                reg = mget(v, "registry")
                tag = mget(v, "tag")
                dig = mget(v, "digest")
                ref = (reg.value + "/" if reg is not None and reg.value else "") + repo.value
                at = repo
                if tag is not None and tag.value not in ("", None):
                    ref += ":" + tag.value
                    at = tag
                elif app_version:
                    ref += ":" + app_version
                if dig is not None and dig.value:
                    ref += "@" + dig.value
                add_ref(file, line_of(at), at.value, ref, "helm-values")
            elif key == "image" and is_scalar(v) and is_ref(v.value) and ("/" in v.value or ":" in v.value):
                add_ref(file, line_of(v), v.value, v.value, "helm-values")
            else:
                helm_walk(v, file, app_version)
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            helm_walk(v, file, app_version)


# --------------------------------------------------------------------------- GitHub

EXPR = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def matrix_combos(strategy):
    """GitHub's matrix: product of list values, then exclude, then include."""
    m = mget(strategy, "matrix") if strategy is not None else None
    if not isinstance(m, yaml.MappingNode):
        return [{}]
    keys = [(k, v) for k, v in merged_items(m) if k.value not in ("include", "exclude")]
    if any(not isinstance(v, yaml.SequenceNode) for _, v in keys):
        return None
    combos = [dict(zip([k.value for k, _ in keys], vals)) for vals in itertools.product(*[v.value for _, v in keys])] if keys else []
    exc = mget(m, "exclude")
    if isinstance(exc, yaml.SequenceNode):
        for e in exc.value:
            ep = plain(e)
            combos = [c for c in combos if not all(plain(c.get(k)) == v for k, v in ep.items())]
    inc = mget(m, "include")
    if isinstance(inc, yaml.SequenceNode):
        orig = len(combos)
        for e in inc.value:
            items = merged_items(e)
            matched = False
            for c in combos[:orig]:
                if all(k.value not in c or plain(c[k.value]) == plain(v) for k, v in items if k.value in [kk.value for kk, _ in keys]):
                    if all(k.value in c and plain(c[k.value]) == plain(v) for k, v in items if k.value in [kk.value for kk, _ in keys]):
                        for k, v in items:
                            if k.value not in [kk.value for kk, _ in keys]:
                                c[k.value] = v
                        matched = True
            if not matched:
                combos.append({k.value: v for k, v in items})
    return combos


def gh_value(node, file, combos, ctx):
    text = node.value
    exprs = EXPR.findall(text)
    if not exprs:
        add_ref(file, line_of(node), text, text, ctx)
        return
    if combos is None or not all(re.fullmatch(r"matrix(\.[\w-]+)+", e) for e in exprs):
        add(file, line_of(node), text, None, ctx)
        return
    seen = set()
    for c in combos:
        val, at = text, line_of(node)
        ok = True
        for e in exprs:
            path = e.split(".")[1:]
            n = c.get(path[0])
            for p in path[1:]:
                n = mget(n, p) if n is not None else None
            if n is None or not isinstance(n, yaml.ScalarNode):
                ok = False
                break
            val = EXPR.sub(lambda m: n.value if m.group(1) == e else m.group(0), val, count=1)
            at = line_of(n)
        if not ok:
            key = (line_of(node), None)
            if key not in seen:
                seen.add(key)
                add(file, line_of(node), text, None, ctx)
            continue
        if (at, val) not in seen:
            seen.add((at, val))
            add_ref(file, at, text, val, ctx)


def workflow(path, file):
    for doc in load_nodes(path):
        jobs = mget(doc, "jobs")
        if not isinstance(jobs, yaml.MappingNode):
            continue
        for _, job in merged_items(jobs):
            combos = matrix_combos(mget(job, "strategy"))
            c = mget(job, "container")
            if isinstance(c, yaml.MappingNode):
                c = mget(c, "image")
            if is_scalar(c):
                gh_value(c, file, combos, "github-container")
            svcs = mget(job, "services")
            if isinstance(svcs, yaml.MappingNode):
                for _, s in merged_items(svcs):
                    img = mget(s, "image") if isinstance(s, yaml.MappingNode) else s
                    if is_scalar(img):
                        gh_value(img, file, combos, "github-service")
            steps(mget(job, "steps"), file)


def steps(seq, file):
    if isinstance(seq, yaml.SequenceNode):
        for st in seq.value:
            u = mget(st, "uses")
            if is_scalar(u) and u.value.startswith("docker://"):
                add_ref(file, line_of(u), u.value, u.value[len("docker://"):], "github-step")


def action(path, file):
    doc = load_nodes(path)[0]
    runs = mget(doc, "runs")
    img = mget(runs, "image")
    if is_scalar(img) and img.value.startswith("docker://"):
        add_ref(file, line_of(img), img.value, img.value[len("docker://"):], "github-action")
    steps(mget(runs, "steps"), file)


# --------------------------------------------------------------------------- GitLab

GL_KEYWORDS = {
    "stages", "variables", "include", "default", "workflow", "image", "services", "cache",
    "before_script", "after_script", "spec",
}


def gitlab_pipeline(root, entry):
    """Reads a pipeline: the entry file and its local includes, merged as GitLab does."""
    files = []

    def visit(rel, seen):
        p = os.path.normpath(os.path.join(root, rel.lstrip("/")))
        if p in seen or not os.path.exists(p):
            return
        seen.add(p)
        doc = load_nodes(p)[0]
        files.append((p, doc))
        inc = mget(doc, "include")
        if inc is None:
            return
        items = inc.value if isinstance(inc, yaml.SequenceNode) else [inc]
        for it in items:
            loc = it.value if is_scalar(it) else (mget(it, "local").value if mget(it, "local") is not None else None)
            if loc:
                for g in sorted(glob.glob(os.path.join(root, loc.lstrip("/")), recursive=True)) or [os.path.join(root, loc.lstrip("/"))]:
                    visit(os.path.relpath(g, root), seen)

    visit(entry, set())
    # Merge: includes first, the including file wins.
    jobs, gvars = {}, {}
    for p, doc in reversed(files):
        if not isinstance(doc, yaml.MappingNode):
            continue
        for k, v in merged_items(doc):
            if k.value == "variables":
                for vk, vv in merged_items(v):
                    gvars[vk.value] = var_value(vv)
            elif k.value == "default":
                jobs["default"] = (p, v)
            elif k.value not in GL_KEYWORDS:
                jobs[k.value] = (p, v)
    return files, jobs, gvars


def var_value(node):
    if isinstance(node, yaml.MappingNode):
        v = mget(node, "value")
        return v.value if v is not None else ""
    return node.value if isinstance(node, yaml.ScalarNode) else ""


def deref(node, jobs):
    """Follows a `!reference [job, key, ...]` to the node it names."""
    if isinstance(node, yaml.SequenceNode) and node.tag == "!reference":
        path = [n.value for n in node.value]
        target = jobs.get(path[0], (None, None))[1]
        for key in path[1:]:
            target = mget(deref(target, jobs), key) if target is not None else None
        return deref(target, jobs) if target is not None else None
    return node


def job_attr(name, key, jobs, seen=()):
    """The node for `key` in job `name` after `extends` (the job wins over its bases)."""
    if name in seen or name not in jobs:
        return None
    _, node = jobs[name]
    if not isinstance(node, yaml.MappingNode):
        return None
    own = mget(node, key)
    if own is not None:
        return deref(own, jobs)
    ext = mget(node, "extends")
    bases = [] if ext is None else ([ext.value] if is_scalar(ext) else [n.value for n in ext.value])
    for b in reversed(bases):
        got = job_attr(b, key, jobs, seen + (name,))
        if got is not None:
            return got
    return None


def job_vars(name, jobs, seen=()):
    if name in seen or name not in jobs:
        return {}
    _, node = jobs[name]
    if not isinstance(node, yaml.MappingNode):
        return {}
    out = {}
    ext = mget(node, "extends")
    bases = [] if ext is None else ([ext.value] if is_scalar(ext) else [n.value for n in ext.value])
    for b in bases:
        out.update(job_vars(b, jobs, seen + (name,)))
    v = deref(mget(node, "variables"), jobs)
    if isinstance(v, yaml.MappingNode):
        for vk, vv in merged_items(v):
            out[vk.value] = var_value(deref(vv, jobs))
    return out


def gitlab_expand(text, env, depth=0):
    def sub(m):
        name = m.group(1) or m.group(4)
        if name not in env:
            raise Unresolved(name)
        val = env[name]
        return gitlab_expand(val, env, depth + 1) if depth < 10 else val

    return VAR_RE.sub(sub, text)


def gitlab(root, entry, out_files):
    files, jobs, gvars = gitlab_pipeline(root, entry)
    for p, _ in files:
        out_files.add(p)
    found = {}
    default_image = job_attr("default", "image", jobs) if "default" in jobs else None
    for name in jobs:
        env = dict(gvars)
        env.update(job_vars(name, jobs))
        img = job_attr(name, "image", jobs)
        if img is None and name != "default":
            img = default_image
        nodes = []
        if isinstance(img, yaml.MappingNode):
            img = deref(mget(img, "name"), jobs)
        if is_scalar(img):
            nodes.append((img, "gitlab-image"))
        svcs = job_attr(name, "services", jobs)
        if isinstance(svcs, yaml.SequenceNode):
            for s in svcs.value:
                s = deref(s, jobs)
                seq = s.value if isinstance(s, yaml.SequenceNode) else [s]
                for s2 in seq:
                    s2 = deref(s2, jobs)
                    if isinstance(s2, yaml.MappingNode):
                        s2 = deref(mget(s2, "name"), jobs)
                    if is_scalar(s2):
                        nodes.append((s2, "gitlab-service"))
        for n, ctx in nodes:
            p = [fp for fp, d in files if any(n is x for x in iter_nodes(d))]
            if not p:
                continue
            try:
                val = gitlab_expand(n.value, env)
            except Unresolved:
                val = None
            found[(os.path.relpath(p[0], root), line_of(n), n.value, val, ctx)] = True
    for (file, line, written, val, ctx) in found:
        add_ref(file, line, written, val, ctx)


def iter_nodes(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                stack.append(v)
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)


# --------------------------------------------------------------------------- driver


def repo(root):
    files = sorted(
        os.path.relpath(os.path.join(d, f), root)
        for d, _, fs in os.walk(root)
        for f in fs
    )
    builds = {}
    done = set()
    # Build definitions first: compose build sections and the bake facts in BAKE.
    for f in files:
        base = os.path.basename(f)
        if re.match(r"^(docker-)?compose([.-].*)?\.ya?ml$", base) or base.startswith("docker-stack"):
            compose(os.path.join(root, f), f, root, builds)
            done.add(f)
    for dfp, args in BAKE.get(os.path.basename(root), {}).items():
        builds.setdefault(os.path.normpath(os.path.join(root, dfp)), []).extend(args)
    for f in files:
        base = os.path.basename(f)
        if base in (".gitlab-ci.yml",) or base.endswith(".gitlab-ci.yml"):
            if f == ".gitlab-ci.yml":
                gitlab(root, f, done)
    for f in files:
        base = os.path.basename(f)
        if f.endswith(".gitlab-ci.yml") and os.path.join(root, f) not in done and f not in done:
            gitlab(root, f, done)
    ks, chains = kustomize_chains(root)
    kustomize_entries(ks, root)
    charts = {os.path.dirname(os.path.join(root, f)) for f in files if os.path.basename(f) == "Chart.yaml"}
    for f in files:
        p = os.path.join(root, f)
        base = os.path.basename(f)
        if f in done or p in done:
            continue
        if base in ("Dockerfile", "Containerfile") or base.endswith((".Dockerfile", ".dockerfile")) or base.startswith(("Dockerfile.", "Containerfile.")):
            dockerfile(p, f, builds.get(os.path.normpath(p)))
        elif f.startswith(".github/workflows/") and base.endswith((".yml", ".yaml")):
            workflow(p, f)
        elif base in ("action.yml", "action.yaml"):
            action(p, f)
        elif base.startswith("kustomization."):
            pass
        elif any(os.path.dirname(p) == c for c in charts) and re.match(r"^values.*\.ya?ml$", base):
            chart = yaml.safe_load(open(os.path.join(os.path.dirname(p), "Chart.yaml")))
            helm_values(p, f, str(chart.get("appVersion")) if chart.get("appVersion") else None)
        elif "/templates/" in "/" + f or base == "Chart.yaml":
            pass
        elif base.endswith((".yml", ".yaml")):
            kubernetes(p, f, images_for_factory(chains, os.path.normpath(p)))


# Bake build definitions, read by hand from each docker-bake.hcl: Dockerfile -> [(args,
# contexts)]. Only args that change a FROM line are listed; none of the corpus bake files
# defines a docker-image:// context.
BAKE = {}

# Per-entry corrections found by reading each file: (repo, file, line, written) -> image
# (or None to drop the entry), with why.
OVERRIDES = {}


def main():
    out = {}
    for d in sorted(os.listdir(HERE)):
        root = os.path.join(HERE, d)
        if not os.path.isdir(root):
            continue
        ENTRIES.clear()
        repo(root)
        entries, seen = [], set()
        for e in ENTRIES:
            if (e["file"], e["line"], e["image"]) in seen:
                continue  # one reference reached twice (an anchor, a shared build)
            seen.add((e["file"], e["line"], e["image"]))
            key = (d, e["file"], e["line"], e["written"])
            if key in OVERRIDES:
                img, why = OVERRIDES[key]
                if img is False:
                    continue
                e = dict(e, image=img, note=why)
            entries.append(e)
        entries.sort(key=lambda e: (e["file"], e["line"], e["image"] or ""))
        out[d] = entries
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
