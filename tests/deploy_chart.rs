//! ChartHall's own Helm chart (deploy/helm/charthall), checked with the real Helm client
//! (Helm 4.3's Go SDK through helm-sdkpy, driven by tests/helm/deploy_chart.py): it lints
//! clean, it packages, a ChartHall server accepts and serves the package, and what a
//! `helm install` sends to Kubernetes carries what a deployment needs — probes, uid
//! 10000, a read-only root, the data volume, the basic-auth Secret and a grace period
//! above `SHUTDOWN_TIMEOUT`. The pod's rendered environment then starts the real server.
//! On a bucket (`storage.backend=amazon`) the chart runs several replicas without a
//! claim, and two servers started with the rendered pod's environment on a real S3 store
//! (Garage on 127.0.0.1) see each other's uploads within a second.
//!
//! helm-sdkpy has no `helm template`; its Install runs against a stand-in Kubernetes API
//! on 127.0.0.1 (in deploy_chart.py) that records the objects Helm creates.

mod common;
use common::garage::Garage;
use common::*;

use base64::Engine;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The chart's own version (Chart.yaml), bumped with every change to the chart.
const CHART_VERSION: &str = "0.2.0";

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------

/// The chart as it sits in the repository.
fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/helm/charthall")
}

/// Runs deploy_chart.py; returns its exit code, stdout and stderr.
fn deploy_chart(args: &[&str]) -> (Option<i32>, String, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helm/deploy_chart.py");
    let output = Command::new(tools_python()).arg(&script).args(args).output().expect("run deploy_chart.py");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs deploy_chart.py, which must succeed, and parses the JSON it printed.
fn deploy_chart_json(args: &[&str]) -> Value {
    let (code, stdout, stderr) = deploy_chart(args);
    assert_eq!(code, Some(0), "deploy_chart.py {args:?} failed:\nstdout: {stdout}\nstderr: {stderr}");
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("deploy_chart.py printed no JSON ({e}): {stdout}"))
}

/// Helm's lint of a chart folder: (severity, path) of each message; 1 info, 2 warning,
/// 3 error. helm-sdkpy passes no message text (Go errors serialise as `{}`).
fn lint(dir: &Path) -> Vec<(i64, String)> {
    let out = deploy_chart_json(&["lint", dir.to_str().unwrap()]);
    let messages: Vec<(i64, String)> = out["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| (m["severity"].as_i64().unwrap(), m["path"].as_str().unwrap_or_default().to_string()))
        .collect();
    let errors = out["errors"].as_u64().unwrap();
    assert_eq!(errors as usize, messages.iter().filter(|(s, _)| *s >= 3).count(), "{out}");
    messages
}

/// No error and no warning; the only info Helm may give is about Chart.yaml (it has no
/// `icon`).
fn assert_lints_clean(dir: &Path) {
    let messages = lint(dir);
    for (severity, path) in &messages {
        assert!(
            *severity == 1 && path == "Chart.yaml",
            "lint of {dir:?} reported severity {severity} in {path} (all: {messages:?})"
        );
    }
}

/// A copy of the chart whose values.yaml has `overrides` merged in (helm-sdkpy's Lint
/// reads only the chart's own values.yaml).
fn chart_with_values(overrides: serde_yaml::Value) -> tempfile::TempDir {
    let work = tempfile::tempdir().unwrap();
    let copy = work.path().join("charthall");
    copy_dir(&chart(), &copy);
    let values_path = copy.join("values.yaml");
    let mut values: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(&values_path).unwrap()).unwrap();
    merge(&mut values, overrides);
    std::fs::write(&values_path, serde_yaml::to_string(&values).unwrap()).unwrap();
    work
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Helm's way of combining values: maps merge key by key, anything else replaces.
fn merge(base: &mut serde_yaml::Value, over: serde_yaml::Value) {
    match (base, over) {
        (serde_yaml::Value::Mapping(base), serde_yaml::Value::Mapping(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

/// What `helm install` of the chart with `values` sent to Kubernetes.
struct Rendered {
    objects: Vec<Value>,
    notes: String,
    /// The manifest Helm recorded in the release, every template as rendered.
    manifest: String,
}

impl Rendered {
    fn find(&self, kind: &str) -> Option<&Value> {
        self.objects.iter().find(|o| o["kind"] == kind)
    }

    fn get(&self, kind: &str) -> &Value {
        self.find(kind).unwrap_or_else(|| panic!("no {kind} among {:?}", self.kinds()))
    }

    fn kinds(&self) -> Vec<&str> {
        self.objects.iter().map(|o| o["kind"].as_str().unwrap()).collect()
    }

    fn pod(&self) -> &Value {
        &self.get("Deployment")["spec"]["template"]["spec"]
    }

    fn container(&self) -> &Value {
        let containers = self.pod()["containers"].as_array().expect("containers");
        assert_eq!(containers.len(), 1, "{containers:?}");
        &containers[0]
    }

    /// The container's env entry `name`, which must be there exactly once.
    fn env(&self, name: &str) -> &Value {
        let found: Vec<&Value> =
            self.container()["env"].as_array().expect("env").iter().filter(|e| e["name"] == name).collect();
        assert_eq!(found.len(), 1, "env {name}: {found:?}");
        found[0]
    }

    fn env_value(&self, name: &str) -> &str {
        self.env(name)["value"].as_str().unwrap_or_else(|| panic!("env {name} has no value: {}", self.env(name)))
    }

    fn has_env(&self, name: &str) -> bool {
        self.container()["env"].as_array().expect("env").iter().any(|e| e["name"] == name)
    }

    /// The Secret named `name` among the objects.
    fn secret(&self, name: &str) -> Option<&Value> {
        self.objects.iter().find(|o| o["kind"] == "Secret" && o["metadata"]["name"] == name)
    }

    /// The environment the pod's container gets, as the kubelet resolves it: plain
    /// values, and `secretKeyRef`s read from the Secrets the install made or from
    /// `cluster` (Secrets the cluster already holds). Any other source fails the test.
    fn pod_env(&self, cluster: &[Value]) -> Vec<(String, String)> {
        let mut env = Vec::new();
        for entry in self.container()["env"].as_array().unwrap() {
            let name = entry["name"].as_str().unwrap().to_string();
            let value = if let Some(value) = entry["value"].as_str() {
                value.to_string()
            } else {
                let reference = &entry["valueFrom"]["secretKeyRef"];
                let secret_name = reference["name"].as_str().unwrap_or_else(|| panic!("not a secretKeyRef: {entry}"));
                let secret = self
                    .secret(secret_name)
                    .or_else(|| cluster.iter().find(|s| s["metadata"]["name"] == secret_name))
                    .unwrap_or_else(|| panic!("{name}: no Secret {secret_name} in the release or the cluster"));
                secret_value(secret, reference["key"].as_str().unwrap())
            };
            env.push((name, value));
        }
        env
    }
}

/// The decoded value of `key` in a Secret.
fn secret_value(secret: &Value, key: &str) -> String {
    let encoded = secret["data"][key].as_str().unwrap_or_else(|| panic!("Secret has no {key}: {secret}"));
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()).unwrap()
}

/// A Secret as the cluster would hold it (`kubectl create secret generic`).
fn cluster_secret(name: &str, data: &[(&str, &str)]) -> Value {
    let encode = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
    let data: serde_json::Map<String, Value> = data.iter().map(|(k, v)| (k.to_string(), json!(encode(v)))).collect();
    json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
           "metadata": {"name": name, "namespace": "charts"}, "data": data})
}

/// `helm install` of the chart with `values`, which must succeed.
fn render(values: Value) -> Rendered {
    render_over(values, json!([]))
}

/// `helm install` of the chart with `values` into a cluster that already holds
/// `existing` (a JSON list of objects), which must succeed.
fn render_over(values: Value, existing: Value) -> Rendered {
    render_with(values, existing, &[])
}

/// `helm install` of the chart with `values` and then `sets` (`NAME=VALUE`, as
/// `helm install --set` takes them) into a cluster that already holds `existing`, which
/// must succeed.
fn render_with(values: Value, existing: Value, sets: &[&str]) -> Rendered {
    let (chart, values, existing) = (chart(), values.to_string(), existing.to_string());
    let mut args = vec!["render", chart.to_str().unwrap(), "--values", &values, "--existing", &existing];
    for set in sets {
        args.extend(["--set", set]);
    }
    let out = deploy_chart_json(&args);
    assert_eq!(out["status"], "deployed", "{out}");
    Rendered {
        objects: out["objects"].as_array().expect("objects").clone(),
        notes: out["notes"].as_str().unwrap().to_string(),
        manifest: out["manifest"].as_str().unwrap().to_string(),
    }
}

/// `helm install` of the chart with `values`, which Helm must refuse; its error text.
fn render_refused(values: Value) -> String {
    let (code, stdout, stderr) = deploy_chart(&["render", chart().to_str().unwrap(), "--values", &values.to_string()]);
    assert_eq!(code, Some(1), "install should fail:\nstdout: {stdout}\nstderr: {stderr}");
    stderr
}

/// SHUTDOWN_TIMEOUT as the chart writes it (`25s`), in seconds.
fn seconds(value: &str) -> i64 {
    value.strip_suffix('s').and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("not `<n>s`: {value}"))
}

fn probe_path(probe: &Value) -> &str {
    assert_eq!(probe["httpGet"]["port"], "http", "{probe}");
    probe["httpGet"]["path"].as_str().unwrap()
}

// ---------------------------------------------------------------------------------------
// lint and package
// ---------------------------------------------------------------------------------------

#[test]
fn chart_lints_clean_with_its_default_values() {
    assert_lints_clean(&chart());
}

#[test]
fn chart_lints_clean_with_ingress_existing_secret_and_no_persistence() {
    let work = chart_with_values(serde_yaml::from_str(
        "ingress: {enabled: true, className: nginx, tls: [{secretName: charthall-tls, hosts: [charthall.example.com]}]}\n\
         auth: {existingSecret: charthall-auth}\n\
         persistence: {enabled: false}\n\
         config: {contextPath: /helm, depth: 2}\n\
         podAnnotations: {prometheus.io/scrape: \"true\", prometheus.io/path: /metrics}\n",
    )
    .unwrap());
    assert_lints_clean(&work.path().join("charthall"));

    let work = chart_with_values(
        serde_yaml::from_str(
            "auth: {enabled: false}\n\
         replicaCount: 2\n\
         persistence: {existingClaim: shared-charts, accessModes: [ReadWriteMany]}\n\
         env: {CACHE_INTERVAL: 1m}\n",
        )
        .unwrap(),
    );
    assert_lints_clean(&work.path().join("charthall"));
}

#[test]
fn chart_lints_clean_on_a_bucket() {
    let work = chart_with_values(
        serde_yaml::from_str(
            "replicaCount: 3\n\
         storage: {backend: amazon, amazon: {bucket: charts, region: eu-west-1, existingSecret: charthall-s3}}\n",
        )
        .unwrap(),
    );
    assert_lints_clean(&work.path().join("charthall"));

    let work = chart_with_values(
        serde_yaml::from_str(
            "replicaCount: 2\n\
         storage: {backend: amazon, amazon: {bucket: charts, endpoint: \"http://minio:9000\", forcePathStyle: true,\n\
                   accessKeyId: AKIAEXAMPLE, secretAccessKey: secret}}\n\
         serviceAccount: {create: true, annotations: {eks.amazonaws.com/role-arn: \"arn:aws:iam::1:role/charts\"}}\n",
        )
        .unwrap(),
    );
    assert_lints_clean(&work.path().join("charthall"));
}

/// The lint check above can fail: a template that breaks is an error Helm reports.
#[test]
fn lint_reports_a_broken_template() {
    let work = chart_with_values(serde_yaml::Value::Null);
    let copy = work.path().join("charthall");
    let service = copy.join("templates/service.yaml");
    let mut text = std::fs::read_to_string(&service).unwrap();
    text.push_str("  broken: {{ .Values.no.such.value }}\n");
    std::fs::write(&service, text).unwrap();
    let messages = lint(&copy);
    assert!(messages.iter().any(|(severity, path)| *severity == 3 && path.starts_with("templates")), "{messages:?}");
}

#[test]
fn chart_yaml_names_the_crate_version() {
    let chart_yaml: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(chart().join("Chart.yaml")).unwrap()).unwrap();
    assert_eq!(chart_yaml["apiVersion"], "v2");
    assert_eq!(chart_yaml["name"], "charthall");
    assert_eq!(chart_yaml["version"], CHART_VERSION);
    assert_eq!(chart_yaml["type"], "application");
    assert_eq!(chart_yaml["appVersion"], env!("CARGO_PKG_VERSION"), "appVersion follows Cargo.toml");
}

/// `helm package` makes charthall-<version>.tgz, and ChartHall itself takes it and serves it.
#[test]
fn packaged_chart_is_served_by_charthall() {
    let out = tempfile::tempdir().unwrap();
    let packaged = deploy_chart_json(&["package", chart().to_str().unwrap(), out.path().to_str().unwrap()]);
    let path = PathBuf::from(packaged["path"].as_str().unwrap());
    assert_eq!(path, out.path().join(format!("charthall-{CHART_VERSION}.tgz")));
    let package = std::fs::read(&path).unwrap();

    let server = Server::start(&[]);
    let response = server.upload("ops", &package);
    let status = response.status();
    assert_eq!(status, StatusCode::CREATED, "upload: {}", response.text().unwrap_or_default());
    let index = yaml(&server.get("/ops/index.yaml").text().unwrap());
    let entry = &index["entries"]["charthall"][0];
    assert_eq!(entry["version"], CHART_VERSION, "{index:?}");
    assert_eq!(entry["appVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(entry["digest"].as_str().unwrap(), sha256_hex(&package));
    assert_eq!(entry["urls"][0], format!("charts/charthall-{CHART_VERSION}.tgz"));
    let served = server.get(&format!("/ops/charts/charthall-{CHART_VERSION}.tgz"));
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.bytes().unwrap().as_ref(), package.as_slice());
}

// ---------------------------------------------------------------------------------------
// what an install sends to Kubernetes
// ---------------------------------------------------------------------------------------

#[test]
fn install_with_default_values() {
    let rendered = render(json!({}));
    let mut kinds = rendered.kinds();
    kinds.sort();
    assert_eq!(kinds, ["Deployment", "PersistentVolumeClaim", "Secret", "Service"]);

    let deployment = rendered.get("Deployment");
    assert_eq!(deployment["spec"]["replicas"], 1);
    // The ReadWriteOnce volume cannot be held by two pods during a rollout.
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
    let container = rendered.container();
    assert_eq!(container["image"], format!("charthall:{}", env!("CARGO_PKG_VERSION")));
    assert_eq!(container["ports"][0]["name"], "http");
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(rendered.env_value("PORT"), "8080");

    // Probes on /health.
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        assert_eq!(probe_path(&container[probe]), "/health", "{probe}");
    }

    // Non-root uid 10000, read-only root, no privileges.
    let pod = rendered.pod();
    for key in ["runAsUser", "runAsGroup", "fsGroup"] {
        assert_eq!(pod["securityContext"][key], 10000, "pod {key}");
    }
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(pod["automountServiceAccountToken"], false);

    // The grace period outlasts the server's own shutdown.
    let shutdown = seconds(rendered.env_value("SHUTDOWN_TIMEOUT"));
    assert_eq!(shutdown, 25);
    let grace = pod["terminationGracePeriodSeconds"].as_i64().unwrap();
    assert!(grace > shutdown, "terminationGracePeriodSeconds {grace} must exceed SHUTDOWN_TIMEOUT {shutdown}");
    assert_eq!(grace, 30);

    // The claim is mounted where the server keeps its charts.
    let pvc = rendered.get("PersistentVolumeClaim");
    assert_eq!(pvc["spec"]["accessModes"], json!(["ReadWriteOnce"]));
    assert_eq!(pvc["spec"]["resources"]["requests"]["storage"], "10Gi");
    assert_eq!(pvc["metadata"]["annotations"]["helm.sh/resource-policy"], "keep");
    assert_eq!(rendered.env_value("STORAGE"), "local");
    assert_eq!(rendered.env_value("STORAGE_LOCAL_ROOTDIR"), "/charthall_data");
    for variable in [
        "STORAGE_AMAZON_BUCKET",
        "STORAGE_AMAZON_PREFIX",
        "STORAGE_AMAZON_REGION",
        "STORAGE_AMAZON_ENDPOINT",
        "STORAGE_AMAZON_FORCE_PATH_STYLE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        assert!(!rendered.has_env(variable), "{variable} with a local folder");
    }
    assert!(pod.get("serviceAccountName").is_none(), "the namespace's default account: {pod}");
    let mount = &container["volumeMounts"][0];
    assert_eq!(mount["mountPath"], "/charthall_data");
    let volume = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == mount["name"]).expect("volume");
    assert_eq!(volume["persistentVolumeClaim"]["claimName"], pvc["metadata"]["name"]);

    // Basic auth from the chart's Secret, with a generated password.
    let secret = rendered.get("Secret");
    let decode = |key: &str| {
        let encoded = secret["data"][key].as_str().unwrap_or_else(|| panic!("Secret has no {key}: {secret}"));
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()).unwrap()
    };
    assert_eq!(decode("username"), "admin");
    assert!(decode("password").len() >= 24, "a generated password");
    for (variable, key) in [("BASIC_AUTH_USER", "username"), ("BASIC_AUTH_PASS", "password")] {
        let reference = &rendered.env(variable)["valueFrom"]["secretKeyRef"];
        assert_eq!(reference["name"], secret["metadata"]["name"], "{variable}");
        assert_eq!(reference["key"], key, "{variable}");
    }

    // The Service reaches the pods through the named port.
    let service = rendered.get("Service");
    assert_eq!(service["spec"]["type"], "ClusterIP");
    assert_eq!(service["spec"]["ports"][0]["port"], 8080);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");
    let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
    for (key, value) in service["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&pod_labels[key], value, "selector {key}");
        assert_eq!(&deployment["spec"]["selector"]["matchLabels"][key], value);
    }

    assert!(
        rendered.notes.contains("helm repo add charthall http://127.0.0.1:8080/myrepo --username"),
        "{}",
        rendered.notes
    );
    assert!(rendered.notes.contains("port-forward svc/charthall 8080:8080"), "{}", rendered.notes);
}

/// A generated password survives an upgrade (the chart looks up its own Secret), and
/// so does the pod: its checksum of the Secret does not change.
#[test]
fn generated_password_is_kept_when_the_secret_exists() {
    let kept = base64::engine::general_purpose::STANDARD.encode("kept-password");
    let existing = json!([{
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "charthall", "namespace": "charts", "resourceVersion": "7",
                     "labels": {"app.kubernetes.io/managed-by": "Helm"},
                     "annotations": {"meta.helm.sh/release-name": "charthall",
                                     "meta.helm.sh/release-namespace": "charts"}},
        "data": {"username": base64::engine::general_purpose::STANDARD.encode("admin"), "password": kept},
    }]);
    let first = render_over(json!({}), existing.clone());
    let secret = first.manifest.split("\n---").find(|doc| doc.contains("kind: Secret")).expect("a Secret");
    assert!(secret.contains(&format!("password: \"{kept}\"")), "{secret}");
    let checksum =
        |r: &Rendered| r.get("Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/auth"].clone();
    let second = render_over(json!({}), existing);
    assert_eq!(checksum(&first), checksum(&second));
    assert!(checksum(&first).is_string());
    // With a local folder there is no Secret of bucket credentials to follow.
    let annotations = &first.get("Deployment")["spec"]["template"]["metadata"]["annotations"];
    assert!(annotations.get("checksum/storage").is_none(), "{annotations}");

    // Without it, each install draws a new one.
    let secret_of = |r: &Rendered| r.get("Secret")["data"]["password"].clone();
    assert_ne!(secret_of(&render(json!({}))), secret_of(&render(json!({}))));
}

#[test]
fn install_sets_shutdown_timeout_and_grace_period_from_one_value() {
    let rendered = render(json!({"shutdownTimeoutSeconds": 60}));
    assert_eq!(rendered.env_value("SHUTDOWN_TIMEOUT"), "60s");
    assert_eq!(rendered.pod()["terminationGracePeriodSeconds"], 65);

    let rendered = render(json!({"shutdownTimeoutSeconds": 10, "terminationGraceMarginSeconds": 15}));
    assert_eq!(rendered.env_value("SHUTDOWN_TIMEOUT"), "10s");
    assert_eq!(rendered.pod()["terminationGracePeriodSeconds"], 25);
}

#[test]
fn install_with_ingress_existing_secret_and_no_persistence() {
    let rendered = render(json!({
        "ingress": {"enabled": true, "className": "nginx",
                    "hosts": [{"host": "charts.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]}],
                    "tls": [{"secretName": "charts-tls", "hosts": ["charts.example.com"]}]},
        "auth": {"existingSecret": "team-auth", "userKey": "user", "passwordKey": "pass"},
        "persistence": {"enabled": false},
        "config": {"contextPath": "helm/", "depth": 2, "chartUrl": "https://charts.example.com"},
    }));
    let mut kinds = rendered.kinds();
    kinds.sort();
    assert_eq!(kinds, ["Deployment", "Ingress", "Service"], "no Secret, no claim");

    let ingress = rendered.get("Ingress");
    assert_eq!(ingress["apiVersion"], "networking.k8s.io/v1");
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
    assert_eq!(ingress["spec"]["tls"][0]["secretName"], "charts-tls");
    let rule = &ingress["spec"]["rules"][0];
    assert_eq!(rule["host"], "charts.example.com");
    let backend = &rule["http"]["paths"][0]["backend"]["service"];
    assert_eq!(backend["name"], rendered.get("Service")["metadata"]["name"]);
    assert_eq!(backend["port"]["number"], 8080);

    for (variable, key) in [("BASIC_AUTH_USER", "user"), ("BASIC_AUTH_PASS", "pass")] {
        let reference = &rendered.env(variable)["valueFrom"]["secretKeyRef"];
        assert_eq!(reference["name"], "team-auth");
        assert_eq!(reference["key"], key);
    }

    // Without a claim the data folder is an emptyDir, and rolling updates are fine.
    let pod = rendered.pod();
    assert_eq!(rendered.container()["volumeMounts"][0]["mountPath"], "/charthall_data");
    assert_eq!(pod["volumes"][0]["emptyDir"], json!({}));
    assert_eq!(rendered.get("Deployment")["spec"]["strategy"]["type"], "RollingUpdate");

    // The context path moves /health, and the probes follow it.
    assert_eq!(rendered.env_value("CONTEXT_PATH"), "/helm");
    assert_eq!(rendered.env_value("DEPTH"), "2");
    assert_eq!(rendered.env_value("CHART_URL"), "https://charts.example.com");
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        assert_eq!(probe_path(&rendered.container()[probe]), "/helm/health", "{probe}");
    }
    assert!(
        rendered.notes.contains("helm repo add charthall https://charts.example.com/helm/myorg/myrepo"),
        "{}",
        rendered.notes
    );
    assert!(rendered.notes.contains("WARNING: persistence.enabled=false"), "{}", rendered.notes);
}

#[test]
fn install_with_existing_claim_shared_by_replicas_and_extra_env() {
    let rendered = render(json!({
        "replicaCount": 3,
        "auth": {"enabled": false},
        "persistence": {"existingClaim": "shared-charts", "accessModes": ["ReadWriteMany"]},
        "env": {"CACHE_INTERVAL": "1m", "PER_CHART_LIMIT": 20, "MAX_STORAGE_OBJECTS": 20_971_520},
        "extraEnv": [{"name": "LOG_LEVEL", "valueFrom": {"configMapKeyRef": {"name": "logging", "key": "level"}}}],
        "podAnnotations": {"prometheus.io/scrape": "true", "prometheus.io/path": "/metrics"},
        "image": {"repository": "registry.example.com/charthall", "tag": "9.9.9"},
    }));
    let mut kinds = rendered.kinds();
    kinds.sort();
    assert_eq!(kinds, ["Deployment", "Service"], "no Secret with auth off, no claim of our own");
    let deployment = rendered.get("Deployment");
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(deployment["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(rendered.pod()["volumes"][0]["persistentVolumeClaim"]["claimName"], "shared-charts");
    assert!(!rendered.has_env("BASIC_AUTH_USER") && !rendered.has_env("BASIC_AUTH_PASS"));
    assert_eq!(rendered.env_value("CACHE_INTERVAL"), "1m");
    assert_eq!(rendered.env_value("PER_CHART_LIMIT"), "20");
    // A big YAML number is written out whole, not as a float (2.097152e+07).
    assert_eq!(rendered.env_value("MAX_STORAGE_OBJECTS"), "20971520");
    assert_eq!(rendered.env("LOG_LEVEL")["valueFrom"]["configMapKeyRef"]["name"], "logging");
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(annotations["prometheus.io/path"], "/metrics");
    assert_eq!(rendered.container()["image"], "registry.example.com/charthall:9.9.9");
}

#[test]
fn install_refuses_values_that_cannot_work() {
    let refused = render_refused(json!({"replicaCount": 2}));
    assert!(refused.contains("replicaCount > 1") && refused.contains("ReadWriteMany"), "{refused}");
    let refused =
        render_refused(json!({"replicaCount": 2, "persistence": {"enabled": false, "accessModes": ["ReadWriteMany"]}}));
    assert!(refused.contains("emptyDir"), "{refused}");
    let refused = render_refused(json!({"shutdownTimeoutSeconds": 0}));
    assert!(refused.contains("shutdownTimeoutSeconds"), "{refused}");
    let refused = render_refused(json!({"terminationGraceMarginSeconds": 0}));
    assert!(refused.contains("terminationGraceMarginSeconds"), "{refused}");
    let refused = render_refused(json!({"auth": {"username": ""}}));
    assert!(refused.contains("auth.username"), "{refused}");
}

/// The pod's environment as the chart renders it starts the real server: every value
/// parses, the probe path answers without credentials, everything else asks for the
/// Secret's, and the packaged chart can be published to it.
#[test]
fn rendered_pod_environment_runs_the_real_server() {
    let rendered = render(json!({
        "auth": {"password": "pod pass:word"},
        "config": {"contextPath": "/helm", "allowOverwrite": true, "maxUploadSize": 50_000_000},
        "env": {"CACHE_INTERVAL": "5m"},
    }));
    // The harness's loopback address, free port and temporary folder stand in for the
    // pod's network and volume.
    let mut env = rendered.pod_env(&[]);
    env.retain(|(name, _)| !["PORT", "LISTEN_HOST", "STORAGE_LOCAL_ROOTDIR"].contains(&name.as_str()));
    assert!(env.iter().any(|(k, v)| k == "BASIC_AUTH_PASS" && v == "pod pass:word"), "{env:?}");
    assert!(env.iter().any(|(k, v)| k == "MAX_UPLOAD_SIZE" && v == "50000000"), "{env:?}");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut server = Server::start(&env);

    let probe = probe_path(&rendered.container()["readinessProbe"]).to_string();
    assert_eq!(probe, "/helm/health");
    let health = server.get(&probe);
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.text().unwrap(), r#"{"healthy":true}"#);
    assert_eq!(server.get("/helm/ops/index.yaml").status(), StatusCode::UNAUTHORIZED);

    let out = tempfile::tempdir().unwrap();
    let packaged = deploy_chart_json(&["package", chart().to_str().unwrap(), out.path().to_str().unwrap()]);
    let package = std::fs::read(packaged["path"].as_str().unwrap()).unwrap();
    let upload = |creds: (&str, &str)| {
        client()
            .post(server.url("/helm/api/ops/charts"))
            .basic_auth(creds.0, Some(creds.1))
            .body(package.clone())
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(upload(("admin", "wrong")), StatusCode::UNAUTHORIZED);
    assert_eq!(upload(("admin", "pod pass:word")), StatusCode::CREATED);
    // ALLOW_OVERWRITE=true from config.allowOverwrite: the same version again is taken.
    assert_eq!(upload(("admin", "pod pass:word")), StatusCode::CREATED);
    let index = client().get(server.url("/helm/ops/index.yaml")).basic_auth("admin", Some("pod pass:word")).send();
    let index = yaml(&index.unwrap().text().unwrap());
    assert_eq!(index["entries"]["charthall"][0]["version"], CHART_VERSION);

    // SIGTERM, as Kubernetes stops the pod: a clean exit well within the grace period.
    let started = std::time::Instant::now();
    server.stop();
    let grace = rendered.pod()["terminationGracePeriodSeconds"].as_u64().unwrap();
    assert!(started.elapsed().as_secs() < grace, "stopped in {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------
// on a bucket (storage.backend=amazon)
// ---------------------------------------------------------------------------------------

/// Kinds of the objects, sorted.
fn sorted_kinds(rendered: &Rendered) -> Vec<&str> {
    let mut kinds = rendered.kinds();
    kinds.sort();
    kinds
}

/// The pod's data volume at /charthall_data.
fn data_volume(rendered: &Rendered) -> &Value {
    let mounts = rendered.container()["volumeMounts"].as_array().expect("volumeMounts");
    let mount = mounts.iter().find(|m| m["mountPath"] == "/charthall_data").expect("a mount at /charthall_data");
    let volumes = rendered.pod()["volumes"].as_array().expect("volumes");
    volumes.iter().find(|v| v["name"] == mount["name"]).expect("the mounted volume")
}

#[test]
fn install_on_a_bucket_runs_replicas_without_a_claim() {
    let rendered = render(json!({
        "replicaCount": 3,
        "storage": {"backend": "amazon", "amazon": {
            "bucket": "team-charts", "prefix": "prod/charts", "region": "eu-west-1",
            "endpoint": "https://s3.eu-west-1.amazonaws.com", "forcePathStyle": true,
            "existingSecret": "charthall-s3", "accessKeyIdKey": "id", "secretAccessKeyKey": "key"}},
        // Ignored on a bucket: neither this claim nor its access mode matters.
        "persistence": {"existingClaim": "old-claim", "accessModes": ["ReadWriteOnce"]},
    }));
    // No claim, and no Secret of credentials: the user's own is used.
    assert_eq!(sorted_kinds(&rendered), ["Deployment", "Secret", "Service"]);
    assert!(rendered.secret("charthall").is_some(), "the basic-auth Secret");

    let deployment = rendered.get("Deployment");
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(deployment["spec"]["strategy"]["type"], "RollingUpdate");
    // /charthall_data is per-pod scratch space.
    assert_eq!(data_volume(&rendered)["emptyDir"], json!({}));
    assert!(data_volume(&rendered).get("persistentVolumeClaim").is_none());
    assert!(!rendered.manifest.contains("old-claim"), "{}", rendered.manifest);

    assert_eq!(rendered.env_value("STORAGE"), "amazon");
    assert_eq!(rendered.env_value("STORAGE_LOCAL_ROOTDIR"), "/charthall_data");
    assert_eq!(rendered.env_value("STORAGE_AMAZON_BUCKET"), "team-charts");
    assert_eq!(rendered.env_value("STORAGE_AMAZON_PREFIX"), "prod/charts");
    assert_eq!(rendered.env_value("STORAGE_AMAZON_REGION"), "eu-west-1");
    assert_eq!(rendered.env_value("STORAGE_AMAZON_ENDPOINT"), "https://s3.eu-west-1.amazonaws.com");
    assert_eq!(rendered.env_value("STORAGE_AMAZON_FORCE_PATH_STYLE"), "true");
    for (variable, key) in [("AWS_ACCESS_KEY_ID", "id"), ("AWS_SECRET_ACCESS_KEY", "key")] {
        let entry = rendered.env(variable);
        assert!(entry.get("value").is_none(), "{variable} must not be written into the Deployment: {entry}");
        let reference = &entry["valueFrom"]["secretKeyRef"];
        assert_eq!(reference["name"], "charthall-s3", "{variable}");
        assert_eq!(reference["key"], key, "{variable}");
    }
    // Everything else of the pod stays as it is with a folder.
    assert_eq!(rendered.env_value("SHUTDOWN_TIMEOUT"), "25s");
    assert_eq!(rendered.container()["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(rendered.pod()["automountServiceAccountToken"], false);

    assert!(rendered.notes.contains("Charts live in the bucket team-charts under prod/charts"), "{}", rendered.notes);
    assert!(rendered.notes.contains("shared by 3 replicas"), "{}", rendered.notes);
    assert!(!rendered.notes.contains("WARNING"), "{}", rendered.notes);
}

/// Optional settings left empty are not set at all (the server's defaults apply), and
/// `persistence.enabled=false` changes nothing on a bucket.
#[test]
fn install_on_a_bucket_leaves_unset_settings_out() {
    let rendered = render(json!({
        "storage": {"backend": "amazon", "amazon": {"bucket": "charts", "existingSecret": "s3"}},
        "persistence": {"enabled": false},
    }));
    assert_eq!(rendered.get("Deployment")["spec"]["replicas"], 1);
    assert_eq!(rendered.get("Deployment")["spec"]["strategy"]["type"], "RollingUpdate");
    for variable in ["STORAGE_AMAZON_PREFIX", "STORAGE_AMAZON_REGION", "STORAGE_AMAZON_ENDPOINT"] {
        assert!(!rendered.has_env(variable), "{variable} set though empty");
    }
    assert_eq!(rendered.env_value("STORAGE_AMAZON_FORCE_PATH_STYLE"), "false");
    let reference = &rendered.env("AWS_ACCESS_KEY_ID")["valueFrom"]["secretKeyRef"];
    assert_eq!(reference, &json!({"name": "s3", "key": "AWS_ACCESS_KEY_ID"}));
    let reference = &rendered.env("AWS_SECRET_ACCESS_KEY")["valueFrom"]["secretKeyRef"];
    assert_eq!(reference, &json!({"name": "s3", "key": "AWS_SECRET_ACCESS_KEY"}));
    assert_eq!(data_volume(&rendered)["emptyDir"], json!({}));
    // The emptyDir warning is about charts in the folder; on a bucket nothing is lost.
    assert!(!rendered.notes.contains("WARNING"), "{}", rendered.notes);
    assert!(rendered.notes.contains("shared by 1 replica."), "{}", rendered.notes);
}

/// accessKeyId and secretAccessKey go into a Secret of the chart's own, which the pod
/// reads through secretKeyRef and follows (a new key rolls the pods).
#[test]
fn install_on_a_bucket_keeps_given_credentials_in_its_own_secret() {
    let values = |secret: &str| {
        json!({
            "replicaCount": 2,
            "auth": {"password": "fixed"},
            "storage": {"backend": "amazon", "amazon": {
                "bucket": "charts", "accessKeyId": "AKIAEXAMPLE", "secretAccessKey": secret}},
        })
    };
    let rendered = render(values("s3cr3t/with+chars="));
    assert_eq!(sorted_kinds(&rendered), ["Deployment", "Secret", "Secret", "Service"]);
    let secret = rendered.secret("charthall-storage").expect("the chart's Secret of bucket credentials");
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(secret_value(secret, "AWS_ACCESS_KEY_ID"), "AKIAEXAMPLE");
    assert_eq!(secret_value(secret, "AWS_SECRET_ACCESS_KEY"), "s3cr3t/with+chars=");
    for variable in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        let reference = &rendered.env(variable)["valueFrom"]["secretKeyRef"];
        assert_eq!(reference, &json!({"name": "charthall-storage", "key": variable}));
    }
    // The credentials are in the Secret only, never in the Deployment.
    let deployment = rendered.get("Deployment").to_string();
    assert!(!deployment.contains("AKIAEXAMPLE") && !deployment.contains("s3cr3t"), "{deployment}");

    let checksum = |r: &Rendered| {
        r.get("Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/storage"]
            .as_str()
            .expect("checksum/storage")
            .to_string()
    };
    assert_eq!(checksum(&rendered), checksum(&render(values("s3cr3t/with+chars="))));
    assert_ne!(checksum(&rendered), checksum(&render(values("rotated"))), "a new key must roll the pods");
}

/// Neither a Secret nor keys: no credential variables at all, so the server takes the
/// pod's role (IRSA through an annotated ServiceAccount, or the node's instance role).
#[test]
fn install_on_a_bucket_without_credentials_for_an_iam_role() {
    let role = "arn:aws:iam::123456789012:role/charthall";
    let rendered = render(json!({
        "replicaCount": 2,
        "storage": {"backend": "amazon", "amazon": {"bucket": "charts", "region": "eu-west-1"}},
        "serviceAccount": {"create": true, "annotations": {"eks.amazonaws.com/role-arn": role}},
    }));
    assert_eq!(sorted_kinds(&rendered), ["Deployment", "Secret", "Service", "ServiceAccount"]);
    for variable in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        assert!(!rendered.has_env(variable), "{variable} without credentials");
    }
    assert!(rendered.secret("charthall-storage").is_none());
    let account = rendered.get("ServiceAccount");
    assert_eq!(account["metadata"]["name"], "charthall");
    assert_eq!(account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"], role);
    assert_eq!(account["automountServiceAccountToken"], false);
    assert_eq!(rendered.pod()["serviceAccountName"], "charthall");
    assert_eq!(rendered.pod()["automountServiceAccountToken"], false);
    assert!(rendered.notes.contains("No credentials are set"), "{}", rendered.notes);

    // An account made elsewhere (eksctl, Terraform) is used by name; the chart makes none.
    let rendered = render(json!({
        "storage": {"backend": "amazon", "amazon": {"bucket": "charts"}},
        "serviceAccount": {"name": "charts-reader"},
    }));
    assert!(rendered.find("ServiceAccount").is_none());
    assert_eq!(rendered.pod()["serviceAccountName"], "charts-reader");
}

/// The example of the chart's README, its `--set` flags as written, installs three
/// replicas on the bucket with the credentials of the Secret its kubectl line makes.
#[test]
fn readme_example_installs_three_replicas_on_a_bucket() {
    let readme = std::fs::read_to_string(chart().join("README.md")).unwrap();
    let block = readme
        .split("```")
        .find(|block| block.contains("--set storage.backend=amazon"))
        .expect("an example with storage.backend=amazon in the README");
    // The commands as a shell joins them, comment lines (alternatives) left out.
    let commands = block.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n");
    let commands = commands.replace("\\\n", " ");
    let words = |line: &str| line.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let install = commands.lines().find(|l| l.trim_start().starts_with("helm install")).expect("helm install");
    let install = words(install);
    let sets: Vec<&str> = install.windows(2).filter(|w| w[0] == "--set").map(|w| w[1].as_str()).collect();
    assert!(sets.contains(&"replicaCount=3"), "{sets:?}");
    let create = commands.lines().find(|l| l.contains("create secret generic")).expect("kubectl create secret");
    let create = words(create);
    let secret_name = &create[create.iter().position(|w| w == "generic").unwrap() + 1];
    let keys: Vec<&str> = create
        .iter()
        .filter_map(|w| w.strip_prefix("--from-literal="))
        .map(|kv| kv.split('=').next().unwrap())
        .collect();

    let rendered = render_with(json!({}), json!([]), &sets);
    let deployment = rendered.get("Deployment");
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(deployment["spec"]["strategy"]["type"], "RollingUpdate");
    assert!(rendered.find("PersistentVolumeClaim").is_none());
    assert_eq!(data_volume(&rendered)["emptyDir"], json!({}));
    assert_eq!(rendered.env_value("STORAGE"), "amazon");
    assert_eq!(rendered.env_value("STORAGE_AMAZON_BUCKET"), "my-charts");
    // The pod reads the two keys the kubectl line puts into that Secret.
    let referenced: Vec<&str> = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        .iter()
        .map(|variable| {
            let reference = &rendered.env(variable)["valueFrom"]["secretKeyRef"];
            assert_eq!(reference["name"], secret_name.as_str(), "{variable}");
            reference["key"].as_str().unwrap()
        })
        .collect();
    assert_eq!(referenced, keys);
    // With that Secret in the cluster, the pod's environment is complete.
    let made = cluster_secret(secret_name, &[(keys[0], "AKIAEXAMPLE"), (keys[1], "example-secret")]);
    let env = rendered.pod_env(&[made]);
    assert!(env.contains(&("AWS_ACCESS_KEY_ID".into(), "AKIAEXAMPLE".into())), "{env:?}");
    assert!(env.contains(&("AWS_SECRET_ACCESS_KEY".into(), "example-secret".into())), "{env:?}");
}

/// Storage values that cannot work are refused at install, naming the value to set.
#[test]
fn install_on_a_bucket_refuses_values_that_cannot_work() {
    let refused = render_refused(json!({"replicaCount": 3, "storage": {"backend": "amazon"}}));
    assert!(refused.contains("storage.amazon.bucket"), "{refused}");
    let refused = render_refused(json!({"storage": {"backend": "amazon", "amazon": {"bucket": ""}}}));
    assert!(refused.contains("storage.amazon.bucket"), "{refused}");
    let refused = render_refused(json!({"storage": {"backend": "gcs", "amazon": {"bucket": "charts"}}}));
    assert!(refused.contains("storage.backend") && refused.contains("gcs"), "{refused}");
    let refused = render_refused(
        json!({"storage": {"backend": "amazon", "amazon": {"bucket": "charts", "accessKeyId": "AKIA"}}}),
    );
    assert!(refused.contains("storage.amazon.secretAccessKey"), "{refused}");
    let refused = render_refused(json!({"storage": {"backend": "amazon", "amazon": {
        "bucket": "charts", "existingSecret": "s3", "accessKeyId": "AKIA", "secretAccessKey": "x"}}}));
    assert!(refused.contains("storage.amazon.existingSecret") && refused.contains("not both"), "{refused}");
}

/// storage.amazon settings mean nothing with the local folder: the install is the same
/// as without them.
#[test]
fn install_with_a_local_folder_ignores_bucket_settings() {
    let plain = render(json!({"auth": {"password": "fixed"}}));
    let with_bucket_settings = render(json!({
        "auth": {"password": "fixed"},
        "storage": {"backend": "local", "amazon": {"bucket": "charts", "existingSecret": "s3",
                                                   "endpoint": "http://minio:9000"}},
    }));
    assert_eq!(plain.manifest, with_bucket_settings.manifest);
    assert_eq!(sorted_kinds(&with_bucket_settings), ["Deployment", "PersistentVolumeClaim", "Secret", "Service"]);
    // And replicas still need a shared folder there.
    let refused = render_refused(json!({"replicaCount": 2, "storage": {"amazon": {"bucket": "charts"}}}));
    assert!(refused.contains("replicaCount > 1") && refused.contains("ReadWriteMany"), "{refused}");
}

/// An index as a server serves it with basic auth: (chart, version) → digest.
fn listed(server: &Server, creds: (&str, &str)) -> std::collections::BTreeMap<(String, String), String> {
    let response = client().get(server.url("/ops/index.yaml")).basic_auth(creds.0, Some(creds.1)).send().unwrap();
    assert_eq!(response.status(), StatusCode::OK, "index on port {}", server.port);
    let index = yaml(&response.text().unwrap());
    let mut found = std::collections::BTreeMap::new();
    for (name, versions) in index["entries"].as_mapping().expect("entries") {
        for version in versions.as_sequence().unwrap() {
            let key = (name.as_str().unwrap().to_string(), version["version"].as_str().unwrap().to_string());
            found.insert(key, version["digest"].as_str().unwrap().to_string());
        }
    }
    found
}

/// Waits until `server` lists `name` `version` with `digest` (`None`: no longer lists
/// it); how long that took. Fails after 10 s.
fn wait_listed(server: &Server, creds: (&str, &str), name: &str, version: &str, digest: Option<&str>) -> Duration {
    let started = Instant::now();
    loop {
        let found = listed(server, creds).remove(&(name.to_string(), version.to_string()));
        if found.as_deref() == digest {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "server on port {} lists {name} {version} as {found:?}, not {digest:?}, after 10 s",
            server.port
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Two pods of one rendered Deployment, as real servers on one bucket of a real S3 store
/// (a one-node Garage on 127.0.0.1): every variable comes from the render (the bucket's
/// endpoint and key are the store's, given as values, the key resolved through the
/// chart's Secret); only the port, the listen address and the scratch folder are the
/// harness's, each server with a folder of its own as each pod has its emptyDir. An
/// upload through either is in the other's index within a second.
#[test]
fn rendered_pods_on_one_bucket_see_each_others_uploads_within_a_second() {
    const FRESH: Duration = Duration::from_secs(1);
    let garage = Garage::start(1);
    let rendered = render(json!({
        "replicaCount": 2,
        "auth": {"password": "bucket pass"},
        "storage": {"backend": "amazon", "amazon": {
            "bucket": garage.bucket, "prefix": "chart-test", "region": "garage",
            "endpoint": garage.endpoint(0), "forcePathStyle": true,
            "accessKeyId": garage.key_id, "secretAccessKey": garage.secret}},
    }));
    assert_eq!(rendered.get("Deployment")["spec"]["replicas"], 2);
    let mut env = rendered.pod_env(&[]);
    // What the chart gives the pod is what the tests' own replicas run with.
    for (name, value) in garage.env(0, "chart-test") {
        assert!(env.contains(&(name.clone(), value.clone())), "the pod has no {name}={value}: {env:?}");
    }
    env.retain(|(name, _)| !["PORT", "LISTEN_HOST", "STORAGE_LOCAL_ROOTDIR"].contains(&name.as_str()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut pods = [Server::start(&env), Server::start(&env)];
    assert_ne!(pods[0].root, pods[1].root);
    let creds = ("admin", "bucket pass");
    assert_eq!(pods[1].get("/ops/index.yaml").status(), StatusCode::UNAUTHORIZED);

    let upload = |pod: &Server, package: &[u8]| {
        let response = client()
            .post(pod.url("/api/ops/charts"))
            .basic_auth(creds.0, Some(creds.1))
            .body(package.to_vec())
            .send()
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "upload through port {}", pod.port);
    };
    let mut worst = Duration::ZERO;
    // The chart's own package through the first pod, then more through either.
    let out = tempfile::tempdir().unwrap();
    let packaged = deploy_chart_json(&["package", chart().to_str().unwrap(), out.path().to_str().unwrap()]);
    let package = std::fs::read(packaged["path"].as_str().unwrap()).unwrap();
    upload(&pods[0], &package);
    worst = worst.max(wait_listed(&pods[1], creds, "charthall", CHART_VERSION, Some(&sha256_hex(&package))));
    for i in 0..6 {
        let package = ChartBuilder::new("web", &format!("1.{i}.0")).build();
        let (from, to) = (&pods[i % 2], &pods[(i + 1) % 2]);
        upload(from, &package);
        worst = worst.max(wait_listed(to, creds, "web", &format!("1.{i}.0"), Some(&sha256_hex(&package))));
    }
    // A delete travels the same way.
    let response =
        client().delete(pods[1].url("/api/ops/charts/web/1.0.0")).basic_auth(creds.0, Some(creds.1)).send().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    worst = worst.max(wait_listed(&pods[0], creds, "web", "1.0.0", None));
    println!("worst time for a change to reach the other pod: {} ms", worst.as_millis());
    assert!(worst <= FRESH, "a change took {worst:?} to reach the other pod");
    assert_eq!(listed(&pods[0], creds), listed(&pods[1], creds));
    assert_eq!(listed(&pods[0], creds).len(), 6);

    // The package itself is served by the pod it was not uploaded to, from the bucket …
    let served = client()
        .get(pods[1].url(&format!("/ops/charts/charthall-{CHART_VERSION}.tgz")))
        .basic_auth(creds.0, Some(creds.1))
        .send()
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.bytes().unwrap().as_ref(), package.as_slice());
    // … and no pod keeps a package in its scratch folder.
    for pod in &pods {
        let files = files_under(&pod.root);
        assert!(!files.iter().any(|f| f.ends_with(".tgz")), "packages in {:?}: {files:?}", pod.root);
    }

    // SIGTERM, as Kubernetes stops the pods during a rolling update.
    for pod in &mut pods {
        pod.stop();
    }
}
