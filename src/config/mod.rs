//! Configuration: every setting is a command-line flag and an environment variable
//! (`--storage-local-rootdir` / `STORAGE_LOCAL_ROOTDIR`), named as ChartMuseum and the
//! original ChartHall name them so existing deployments keep their settings.
//!
//! A value that does not parse stops start-up with a message naming the variable: a
//! typo must never be silently replaced by a default. ChartMuseum's settings that ChartHall
//! does not implement are each accepted as having no effect or refused by name
//! ([`chartmuseum`]), and its `--config` file is read too ([`file`]).

mod chartmuseum;
mod file;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, Parser};

/// Parsed and validated settings. Field docs are the `--help` text.
#[derive(Debug, Clone, Parser)]
#[command(name = "charthall", version, about = "A fast, ChartMuseum-compatible Helm chart repository server")]
pub struct Config {
    /// A YAML file of settings, as ChartMuseum's (`storage.local.rootdir: …`); the
    /// environment and the command line override it.
    #[arg(long, short = 'c', env = "CONFIG", value_name = "CONFIG")]
    pub config: Option<PathBuf>,

    /// Listen port.
    #[arg(long, env = "PORT", value_name = "PORT", default_value_t = 8080)]
    pub port: u16,

    /// Listen address.
    #[arg(long, env = "LISTEN_HOST", value_name = "LISTEN_HOST", default_value = "0.0.0.0")]
    pub listen_host: String,

    /// Storage backend: `local` (a folder) or `amazon` (an S3-compatible bucket, shared by
    /// any number of replicas).
    #[arg(long, env = "STORAGE", value_name = "STORAGE", default_value = "local", value_parser = parse_storage)]
    pub storage: String,

    /// Bucket that holds the repositories (STORAGE=amazon); credentials come from
    /// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    #[arg(long, env = "STORAGE_AMAZON_BUCKET", value_name = "STORAGE_AMAZON_BUCKET")]
    pub storage_amazon_bucket: Option<String>,

    /// Key prefix inside the bucket under which the repositories lie.
    #[arg(long, env = "STORAGE_AMAZON_PREFIX", value_name = "STORAGE_AMAZON_PREFIX", default_value = "")]
    pub storage_amazon_prefix: String,

    /// The bucket's region.
    #[arg(long, env = "STORAGE_AMAZON_REGION", value_name = "STORAGE_AMAZON_REGION")]
    pub storage_amazon_region: Option<String>,

    /// An S3-compatible endpoint other than AWS (MinIO, Garage, R2), e.g. `http://10.0.0.5:3900`.
    #[arg(long, env = "STORAGE_AMAZON_ENDPOINT", value_name = "STORAGE_AMAZON_ENDPOINT")]
    pub storage_amazon_endpoint: Option<String>,

    /// Address the bucket as `endpoint/bucket` rather than `bucket.endpoint`.
    #[arg(long, env = "STORAGE_AMAZON_FORCE_PATH_STYLE", value_name = "STORAGE_AMAZON_FORCE_PATH_STYLE", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, value_parser = parse_bool)]
    pub storage_amazon_force_path_style: bool,

    /// How often a replica on a shared bucket looks for changes made through the others
    /// (one small HEAD request each time when nothing changed).
    #[arg(long, env = "REPLICA_POLL_INTERVAL", value_name = "REPLICA_POLL_INTERVAL", default_value = "200ms", value_parser = parse_duration)]
    pub replica_poll_interval: Duration,

    /// Folder that holds the repositories; created on start.
    #[arg(long, env = "STORAGE_LOCAL_ROOTDIR", value_name = "STORAGE_LOCAL_ROOTDIR", default_value = "./charts-data")]
    pub storage_local_rootdir: PathBuf,

    /// Number of URL path segments that name a repository (0, 1 or 2 ...).
    #[arg(long, env = "DEPTH", value_name = "DEPTH", default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=4))]
    pub depth: u8,

    /// URL prefix of every route, e.g. `/helm`.
    #[arg(long, env = "CONTEXT_PATH", value_name = "CONTEXT_PATH", default_value = "", value_parser = parse_context_path)]
    pub context_path: String,

    /// Absolute prefix for package `urls` in the index (e.g. `https://charts.example.com`).
    #[arg(long, env = "CHART_URL", value_name = "CHART_URL", default_value = "", value_parser = parse_chart_url)]
    pub chart_url: String,

    /// Basic auth user; with BASIC_AUTH_PASS it protects every route but /health and /info.
    #[arg(long, env = "BASIC_AUTH_USER", value_name = "BASIC_AUTH_USER")]
    pub basic_auth_user: Option<String>,

    /// Basic auth password (BASIC_AUTH_PASSWORD is accepted too).
    #[arg(long, env = "BASIC_AUTH_PASS", value_name = "BASIC_AUTH_PASS", hide_env_values = true)]
    pub basic_auth_pass: Option<String>,

    /// With basic auth, let reads (GET/HEAD) through without credentials.
    #[arg(long, env = "AUTH_ANONYMOUS_GET", value_name = "AUTH_ANONYMOUS_GET", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, value_parser = parse_bool)]
    pub auth_anonymous_get: bool,

    /// Replace an existing version on upload.
    #[arg(long, env = "ALLOW_OVERWRITE", value_name = "ALLOW_OVERWRITE", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, value_parser = parse_bool)]
    pub allow_overwrite: bool,

    /// Ignore the `?force` query of uploads.
    #[arg(long, env = "DISABLE_FORCE_OVERWRITE", value_name = "DISABLE_FORCE_OVERWRITE", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, value_parser = parse_bool)]
    pub disable_force_overwrite: bool,

    /// Serve no /api routes.
    #[arg(long, env = "DISABLE_API", value_name = "DISABLE_API", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, value_parser = parse_bool)]
    pub disable_api: bool,

    /// Serve no DELETE route.
    #[arg(long, env = "DISABLE_DELETE", value_name = "DISABLE_DELETE", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, value_parser = parse_bool)]
    pub disable_delete: bool,

    /// Multipart field that carries the chart package.
    #[arg(
        long,
        env = "CHART_POST_FORM_FIELD_NAME",
        value_name = "CHART_POST_FORM_FIELD_NAME",
        default_value = "chart"
    )]
    pub chart_post_form_field_name: String,

    /// Multipart field that carries the provenance file.
    #[arg(long, env = "PROV_POST_FORM_FIELD_NAME", value_name = "PROV_POST_FORM_FIELD_NAME", default_value = "prov")]
    pub prov_post_form_field_name: String,

    /// Largest accepted request body, in bytes (413 beyond).
    #[arg(long, env = "MAX_UPLOAD_SIZE", value_name = "MAX_UPLOAD_SIZE", default_value_t = 20 * 1024 * 1024)]
    pub max_upload_size: u64,

    /// Rescan storage for changes made outside the API every so often (`30s`, `10m`, `1h`; 0 = off).
    #[arg(long, env = "CACHE_INTERVAL", value_name = "CACHE_INTERVAL", default_value = "0", value_parser = parse_duration)]
    pub cache_interval: Duration,

    /// Close a connection on which no byte has moved either way for this long while the
    /// server waits on the client (`30`, `30s`, `2m`; 0 = never). Unlike ChartMuseum's,
    /// it counts from the last byte, not from the start of the request.
    #[arg(long, env = "READ_TIMEOUT", value_name = "READ_TIMEOUT", default_value = "30s", value_parser = parse_seconds)]
    pub read_timeout: Duration,

    /// Close a connection whose client has not sent a whole request head this long after
    /// it began (`10s`; 0 = never), however steadily its bytes trickle in; also the TLS
    /// handshake's deadline. As Go's `ReadHeaderTimeout`.
    #[arg(long, env = "READ_HEADER_TIMEOUT", value_name = "READ_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_seconds)]
    pub read_header_timeout: Duration,

    /// On SIGTERM or SIGINT, how long requests in flight (downloads, uploads) may take to
    /// finish before the server exits anyway (`25s`: below Kubernetes' default 30 s grace).
    #[arg(long, env = "SHUTDOWN_TIMEOUT", value_name = "SHUTDOWN_TIMEOUT", default_value = "25s", value_parser = parse_seconds)]
    pub shutdown_timeout: Duration,

    /// Parallel workers that read and hash packages at start-up (0 = number of cores).
    #[arg(long, env = "INDEX_LIMIT", value_name = "INDEX_LIMIT", default_value_t = 0)]
    pub index_limit: usize,

    /// Refuse versions that are not strict SemVer 2 (no `v` prefix, all three numbers).
    #[arg(long, env = "ENFORCE_SEMVER2", value_name = "ENFORCE_SEMVER2", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, value_parser = parse_bool)]
    pub enforce_semver2: bool,

    /// One JSON object per log line.
    #[arg(long, env = "LOG_JSON", value_name = "LOG_JSON", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, value_parser = parse_bool)]
    pub log_json: bool,

    /// Log a line for requests to /health too (probes send one every few seconds).
    #[arg(long, env = "LOG_HEALTH", value_name = "LOG_HEALTH", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, value_parser = parse_bool)]
    pub log_health: bool,

    /// Do not serve /metrics (served by default).
    #[arg(long, env = "DISABLE_METRICS", value_name = "DISABLE_METRICS", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, value_parser = parse_bool)]
    pub disable_metrics: bool,

    /// ChartMuseum's switch for /metrics, which ChartHall serves by default: only an explicit
    /// false turns it off.
    #[arg(long, env = "ENABLE_METRICS", value_name = "ENABLE_METRICS", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, value_parser = parse_bool)]
    pub enable_metrics: Option<bool>,

    /// TLS certificate (PEM); with TLS_KEY, serve HTTPS.
    #[arg(long, env = "TLS_CERT", value_name = "TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key (PEM).
    #[arg(long, env = "TLS_KEY", value_name = "TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// CA certificate (PEM): with HTTPS, require client certificates it signed.
    #[arg(long, env = "TLS_CA_CERT", value_name = "TLS_CA_CERT")]
    pub tls_ca_cert: Option<PathBuf>,

    /// Require a bearer token (an RS256 JWT) on every route but /health and /info; needs
    /// AUTH_REALM, AUTH_SERVICE and AUTH_CERT_PATH. Takes precedence over basic auth.
    #[arg(long, env = "BEARER_AUTH", value_name = "BEARER_AUTH", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, value_parser = parse_bool)]
    pub bearer_auth: bool,

    /// Where clients get tokens (the `realm` of `WWW-Authenticate`).
    #[arg(long, env = "AUTH_REALM", value_name = "AUTH_REALM")]
    pub auth_realm: Option<String>,

    /// The service tokens are issued for (the `service` of `WWW-Authenticate`).
    #[arg(long, env = "AUTH_SERVICE", value_name = "AUTH_SERVICE")]
    pub auth_service: Option<String>,

    /// The token issuer's public key (PEM), to check RS256 signatures.
    #[arg(long, env = "AUTH_CERT_PATH", value_name = "AUTH_CERT_PATH")]
    pub auth_cert_path: Option<PathBuf>,

    /// Where a token lists its allowed actions; only ChartMuseum's default is supported.
    #[arg(long, env = "AUTH_ACTIONS_SEARCH_PATH", value_name = "AUTH_ACTIONS_SEARCH_PATH")]
    pub auth_actions_search_path: Option<String>,

    /// Keep only this many newest versions of each chart: an upload deletes the oldest
    /// beyond it (0 = keep all).
    #[arg(long, env = "PER_CHART_LIMIT", value_name = "PER_CHART_LIMIT", default_value_t = 0)]
    pub per_chart_limit: usize,

    /// Refuse uploads (507) to a repository holding this many stored objects (0 = no limit).
    #[arg(long, env = "MAX_STORAGE_OBJECTS", value_name = "MAX_STORAGE_OBJECTS", default_value_t = 0)]
    pub max_storage_objects: usize,

    /// `Access-Control-Allow-Origin` value for /api routes.
    #[arg(long = "cors-alloworigin", env = "CORS_ALLOW_ORIGIN", value_name = "CORS_ALLOW_ORIGIN")]
    pub cors_allow_origin: Option<String>,

    /// Neither read nor write the start-up cache (`.charthall-index.cache`): every start
    /// reads every package.
    #[arg(long, env = "DISABLE_STATEFILES", value_name = "DISABLE_STATEFILES", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, value_parser = parse_bool)]
    pub disable_statefiles: bool,

    /// Serve the index as compact JSON (a YAML reader takes it; Helm parses it far faster
    /// than YAML on indexes of 100,000 versions). The content type stays
    /// `application/x-yaml`, as ChartMuseum's.
    #[arg(long, env = "JSON_INDEX", value_name = "JSON_INDEX", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, value_parser = parse_bool)]
    pub json_index: bool,

    /// Print the index of the storage folder to standard output and exit, serving nothing
    /// (for static hosting). Needs DEPTH=0: point STORAGE_LOCAL_ROOTDIR at the repository.
    #[arg(long, env = "GEN_INDEX", value_name = "GEN_INDEX", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, value_parser = parse_bool)]
    pub gen_index: bool,

    /// Log at debug level (as LOG_LEVEL=debug).
    #[arg(long, env = "DEBUG", value_name = "DEBUG", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, value_parser = parse_bool)]
    pub debug: bool,

    /// Log level: error, warn, info, debug or trace (default info; debug with DEBUG).
    #[arg(long, env = "LOG_LEVEL", value_name = "LOG_LEVEL", value_parser = parse_log_level)]
    pub log_level: Option<String>,

    /// What start-up should say of ChartMuseum settings that were set but do nothing here.
    #[arg(skip)]
    pub notes: Vec<String>,
}

/// ChartMuseum's default for where a token lists its actions, the only one supported.
const DEFAULT_ACTIONS_SEARCH_PATH: &str = "access[?name=='$NAMESPACE' && type=='$ACCESS_ENTRY_TYPE'].actions[]";

impl Config {
    /// Reads flags and environment, then applies the cross-field rules clap cannot express.
    pub fn load() -> Result<Config, String> {
        Config::load_from(std::env::args_os())
    }

    /// [`Config::load`] from these arguments (the program name first) instead of the
    /// process's; the environment still fills in what they leave out.
    pub fn load_from<I, T>(args: I) -> Result<Config, String>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let process_env = |name: &str| std::env::var(name).ok();
        // The file's settings count for less than the environment and the command line.
        let from_file = match file::path(&args, process_env) {
            Some(path) => file::read(&path)?,
            None => Vec::new(),
        };
        let env = |name: &str| {
            process_env(name).or_else(|| from_file.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()))
        };
        let (mut args, foreign) = chartmuseum::screen(args, env)?;
        let command = Config::command();
        for (name, value) in &from_file {
            let Some(flag) = command.get_arguments().find(|a| a.get_env().is_some_and(|e| e == *name)) else {
                continue; // a ChartMuseum setting screened above
            };
            let long = flag.get_long().expect("every setting has a long flag");
            let on_command_line = args.iter().any(|a| {
                let a = a.to_string_lossy();
                a.strip_prefix("--").is_some_and(|rest| rest == long || rest.starts_with(&format!("{long}=")))
            });
            if process_env(name).is_none() && !on_command_line {
                args.push(format!("--{long}={value}").into());
            }
        }
        let mut config = Config::try_parse_from(args).map_err(|e| {
            if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) {
                e.exit()
            }
            name_the_variable(e.to_string())
        })?;
        config.notes = foreign.iter().map(chartmuseum::note).collect();
        if config.basic_auth_pass.is_none() {
            // The original ChartHall's README spells it this way; both work.
            config.basic_auth_pass = std::env::var("BASIC_AUTH_PASSWORD").ok().filter(|p| !p.is_empty());
        }
        for text in [
            &mut config.basic_auth_user,
            &mut config.basic_auth_pass,
            &mut config.auth_realm,
            &mut config.auth_service,
            &mut config.cors_allow_origin,
        ] {
            if text.as_deref() == Some("") {
                *text = None;
            }
        }
        if config.auth_cert_path.as_deref() == Some(std::path::Path::new("")) {
            config.auth_cert_path = None;
        }
        if config.tls_ca_cert.as_deref() == Some(std::path::Path::new("")) {
            config.tls_ca_cert = None;
        }
        if config.basic_auth_user.is_some() != config.basic_auth_pass.is_some() {
            return Err("BASIC_AUTH_USER and BASIC_AUTH_PASS must be set together".into());
        }
        if config.tls_cert.is_some() != config.tls_key.is_some() {
            return Err("TLS_CERT and TLS_KEY must be set together".into());
        }
        if config.tls_ca_cert.is_some() && config.tls_cert.is_none() {
            return Err("TLS_CA_CERT asks for client certificates over HTTPS: it needs TLS_CERT and TLS_KEY".into());
        }
        if config.bearer_auth {
            let missing: Vec<&str> = [
                ("AUTH_REALM", config.auth_realm.is_none()),
                ("AUTH_SERVICE", config.auth_service.is_none()),
                ("AUTH_CERT_PATH", config.auth_cert_path.is_none()),
            ]
            .into_iter()
            .filter_map(|(name, missing)| missing.then_some(name))
            .collect();
            if !missing.is_empty() {
                return Err(format!(
                    "BEARER_AUTH needs AUTH_REALM, AUTH_SERVICE and AUTH_CERT_PATH; missing: {}",
                    missing.join(", ")
                ));
            }
        }
        if let Some(path) = config.auth_actions_search_path.as_deref().filter(|p| !p.is_empty()) {
            if path != DEFAULT_ACTIONS_SEARCH_PATH {
                return Err(format!(
                    "AUTH_ACTIONS_SEARCH_PATH = {path:?} is not supported: only ChartMuseum's default, {DEFAULT_ACTIONS_SEARCH_PATH}"
                ));
            }
        }
        if config.gen_index && config.depth != 0 {
            return Err(format!(
                "GEN_INDEX prints the index of one repository, the storage folder itself: it needs DEPTH=0 \
                 (DEPTH is {}); to print a repository of a deeper layout, point STORAGE_LOCAL_ROOTDIR at its folder",
                config.depth
            ));
        }
        if config.storage == "local" {
            if let Some(bucket) = &config.storage_amazon_bucket {
                config.notes.push(format!(
                    "STORAGE_AMAZON_BUCKET = {bucket:?} has no effect with STORAGE=local: set STORAGE=amazon to serve the bucket"
                ));
            }
        }
        if config.storage == "amazon" {
            if config.storage_amazon_bucket.as_deref().unwrap_or("").is_empty() {
                return Err("STORAGE=amazon needs STORAGE_AMAZON_BUCKET, the bucket that holds the charts".into());
            }
            if config.gen_index {
                return Err("GEN_INDEX prints the index of a local folder (STORAGE=local)".into());
            }
            if config.replica_poll_interval.is_zero() {
                return Err("REPLICA_POLL_INTERVAL must be more than 0: replicas on a bucket must look for each other's changes".into());
            }
        }
        if config.index_limit == 0 {
            config.index_limit = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        }
        Ok(config)
    }

    /// Credentials when basic auth is on.
    pub fn basic_auth(&self) -> Option<(&str, &str)> {
        Some((self.basic_auth_user.as_deref()?, self.basic_auth_pass.as_deref()?))
    }

    /// Whether requests need credentials (basic or bearer).
    pub fn requires_auth(&self) -> bool {
        self.bearer_auth || self.basic_auth().is_some()
    }

    /// Whether `/metrics` is served: unless `DISABLE_METRICS` or `ENABLE_METRICS=false`.
    pub fn metrics(&self) -> bool {
        !self.disable_metrics && self.enable_metrics != Some(false)
    }

    /// The log level in force: `LOG_LEVEL`, else debug with `DEBUG`, else info.
    pub fn log_level(&self) -> &str {
        self.log_level.as_deref().unwrap_or(if self.debug { "debug" } else { "info" })
    }

    /// Whether the charts live in a bucket shared with other replicas.
    pub fn shared_storage(&self) -> bool {
        self.storage == "amazon"
    }

    /// Whether an upload may replace an existing version.
    pub fn may_overwrite(&self, force_requested: bool) -> bool {
        self.allow_overwrite || (force_requested && !self.disable_force_overwrite)
    }
}

/// clap names a bad value's flag (`'--port <PORT>'`); users set the variable as often, so
/// name both (`PORT (--port)`).
fn name_the_variable(message: String) -> String {
    let mut message = message;
    for arg in Config::command().get_arguments() {
        let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) else { continue };
        let env = env.to_string_lossy();
        message = message.replace(&format!("'--{long} <{env}>'"), &format!("{env} (--{long})"));
    }
    message
}

/// `local` or `amazon`; ChartMuseum's other backends are refused by name.
fn parse_storage(value: &str) -> Result<String, String> {
    const CHARTMUSEUM: &[&str] = &["google", "oracle", "microsoft", "alibaba", "openstack", "baidu", "etcd", "tencent"];
    match value.trim() {
        "local" => Ok("local".into()),
        "amazon" | "s3" => Ok("amazon".into()),
        other if CHARTMUSEUM.contains(&other) => Err(format!(
            "the {other} backend is not supported yet: ChartHall serves a local folder (STORAGE=local) \
             or an S3-compatible bucket (STORAGE=amazon)"
        )),
        other => Err(format!("unsupported storage backend: {other} (use local or amazon)")),
    }
}

/// A level name; `warning` is taken for `warn`, as people write both.
fn parse_log_level(value: &str) -> Result<String, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        level @ ("error" | "warn" | "info" | "debug" | "trace") => Ok(level.to_string()),
        "warning" => Ok("warn".into()),
        _ => Err(format!("`{value}` is not a log level (error, warn, info, debug or trace)")),
    }
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "yes" | "on" => Ok(true),
        "" | "0" | "f" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("`{value}` is not a boolean (use true or false)")),
    }
}

fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    if value == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(value).map_err(|e| format!("`{value}` is not a duration like 30s, 10m or 1h: {e}"))
}

/// A duration, or whole seconds as ChartMuseum's `READ_TIMEOUT` takes them.
fn parse_seconds(value: &str) -> Result<Duration, String> {
    match value.trim().parse::<u64>() {
        Ok(seconds) => Ok(Duration::from_secs(seconds)),
        Err(_) => parse_duration(value),
    }
}

/// `helm/` and `/helm/` both mean `/helm`; empty means no prefix.
fn parse_context_path(value: &str) -> Result<String, String> {
    let trimmed = value.trim().trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if trimmed.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(format!("`{value}` is not a URL path like /helm"));
    }
    Ok(format!("/{trimmed}"))
}

fn parse_chart_url(value: &str) -> Result<String, String> {
    let trimmed = value.trim().trim_end_matches('/');
    if !(trimmed.is_empty() || trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
        return Err(format!("`{value}` is not an absolute http(s) URL"));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_paths() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_seconds("45").unwrap(), Duration::from_secs(45));
        assert_eq!(parse_seconds("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_seconds("0").unwrap(), Duration::ZERO);
        assert!(parse_seconds("-1").is_err());
        assert_eq!(parse_context_path("helm/x/").unwrap(), "/helm/x");
        assert_eq!(parse_context_path("/").unwrap(), "");
        assert!(parse_context_path("/a/../b").is_err());
        assert_eq!(parse_chart_url("https://x.io/").unwrap(), "https://x.io");
        assert!(parse_chart_url("x.io").is_err());
        assert!(parse_bool("maybe").is_err());
        assert_eq!(parse_log_level("warning").unwrap(), "warn");
        assert_eq!(parse_log_level("DEBUG").unwrap(), "debug");
        assert!(parse_log_level("loud").is_err());
    }
}
