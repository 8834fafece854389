//! ChartMuseum's configuration file (`--config`, `-c` or `CONFIG`): YAML whose keys name
//! settings, nested (`storage: {local: {rootdir: …}}`) or dotted (`storage.local.rootdir`).
//! A value from the file counts for less than the same setting in the environment or on
//! the command line, as in ChartMuseum. A key that names no setting stops start-up: a typo
//! must not be silently ignored.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Config-file key → environment variable, for every ChartMuseum setting (ChartMuseum's
/// `pkg/config/vars.go`) and ChartHall's own.
const KEYS: &[(&str, &str)] = &[
    ("port", "PORT"),
    ("listen.host", "LISTEN_HOST"),
    ("storage.backend", "STORAGE"),
    ("storage", "STORAGE"),
    ("storage.local.rootdir", "STORAGE_LOCAL_ROOTDIR"),
    ("storage.timestamptolerance", "STORAGE_TIMESTAMP_TOLERANCE"),
    ("basicauth.user", "BASIC_AUTH_USER"),
    ("basicauth.pass", "BASIC_AUTH_PASS"),
    ("authanonymousget", "AUTH_ANONYMOUS_GET"),
    ("bearerauth", "BEARER_AUTH"),
    ("authrealm", "AUTH_REALM"),
    ("authservice", "AUTH_SERVICE"),
    ("authcertpath", "AUTH_CERT_PATH"),
    ("authactionssearchpath", "AUTH_ACTIONS_SEARCH_PATH"),
    ("allowoverwrite", "ALLOW_OVERWRITE"),
    ("disableforceoverwrite", "DISABLE_FORCE_OVERWRITE"),
    ("disableapi", "DISABLE_API"),
    ("disabledelete", "DISABLE_DELETE"),
    ("disablestatefiles", "DISABLE_STATEFILES"),
    ("charturl", "CHART_URL"),
    ("contextpath", "CONTEXT_PATH"),
    ("depth", "DEPTH"),
    ("depthdynamic", "DEPTH_DYNAMIC"),
    ("chartpostformfieldname", "CHART_POST_FORM_FIELD_NAME"),
    ("provpostformfieldname", "PROV_POST_FORM_FIELD_NAME"),
    ("maxstorageobjects", "MAX_STORAGE_OBJECTS"),
    ("maxuploadsize", "MAX_UPLOAD_SIZE"),
    ("per-chart-limit", "PER_CHART_LIMIT"),
    ("indexlimit", "INDEX_LIMIT"),
    ("cacheinterval", "CACHE_INTERVAL"),
    ("always-regenerate-chart-index", "ALWAYS_REGENERATE_CHART_INDEX"),
    ("json-index", "JSON_INDEX"),
    ("genindex", "GEN_INDEX"),
    ("tls.cert", "TLS_CERT"),
    ("tls.key", "TLS_KEY"),
    ("tls.cacert", "TLS_CA_CERT"),
    ("readtimeout", "READ_TIMEOUT"),
    ("writetimeout", "WRITE_TIMEOUT"),
    ("cors.alloworigin", "CORS_ALLOW_ORIGIN"),
    ("debug", "DEBUG"),
    ("logjson", "LOG_JSON"),
    ("loglevel", "LOG_LEVEL"),
    ("loghealth", "LOG_HEALTH"),
    ("loglatencyinteger", "LOG_LATENCY_INTEGER"),
    ("enablemetrics", "ENABLE_METRICS"),
    ("disablemetrics", "DISABLE_METRICS"),
    ("enforce-semver2", "ENFORCE_SEMVER2"),
    ("web-template-path", "WEB_TEMPLATE_PATH"),
    ("artifact-hub-repo-id", "ARTIFACT_HUB_REPO_ID"),
    ("cache.store", "CACHE"),
    ("cache.redis.addr", "CACHE_REDIS_ADDR"),
    ("cache.redis.password", "CACHE_REDIS_PASSWORD"),
    ("cache.redis.db", "CACHE_REDIS_DB"),
    ("storage.amazon.bucket", "STORAGE_AMAZON_BUCKET"),
    ("storage.amazon.prefix", "STORAGE_AMAZON_PREFIX"),
    ("storage.amazon.region", "STORAGE_AMAZON_REGION"),
    ("storage.amazon.endpoint", "STORAGE_AMAZON_ENDPOINT"),
    ("storage.amazon.sse", "STORAGE_AMAZON_SSE"),
    ("storage.amazon.forcepathstyle", "STORAGE_AMAZON_FORCE_PATH_STYLE"),
    ("storage.google.bucket", "STORAGE_GOOGLE_BUCKET"),
    ("storage.google.prefix", "STORAGE_GOOGLE_PREFIX"),
    ("storage.oracle.bucket", "STORAGE_ORACLE_BUCKET"),
    ("storage.oracle.prefix", "STORAGE_ORACLE_PREFIX"),
    ("storage.oracle.region", "STORAGE_ORACLE_REGION"),
    ("storage.oracle.compartmentid", "STORAGE_ORACLE_COMPARTMENTID"),
    ("storage.microsoft.container", "STORAGE_MICROSOFT_CONTAINER"),
    ("storage.microsoft.prefix", "STORAGE_MICROSOFT_PREFIX"),
    ("storage.alibaba.bucket", "STORAGE_ALIBABA_BUCKET"),
    ("storage.alibaba.prefix", "STORAGE_ALIBABA_PREFIX"),
    ("storage.alibaba.endpoint", "STORAGE_ALIBABA_ENDPOINT"),
    ("storage.alibaba.sse", "STORAGE_ALIBABA_SSE"),
    ("storage.openstack.container", "STORAGE_OPENSTACK_CONTAINER"),
    ("storage.openstack.prefix", "STORAGE_OPENSTACK_PREFIX"),
    ("storage.openstack.region", "STORAGE_OPENSTACK_REGION"),
    ("storage.openstack.cacert", "STORAGE_OPENSTACK_CACERT"),
    ("storage.openstack.auth", "STORAGE_OPENSTACK_AUTH"),
    ("storage.baidu.bucket", "STORAGE_BAIDU_BUCKET"),
    ("storage.baidu.prefix", "STORAGE_BAIDU_PREFIX"),
    ("storage.baidu.endpoint", "STORAGE_BAIDU_ENDPOINT"),
    ("storage.etcd.endpoint", "STORAGE_ETCD_ENDPOINT"),
    ("storage.etcd.cafile", "STORAGE_ETCD_CAFILE"),
    ("storage.etcd.certfile", "STORAGE_ETCD_CERTFILE"),
    ("storage.etcd.keyfile", "STORAGE_ETCD_KEYFILE"),
    ("storage.etcd.prefix", "STORAGE_ETCD_PREFIX"),
    ("storage.tencent.bucket", "STORAGE_TENCENT_BUCKET"),
    ("storage.tencent.prefix", "STORAGE_TENCENT_PREFIX"),
    ("storage.tencent.endpoint", "STORAGE_TENCENT_ENDPOINT"),
];

/// The configuration file named by `--config PATH`, `--config=PATH`, `-c PATH` in `args`,
/// or else by `CONFIG` in the environment.
pub fn path(args: &[OsString], env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let mut args = args.iter().map(|a| a.to_string_lossy());
    while let Some(arg) = args.next() {
        if let Some(path) = arg.strip_prefix("--config=").or_else(|| arg.strip_prefix("-c=")) {
            return Some(PathBuf::from(path));
        }
        if arg == "--config" || arg == "-c" {
            return args.next().map(|path| PathBuf::from(path.as_ref()));
        }
    }
    env("CONFIG").filter(|p| !p.is_empty()).map(PathBuf::from)
}

/// The settings a configuration file holds, as `(environment variable, value)`.
pub fn read(path: &Path) -> Result<Vec<(&'static str, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("config file not found: {}", path.display()),
        _ => format!("cannot read the config file {}: {e}", path.display()),
    })?;
    let document: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| format!("the config file {} is not YAML: {e}", path.display()))?;
    let mut flat = Vec::new();
    match document {
        serde_yaml::Value::Null => {}
        serde_yaml::Value::Mapping(map) => flatten("", &map, &mut flat),
        _ => return Err(format!("the config file {} is not a map of settings", path.display())),
    }
    flat.into_iter()
        .map(|(key, value)| {
            let key = key.to_ascii_lowercase();
            let value = value.map_err(|what| format!("{key} in the config file {}: {what}", path.display()))?;
            KEYS.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, env)| (*env, value))
                .ok_or_else(|| format!("{key} in the config file {} names no setting", path.display()))
        })
        .collect()
}

/// Dotted keys and their scalar values (or why a value is no scalar).
fn flatten(prefix: &str, map: &serde_yaml::Mapping, out: &mut Vec<(String, Result<String, String>)>) {
    for (key, value) in map {
        let key = match key {
            serde_yaml::Value::String(s) => s.clone(),
            other => serde_yaml::to_string(other).unwrap_or_default().trim().to_string(),
        };
        let key = if prefix.is_empty() { key } else { format!("{prefix}.{key}") };
        match value {
            serde_yaml::Value::Mapping(inner) => flatten(&key, inner, out),
            serde_yaml::Value::String(s) => out.push((key, Ok(s.clone()))),
            serde_yaml::Value::Bool(b) => out.push((key, Ok(b.to_string()))),
            serde_yaml::Value::Number(n) => out.push((key, Ok(n.to_string()))),
            serde_yaml::Value::Null => out.push((key, Ok(String::new()))),
            _ => out.push((key, Err("a list is no setting value".to_string()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn nested_and_dotted_keys_name_the_same_settings() {
        let (_dir, path) = file(
            "debug: true\nport: 9090\nstorage.backend: local\nstorage:\n  local:\n    rootdir: /srv/charts\n\
             basicauth:\n  user: ann\n  pass: secret\nauthanonymousget: true\n",
        );
        assert_eq!(
            read(&path).unwrap(),
            [
                ("DEBUG", "true".to_string()),
                ("PORT", "9090".to_string()),
                ("STORAGE", "local".to_string()),
                ("STORAGE_LOCAL_ROOTDIR", "/srv/charts".to_string()),
                ("BASIC_AUTH_USER", "ann".to_string()),
                ("BASIC_AUTH_PASS", "secret".to_string()),
                ("AUTH_ANONYMOUS_GET", "true".to_string()),
            ]
        );
    }

    #[test]
    fn a_missing_file_and_an_unknown_key_stop_start_up() {
        assert_eq!(read(Path::new("blahblahblah.yaml")).unwrap_err(), "config file not found: blahblahblah.yaml");
        let (_dir, path) = file("prot: 8080\n");
        assert_eq!(read(&path).unwrap_err(), format!("prot in the config file {} names no setting", path.display()));
    }

    #[test]
    fn the_path_comes_from_the_flag_or_the_environment() {
        let args = |list: &[&str]| list.iter().map(OsString::from).collect::<Vec<_>>();
        let none = |_: &str| None;
        assert_eq!(path(&args(&["x", "--config", "a.yaml"]), none), Some(PathBuf::from("a.yaml")));
        assert_eq!(path(&args(&["x", "-c", "b.yaml"]), none), Some(PathBuf::from("b.yaml")));
        assert_eq!(path(&args(&["x", "--config=c.yaml"]), none), Some(PathBuf::from("c.yaml")));
        assert_eq!(path(&args(&["x"]), |n| (n == "CONFIG").then(|| "d.yaml".into())), Some(PathBuf::from("d.yaml")));
        assert_eq!(path(&args(&["x"]), none), None);
    }
}
