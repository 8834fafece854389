//! ChartMuseum's settings, every one of them: so a deployment moved over from ChartMuseum
//! never runs with a setting silently lost.
//!
//! Each setting is a flag, an environment variable and a key of the `--config` file, as
//! ChartMuseum spells them. Those ChartHall implements are fields of [`super::Config`];
//! the others are listed here, each either accepted as having no effect (with the reason,
//! logged at start-up when it is set) or refused: start-up stops, naming the setting and
//! saying why.

use std::ffi::OsString;

/// What ChartHall does with a ChartMuseum setting it does not implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted; it changes nothing here, for this reason.
    NoEffect(&'static str),
    /// Start-up stops when it is set, with this reason.
    Refused(&'static str),
}

/// Whether the flag takes a value (`--x value`) or is a switch (`--x`, `--x=true`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Switch,
    Value,
}

/// A ChartMuseum setting ChartHall does not implement.
#[derive(Debug)]
pub struct Foreign {
    pub env: &'static str,
    pub flag: &'static str,
    pub kind: Kind,
    pub verdict: Verdict,
}

const SOON: &str = "not supported yet";
const STORE: &str = "only matters with its STORAGE backend; ChartHall serves a local folder (STORAGE=local) or an S3-compatible bucket (STORAGE=amazon)";

macro_rules! foreign {
    ($($env:literal, $flag:literal, $kind:ident, $verdict:expr;)*) => {
        &[$(Foreign { env: $env, flag: $flag, kind: Kind::$kind, verdict: $verdict }),*]
    };
}

/// Every ChartMuseum setting that is not a field of [`super::Config`] (ChartMuseum's
/// `pkg/config/vars.go`).
pub const FOREIGN: &[Foreign] = foreign![
    "STORAGE_TIMESTAMP_TOLERANCE", "storage-timestamp-tolerance", Value, Verdict::NoEffect("ChartHall re-reads a package whenever its size or modification time changes at all");
    "WRITE_TIMEOUT", "write-timeout", Value, Verdict::NoEffect("ChartHall does not cut off responses: a slow client downloading a big index would lose it; READ_TIMEOUT still closes idle connections");
    "LOG_LATENCY_INTEGER", "log-latency-integer", Switch, Verdict::NoEffect("request lines always give the latency as an integer, duration_us, in microseconds");
    "DEPTH_DYNAMIC", "depth-dynamic", Switch, Verdict::Refused("set DEPTH to the number of path segments that name a repository");
    "ALWAYS_REGENERATE_CHART_INDEX", "always-regenerate-chart-index", Switch, Verdict::Refused("not needed: every upload and delete updates the index before it answers, and CACHE_INTERVAL picks up changes made behind the server's back");
    "WEB_TEMPLATE_PATH", "web-template-path", Value, Verdict::Refused("custom welcome pages are not supported");
    "ARTIFACT_HUB_REPO_ID", "artifact-hub-repo-id", Value, Verdict::Refused(SOON);
    "CACHE", "cache", Value, Verdict::Refused("not needed: every repository's index is kept in memory, pre-built, and updated by every write");
    "CACHE_REDIS_ADDR", "cache-redis-addr", Value, Verdict::NoEffect("ChartHall needs no external cache");
    "CACHE_REDIS_PASSWORD", "cache-redis-password", Value, Verdict::NoEffect("ChartHall needs no external cache");
    "CACHE_REDIS_DB", "cache-redis-db", Value, Verdict::NoEffect("ChartHall needs no external cache");
    "STORAGE_AMAZON_SSE", "storage-amazon-sse", Value, Verdict::Refused("server-side encryption settings are not supported yet: set the bucket's default encryption instead");
    "STORAGE_GOOGLE_BUCKET", "storage-google-bucket", Value, Verdict::NoEffect(STORE);
    "STORAGE_GOOGLE_PREFIX", "storage-google-prefix", Value, Verdict::NoEffect(STORE);
    "STORAGE_ORACLE_BUCKET", "storage-oracle-bucket", Value, Verdict::NoEffect(STORE);
    "STORAGE_ORACLE_PREFIX", "storage-oracle-prefix", Value, Verdict::NoEffect(STORE);
    "STORAGE_ORACLE_REGION", "storage-oracle-region", Value, Verdict::NoEffect(STORE);
    "STORAGE_ORACLE_COMPARTMENTID", "storage-oracle-compartmentid", Value, Verdict::NoEffect(STORE);
    "STORAGE_MICROSOFT_CONTAINER", "storage-microsoft-container", Value, Verdict::NoEffect(STORE);
    "STORAGE_MICROSOFT_PREFIX", "storage-microsoft-prefix", Value, Verdict::NoEffect(STORE);
    "STORAGE_ALIBABA_BUCKET", "storage-alibaba-bucket", Value, Verdict::NoEffect(STORE);
    "STORAGE_ALIBABA_PREFIX", "storage-alibaba-prefix", Value, Verdict::NoEffect(STORE);
    "STORAGE_ALIBABA_ENDPOINT", "storage-alibaba-endpoint", Value, Verdict::NoEffect(STORE);
    "STORAGE_ALIBABA_SSE", "storage-alibaba-sse", Value, Verdict::NoEffect(STORE);
    "STORAGE_OPENSTACK_CONTAINER", "storage-openstack-container", Value, Verdict::NoEffect(STORE);
    "STORAGE_OPENSTACK_PREFIX", "storage-openstack-prefix", Value, Verdict::NoEffect(STORE);
    "STORAGE_OPENSTACK_REGION", "storage-openstack-region", Value, Verdict::NoEffect(STORE);
    "STORAGE_OPENSTACK_CACERT", "storage-openstack-cacert", Value, Verdict::NoEffect(STORE);
    "STORAGE_OPENSTACK_AUTH", "storage-openstack-auth", Value, Verdict::NoEffect(STORE);
    "STORAGE_BAIDU_BUCKET", "storage-baidu-bucket", Value, Verdict::NoEffect(STORE);
    "STORAGE_BAIDU_PREFIX", "storage-baidu-prefix", Value, Verdict::NoEffect(STORE);
    "STORAGE_BAIDU_ENDPOINT", "storage-baidu-endpoint", Value, Verdict::NoEffect(STORE);
    "STORAGE_ETCD_ENDPOINT", "storage-etcd-endpoint", Value, Verdict::NoEffect(STORE);
    "STORAGE_ETCD_CAFILE", "storage-etcd-cafile", Value, Verdict::NoEffect(STORE);
    "STORAGE_ETCD_CERTFILE", "storage-etcd-certfile", Value, Verdict::NoEffect(STORE);
    "STORAGE_ETCD_KEYFILE", "storage-etcd-keyfile", Value, Verdict::NoEffect(STORE);
    "STORAGE_ETCD_PREFIX", "storage-etcd-prefix", Value, Verdict::NoEffect(STORE);
    "STORAGE_TENCENT_BUCKET", "storage-tencent-bucket", Value, Verdict::NoEffect(STORE);
    "STORAGE_TENCENT_PREFIX", "storage-tencent-prefix", Value, Verdict::NoEffect(STORE);
    "STORAGE_TENCENT_ENDPOINT", "storage-tencent-endpoint", Value, Verdict::NoEffect(STORE);
];

/// A foreign setting found set, and its value.
#[derive(Debug, Clone)]
pub struct Found {
    pub setting: &'static Foreign,
    pub value: String,
}

impl Found {
    /// How the user set it: the variable or the flag, with its value.
    fn described(&self) -> String {
        format!("{} (--{}) = {:?}", self.setting.env, self.setting.flag, self.value)
    }
}

/// Whether a value turns a setting on: switches that are false and empty values do not.
fn is_on(kind: Kind, value: &str) -> bool {
    match kind {
        Kind::Switch => !matches!(value.trim().to_ascii_lowercase().as_str(), "" | "0" | "f" | "false" | "no" | "off"),
        Kind::Value => !value.trim().is_empty(),
    }
}

/// Takes the foreign flags out of `args` (so the parser never sees them), finds the foreign
/// settings set in `args` or through `env`, and refuses the refused ones: the error names
/// each and says why. Returns the remaining arguments and the accepted foreign settings
/// found set, for the start-up log.
pub fn screen(
    args: Vec<OsString>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(Vec<OsString>, Vec<Found>), String> {
    let mut kept = Vec::with_capacity(args.len());
    let mut found = Vec::new();
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        let Some((setting, inline)) = arg.to_str().and_then(match_flag) else {
            kept.push(arg);
            continue;
        };
        let value = match (inline, setting.kind) {
            (Some(value), _) => value,
            (None, Kind::Switch) => "true".to_string(),
            (None, Kind::Value) => match args.next() {
                Some(value) => value.to_string_lossy().into_owned(),
                None => return Err(format!("--{} needs a value", setting.flag)),
            },
        };
        found.push(Found { setting, value });
    }
    for setting in FOREIGN {
        if found.iter().any(|f| std::ptr::eq(f.setting, setting)) {
            continue; // a flag wins over the environment
        }
        if let Some(value) = env(setting.env) {
            found.push(Found { setting, value });
        }
    }
    found.retain(|f| is_on(f.setting.kind, &f.value));
    let refused: Vec<String> = found
        .iter()
        .filter_map(|f| match f.setting.verdict {
            Verdict::Refused(why) => Some(format!("{} is not supported: {why}", f.described())),
            Verdict::NoEffect(_) => None,
        })
        .collect();
    if !refused.is_empty() {
        return Err(refused.join("\n"));
    }
    Ok((kept, found))
}

/// `--flag` or `--flag=value` of a foreign setting.
fn match_flag(arg: &str) -> Option<(&'static Foreign, Option<String>)> {
    let body = arg.strip_prefix("--")?;
    let (name, value) = match body.split_once('=') {
        Some((name, value)) => (name, Some(value.to_string())),
        None => (body, None),
    };
    FOREIGN.iter().find(|f| f.flag == name).map(|f| (f, value))
}

/// What the start-up log says of an accepted setting that has no effect here.
pub fn note(found: &Found) -> String {
    match found.setting.verdict {
        Verdict::NoEffect(why) => format!("{} has no effect in ChartHall: {why}", found.described()),
        Verdict::Refused(why) => format!("{} is not supported: {why}", found.described()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn no_effect_flags_are_taken_out_and_reported() {
        let (kept, found) = screen(
            args(&["charthall", "--log-latency-integer", "--port", "9", "--storage-google-bucket", "b"]),
            |_| None,
        )
        .unwrap();
        assert_eq!(kept, args(&["charthall", "--port", "9"]));
        let envs: Vec<&str> = found.iter().map(|f| f.setting.env).collect();
        assert_eq!(envs, ["LOG_LATENCY_INTEGER", "STORAGE_GOOGLE_BUCKET"]);
        assert!(note(&found[0]).starts_with("LOG_LATENCY_INTEGER (--log-latency-integer) = \"true\" has no effect"));
    }

    #[test]
    fn refused_settings_stop_start_up_by_name() {
        let error = screen(args(&["charthall", "--artifact-hub-repo-id", "x"]), |_| None).unwrap_err();
        assert_eq!(error, "ARTIFACT_HUB_REPO_ID (--artifact-hub-repo-id) = \"x\" is not supported: not supported yet");
        let env = |name: &str| (name == "CACHE").then(|| "redis".to_string());
        let error = screen(args(&["charthall"]), env).unwrap_err();
        assert!(error.starts_with("CACHE (--cache) = \"redis\" is not supported: not needed"), "{error}");
    }

    #[test]
    fn settings_turned_off_are_not_set() {
        let env = |name: &str| match name {
            "DEPTH_DYNAMIC" => Some("false".to_string()),
            "CACHE" => Some(String::new()),
            _ => None,
        };
        let (_, found) = screen(args(&["charthall", "--always-regenerate-chart-index=false"]), env).unwrap();
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn every_foreign_setting_is_spelled_as_chartmuseum_spells_it() {
        for setting in FOREIGN {
            assert_eq!(setting.flag.replace('-', "_").to_uppercase(), setting.env, "{setting:?}");
        }
    }
}
