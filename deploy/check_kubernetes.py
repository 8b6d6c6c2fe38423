#!/usr/bin/env python3
"""Static checks of deploy/kubernetes/, for a machine without a cluster.

    python3 deploy/check_kubernetes.py               # exit 0 with a summary, or 1 with every problem
    python3 deploy/check_kubernetes.py --verbose     # and every note
    python3 deploy/check_kubernetes.py --self-test   # broken copies of the real files must each fail

What it checks:
- every YAML file parses and holds one document (deploy/check.py reads every YAML file under
  deploy/ as one), and every file under deploy/kubernetes/ is used by a kustomization;
- every kustomization resolves, by this script's own resolver (resources, components, config and
  secret generators with kustomize's name hashes, strategic-merge and JSON 6902 patches, namespace,
  labels, images, replicas; files outside a kustomization's root are refused as kustomize does);
  when a kustomize is installed (`kustomize`, or `kubectl kustomize`), it renders every overlay too
  and both renderings must be the same objects;
- every rendered object of every overlay against the Kubernetes 1.30 JSON schemas in strict mode
  (kubernetes-validate); CRD kinds (ServiceMonitor, cert-manager) have no schema there and are
  listed as skipped;
- in each overlay: Service and PodDisruptionBudget selectors match the pods of a workload, target
  ports and probe ports are container ports, the HPA targets the Deployment (with CPU requests),
  the ServiceMonitor selects a Service and names its ports, ConfigMap/Secret references (volumes,
  env, envFrom) exist with their keys (a cert-manager Certificate provides its secretName), the
  restricted security context (non-root, read-only root, no capabilities, RuntimeDefault seccomp),
  resources, topology spread;
- Meridian: the config file given to --config comes from a ConfigMap, parses as YAML, its
  listeners and admin ports are container ports, the admin listener is not loopback, the TLS files
  come from a Secret, nothing is written outside a writable volume, the probes are /startupz,
  /livez and /readyz on the admin port; every env var is one Meridian reads (MERIDIAN_* from
  Sources/MeridianConfig/EnvironmentOverrides.swift, OTEL_* from its tracing setup and swift-otel)
  or a helper another one references as $(NAME), defined before its use;
  terminationGracePeriodSeconds > drain_delay + shutdown_timeout + the span export deadline
  (environment over file over the defaults of config/meridian.yaml), the readiness probe notices
  a drain within drain_delay, drain_delay outlasts the load balancer's interval x fall
  (the meridian/load-balancer-check annotation), the startup probe's budget;
  OTEL_EXPORTER_OTLP_ENDPOINT reaches the collector's OTLP/HTTP receiver, MERIDIAN_REDIS_URL a
  Service (or an external host);
- the collector: its ConfigMap is otel/collector.yaml byte for byte, its listening ports are
  container ports, memory_limiter fits the memory limit, one replica for tail sampling;
- when a built meridian binary is found (MERIDIAN_BIN, .build/debug or .build/release) and openssl
  for a stand-in certificate: `meridian validate` on each overlay's config file and environment.
Needs PyYAML and kubernetes-validate (pinned in scripts/test.sh).
"""
import argparse
import base64
import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

try:
    import functools
    import kubernetes_validate
    from kubernetes_validate import utils as kv_utils
    # validate() reads and parses the schema files (_definitions.json is 1.3 MB) on every call:
    # read each once. The schemas are only read, never changed, so sharing them is safe.
    kv_utils.schema_contents = functools.lru_cache(maxsize=None)(kv_utils.schema_contents)
except ImportError:  # reported as a problem by Checker.schema
    kubernetes_validate = None

ROOT = Path(__file__).resolve().parent.parent
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # libyaml when the wheel has it: 10x faster
KUBE_VERSION = "1.30"
# API groups whose kinds are CRDs: no schema in kubernetes-validate, so skipped (and listed).
CRD_GROUPS = {"monitoring.coreos.com", "cert-manager.io"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "PersistentVolume", "StorageClass", "PriorityClass", "ClusterIssuer",
                  "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "APIService",
                  "IngressClass", "RuntimeClass", "Node", "CSIDriver", "VolumeSnapshotClass"}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# A startup probe must allow at least this long: Meridian binds its listeners in ~0.1 s, an
# unreachable Redis costs at most redis.timeouts.connect (1 s); the rest is for a slow node.
MIN_STARTUP_BUDGET = 10
# Environment variables Meridian reads that its own sources don't name: swift-otel reads these
# (the README's Observability section documents them), the Swift runtime reads SWIFT_BACKTRACE.
LIBRARY_ENV = {"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "SWIFT_BACKTRACE"}
PROBES = (("startupProbe", "/startupz"), ("livenessProbe", "/livez"), ("readinessProbe", "/readyz"))


# ---- small helpers ---------------------------------------------------------------------------

_PARSED = {}


def parse_all(text):
    """The documents of a YAML text (parsed once per text; callers get their own copy)."""
    if text not in _PARSED:
        _PARSED[text] = [d for d in yaml.load_all(text, Loader=LOADER) if d is not None]
    return copy.deepcopy(_PARSED[text])


def parse_one(text):
    docs = parse_all(text)
    return docs[0] if docs else None


def rel(path, root):
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)


def duration_seconds(value):
    """Meridian's durations (ConfigUnits.parseDuration): 500ms, 5s, 2m, 1h, or bare seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    for suffix, factor in (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)):
        if text.endswith(suffix):
            try:
                return float(text[:-len(suffix)]) * factor
            except ValueError:
                return None
    try:
        return float(text)
    except ValueError:
        return None


def quantity_bytes(value):
    """Kubernetes memory quantities: 512Mi, 1Gi, 500M, 1e9, 123."""
    m = re.fullmatch(r"([0-9.eE+-]+)(Ki|Mi|Gi|Ti|k|M|G|T)?", str(value))
    if not m:
        return None
    factor = {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
              "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12}[m.group(2)]
    try:
        return float(m.group(1)) * factor
    except ValueError:
        return None


def parse_address(text):
    """Meridian's HOST:PORT, [IPv6]:PORT or :PORT -> (host, port)."""
    m = re.fullmatch(r"\[([^\]]*)\]:(\d+)|([^:\[\]]*):(\d+)", str(text).strip())
    if not m:
        return None, None
    return (m.group(1), int(m.group(2))) if m.group(2) else (m.group(3) or "0.0.0.0", int(m.group(4)))


def parse_url(text):
    """scheme://[userinfo@]host[:port][/path] -> (scheme, host, port or None)."""
    m = re.fullmatch(r"(\w+)://(?:[^@/]*@)?(\[[^\]]*\]|[^:/]*)(?::(\d+))?(/.*)?", str(text))
    if not m:
        return None, None, None
    return m.group(1), m.group(2).strip("[]"), int(m.group(3)) if m.group(3) else None


def kustomize_hash(obj):
    """kustomize's name suffix for a generated ConfigMap or Secret (api/hasher: sha256 of the
    JSON of kind, name "" and data, its first 10 hex digits with 0 1 3 a e swapped for letters)."""
    enc = {"kind": obj["kind"], "name": "", "data": obj.get("data") or {}}
    if obj["kind"] == "Secret":
        enc["type"] = obj.get("type", "Opaque")
    if obj.get("binaryData"):
        enc["binaryData"] = obj["binaryData"]
    text = json.dumps(enc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return digest.translate(str.maketrans("013ae", "ghkmt"))


def key(obj):
    md = obj.get("metadata") or {}
    return (obj.get("kind"), md.get("namespace") or "", md.get("name"))


def label(obj):
    return f"{obj.get('kind')} {(obj.get('metadata') or {}).get('name')}"


def group_of(api_version):
    return api_version.split("/")[0] if "/" in str(api_version) else ""


def pod_template(obj):
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    if obj.get("kind") in WORKLOADS:
        return spec.get("template") or {}
    return None


def pod_spec(obj):
    t = pod_template(obj)
    return None if t is None else (t.get("spec") or {})


def pod_labels(obj):
    t = pod_template(obj)
    return ((t or {}).get("metadata") or {}).get("labels") or {}


def all_containers(spec):
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def selector_matches(selector, labels):
    """A LabelSelector (matchLabels / matchExpressions) against a label map."""
    if not selector:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        op, k, values = e.get("operator"), e.get("key"), e.get("values") or []
        if op == "In" and labels.get(k) not in values:
            return False
        if op == "NotIn" and labels.get(k) in values:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return bool(selector.get("matchLabels") or selector.get("matchExpressions"))


def map_matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def resolve_container_port(container, port):
    """A probe's or Service's port (name or number) -> the container port number, or None."""
    for p in container.get("ports") or []:
        if isinstance(port, str) and not port.isdigit():
            if p.get("name") == port:
                return p.get("containerPort")
        elif p.get("containerPort") == int(port):
            return p.get("containerPort")
    return None


def is_meridian(container):
    image = str(container.get("image", "")).split("@")[0]
    repo = image.rsplit("/", 1)[-1].split(":")[0]
    return container.get("name") == "meridian" or repo == "meridian"


def is_collector(container):
    return "opentelemetry-collector" in str(container.get("image", ""))


# ---- the kustomize resolver ------------------------------------------------------------------

# Strategic merge: the merge key of the lists this repository's patches touch (Kubernetes'
# patchMergeKey); other lists are replaced, as in kustomize.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name",
              "env": "name", "volumes": "name", "volumeMounts": "mountPath",
              "imagePullSecrets": "name", "topologySpreadConstraints": "topologyKey",
              "hostAliases": "ip"}


def merge_key_for(path, field):
    if field == "ports":
        return "containerPort" if "containers" in path or "initContainers" in path else "port"
    return MERGE_KEYS.get(field)


def strategic_merge(dst, patch, path=()):
    """kustomize's (kyaml merge2) strategic merge of one object into another, in place. For a
    list with a merge key the patch's items come first, in the patch's order, then the
    destination's other items (kustomize puts them in this order too)."""
    if patch.get("$patch") == "replace":
        dst.clear()
        dst.update({k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"})
        return dst
    for k, v in patch.items():
        if k.startswith("$"):
            continue
        if v is None:
            dst.pop(k, None)
        elif isinstance(v, dict) and isinstance(dst.get(k), dict):
            strategic_merge(dst[k], v, path + (k,))
        elif isinstance(v, list) and isinstance(dst.get(k), list) and merge_key_for(path, k) and \
                all(isinstance(i, dict) for i in v + dst[k]):
            mk = merge_key_for(path, k)
            existing = {i.get(mk): i for i in dst[k]}
            out, seen = [], set()
            for item in v:
                seen.add(item.get(mk))
                if item.get("$patch") == "delete":
                    continue
                if item.get(mk) in existing:
                    out.append(strategic_merge(copy.deepcopy(existing[item.get(mk)]), item, path + (k,)))
                else:
                    out.append({a: copy.deepcopy(b) for a, b in item.items() if a != "$patch"})
            out.extend(i for i in dst[k] if i.get(mk) not in seen)
            dst[k] = out
        else:
            dst[k] = copy.deepcopy(v)
    return dst


def json_pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"path {path!r} does not start with /")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json6902(doc, ops):
    """RFC 6902 add / remove / replace / move / copy / test, in place on doc (a dict)."""
    def walk(parts):
        cur = doc
        for p in parts[:-1]:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        return cur, parts[-1]

    def get(parts):
        cur = doc
        for p in parts:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        return cur

    def put(parts, value, replace):
        parent, last = walk(parts)
        if isinstance(parent, list):
            if last == "-":
                parent.append(value)
            elif replace:
                parent[int(last)] = value
            else:
                parent.insert(int(last), value)
        else:
            if replace and last not in parent:
                raise KeyError(last)
            parent[last] = value

    def remove(parts):
        parent, last = walk(parts)
        return parent.pop(int(last)) if isinstance(parent, list) else parent.pop(last)

    for op in ops:
        kind, parts = op.get("op"), json_pointer(op.get("path", ""))
        if kind == "add":
            put(parts, copy.deepcopy(op["value"]), False)
        elif kind == "replace":
            put(parts, copy.deepcopy(op["value"]), True)
        elif kind == "remove":
            remove(parts)
        elif kind == "move":
            put(parts, remove(json_pointer(op["from"])), False)
        elif kind == "copy":
            put(parts, copy.deepcopy(get(json_pointer(op["from"]))), False)
        elif kind == "test":
            if get(parts) != op.get("value"):
                raise ValueError(f"test failed at {op.get('path')}")
        else:
            raise ValueError(f"unknown op {kind!r}")


class Resolver:
    """Renders a kustomization the way `kustomize build` does, for the features listed in
    KNOWN_FIELDS; anything else is a problem, not a silent difference."""
    KNOWN_FIELDS = {"apiVersion", "kind", "resources", "components", "namespace", "labels",
                    "configMapGenerator", "secretGenerator", "generatorOptions", "patches",
                    "images", "replicas"}

    def __init__(self, checker):
        self.c = checker
        self.used_files = set()

    def kustomization_file(self, d):
        for name in KUSTOMIZATION_FILES:
            if (d / name).is_file():
                return d / name
        return None

    def load_kustomization(self, d):
        f = self.kustomization_file(d)
        if not f:
            self.c.problem(f"{rel(d, self.c.root)}: no kustomization.yaml")
            return None
        self.used_files.add(f.resolve())
        k = self.c.load_one(f)
        if not isinstance(k, dict):
            self.c.problem(f"{rel(f, self.c.root)}: not a mapping")
            return None
        for field in sorted(set(k) - self.KNOWN_FIELDS):
            self.c.problem(f"{rel(f, self.c.root)}: {field}: not supported by check_kubernetes.py's "
                           f"resolver (extend it, or its checks would judge other objects than "
                           f"kustomize renders)")
        return k

    def inside(self, d, path, what):
        """kustomize's default load restrictor: files only from the kustomization's own tree."""
        p = (d / path)
        try:
            p.resolve().relative_to(d.resolve())
        except ValueError:
            self.c.problem(f"{rel(d, self.c.root)}: {what} {path}: outside the kustomization's "
                           f"directory, which kustomize refuses (LoadRestrictionsRootOnly)")
            return None
        if not p.is_file():
            self.c.problem(f"{rel(d, self.c.root)}: {what} {path}: no such file")
            return None
        self.used_files.add(p.resolve())
        return p

    def render(self, d):
        """The objects of kustomization directory d, names hashed and references fixed."""
        acc = []
        self.accumulate(d, acc, component=False, stack=())
        renames = {}
        for obj in acc:
            gen = obj.pop("__generated__", None)
            if gen and gen.get("hash", True):
                old = obj["metadata"]["name"]
                obj["metadata"]["name"] = f"{old}-{kustomize_hash(obj)}"
                renames[(obj["kind"], obj["metadata"].get("namespace") or "", old)] = \
                    obj["metadata"]["name"]
        for obj in acc:
            spec = pod_spec(obj)
            if spec is not None:
                self.fix_references(spec, obj["metadata"].get("namespace") or "", renames)
        return acc

    @staticmethod
    def fix_references(spec, ns, renames):
        def cm(name):
            return renames.get(("ConfigMap", ns, name), name)

        def sec(name):
            return renames.get(("Secret", ns, name), name)
        for v in spec.get("volumes") or []:
            if "configMap" in v:
                v["configMap"]["name"] = cm(v["configMap"].get("name"))
            if "secret" in v:
                v["secret"]["secretName"] = sec(v["secret"].get("secretName"))
            for s in (v.get("projected") or {}).get("sources") or []:
                if "configMap" in s:
                    s["configMap"]["name"] = cm(s["configMap"].get("name"))
                if "secret" in s:
                    s["secret"]["name"] = sec(s["secret"].get("name"))
        for c in all_containers(spec):
            for e in c.get("env") or []:
                vf = e.get("valueFrom") or {}
                if "configMapKeyRef" in vf:
                    vf["configMapKeyRef"]["name"] = cm(vf["configMapKeyRef"].get("name"))
                if "secretKeyRef" in vf:
                    vf["secretKeyRef"]["name"] = sec(vf["secretKeyRef"].get("name"))
            for e in c.get("envFrom") or []:
                if "configMapRef" in e:
                    e["configMapRef"]["name"] = cm(e["configMapRef"].get("name"))
                if "secretRef" in e:
                    e["secretRef"]["name"] = sec(e["secretRef"].get("name"))
        for s in spec.get("imagePullSecrets") or []:
            s["name"] = sec(s.get("name"))

    def add(self, acc, obj, where):
        if key(obj) in {key(o) for o in acc}:
            self.c.problem(f"{where}: {label(obj)} is defined twice")
            return
        acc.append(obj)

    def accumulate(self, d, acc, component, stack):
        d = d.resolve()
        where = rel(d, self.c.root)
        if d in stack:
            self.c.problem(f"{where}: kustomization cycle")
            return
        k = self.load_kustomization(d)
        if k is None:
            return
        is_component = k.get("kind") == "Component"
        if is_component != component:
            self.c.problem(f"{where}: is {'a Component' if is_component else 'a Kustomization'} but "
                           f"is listed under {'components' if component else 'resources'}")
            return
        for r in k.get("resources") or []:
            p = d / r
            if re.match(r"^\w+://|^github\.com/", str(r)):
                self.c.problem(f"{where}: resource {r}: remote resources are not checked")
            elif p.is_dir():
                sub = []
                self.accumulate(p, sub, component=False, stack=stack + (d,))
                for obj in sub:
                    self.add(acc, obj, where)
            elif self.inside(d, r, "resource"):
                for obj in self.c.load_all(p):
                    if not isinstance(obj, dict) or not obj.get("kind") or \
                            not (obj.get("metadata") or {}).get("name"):
                        self.c.problem(f"{rel(p, self.c.root)}: a document without kind or "
                                       f"metadata.name")
                        continue
                    self.add(acc, obj, where)
        for comp in k.get("components") or []:
            p = d / comp
            if not p.is_dir():
                self.c.problem(f"{where}: component {comp}: no such directory")
                continue
            self.c.component_users.setdefault(p.resolve(), set()).add(d)
            self.accumulate(p, acc, component=True, stack=stack + (d,))
        self.generate(d, k, acc)
        self.transform(d, k, acc)

    # generators

    def generate(self, d, k, acc):
        where = rel(d, self.c.root)
        options = k.get("generatorOptions") or {}
        for kind, field in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
            for g in k.get(field) or []:
                name = g.get("name")
                data = {}
                for lit in g.get("literals") or []:
                    if "=" not in lit:
                        self.c.problem(f"{where}: {field} {name}: literal {lit!r} has no =")
                        continue
                    a, b = lit.split("=", 1)
                    data[a] = b
                for spec in g.get("files") or []:
                    fkey, _, fpath = spec.partition("=") if "=" in spec else (None, None, spec)
                    p = self.inside(d, fpath, f"{field} {name} file")
                    if p:
                        data[fkey or p.name] = p.read_text()
                for env in g.get("envs") or []:
                    p = self.inside(d, env, f"{field} {name} envs file")
                    if not p:
                        continue
                    for line in p.read_text().splitlines():
                        line = line.strip()
                        if not line or line.startswith("#"):
                            continue
                        if "=" not in line:
                            self.c.problem(f"{rel(p, self.c.root)}: {line!r} is not KEY=VALUE")
                            continue
                        a, b = line.split("=", 1)
                        data[a] = b
                obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}
                if kind == "Secret":
                    obj["type"] = g.get("type", "Opaque")
                    data = {a: base64.b64encode(b.encode()).decode() for a, b in data.items()}
                obj["data"] = data
                if g.get("namespace"):
                    obj["metadata"]["namespace"] = g["namespace"]
                opts = dict(options)
                opts.update(g.get("options") or {})
                for meta in ("labels", "annotations"):
                    if opts.get(meta):
                        obj["metadata"][meta] = dict(opts[meta])
                obj["__generated__"] = {"hash": not opts.get("disableNameSuffixHash", False)}
                behavior = g.get("behavior", "create")
                existing = next((o for o in acc if o["kind"] == kind
                                 and o["metadata"]["name"] == name), None)
                if behavior == "create":
                    self.add(acc, obj, where)
                elif existing is None:
                    self.c.problem(f"{where}: {field} {name}: behavior {behavior} but no such "
                                   f"{kind} to {behavior}")
                elif behavior == "merge":
                    existing.setdefault("data", {}).update(data)
                elif behavior == "replace":
                    existing["data"] = data
                else:
                    self.c.problem(f"{where}: {field} {name}: unknown behavior {behavior}")

    # transformers, in kustomize's order: patches, namespace, labels, replicas, images

    def targets(self, acc, sel):
        out = []
        for o in acc:
            gv = o.get("apiVersion", "")
            grp, _, ver = gv.rpartition("/") if "/" in gv else ("", "", gv)
            if sel.get("group") is not None and sel.get("group") != grp:
                continue
            if sel.get("version") and sel["version"] != ver:
                continue
            if sel.get("kind") and sel["kind"] != o.get("kind"):
                continue
            if sel.get("name") and not re.fullmatch(sel["name"], o["metadata"]["name"]):
                continue
            if sel.get("namespace") and not re.fullmatch(sel["namespace"],
                                                         o["metadata"].get("namespace") or ""):
                continue
            if sel.get("labelSelector"):
                want = dict(p.split("=", 1) for p in sel["labelSelector"].split(","))
                if not map_matches(want, o["metadata"].get("labels") or {}):
                    continue
            out.append(o)
        return out

    def transform(self, d, k, acc):
        where = rel(d, self.c.root)
        for i, p in enumerate(k.get("patches") or []):
            if p.get("path"):
                f = self.inside(d, p["path"], "patch")
                if not f:
                    continue
                text, name = f.read_text(), rel(f, self.c.root)
            elif p.get("patch"):
                text, name = p["patch"], f"{where}: patches[{i}]"
            else:
                self.c.problem(f"{where}: patches[{i}]: neither path nor patch")
                continue
            try:
                docs = parse_all(text)
            except yaml.YAMLError as e:
                self.c.problem(f"{name}: {e}")
                continue
            if len(docs) == 1 and isinstance(docs[0], list):          # JSON 6902
                if not p.get("target"):
                    self.c.problem(f"{name}: a JSON 6902 patch needs a target")
                    continue
                found = self.targets(acc, p["target"])
                if not found:
                    self.c.problem(f"{name}: target {p['target']} matches nothing")
                for o in found:
                    try:
                        json6902(o, docs[0])
                    except (KeyError, IndexError, ValueError, TypeError) as e:
                        self.c.problem(f"{name}: cannot apply to {label(o)}: {e!r}")
                continue
            for doc in docs:                                        # strategic merge
                if p.get("target"):
                    found = self.targets(acc, p["target"])
                else:
                    md = doc.get("metadata") or {}
                    found = [o for o in acc if o.get("kind") == doc.get("kind")
                             and o["metadata"]["name"] == md.get("name")
                             and group_of(o.get("apiVersion")) == group_of(doc.get("apiVersion"))
                             and (not md.get("namespace")
                                  or md["namespace"] == o["metadata"].get("namespace"))]
                if not found:
                    self.c.problem(f"{name}: {doc.get('kind')} "
                                   f"{(doc.get('metadata') or {}).get('name')}: no such object to patch")
                for o in found:
                    if doc.get("$patch") == "delete":
                        acc.remove(o)
                        continue
                    patch = copy.deepcopy(doc)
                    if p.get("target"):
                        patch.get("metadata", {}).pop("name", None)
                    gen = o.pop("__generated__", None)
                    strategic_merge(o, patch)
                    if gen:
                        o["__generated__"] = gen
        if k.get("namespace"):
            for o in acc:
                if o.get("kind") not in CLUSTER_SCOPED:
                    o["metadata"]["namespace"] = k["namespace"]
        for entry in k.get("labels") or []:
            if entry.get("includeSelectors"):
                self.c.problem(f"{where}: labels with includeSelectors: not supported by the resolver")
            for o in acc:
                o["metadata"].setdefault("labels", {}).update(entry.get("pairs") or {})
                if entry.get("includeTemplates") and pod_template(o) is not None:
                    pod_template(o).setdefault("metadata", {}).setdefault("labels", {}).update(
                        entry.get("pairs") or {})
        for r in k.get("replicas") or []:
            found = [o for o in acc if o["kind"] in ("Deployment", "StatefulSet", "ReplicaSet")
                     and o["metadata"]["name"] == r.get("name")]
            if not found:
                self.c.problem(f"{where}: replicas: no workload named {r.get('name')}")
            for o in found:
                o["spec"]["replicas"] = r.get("count")
        for img in k.get("images") or []:
            hits = 0
            for o in acc:
                spec = pod_spec(o)
                for c in all_containers(spec) if spec is not None else []:
                    image = str(c.get("image", ""))
                    base, digest = (image.split("@", 1) + [None])[:2]
                    name, tag = base, None
                    if ":" in base.rsplit("/", 1)[-1]:
                        name, tag = base.rsplit(":", 1)
                    if name != img.get("name"):
                        continue
                    hits += 1
                    name = img.get("newName", name)
                    if img.get("digest"):
                        c["image"] = f"{name}@{img['digest']}"
                    else:
                        tag = img.get("newTag", tag)
                        c["image"] = name + (f":{tag}" if tag else "") + \
                            (f"@{digest}" if digest and not img.get("newTag") else "")
            if not hits:
                self.c.problem(f"{where}: images: no container uses image {img.get('name')}")


# ---- the checks ------------------------------------------------------------------------------

class Checker:
    def __init__(self, root, use_kustomize=True, use_meridian=True):
        self.root = Path(root).resolve()
        self.k8s = self.root / "deploy" / "kubernetes"
        self.use_kustomize = use_kustomize
        self.use_meridian = use_meridian
        self.problems, self.notes, self.summary = [], [], []
        self.component_users = {}
        self.yaml_cache = {}

    def problem(self, msg):
        if msg not in self.problems:
            self.problems.append(msg)

    def note(self, msg):
        if msg not in self.notes:
            self.notes.append(msg)

    def load_all(self, path):
        path = Path(path).resolve()
        if path not in self.yaml_cache:
            try:
                self.yaml_cache[path] = parse_all(path.read_text())
            except (OSError, yaml.YAMLError) as e:
                self.problem(f"{rel(path, self.root)}: {e}")
                self.yaml_cache[path] = []
        return copy.deepcopy(self.yaml_cache[path])

    def load_one(self, path):
        docs = self.load_all(path)
        return docs[0] if docs else None

    # the repository's facts

    def meridian_env_names(self):
        names = set(LIBRARY_ENV)
        f = self.root / "Sources" / "MeridianConfig" / "EnvironmentOverrides.swift"
        try:
            text = f.read_text()
            block = text.split("variables:", 1)[1].split("]\n", 1)[0]
            found = re.findall(r'\("(MERIDIAN_[A-Z0-9_]+)"', block)
            if not found:
                raise ValueError("no MERIDIAN_ names in EnvironmentOverrides.variables")
            names.update(found)
        except (OSError, IndexError, ValueError) as e:
            self.problem(f"cannot read Meridian's environment variables from {rel(f, self.root)}: {e}")
        for f in sorted((self.root / "Sources").rglob("*.swift")):
            names.update(re.findall(r'env(?:ironment)?\["(OTEL_[A-Z0-9_]+)"\]', f.read_text()))
        return names

    def lifecycle_defaults(self):
        ref = self.root / "config" / "meridian.yaml"
        try:
            lc = (parse_one(ref.read_text()) or {}).get("lifecycle") or {}
            drain, shutdown = duration_seconds(lc["drain_delay"]), duration_seconds(lc["shutdown_timeout"])
            if drain is None or shutdown is None:
                raise ValueError("unparsable")
            return drain, shutdown
        except (OSError, KeyError, ValueError, yaml.YAMLError, AttributeError) as e:
            self.problem(f"config/meridian.yaml: cannot read the lifecycle defaults ({e!r})")
            return 5.0, 30.0

    def span_deadline(self):
        f = self.root / "Sources" / "MeridianServer" / "MeridianApplication.swift"
        try:
            m = re.search(r"spanDeadline:\s*mode == \.graceful \? \.seconds\((\d+)\)", f.read_text())
        except OSError:
            m = None
        if m:
            return float(m.group(1))
        self.note("span export deadline not found in MeridianApplication.swift; 5 s assumed")
        return 5.0

    # the run

    def run(self):
        if not self.k8s.is_dir():
            self.problem("deploy/kubernetes/ does not exist")
            return self.finish()
        yaml_files = sorted(p for p in self.k8s.rglob("*") if p.suffix in (".yaml", ".yml"))
        for f in yaml_files:
            if len(self.load_all(f)) > 1:
                # deploy/check.py loads every YAML file under deploy/ as a single document.
                self.problem(f"{rel(f, self.root)}: several documents in one file (deploy/check.py "
                             f"reads each file as one): one object per file")
        dirs = sorted({p.parent for p in self.k8s.rglob("*") if p.name in KUSTOMIZATION_FILES})
        resolver = Resolver(self)
        kinds, referenced = {}, set()
        for d in dirs:
            k = self.load_one(resolver.kustomization_file(d)) or {}
            kinds[d] = k.get("kind", "Kustomization")
            for r in k.get("resources") or []:
                if (d / r).is_dir():
                    referenced.add((d / r).resolve())
        roots = [d for d in dirs if kinds[d] != "Component" and d.resolve() not in referenced]
        bases = [d for d in dirs if kinds[d] != "Component" and d.resolve() in referenced]
        if not roots:
            self.problem("deploy/kubernetes: no overlay (a kustomization no other one uses)")
        rendered = {}
        for d in bases + roots:
            rendered[d] = resolver.render(d)
        for d in dirs:
            if kinds[d] == "Component" and d.resolve() not in self.component_users:
                self.problem(f"{rel(d, self.root)}: a component no overlay uses (never checked)")
        for f in sorted(p for p in self.k8s.rglob("*") if p.is_file()):
            if f.resolve() not in resolver.used_files and f.name != "README.md":
                self.problem(f"{rel(f, self.root)}: used by no kustomization")
        env_names = self.meridian_env_names()
        defaults = self.lifecycle_defaults()
        span = self.span_deadline()
        for d in roots:
            objs = rendered[d]
            name = rel(d, self.k8s)
            skipped = self.schema(name, objs)
            counts = {}
            for o in objs:
                counts[o["kind"]] = counts.get(o["kind"], 0) + 1
            self.summary.append(
                f"{name}: {len(objs)} objects ({', '.join(f'{n} {k}' for k, n in sorted(counts.items()))}); "
                f"schema {KUBE_VERSION} strict: {len(objs) - len(skipped)} checked, "
                f"{len(skipped)} CRD objects skipped ({', '.join(skipped) or 'none'})")
            self.semantics(name, objs, env_names, defaults, span)
        self.collector_copy()
        if self.use_kustomize:
            self.compare_with_kustomize({d: rendered[d] for d in bases + roots})
        if self.use_meridian:
            self.meridian_validate({d: rendered[d] for d in roots})
        return self.finish()

    def finish(self):
        return not self.problems

    # schema

    def schema(self, name, objs):
        skipped = []
        if kubernetes_validate is None:
            self.problem("kubernetes-validate is not installed (pip install -r the pins in scripts/test.sh)")
            return skipped
        for o in objs:
            if group_of(o.get("apiVersion")) in CRD_GROUPS:
                skipped.append(f"{o['kind']}/{o['metadata']['name']}")
                self.note(f"{name}: {o['kind']} {o['metadata']['name']}: a CRD "
                          f"({o['apiVersion']}), no schema in kubernetes-validate: skipped")
                continue
            try:
                kubernetes_validate.validate(o, KUBE_VERSION, strict=True)
            except kv_utils.ValidationError as e:
                path = ".".join(str(p) for p in e.path)
                self.problem(f"{name}: {label(o)}: schema {KUBE_VERSION} (strict): {path}: {e.message}")
            except kv_utils.SchemaNotFoundError as e:
                self.problem(f"{name}: {label(o)}: {e.message}")
        return skipped

    # semantics

    def find(self, objs, kind, name, ns):
        return next((o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name
                     and (o["metadata"].get("namespace") or "") == ns), None)

    def semantics(self, name, objs, env_names, defaults, span):
        workloads = [o for o in objs if pod_spec(o) is not None]
        services = [o for o in objs if o["kind"] == "Service"]

        def ns(o):
            return o["metadata"].get("namespace") or ""

        # Namespaces.
        namespaces = {ns(o) for o in objs if o["kind"] not in CLUSTER_SCOPED}
        if len(namespaces) > 1:
            self.problem(f"{name}: objects in several namespaces: {sorted(namespaces)}")
        for n in namespaces - {""}:
            if not self.find(objs, "Namespace", n, ""):
                self.note(f"{name}: namespace {n} is not created by the overlay")

        # Services: selectors and target ports.
        for s in services:
            spec = s.get("spec") or {}
            if spec.get("type") == "ExternalName":
                continue
            sel = spec.get("selector") or {}
            pods = [w for w in workloads if ns(w) == ns(s) and map_matches(sel, pod_labels(w))]
            if not pods:
                self.problem(f"{name}: Service {s['metadata']['name']}: selector {sel} matches the "
                             f"pods of no workload")
                continue
            for port in spec.get("ports") or []:
                target = port.get("targetPort", port.get("port"))
                for w in pods:
                    if not any(resolve_container_port(c, target) for c in pod_spec(w).get("containers") or []):
                        self.problem(f"{name}: Service {s['metadata']['name']}: port "
                                     f"{port.get('name')} targetPort {target} is no container port of "
                                     f"{label(w)}")
        for sts in (w for w in workloads if w["kind"] == "StatefulSet"):
            svc = self.find(objs, "Service", sts["spec"].get("serviceName"), ns(sts))
            if not svc:
                self.problem(f"{name}: {label(sts)}: serviceName {sts['spec'].get('serviceName')} "
                             f"is no Service")
            elif (svc.get("spec") or {}).get("clusterIP") != "None":
                self.problem(f"{name}: {label(sts)}: its Service {svc['metadata']['name']} is not "
                             f"headless (clusterIP: None)")

        # Selectors of workloads themselves.
        for w in workloads:
            if w["kind"] != "CronJob" and not selector_matches((w.get("spec") or {}).get("selector"),
                                                               pod_labels(w)):
                self.problem(f"{name}: {label(w)}: spec.selector does not match its pod labels")

        # PodDisruptionBudgets and HPAs.
        for pdb in (o for o in objs if o["kind"] == "PodDisruptionBudget"):
            sel = (pdb.get("spec") or {}).get("selector")
            if not [w for w in workloads if ns(w) == ns(pdb) and selector_matches(sel, pod_labels(w))]:
                self.problem(f"{name}: PodDisruptionBudget {pdb['metadata']['name']}: selector "
                             f"matches the pods of no workload")
        for hpa in (o for o in objs if o["kind"] == "HorizontalPodAutoscaler"):
            spec = hpa.get("spec") or {}
            ref = spec.get("scaleTargetRef") or {}
            target = self.find(objs, ref.get("kind"), ref.get("name"), ns(hpa))
            if not target or target.get("apiVersion") != ref.get("apiVersion"):
                self.problem(f"{name}: HorizontalPodAutoscaler {hpa['metadata']['name']}: "
                             f"scaleTargetRef {ref.get('apiVersion')} {ref.get('kind')} "
                             f"{ref.get('name')} is not in the overlay")
                continue
            if spec.get("minReplicas", 1) > spec.get("maxReplicas", 0):
                self.problem(f"{name}: HorizontalPodAutoscaler {hpa['metadata']['name']}: "
                             f"minReplicas > maxReplicas")
            for m in spec.get("metrics") or []:
                res = (m.get("resource") or {}).get("name") if m.get("type") == "Resource" else None
                if res and (m["resource"].get("target") or {}).get("type") == "Utilization":
                    for c in pod_spec(target).get("containers") or []:
                        if res not in ((c.get("resources") or {}).get("requests") or {}):
                            self.problem(f"{name}: HorizontalPodAutoscaler "
                                         f"{hpa['metadata']['name']}: {res} utilization needs "
                                         f"requests.{res} on container {c.get('name')}")

        # ServiceMonitors.
        for sm in (o for o in objs if o["kind"] == "ServiceMonitor"):
            sel = (sm.get("spec") or {}).get("selector")
            nss = ((sm.get("spec") or {}).get("namespaceSelector") or {}).get("matchNames") or [ns(sm)]
            chosen = [s for s in services if ns(s) in nss
                      and selector_matches(sel, s["metadata"].get("labels") or {})]
            if not chosen:
                self.problem(f"{name}: ServiceMonitor {sm['metadata']['name']}: selector matches "
                             f"no Service")
            for ep in (sm.get("spec") or {}).get("endpoints") or []:
                for s in chosen:
                    if ep.get("port") not in [p.get("name") for p in s["spec"].get("ports") or []]:
                        self.problem(f"{name}: ServiceMonitor {sm['metadata']['name']}: endpoint "
                                     f"port {ep.get('port')} is no port name of Service "
                                     f"{s['metadata']['name']}")

        # cert-manager issuers.
        for cert in (o for o in objs if o["kind"] == "Certificate"):
            ref = (cert.get("spec") or {}).get("issuerRef") or {}
            if ref.get("kind", "Issuer") == "Issuer":
                if not self.find(objs, "Issuer", ref.get("name"), ns(cert)):
                    self.problem(f"{name}: Certificate {cert['metadata']['name']}: Issuer "
                                 f"{ref.get('name')} is not in the overlay")
            else:
                self.note(f"{name}: Certificate {cert['metadata']['name']}: issued by "
                          f"{ref.get('kind')} {ref.get('name')} of the cluster")

        # Every workload: references, probes, security, resources.
        for w in workloads:
            spec = pod_spec(w)
            self.references(name, w, spec, objs)
            self.security(name, w, spec)
            for c in all_containers(spec):
                res = c.get("resources") or {}
                for field, what in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory")):
                    if what not in (res.get(field) or {}):
                        self.problem(f"{name}: {label(w)}: container {c.get('name')}: no "
                                     f"resources.{field}.{what}")
                for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                    pr = c.get(probe) or {}
                    port = (pr.get("httpGet") or pr.get("tcpSocket") or pr.get("grpc") or {}).get("port")
                    if port is not None and resolve_container_port(c, port) is None:
                        self.problem(f"{name}: {label(w)}: container {c.get('name')}: {probe} port "
                                     f"{port} is not a container port")
            ann = (pod_template(w).get("metadata") or {}).get("annotations") or {}
            if ann.get("prometheus.io/scrape") == "true":
                port = ann.get("prometheus.io/port")
                if not any(resolve_container_port(c, int(port)) for c in spec.get("containers") or []
                           if str(port).isdigit()):
                    self.problem(f"{name}: {label(w)}: prometheus.io/port {port} is not a container port")
            for c in spec.get("containers") or []:
                if is_meridian(c):
                    self.meridian(name, w, spec, c, objs, env_names, defaults, span)
                if is_collector(c):
                    self.collector(name, w, spec, c, objs)

    def provided_keys(self, objs, kind, obj_name, ns):
        """The keys a ConfigMap or Secret of the overlay holds (a cert-manager Certificate
        provides its Secret), or None when nothing provides it."""
        o = self.find(objs, kind, obj_name, ns)
        if o:
            return set(o.get("data") or {}) | set(o.get("stringData") or {}) | set(o.get("binaryData") or {})
        if kind == "Secret":
            for cert in (x for x in objs if x["kind"] == "Certificate"):
                if (cert.get("spec") or {}).get("secretName") == obj_name and \
                        (cert["metadata"].get("namespace") or "") == ns:
                    return {"tls.crt", "tls.key", "ca.crt"}
        return None

    def references(self, name, w, spec, objs):
        ns = w["metadata"].get("namespace") or ""
        volumes = {v.get("name"): v for v in spec.get("volumes") or []}

        def need(kind, obj_name, keys, optional, what):
            have = self.provided_keys(objs, kind, obj_name, ns)
            if have is None:
                if not optional:
                    self.problem(f"{name}: {label(w)}: {what}: {kind} {obj_name} is not in the overlay")
                return
            for k in keys:
                if k not in have:
                    self.problem(f"{name}: {label(w)}: {what}: {kind} {obj_name} has no key {k}")

        for v in volumes.values():
            if "configMap" in v:
                need("ConfigMap", v["configMap"].get("name"), [i["key"] for i in v["configMap"].get("items") or []],
                     v["configMap"].get("optional"), f"volume {v['name']}")
            if "secret" in v:
                need("Secret", v["secret"].get("secretName"), [i["key"] for i in v["secret"].get("items") or []],
                     v["secret"].get("optional"), f"volume {v['name']}")
        for c in all_containers(spec):
            for m in c.get("volumeMounts") or []:
                if m.get("name") not in volumes:
                    self.problem(f"{name}: {label(w)}: container {c.get('name')}: volumeMount "
                                 f"{m.get('name')} names no volume")
            for e in c.get("env") or []:
                vf = e.get("valueFrom") or {}
                for kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                    if field in vf:
                        r = vf[field]
                        need(kind, r.get("name"), [r.get("key")], r.get("optional"), f"env {e.get('name')}")
            for e in c.get("envFrom") or []:
                for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if field in e:
                        need(kind, e[field].get("name"), [], e[field].get("optional"), "envFrom")

    def security(self, name, w, spec):
        psc = spec.get("securityContext") or {}
        for c in all_containers(spec):
            sc = c.get("securityContext") or {}
            where = f"{name}: {label(w)}: container {c.get('name')}"
            if sc.get("readOnlyRootFilesystem") is not True:
                self.problem(f"{where}: securityContext.readOnlyRootFilesystem is not true")
            if sc.get("allowPrivilegeEscalation") is not False:
                self.problem(f"{where}: securityContext.allowPrivilegeEscalation is not false")
            if sc.get("privileged"):
                self.problem(f"{where}: privileged")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                self.problem(f"{where}: capabilities do not drop ALL")
            if set((sc.get("capabilities") or {}).get("add") or []) - {"NET_BIND_SERVICE"}:
                self.problem(f"{where}: adds capabilities")
            if sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is not True:
                self.problem(f"{where}: runAsNonRoot is not true")
            if sc.get("runAsUser", psc.get("runAsUser")) == 0:
                self.problem(f"{where}: runAsUser 0")
            seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
            if seccomp not in ("RuntimeDefault", "Localhost"):
                self.problem(f"{where}: seccompProfile is not RuntimeDefault")

    # Meridian's container

    def mounted_file(self, spec, c, path, objs, ns):
        """The (volume, object kind, object name, key) behind a file path in the container."""
        volumes = {v.get("name"): v for v in spec.get("volumes") or []}
        best = None
        for m in c.get("volumeMounts") or []:
            mp = m.get("mountPath", "").rstrip("/")
            if m.get("subPath") and path == mp:
                best = (m, m["subPath"])
            elif not m.get("subPath") and path.startswith(mp + "/") and \
                    (best is None or len(mp) > len(best[0]["mountPath"])):
                best = (m, path[len(mp) + 1:])
        if not best:
            return None
        v = volumes.get(best[0].get("name")) or {}
        for field, kind, ref in (("configMap", "ConfigMap", "name"), ("secret", "Secret", "secretName")):
            if field in v:
                items = {i["path"]: i["key"] for i in v[field].get("items") or []}
                return v, kind, v[field].get(ref), items.get(best[1], best[1]), best[0]
        return v, None, None, best[1], best[0]

    def meridian(self, name, w, spec, c, objs, env_names, defaults, span):
        ns = w["metadata"].get("namespace") or ""
        where = f"{name}: {label(w)}: container {c.get('name')}"
        args = [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]

        def flag(*names):
            for i, a in enumerate(args):
                for n in names:
                    if a == n and i + 1 < len(args):
                        return args[i + 1]
                    if a.startswith(n + "="):
                        return a.split("=", 1)[1]
            return None

        # The environment, as Kubernetes gives it: literal values and $(NAME) expansion order.
        env, literal = c.get("env") or [], {}
        defined = []
        for e in env:
            n = e.get("name")
            for ref in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", str(e.get("value", ""))):
                if ref not in defined:
                    self.problem(f"{where}: env {n} uses $({ref}), which is not defined before it "
                                 f"(Kubernetes expands only earlier variables; a strategic-merge "
                                 f"patch puts patched env entries first)")
            defined.append(n)
            if "value" in e:
                literal[n] = str(e["value"])
        config_text, config = self.meridian_config(where, spec, c, objs, ns, flag("--config", "-c"))
        allowed = set(env_names)
        for m in re.finditer(r"(?:secret_env|key_env|previous_key_env):\s*([A-Za-z_][A-Za-z0-9_]*)",
                             config_text or ""):
            allowed.add(m.group(1))
        helpers = {ref for e in env if e.get("name") in allowed
                   for ref in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", str(e.get("value", "")))}
        for e in env:
            if e.get("name") not in allowed and e.get("name") not in helpers:
                self.problem(f"{where}: env {e.get('name')}: Meridian does not read it (it reads "
                             f"the MERIDIAN_* of EnvironmentOverrides.swift and OTEL_*: "
                             f"{', '.join(sorted(allowed))})")
        if c.get("envFrom"):
            self.note(f"{where}: envFrom: its variable names are not checked")
        for n in ("MERIDIAN_DRAIN_DELAY", "MERIDIAN_SHUTDOWN_TIMEOUT", "MERIDIAN_LISTEN", "MERIDIAN_ADMIN"):
            if any(e.get("name") == n and "valueFrom" in e for e in env):
                self.problem(f"{where}: env {n} comes from valueFrom: its value cannot be checked here")
        if config is None:
            return

        # Listeners and the admin listener, after the environment and the flags.
        listeners = config.get("listeners")
        listeners = [{"name": "http", "address": "0.0.0.0:8080"}] if listeners is None else listeners
        for what, override in (("MERIDIAN_LISTEN", literal.get("MERIDIAN_LISTEN")),
                               ("--listen", flag("--listen"))):
            if override is not None:      # EnvironmentOverrides / CommandLineOverrides.apply
                first = dict(listeners[0]) if listeners else {"name": "http"}
                if len(listeners) > 1:
                    self.problem(f"{where}: {what} keeps only the config's first listener "
                                 f"({first.get('name')}), moved to {override}: the others are dropped")
                first["address"] = override
                listeners = [first]
        admin_cfg = config.get("admin") or {}
        admin = admin_cfg.get("address", "127.0.0.1:9901")
        if admin_cfg.get("enabled") is False:
            admin = None
        if "MERIDIAN_ADMIN" in literal:
            admin = None if literal["MERIDIAN_ADMIN"] == "off" else literal["MERIDIAN_ADMIN"]
        if flag("--admin"):
            admin = flag("--admin")
        for lst in listeners:
            host, port = parse_address(lst.get("address", ""))
            if port is None:
                self.problem(f"{where}: config listener {lst.get('name')}: address "
                             f"{lst.get('address')!r} is not HOST:PORT")
            elif resolve_container_port(c, port) is None:
                self.problem(f"{where}: config listener {lst.get('name')} port {port} is not a "
                             f"container port ({[p.get('containerPort') for p in c.get('ports') or []]})")
            for cert in ((lst.get("tls") or {}).get("certificates") or []):
                for field in ("cert", "key"):
                    path = str(cert.get(field, ""))
                    m = self.mounted_file(spec, c, path, objs, ns)
                    if not m or m[1] != "Secret":
                        self.problem(f"{where}: config listener {lst.get('name')}: tls {field} {path} "
                                     f"is not in a mounted Secret")
                    elif m[3] not in (self.provided_keys(objs, "Secret", m[2], ns) or {m[3]}):
                        self.problem(f"{where}: config listener {lst.get('name')}: tls {field} {path}: "
                                     f"Secret {m[2]} has no key {m[3]}")
        if not any((lst.get("tls") or {}).get("certificates") for lst in listeners):
            self.note(f"{where}: no TLS listener in the config")
        admin_port = None
        if admin is None:
            self.problem(f"{where}: the admin listener is off: no probes, no metrics")
        else:
            host, admin_port = parse_address(admin)
            if host in ("127.0.0.1", "localhost", "::1") or str(host).startswith("127."):
                self.problem(f"{where}: admin listener {admin} binds loopback: the kubelet's probes "
                             f"and Prometheus cannot reach it (bind 0.0.0.0)")
            if admin_port is not None and resolve_container_port(c, admin_port) is None:
                self.problem(f"{where}: admin listener port {admin_port} is not a container port")

        # Probes: the three endpoints, on the admin port.
        for probe, path in PROBES:
            pr = c.get(probe)
            if not pr:
                self.problem(f"{where}: no {probe} ({path})")
                continue
            hg = pr.get("httpGet") or {}
            if hg.get("path") != path:
                self.problem(f"{where}: {probe} path {hg.get('path')!r}, expected {path}")
            port = resolve_container_port(c, hg.get("port", -1)) if hg.get("port") is not None else None
            if admin_port is not None and port is not None and port != admin_port:
                self.problem(f"{where}: {probe} port {hg.get('port')} ({port}) is not the admin "
                             f"listener's port {admin_port}")

        # Files Meridian writes must be on a writable volume.
        writes = []
        log = (config.get("telemetry") or {}).get("access_log") or {}
        log_path = literal.get("MERIDIAN_ACCESS_LOG", log.get("path", "stdout"))
        if log.get("enabled", True) and str(log_path).lower() not in ("stdout", "stderr", "off"):
            writes.append(("access log", str(log_path)))
        for h in config.get("hosts") or []:
            for r in h.get("routes") or []:
                if isinstance(r.get("upload"), dict):
                    writes.append((f"upload route {r.get('match')}", str(r["upload"].get("root", ""))))
        volumes = {v.get("name"): v for v in spec.get("volumes") or []}
        for what, path in writes:
            mounts = [m for m in c.get("volumeMounts") or []
                      if (path + "/").startswith(m.get("mountPath", "").rstrip("/") + "/")
                      and not m.get("readOnly")
                      and ("emptyDir" in volumes.get(m.get("name"), {})
                           or "persistentVolumeClaim" in volumes.get(m.get("name"), {})
                           or "ephemeral" in volumes.get(m.get("name"), {}))]
            if not mounts:
                self.problem(f"{where}: the {what} writes {path}, which is on no writable volume "
                             f"(the root filesystem is read-only)")

        # Redis: the URL form of the environment and a cluster of the file do not mix.
        redis = config.get("redis") or {}
        if "MERIDIAN_REDIS_URL" in [e.get("name") for e in env] and redis.get("cluster"):
            self.problem(f"{where}: MERIDIAN_REDIS_URL is set and the config has redis.cluster: "
                         f"the variable turns the cluster into one standalone node "
                         f"(EnvironmentOverrides.apply sets cluster = false)")
        url = self.env_value(objs, ns, next((e for e in env if e.get("name") == "MERIDIAN_REDIS_URL"), None))
        if url and url != "off":
            scheme, host, port = parse_url(url)
            if scheme not in ("redis", "rediss"):
                self.problem(f"{where}: MERIDIAN_REDIS_URL is not redis:// or rediss://")
            else:
                self.service_target(where, "MERIDIAN_REDIS_URL", objs, ns, host, port or 6379,
                                    external_ok=True)

        # Traces to the collector's OTLP/HTTP receiver.
        ep = literal.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or literal.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        if ep:
            scheme, host, port = parse_url(ep)
            if scheme not in ("http", "https"):
                self.problem(f"{where}: OTEL_EXPORTER_OTLP_ENDPOINT {ep!r} is not an http(s) URL")
            else:
                target = self.service_target(where, "OTEL_EXPORTER_OTLP_ENDPOINT", objs, ns, host,
                                             port or (443 if scheme == "https" else 80), external_ok=False)
                if target:
                    wl, cont, cport = target
                    col = self.collector_config(wl, cont, objs)
                    http = (((col or {}).get("receivers") or {}).get("otlp") or {}).get("protocols", {}).get("http")
                    want = parse_address((http or {}).get("endpoint", ""))[1]
                    if col is not None and cport != want:
                        self.problem(f"{where}: OTEL_EXPORTER_OTLP_ENDPOINT reaches port {cport} of "
                                     f"{label(wl)}, not its OTLP/HTTP receiver ({want})")
        else:
            self.note(f"{where}: no OTEL_EXPORTER_OTLP_ENDPOINT: tracing is off unless the config names one")

        # Lifecycle: the grace period and the probes against drain_delay.
        lc = config.get("lifecycle") or {}
        drain = duration_seconds(literal.get("MERIDIAN_DRAIN_DELAY", lc.get("drain_delay", defaults[0])))
        shutdown = duration_seconds(literal.get("MERIDIAN_SHUTDOWN_TIMEOUT",
                                                lc.get("shutdown_timeout", defaults[1])))
        if drain is None or shutdown is None:
            self.problem(f"{where}: drain_delay / shutdown_timeout are not durations")
            return
        grace = spec.get("terminationGracePeriodSeconds", 30)
        need = drain + shutdown + span
        if not grace > need:
            self.problem(f"{where}: terminationGracePeriodSeconds {grace} must exceed drain_delay "
                         f"{drain:g}s + shutdown_timeout {shutdown:g}s + span export {span:g}s = "
                         f"{need:g}s, or the kubelet kills requests still in flight")
        ready = c.get("readinessProbe") or {}
        notice = ready.get("periodSeconds", 10) * ready.get("failureThreshold", 3)
        if ready and not notice < drain:
            self.problem(f"{where}: readinessProbe notices a draining pod only after periodSeconds x "
                         f"failureThreshold = {notice}s, not within drain_delay {drain:g}s")
        lb = (w["metadata"].get("annotations") or {}).get("meridian/load-balancer-check")
        m = re.fullmatch(r"\s*interval=(\S+)\s+fall=(\d+)\s*", str(lb or ""))
        if not m or duration_seconds(m.group(1)) is None:
            self.problem(f"{where}: annotation meridian/load-balancer-check: \"interval=Ns fall=N\" "
                         f"missing or malformed ({lb!r}): drain_delay cannot be judged against the "
                         f"load balancer")
        elif not duration_seconds(m.group(1)) * int(m.group(2)) < drain:
            self.problem(f"{where}: drain_delay {drain:g}s is not longer than the load balancer's "
                         f"interval x fall = {duration_seconds(m.group(1)) * int(m.group(2)):g}s")
        start = c.get("startupProbe") or {}
        budget = start.get("initialDelaySeconds", 0) + start.get("periodSeconds", 10) * start.get("failureThreshold", 3)
        if start and budget < MIN_STARTUP_BUDGET:
            self.problem(f"{where}: startupProbe allows {budget}s, less than {MIN_STARTUP_BUDGET}s")
        self.summary.append(f"{name}: meridian: drain {drain:g}s + shutdown {shutdown:g}s + spans "
                            f"{span:g}s {'<' if grace > need else 'NOT <'} grace {grace}s; readiness "
                            f"notices a drain in {notice}s; load balancer {lb}; startup budget {budget}s")

        # Topology spread across nodes and zones.
        keys = {t.get("topologyKey") for t in spec.get("topologySpreadConstraints") or []
                if selector_matches(t.get("labelSelector"), pod_labels(w))}
        for k in ("kubernetes.io/hostname", "topology.kubernetes.io/zone"):
            if k not in keys:
                self.problem(f"{where}: no topologySpreadConstraint on {k} selecting its pods")
        ann = (pod_template(w).get("metadata") or {}).get("annotations") or {}
        if str(ann.get("prometheus.io/port")) != str(admin_port):
            self.problem(f"{where}: prometheus.io/port {ann.get('prometheus.io/port')} is not the "
                         f"admin port {admin_port}")

    def meridian_config(self, where, spec, c, objs, ns, path):
        if not path:
            self.problem(f"{where}: no --config: Meridian would serve ./public with its defaults")
            return None, None
        m = self.mounted_file(spec, c, path, objs, ns)
        if not m or m[1] != "ConfigMap":
            self.problem(f"{where}: --config {path} is not in a mounted ConfigMap")
            return None, None
        cm = self.find(objs, "ConfigMap", m[2], ns)
        if cm is None or m[3] not in (cm.get("data") or {}):
            self.problem(f"{where}: --config {path}: ConfigMap {m[2]} has no key {m[3]}")
            return None, None
        text = cm["data"][m[3]]
        try:
            config = parse_one(text) or {}
        except yaml.YAMLError as e:
            self.problem(f"{where}: --config {path} (ConfigMap {m[2]}): not YAML: {e}")
            return text, None
        if not isinstance(config, dict):
            self.problem(f"{where}: --config {path}: not a mapping")
            return text, None
        return text, config

    def env_value(self, objs, ns, e):
        if not e:
            return None
        if "value" in e:
            return str(e["value"])
        vf = e.get("valueFrom") or {}
        for kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
            if field in vf:
                o = self.find(objs, kind, vf[field].get("name"), ns)
                if not o:
                    return None
                if vf[field].get("key") in (o.get("stringData") or {}):
                    return o["stringData"][vf[field]["key"]]
                v = (o.get("data") or {}).get(vf[field].get("key"))
                if v is None:
                    return None
                return base64.b64decode(v).decode() if kind == "Secret" else v
        return None

    def service_target(self, where, what, objs, ns, host, port, external_ok):
        """host:port in the cluster: SERVICE, POD.SERVICE (headless) or SERVICE.NS[.svc...] ->
        (workload, container, container port), or None (external, or a problem)."""
        parts = host.split(".")
        if len(parts) == 1:
            cands = [(parts[0], ns)]
        elif len(parts) == 2:                              # POD.SERVICE or SERVICE.NAMESPACE
            cands = [(parts[1], ns), (parts[0], parts[1])]
        else:                                              # ....svc[.cluster.local]
            cands = [(parts[0], parts[1])] if parts[2] == "svc" else []
            if len(parts) >= 4 and parts[3] == "svc":
                cands.append((parts[1], parts[2]))
        svc = next((self.find(objs, "Service", n, s) for n, s in cands if self.find(objs, "Service", n, s)), None)
        if not svc:
            if external_ok:
                self.note(f"{where}: {what} names {host}:{port}, outside the overlay")
            else:
                self.problem(f"{where}: {what} names {host}:{port}, which is no Service of the overlay")
            return None
        ports = [p for p in svc["spec"].get("ports") or [] if p.get("port") == port]
        if not ports:
            self.problem(f"{where}: {what}: Service {svc['metadata']['name']} has no port {port}")
            return None
        if svc["spec"].get("type") == "ExternalName":
            return None
        target = ports[0].get("targetPort", port)
        for w in (o for o in objs if pod_spec(o) is not None):
            if map_matches(svc["spec"].get("selector") or {}, pod_labels(w)):
                for cont in pod_spec(w).get("containers") or []:
                    cport = resolve_container_port(cont, target)
                    if cport:
                        return w, cont, cport
        return None

    # the collector

    def collector_config(self, w, c, objs):
        args = [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]
        path = next((a.split("=", 1)[1] for a in args if a.startswith("--config=")), None)
        if path is None and "--config" in args[:-1]:
            path = args[args.index("--config") + 1]
        path = path or "/etc/otelcol-contrib/config.yaml"      # the contrib image's default
        if path.startswith("file:"):
            path = path[len("file:"):]
        ns = w["metadata"].get("namespace") or ""
        m = self.mounted_file(pod_spec(w), c, path, objs, ns)
        if not m or m[1] != "ConfigMap":
            return None
        cm = self.find(objs, "ConfigMap", m[2], ns)
        text = ((cm or {}).get("data") or {}).get(m[3])
        try:
            return parse_one(text) if text else None
        except yaml.YAMLError:
            return None

    def collector(self, name, w, spec, c, objs):
        where = f"{name}: {label(w)}: container {c.get('name')}"
        col = self.collector_config(w, c, objs)
        if col is None:
            self.problem(f"{where}: its --config is not a YAML file of a mounted ConfigMap")
            return
        ref = (self.root / "otel" / "collector.yaml")
        if ref.is_file() and col != parse_one(ref.read_text()):
            self.problem(f"{where}: the config it mounts differs from otel/collector.yaml")

        def endpoints(obj):
            if isinstance(obj, dict):
                for k, v in obj.items():
                    if k == "endpoint" and isinstance(v, str):
                        yield v
                    else:
                        yield from endpoints(v)
            elif isinstance(obj, list):
                for v in obj:
                    yield from endpoints(v)
        for section in ("receivers", "extensions"):
            for comp, conf in (col.get(section) or {}).items():
                for ep in endpoints(conf):
                    port = parse_address(ep)[1]
                    if port and resolve_container_port(c, port) is None:
                        self.problem(f"{where}: {section} {comp} listens on {port}, not a container port")
        prom = (col.get("exporters") or {}).get("prometheus") or {}
        if prom.get("endpoint") and resolve_container_port(c, parse_address(prom["endpoint"])[1]) is None:
            self.problem(f"{where}: the prometheus exporter's port is not a container port")
        ns = w["metadata"].get("namespace") or ""
        for comp, conf in (col.get("exporters") or {}).items():
            if comp.split("/")[0] in ("otlp", "otlphttp") and isinstance(conf, dict):
                ep = str(conf.get("endpoint", ""))
                host, port = (parse_url(ep)[1:] if "://" in ep else parse_address(ep))
                if host and not self.find(objs, "Service", host.split(".")[0], ns):
                    self.problem(f"{where}: exporter {comp} sends to {host}, which is no Service of "
                                 f"the overlay (an ExternalName alias will do)")
        limit = quantity_bytes(((c.get("resources") or {}).get("limits") or {}).get("memory", "0"))
        ml = (col.get("processors") or {}).get("memory_limiter") or {}
        if ml.get("limit_mib") and limit and not ml["limit_mib"] * (1 << 20) < limit:
            self.problem(f"{where}: memory_limiter limit_mib {ml['limit_mib']} is not below the "
                         f"container's memory limit")
        pipelines = ((col.get("service") or {}).get("pipelines") or {}).values()
        if any("tail_sampling" in (p.get("processors") or []) for p in pipelines) and \
                (w.get("spec") or {}).get("replicas", 1) != 1:
            self.problem(f"{where}: tail_sampling needs every span of a trace in one collector: "
                         f"replicas must be 1 (or a load-balancing exporter in front)")

    def collector_copy(self):
        copy_ = self.k8s / "otel-collector" / "collector.yaml"
        ref = self.root / "otel" / "collector.yaml"
        if copy_.is_file() and ref.is_file() and copy_.read_bytes() != ref.read_bytes():
            self.problem("deploy/kubernetes/otel-collector/collector.yaml differs from "
                         "otel/collector.yaml: cp otel/collector.yaml deploy/kubernetes/otel-collector/")

    # kustomize itself, when installed

    def compare_with_kustomize(self, rendered):
        if shutil.which("kustomize"):
            cmd, version_cmd = ["kustomize", "build"], ["kustomize", "version"]
        elif shutil.which("kubectl"):
            cmd, version_cmd = ["kubectl", "kustomize"], ["kubectl", "version", "--client"]
        else:
            self.note("no kustomize or kubectl: renderings checked by this script's resolver only")
            self.summary.append("kustomize: not installed (this script's resolver only)")
            return
        try:
            out = subprocess.run(version_cmd, capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        m = re.search(r"Kustomize Version: (\S+)|^(v?\d+\.\d+\.\d+)", out, re.M)
        version = (m.group(1) or m.group(2)) if m else "?"
        major = re.match(r"v?(\d+)", version)
        if not major or int(major.group(1)) < 5:
            # Debian's kubectl 1.20 bundles kustomize 2, which knows no components or labels.
            self.note(f"{' '.join(cmd)} has kustomize {version}; 5 or newer is needed to compare")
            self.summary.append(f"kustomize: {version} is too old to compare (resolver only)")
            return
        same = []
        for d, objs in rendered.items():
            name = rel(d, self.k8s)
            try:
                r = subprocess.run(cmd + [str(d)], capture_output=True, text=True, timeout=60)
            except (OSError, subprocess.TimeoutExpired) as e:
                self.problem(f"{name}: {' '.join(cmd)}: {e}")
                continue
            if r.returncode:
                self.problem(f"{name}: {' '.join(cmd)} failed: {r.stderr.strip()[:2000]}")
                continue
            theirs = {key(o): o for o in parse_all(r.stdout)}
            ours = {key(o): o for o in objs}
            for k in sorted(set(theirs) ^ set(ours), key=str):
                self.problem(f"{name}: {'only kustomize' if k in theirs else 'only this script'} "
                             f"renders {k[0]} {k[2]}")
            for k in sorted(set(theirs) & set(ours), key=str):
                diff = first_difference(theirs[k], ours[k])
                if diff:
                    self.problem(f"{name}: {k[0]} {k[2]}: kustomize and this script's resolver "
                                 f"disagree at {diff}")
            same.append(name)
        self.summary.append(f"kustomize {version} ({' '.join(cmd)}): renders the same objects as the "
                            f"resolver for {', '.join(same)}")

    # meridian validate, when built

    def meridian_validate(self, rendered):
        candidates = [os.environ.get("MERIDIAN_BIN")] if os.environ.get("MERIDIAN_BIN") else \
            [self.root / ".build" / "debug" / "meridian", self.root / ".build" / "release" / "meridian"]
        binary = next((str(b) for b in candidates if b and os.access(str(b), os.X_OK)), None)
        if not binary or not shutil.which("openssl"):
            self.summary.append("meridian validate: skipped (no built meridian binary, or no openssl)")
            return
        results = []
        for d, objs in rendered.items():
            name = rel(d, self.k8s)
            for w in (o for o in objs if pod_spec(o) is not None):
                spec, ns = pod_spec(w), w["metadata"].get("namespace") or ""
                for c in (x for x in spec.get("containers") or [] if is_meridian(x)):
                    args = [str(a) for a in c.get("args") or []]
                    path = next((args[i + 1] for i, a in enumerate(args) if a in ("--config", "-c")
                                 and i + 1 < len(args)), None)
                    m = path and self.mounted_file(spec, c, path, objs, ns)
                    cm = m and self.find(objs, "ConfigMap", m[2], ns)
                    if not cm:
                        continue
                    results.append(f"{name} {self.validate_one(name, binary, spec, c, cm['data'][m[3]], objs, ns)}")
        self.summary.append(f"meridian validate ({os.path.relpath(binary, self.root)}): "
                            f"{', '.join(results) or 'no Meridian container'}")

    def validate_one(self, name, binary, spec, c, text, objs, ns):
        volumes = {v.get("name"): v for v in spec.get("volumes") or []}
        with tempfile.TemporaryDirectory(prefix="check-kubernetes-") as tmp:
            for mnt in c.get("volumeMounts") or []:
                v = volumes.get(mnt.get("name")) or {}
                if "secret" not in v:
                    continue
                local = Path(tmp) / mnt["name"]
                local.mkdir()
                sec = self.find(objs, "Secret", v["secret"].get("secretName"), ns)
                if sec:
                    for k, val in (sec.get("data") or {}).items():
                        (local / k).write_bytes(base64.b64decode(val))
                else:   # a cert-manager Certificate: a throwaway certificate of the same shape
                    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                        "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
                                        "/CN=check-kubernetes", "-keyout", str(local / "tls.key"),
                                        "-out", str(local / "tls.crt")], capture_output=True, text=True)
                    if r.returncode:
                        self.problem(f"{name}: openssl for a stand-in certificate: {r.stderr.strip()}")
                        return "not run"
                    shutil.copy(local / "tls.crt", local / "ca.crt")
                text = text.replace(mnt["mountPath"].rstrip("/") + "/", str(local) + "/")
            cfg = Path(tmp) / "meridian.yaml"
            cfg.write_text(text)
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
            for e in c.get("env") or []:
                if e.get("name", "").startswith("MERIDIAN_"):
                    v = self.env_value(objs, ns, e)
                    if v is not None:
                        env[e["name"]] = v
            r = subprocess.run([binary, "validate", str(cfg)], capture_output=True, text=True,
                               env=env, timeout=60)
            if r.returncode:
                self.problem(f"{name}: meridian validate of the ConfigMap's config (environment "
                             f"{sorted(k for k in env if k != 'PATH')}): "
                             f"{(r.stdout + r.stderr).strip()}")
                return "FAILED"
            return "ok"


def first_difference(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                return f"{path}.{k} ({'missing in the resolver' if k in a else 'only in the resolver'})"
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path} (kustomize: {len(a)} items, resolver: {len(b)})"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path} (kustomize: {a!r}, resolver: {b!r})"


# ---- self-test -------------------------------------------------------------------------------

# (what is broken, file under deploy/kubernetes (or the repository), old text, new text,
#  a piece of the problem that must be reported)
BROKEN = [
    ("wrong Service selector", "base/service.yaml",
     "    app.kubernetes.io/component: server\n  ports:\n    - name: http",
     "    app.kubernetes.io/component: web\n  ports:\n    - name: http",
     "Service meridian: selector"),
    ("missing resource", "base/kustomization.yaml", "  - pdb.yaml\n", "  - pdb.yaml\n  - ingress.yaml\n",
     "resource ingress.yaml: no such file"),
    ("bad probe port", "base/deployment.yaml",
     "          readinessProbe:\n            httpGet:\n              path: /readyz\n              port: admin",
     "          readinessProbe:\n            httpGet:\n              path: /readyz\n              port: 9902",
     "readinessProbe port 9902 is not a container port"),
    ("grace period too short", "base/deployment.yaml",
     "terminationGracePeriodSeconds: 45", "terminationGracePeriodSeconds: 30",
     "terminationGracePeriodSeconds 30 must exceed drain_delay 5s + shutdown_timeout 30s"),
    ("schema error (a misspelt field, strict mode)", "base/deployment.yaml",
     "          readinessProbe:", "          readinesProbe:",
     "'readinesProbe' was unexpected"),
    ("schema error (a wrong type)", "base/pdb.yaml", "maxUnavailable: 1", "maxUnavailable: [1]",
     "PodDisruptionBudget meridian: schema 1.30 (strict): spec.maxUnavailable"),
    ("an env var Meridian does not read", "base/deployment.yaml",
     "            - name: OTEL_SERVICE_NAME\n", "            - name: MERIDIAN_SERVICE_NAME\n",
     "env MERIDIAN_SERVICE_NAME: Meridian does not read it"),
    ("env patched out of expansion order", "overlays/dev/deployment-patch.yaml",
     "            - name: DEPLOYMENT_ENVIRONMENT      # deployment.environment of every span\n"
     "              value: dev\n",
     "            - name: OTEL_RESOURCE_ATTRIBUTES\n"
     "              value: service.instance.id=$(POD_NAME),deployment.environment=dev\n",
     "env OTEL_RESOURCE_ATTRIBUTES uses $(POD_NAME), which is not defined before it"),
    ("config admin port off the container ports", "base/meridian.yaml",
     "  address: 0.0.0.0:9901", "  address: 0.0.0.0:9902",
     "admin listener port 9902 is not a container port"),
    ("admin listener on loopback", "base/meridian.yaml",
     "  address: 0.0.0.0:9901", "  address: 127.0.0.1:9901", "binds loopback"),
    ("HPA aimed at another Deployment", "base/hpa.yaml", "    name: meridian\n  minReplicas",
     "    name: meridian-server\n  minReplicas", "scaleTargetRef apps/v1 Deployment meridian-server"),
    ("PDB selecting nothing", "base/pdb.yaml", "      app.kubernetes.io/component: server\n",
     "      app.kubernetes.io/component: api\n", "PodDisruptionBudget meridian: selector matches"),
    ("ServiceMonitor port name", "components/servicemonitor/servicemonitor.yaml", "    - port: admin",
     "    - port: metrics-admin", "endpoint port metrics-admin is no port name"),
    ("readiness slower than the drain delay", "base/deployment.yaml",
     "            periodSeconds: 2\n            timeoutSeconds: 1\n            failureThreshold: 2",
     "            periodSeconds: 5\n            timeoutSeconds: 1\n            failureThreshold: 2",
     "readinessProbe notices a draining pod only after"),
    ("drain delay under the load balancer's check", "overlays/production/deployment-patch.yaml",
     "              value: 15s", "              value: 8s",
     "drain_delay 8s is not longer than the load balancer's interval x fall = 10s"),
    ("writable root filesystem", "otel-collector/deployment.yaml", "readOnlyRootFilesystem: true",
     "readOnlyRootFilesystem: false", "readOnlyRootFilesystem is not true"),
    ("collector config copy drifted", "otel-collector/collector.yaml", "decision_wait: 10s",
     "decision_wait: 30s", "differs from otel/collector.yaml"),
    ("generator file outside the kustomization", "otel-collector/kustomization.yaml",
     "config.yaml=collector.yaml", "config.yaml=../../../otel/collector.yaml",
     "outside the kustomization's directory"),
    ("a ConfigMap the Deployment mounts is missing", "base/kustomization.yaml",
     "  - name: meridian-config\n", "  - name: meridian-settings\n",
     "ConfigMap meridian-config is not in the overlay"),
    ("Redis URL to a port the Service lacks", "overlays/dev/kustomization.yaml",
     "redis://redis-0.redis:6379/0", "redis://redis-0.redis:6380/0",
     "Service redis has no port 6380"),
    ("traces sent to the collector's gRPC port", "base/deployment.yaml",
     "http://otel-collector:4318", "http://otel-collector:4317",
     "reaches port 4317 of Deployment otel-collector, not its OTLP/HTTP receiver (4318)"),
    ("TLS key outside the Secret", "base/meridian.yaml", "key: /etc/meridian/tls/tls.key",
     "key: /etc/meridian/private/tls.key", "tls key /etc/meridian/private/tls.key is not in a mounted Secret"),
    ("MERIDIAN_LISTEN dropping a listener", "base/deployment.yaml",
     "            - name: OTEL_SERVICE_NAME\n", "            - name: MERIDIAN_LISTEN\n"
     "              value: 0.0.0.0:8080\n            - name: OTEL_SERVICE_NAME\n",
     "MERIDIAN_LISTEN keeps only the config's first listener (https), moved to 0.0.0.0:8080"),
    ("a file no kustomization uses", "base/README.yaml", None, "kind: Ingress\n",
     "base/README.yaml: used by no kustomization"),
    ("two objects in one file", "base/pdb.yaml", "apiVersion: policy/v1",
     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\napiVersion: policy/v1",
     "base/pdb.yaml: several documents in one file"),
    ("a kustomization field the resolver does not know", "overlays/dev/kustomization.yaml",
     "namespace: meridian-dev\n", "namespace: meridian-dev\nnamePrefix: dev-\n",
     "namePrefix: not supported"),
]


def self_test():
    started = time.monotonic()
    fails = 0
    with tempfile.TemporaryDirectory(prefix="check-kubernetes-self-test-") as tmp:
        pristine = Path(tmp) / "pristine"
        for part in ("deploy/kubernetes", "otel", "config",
                     "Sources/MeridianConfig/EnvironmentOverrides.swift",
                     "Sources/MeridianTelemetry/TracingSetup.swift",
                     "Sources/MeridianServer/MeridianApplication.swift"):
            src, dst = ROOT / part, pristine / part
            dst.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if src.is_dir() else shutil.copy)(src, dst)
        c = Checker(pristine, use_kustomize=False, use_meridian=False)
        if not c.run():
            print("self-test: FAIL: the unmodified copy does not pass:", file=sys.stderr)
            for p in c.problems:
                print(f"  {p}", file=sys.stderr)
            return 1
        print("self-test: ok     the unmodified copy passes")
        for i, (what, file, old, new, expect) in enumerate(BROKEN):
            case = Path(tmp) / f"case{i}"
            shutil.copytree(pristine, case)
            target = case / "deploy" / "kubernetes" / file
            text = target.read_text() if old is not None else ""
            if old is None:                 # a new file
                old, text = "", ""
            elif text.count(old) < 1:
                print(f"self-test: FAIL: {what}: {file} no longer contains {old!r}", file=sys.stderr)
                fails += 1
                continue
            target.write_text(text.replace(old, new, 1))
            c = Checker(case, use_kustomize=False, use_meridian=False)
            c.run()
            hit = [p for p in c.problems if expect in p]
            if hit:
                print(f"self-test: ok     {what}: {hit[0]}")
            else:
                fails += 1
                print(f"self-test: FAIL: {what}: no problem contains {expect!r}; got:", file=sys.stderr)
                for p in c.problems or ["(no problem at all)"]:
                    print(f"  {p}", file=sys.stderr)
            shutil.rmtree(case)
    total = len(BROKEN)
    print(f"self-test: {total - fails} passed, {fails} failed ({total} broken variants, "
          f"{time.monotonic() - started:.1f} s)")
    return 1 if fails else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--self-test", action="store_true", help="check that broken copies fail")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every note")
    ap.add_argument("--no-kustomize", action="store_true", help="skip the kustomize comparison")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    started = time.monotonic()
    c = Checker(ROOT, use_kustomize=not args.no_kustomize)
    ok = c.run()
    for s in c.summary:
        print(f"check-kubernetes: {s}")
    if args.verbose:
        for n in c.notes:
            print(f"check-kubernetes: note: {n}")
    for p in c.problems:
        print(f"check-kubernetes: FAIL: {p}", file=sys.stderr)
    print(f"check-kubernetes: {'ok' if ok else 'FAIL'} ({len(c.problems)} problem(s), "
          f"{len(c.notes)} note(s), {time.monotonic() - started:.1f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
