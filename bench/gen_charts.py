#!/usr/bin/env python3
"""Generate the benchmark's chart packages: valid Helm packages, ~8 KB each (~4 KB at million).

Usage: gen_charts.py <out-dir> <scale>      (scale: full | small | million)

Writes, under <out-dir>:
  repos/small/<name>-<version>.tgz   200 versions (20 charts x 10) at every scale
  repos/big/<name>-<version>.tgz     130,000 versions (13,000 x 10); 2,000 (200 x 10) at scale small;
                                     1,000,000 (100,000 x 10, ~3.9 GB) at scale million (issue 19)
  uploads/<name>-<version>.tgz       1,000 packages for the upload phase, never in repos/
  manifest.json                      counts, and per upload: file, repo-relative name, version, sha256
  .complete                          written last; until it exists the set is not used, and the
                                     next run resumes it (packages already written are kept)

Everything is derived from a fixed seed (per package: a Random seeded with the
package's name and version), so output is the same whichever worker makes it, and
the parallel run is reproducible. Standard library only.

Why the contents look the way they do:
- Chart.yaml carries the fields real charts have (keywords, maintainers, home,
  sources, appVersion, sometimes dependencies and annotations), because the index
  entry - the thing served - is rendered from them; ~500 bytes of index per version,
  so the 130k index is ~65 MB like the one the original ChartHall was measured on.
- The package is padded with text (a README, a config map, a PEM-like CA bundle)
  so it gzips to ~8 KB: the size matters for hashing at start-up and for uploads.
  The million scale pads less (PADDING), for ~4 KB: a million 8 KB packages would be
  ~8 GB of test data for what is an index benchmark.
- Upload packages are new versions of existing charts and new chart names drawn
  from the same word space, so they sort into the middle of the index, not only
  at its end (an index that only appends would flatter an incremental gzip).
"""

import gzip
import hashlib
import io
import json
import multiprocessing
import os
import random
import sys
import tarfile

# Bump when the output changes, so the cache under target/bench-data/ is rebuilt.
GENERATOR_VERSION = 1
SEED = 20240611

SCALES = {
    # repo -> (charts, versions per chart)
    "full": {"small": (20, 10), "big": (13_000, 10)},
    "small": {"small": (20, 10), "big": (200, 10)},
    # Issue 19, "a million versions": 1,000,000 in big, with lighter packages (~4 KB) so
    # the set stays ~3.9 GB.
    "million": {"small": (20, 10), "big": (100_000, 10)},
}

# How much filler a package carries: random bytes of the PEM-like CA bundle and README
# paragraphs, (low, high) for rng.randint. "full" and "small" keep the original ~7.8 KB
# (their packages must stay byte for byte what GENERATOR_VERSION 1 wrote); "million"
# carries less, for ~4 KB packages.
PADDING = {
    "full": {"pem": (2400, 3000), "readme": (12, 16)},
    "small": {"pem": (2400, 3000), "readme": (12, 16)},
    "million": {"pem": (400, 650), "readme": (3, 5)},
}
UPLOADS = 1_000  # half new versions of existing charts, half new chart names

# Word lists for names like "acme-redis-operator" and for filler text.
VENDORS = """acme apollo arctic argo atlas aurora beacon bitwave bluefin cedar cobalt comet
coral cosmo delta ember falcon fluent granite harbor helix horizon indigo iris jade
juniper kepler lumen lynx magma maple meridian nebula nimbus nova onyx orbit pacific
polar quartz raven sierra solar summit tango terra titan umbra vector vertex willow zephyr""".split()
PRODUCTS = """redis postgres mysql mariadb mongo kafka zookeeper rabbitmq nats etcd consul vault
nginx envoy traefik haproxy prometheus grafana loki tempo jaeger fluentd fluentbit
elastic kibana opensearch minio cassandra clickhouse druid flink spark airflow jenkins
gitea harbor keycloak oauth2 cert dns ingress metrics logging tracing backup scheduler
gateway registry cache queue search storage auth billing payments orders catalog inventory
notifier mailer webhook api frontend backend worker cron""".split()
SUFFIXES = """operator exporter proxy agent controller server client cluster ha lite
stack ui sidecar adapter bridge""".split() + [""]
WORDS = """the a to of and in for on with by from that this is are be as at it or an
service cluster node pod container image deployment replica volume secret config map
network policy ingress route load balancer request response latency throughput cache
storage backup restore metric alert dashboard log trace span token user role account
namespace resource limit memory cpu scale autoscaler probe liveness readiness startup
upgrade rollback release chart value template default override environment variable
port protocol endpoint certificate authority tls encryption key rotation schedule job
queue message broker topic partition offset consumer producer stream batch index shard
replication leader follower quorum snapshot compaction retention durable consistent
available partition tolerant highly configurable production ready secure minimal
enable disable optional required recommended deprecated supported experimental stable
when should must may can will not only also each every all any more less than then""".split()
LICENSES = ["Apache-2.0", "MIT", "BSD-3-Clause", "MPL-2.0"]
FIRST = "Alice Bob Carol Dana Erik Fatima Gita Hiro Ines Jonas Kai Lena Mateo Nora Omar Priya".split()
LAST = "Schmidt Garcia Tanaka Okafor Novak Rossi Silva Kowalski Haddad Lindqvist Moreau Chen".split()

KEYWORDS = sorted(set(PRODUCTS[:40] + WORDS[20:80]))


# A second word after the product ("acme-redis-edge-operator") widens the name space
# for the million scale only: vendor-product-suffix alone gives 54,912 names, and it
# needs 100,500. The other scales draw from all_names() exactly as before.
EDITIONS = "cloud edge".split()


def all_names():
    """Every possible chart name, in a fixed order (the word lists define the space)."""
    names = []
    for v in VENDORS:
        for p in PRODUCTS:
            for s in SUFFIXES:
                names.append("-".join(x for x in (v, p, s) if x))
    return names


def names_for(scale):
    """The name space a scale draws from: all_names(), widened by EDITIONS at million."""
    names = all_names()
    if scale == "million":
        names += ["-".join(x for x in (v, p, e, s) if x)
                  for v in VENDORS for p in PRODUCTS for e in EDITIONS for s in SUFFIXES]
    return names


def version_series(rng, n):
    """n increasing SemVer versions, as a chart's release history would have them."""
    major, minor, patch = rng.choice([0, 1, 1, 2, 3]), rng.randint(0, 9), 0
    out = []
    for _ in range(n):
        out.append(f"{major}.{minor}.{patch}")
        r = rng.random()
        if r < 0.6:
            patch += rng.randint(1, 3)
        elif r < 0.93:
            minor, patch = minor + 1, 0
        else:
            major, minor, patch = major + 1, 0, 0
    return out


def sentence(rng, words):
    s = " ".join(rng.choice(WORDS) for _ in range(words))
    return s[0].upper() + s[1:] + "."


def paragraph(rng):
    return " ".join(sentence(rng, rng.randint(6, 16)) for _ in range(rng.randint(3, 7)))


def chart_yaml(rng, name, version):
    vendor, product = name.split("-")[0], name.split("-")[1]
    app = f"{rng.randint(0, 12)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}"
    keywords = [product] + rng.sample(KEYWORDS, rng.randint(0, 2))
    lines = [
        "apiVersion: v2",
        f"name: {name}",
        f"description: {sentence(rng, rng.randint(3, 8))}",
        f"version: {version}",
        f'appVersion: "{app}"',
        f"home: https://{vendor}.io/{product}",
        "keywords:",
        *[f"  - {k}" for k in keywords],
        "maintainers:",
    ]
    for _ in range(1 if rng.random() < 0.8 else 2):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        lines += [
            f"  - name: {first} {last}",
            f"    email: {first.lower()}@{vendor}.io",
        ]
        if rng.random() < 0.3:
            lines.append(f"    url: https://github.com/{first.lower()}{last.lower()}")
    if rng.random() < 0.5:
        lines.append("type: application")
    if rng.random() < 0.3:
        lines += ["sources:", f"  - https://github.com/{vendor}/{name}"]
    if rng.random() < 0.1:
        lines.append(f"icon: https://{vendor}.example.com/assets/{product}.png")
    if rng.random() < 0.1:
        dep = rng.choice(["postgresql", "redis", "common", "mariadb"])
        lines += [
            "dependencies:",
            f"  - name: {dep}",
            f"    version: {rng.randint(10, 15)}.x.x",
            "    repository: https://charts.bitnami.com/bitnami",
            f"    condition: {dep}.enabled",
        ]
    if rng.random() < 0.1:
        lines += ["annotations:", f"  category: {rng.choice(['Database', 'Networking', 'Monitoring', 'Security'])}",
                  f"  licenses: {rng.choice(LICENSES)}"]
    if rng.random() < 0.1:
        lines.append("kubeVersion: '>=1.22.0-0'")
    if rng.random() < 0.05:
        lines.append("unknownKeyHelmDrops: true")  # not a Helm field: the index must drop it
    return "\n".join(lines) + "\n"


def values_yaml(rng, name):
    return f"""# Default values for {name}.
replicaCount: {rng.randint(1, 5)}
image:
  repository: registry.example.com/{name}
  pullPolicy: IfNotPresent
  tag: ""
imagePullSecrets: []
nameOverride: ""
fullnameOverride: ""
serviceAccount:
  create: true
  annotations: {{}}
  name: ""
podAnnotations: {{}}
podSecurityContext:
  fsGroup: {rng.choice([1000, 1001, 65534])}
securityContext:
  capabilities:
    drop: [ALL]
  readOnlyRootFilesystem: true
  runAsNonRoot: true
  runAsUser: {rng.choice([1000, 1001, 65534])}
service:
  type: ClusterIP
  port: {rng.choice([80, 8080, 9090, 6379, 5432, 3000])}
ingress:
  enabled: false
  className: ""
  hosts:
    - host: {name}.local
      paths:
        - path: /
          pathType: ImplementationSpecific
resources:
  limits:
    cpu: {rng.randint(1, 8) * 100}m
    memory: {rng.randint(1, 16) * 64}Mi
autoscaling:
  enabled: false
  minReplicas: 1
  maxReplicas: {rng.randint(3, 20)}
  targetCPUUtilizationPercentage: {rng.randint(50, 90)}
nodeSelector: {{}}
tolerations: []
affinity: {{}}
config:
""" + "".join(f"  {rng.choice(WORDS)}_{rng.choice(WORDS)}_{i}: \"{rng.choice(WORDS)}-{rng.randint(0, 99999)}\"\n"
              for i in range(rng.randint(20, 40)))


DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "NAME.fullname" . }}
  labels:
    {{- include "NAME.labels" . | nindent 4 }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "NAME.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      {{- with .Values.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      labels:
        {{- include "NAME.selectorLabels" . | nindent 8 }}
    spec:
      serviceAccountName: {{ include "NAME.serviceAccountName" . }}
      securityContext:
        {{- toYaml .Values.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ .Chart.Name }}
          securityContext:
            {{- toYaml .Values.securityContext | nindent 12 }}
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ .Values.service.port }}
              protocol: TCP
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
          readinessProbe:
            httpGet:
              path: /ready
              port: http
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          envFrom:
            - configMapRef:
                name: {{ include "NAME.fullname" . }}
"""

SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: {{ include "NAME.fullname" . }}
  labels:
    {{- include "NAME.labels" . | nindent 4 }}
spec:
  type: {{ .Values.service.type }}
  ports:
    - port: {{ .Values.service.port }}
      targetPort: http
      protocol: TCP
      name: http
  selector:
    {{- include "NAME.selectorLabels" . | nindent 4 }}
"""

HELPERS = """{{/* Expand the name of the chart. */}}
{{- define "NAME.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "NAME.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "NAME.labels" -}}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version | replace "+" "_" }}
{{ include "NAME.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "NAME.selectorLabels" -}}
app.kubernetes.io/name: {{ include "NAME.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "NAME.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "NAME.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}
"""


def pem_block(rng, nbytes):
    """A PEM-like CA bundle: base64 of random bytes, which gzip cannot shrink much."""
    import base64
    b64 = base64.b64encode(rng.randbytes(nbytes)).decode()
    body = "\n".join("    " + b64[i:i + 64] for i in range(0, len(b64), 64))
    return "    -----BEGIN CERTIFICATE-----\n" + body + "\n    -----END CERTIFICATE-----\n"


def package_bytes(name, version, padding=PADDING["full"]):
    """The .tgz bytes of one chart version, deterministic in (name, version, padding)."""
    rng = random.Random(f"{SEED}:{name}:{version}")
    files = [
        ("Chart.yaml", chart_yaml(rng, name, version)),
        ("values.yaml", values_yaml(rng, name)),
        ("templates/_helpers.tpl", HELPERS.replace("NAME", name)),
        ("templates/deployment.yaml", DEPLOYMENT.replace("NAME", name)),
        ("templates/service.yaml", SERVICE.replace("NAME", name)),
        ("templates/configmap.yaml",
         "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include \"%s.fullname\" . }}\ndata:\n" % name
         + "".join(f"  {k.upper()}_{i}: {{{{ .Values.config.{k}_{i} | quote }}}}\n"
                   for i, k in enumerate(rng.sample(WORDS, 12)))
         + "  ca.crt: |\n" + pem_block(rng, rng.randint(*padding["pem"]))),
        ("templates/NOTES.txt", "1. Get the application URL by running these commands:\n" + paragraph(rng) + "\n"),
        ("README.md", f"# {name}\n\n" + "\n\n".join(paragraph(rng) for _ in range(rng.randint(*padding["readme"]))) + "\n"),
    ]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path, text in files:
            data = text.encode()
            info = tarfile.TarInfo(f"{name}/{path}")
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)


def write_one(job):
    """Worker: write one package file; return (file name, sha256) for the manifest.

    A file already there is kept (an interrupted run resumes where it stopped): files
    only appear under their final name by rename, so one that exists is complete, and
    the directory is keyed on GENERATOR_VERSION and scale, so it is this output."""
    directory, name, version, padding = job
    path = os.path.join(directory, f"{name}-{version}.tgz")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        data = package_bytes(name, version, padding)
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.replace(path + ".tmp", path)
    return os.path.basename(path), name, version, hashlib.sha256(data).hexdigest(), len(data)


def plan(scale):
    """Decide every package: repository jobs (repo, name, version) and uploads (name, version, kind)."""
    rng = random.Random(SEED)
    names = names_for(scale)
    rng.shuffle(names)
    n_big, v_big = SCALES[scale]["big"]
    n_small, v_small = SCALES[scale]["small"]
    n_new = UPLOADS // 2
    assert n_big + n_new <= len(names), "word lists too short for this many charts"
    big_names = sorted(names[:n_big])
    new_names = sorted(names[n_big:n_big + n_new])  # same word space: they sort among big_names
    small_names = sorted(rng.sample(big_names, n_small))

    # Which existing charts get a new release in the upload phase (with repetition
    # when the repository is small): each gets the next versions of its own series.
    bumps = {}
    for name in rng.choices(big_names, k=UPLOADS - n_new):
        bumps[name] = bumps.get(name, 0) + 1

    jobs, uploads = [], []
    for name in big_names:
        series = version_series(random.Random(f"{SEED}:series:{name}"), v_big + bumps.get(name, 0))
        jobs += [("big", name, v) for v in series[:v_big]]
        uploads += [(name, v, "new-version") for v in series[v_big:]]
    for name in small_names:
        jobs += [("small", name, v) for v in version_series(random.Random(f"{SEED}:small:{name}"), v_small)]
    uploads += [(name, version_series(random.Random(f"{SEED}:new:{name}"), 1)[0], "new-chart") for name in new_names]
    rng.shuffle(uploads)  # mix new versions and new names all through the upload phase
    return jobs, uploads


def main():
    if sys.argv[1:] == ["--version"]:
        print(GENERATOR_VERSION)  # run.sh keys the cache directory on it
        return
    out, scale = sys.argv[1], sys.argv[2]
    if scale not in SCALES:
        sys.exit(f"gen_charts.py: unknown scale {scale!r} ({' | '.join(SCALES)})")
    if os.path.exists(os.path.join(out, ".complete")):
        print(f"chart data: reusing {out}", file=sys.stderr)
        return
    jobs, uploads = plan(scale)
    dirs = {r: os.path.join(out, "repos", r) for r in ("big", "small")}
    dirs["uploads"] = os.path.join(out, "uploads")
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)
    padding = PADDING[scale]
    work = [(dirs[repo], name, version, padding) for repo, name, version in jobs]
    work += [(dirs["uploads"], name, version, padding) for name, version, _ in uploads]
    print(f"chart data: generating {len(work):,} packages into {out} "
          f"({os.cpu_count()} processes; cached for later runs)", file=sys.stderr)
    sizes, upload_rows = [], {}
    kinds = {f"{n}-{v}.tgz": kind for n, v, kind in uploads}
    with multiprocessing.Pool() as pool:
        for i, (file, name, version, sha, size) in enumerate(pool.imap(write_one, work, chunksize=256)):
            sizes.append(size)
            if work[i][0] == dirs["uploads"]:
                upload_rows[file] = {"file": file, "name": name, "version": version,
                                     "sha256": sha, "kind": kinds[file]}
            if (i + 1) % (10_000 if len(work) < 200_000 else 100_000) == 0:
                print(f"  {i + 1:,} / {len(work):,}", file=sys.stderr)
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "scale": scale,
        "versions": {repo: sum(1 for j in jobs if j[0] == repo) for repo in ("small", "big")},
        "mean_package_bytes": round(sum(sizes) / len(sizes)),
        # in upload order
        "uploads": [upload_rows[f"{n}-{v}.tgz"] for n, v, _ in uploads],
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    with open(os.path.join(out, ".complete"), "w") as f:
        f.write(f"{GENERATOR_VERSION}\n")
    print(f"chart data: done, mean package {manifest['mean_package_bytes']:,} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
