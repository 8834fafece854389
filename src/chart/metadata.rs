//! A chart version as the index lists it: the `Chart.yaml` fields Helm knows, plus the
//! repository's `urls`, `created` and `digest`.
//!
//! Helm parses `index.yaml` strictly — one unknown key and `helm repo add` fails — so this
//! struct holds exactly Helm's `ChartVersion` fields and drops every other `Chart.yaml`
//! key. Fields are declared in alphabetical order because that is how `helm repo index`
//! writes them (and serde writes them in declaration order).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// One version of a chart, ready to be rendered into the index and the JSON API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartVersionEntry {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "text_map")]
    pub annotations: BTreeMap<String, String>,
    #[serde(rename = "apiVersion", default, deserialize_with = "text")]
    pub api_version: String,
    #[serde(rename = "appVersion", default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_text")]
    pub app_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_text")]
    pub condition: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "no_null_nodes")]
    pub dependencies: Vec<Dependency>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub deprecated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_text")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_text")]
    pub home: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_text")]
    pub icon: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "text_list")]
    pub keywords: Vec<String>,
    #[serde(rename = "kubeVersion", default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_text")]
    pub kube_version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "no_null_nodes")]
    pub maintainers: Vec<Maintainer>,
    #[serde(default, deserialize_with = "text")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "text_list")]
    pub sources: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_text")]
    pub tags: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_text")]
    pub chart_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, deserialize_with = "text")]
    pub version: String,
}

/// A chart maintainer (Helm's `chart.Maintainer`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Maintainer {
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_text")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_text")]
    pub url: Option<String>,
}

/// A dependency (Helm's `chart.Dependency`); `name` and `repository` are always written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dependency {
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_text")]
    pub alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_text")]
    pub condition: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub enabled: bool,
    #[serde(rename = "import-values", default, skip_serializing_if = "Vec::is_empty")]
    pub import_values: Vec<serde_yaml::Value>,
    #[serde(default, deserialize_with = "text")]
    pub name: String,
    #[serde(default, deserialize_with = "text")]
    pub repository: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "text_list")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_text")]
    pub version: Option<String>,
}

impl ChartVersionEntry {
    /// Parses `Chart.yaml`; the error text is Helm's (`cannot load Chart.yaml: …`).
    pub fn from_chart_yaml(bytes: &[u8]) -> Result<Self, String> {
        // A UTF-8 byte order mark, as some editors write, means nothing here (Helm drops it).
        let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
        serde_yaml::from_slice::<Option<ChartVersionEntry>>(bytes)
            .map(Option::unwrap_or_default)
            .map_err(|e| format!("cannot load Chart.yaml: {e}"))
    }

    /// Helm's `Metadata.Validate`: defaults `apiVersion`, replaces whitespace with spaces and
    /// drops unprintable characters, then checks name, version, type and dependencies.
    /// Returns the parsed version. `strict` demands SemVer 2.
    pub fn validate(&mut self, strict: bool) -> Result<semver::Version, String> {
        self.sanitize();
        if self.api_version.is_empty() {
            self.api_version = "v1".into();
        }
        if self.name.is_empty() {
            return Err("validation: chart.metadata.name is required".into());
        }
        if self.name == "." || self.name == ".." {
            return Err(format!("validation: chart.metadata.name {:?} is not allowed", self.name));
        }
        if !is_safe_name(&self.name) {
            return Err(format!(
                "validation: chart.metadata.name {:?} is invalid: use only ASCII letters, digits, '-', '_' and '.'",
                self.name
            ));
        }
        if self.version.is_empty() {
            return Err("validation: chart.metadata.version is required".into());
        }
        let Some(version) = super::version::parse(&self.version, strict) else {
            let form = if strict { "strict SemVer 2 (MAJOR.MINOR.PATCH)" } else { "semantic versioning" };
            return Err(format!("validation: chart.metadata.version {:?} is invalid: it is not {form}", self.version));
        };
        if let Some(kind) = &self.chart_type {
            if !kind.is_empty() && kind != "application" && kind != "library" {
                return Err("validation: chart.metadata.type must be application or library".into());
            }
        }
        let mut seen = std::collections::HashSet::new();
        for dependency in &self.dependencies {
            if let Some(alias) = &dependency.alias {
                if !alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                    return Err(format!(
                        "validation: dependency {:?} has disallowed characters in the alias",
                        dependency.name
                    ));
                }
            }
            let key = dependency.alias.clone().unwrap_or_else(|| dependency.name.clone());
            if !seen.insert(key.clone()) {
                return Err(format!("validation: more than one dependency with name or alias {key:?}"));
            }
        }
        Ok(version)
    }

    fn sanitize(&mut self) {
        for field in [&mut self.name, &mut self.version, &mut self.api_version] {
            sanitize(field);
        }
        let optional = [
            &mut self.app_version,
            &mut self.condition,
            &mut self.description,
            &mut self.home,
            &mut self.icon,
            &mut self.kube_version,
            &mut self.tags,
            &mut self.chart_type,
        ];
        optional.into_iter().flatten().for_each(sanitize);
        self.keywords.iter_mut().chain(self.sources.iter_mut()).for_each(sanitize);
        for maintainer in &mut self.maintainers {
            sanitize(&mut maintainer.name);
            maintainer.email.iter_mut().chain(maintainer.url.iter_mut()).for_each(sanitize);
        }
        for dependency in &mut self.dependencies {
            sanitize(&mut dependency.name);
            sanitize(&mut dependency.repository);
            dependency.tags.iter_mut().for_each(sanitize);
            [&mut dependency.version, &mut dependency.condition, &mut dependency.alias]
                .into_iter()
                .flatten()
                .for_each(sanitize);
        }
    }

    /// The storage file name this version is saved under.
    pub fn file_name(&self) -> String {
        file_name(&self.name, &self.version)
    }
}

/// `<name>-<version>.tgz`: the file an upload of that version is stored as.
pub fn file_name(name: &str, version: &str) -> String {
    format!("{name}-{version}.tgz")
}

/// A name that is safe as a file name and a URL segment: ASCII letters, digits, `-`, `_`,
/// `.`, not starting with `.` (dot-names are the server's own).
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains("..")
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn sanitize(text: &mut String) {
    if text.chars().any(|c| c.is_whitespace() && c != ' ' || c.is_control()) {
        *text = text
            .chars()
            .filter_map(|c| {
                if c.is_whitespace() {
                    Some(' ')
                } else if c.is_control() {
                    None
                } else {
                    Some(c)
                }
            })
            .collect();
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// A YAML scalar read as text: `appVersion: 1.16` is a float to YAML, a string to Helm.
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_yaml::Value::deserialize(deserializer)? {
            serde_yaml::Value::String(s) => Ok(Scalar(s)),
            serde_yaml::Value::Number(n) => Ok(Scalar(n.to_string())),
            serde_yaml::Value::Bool(b) => Ok(Scalar(b.to_string())),
            serde_yaml::Value::Null => Ok(Scalar(String::new())),
            other => Err(serde::de::Error::custom(format!("expected a string, found {other:?}"))),
        }
    }
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<Scalar>::deserialize(d)?.map(|s| s.0).unwrap_or_default())
}

fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Scalar>::deserialize(d)?.map(|s| s.0).filter(|s| !s.is_empty()))
}

fn text_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<Scalar>>::deserialize(d)?.unwrap_or_default().into_iter().map(|s| s.0).collect())
}

fn text_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let map = Option::<BTreeMap<String, Scalar>>::deserialize(d)?.unwrap_or_default();
    Ok(map.into_iter().map(|(k, v)| (k, v.0)).collect())
}

/// Helm refuses `maintainers: [~]` rather than guessing what a null entry meant.
fn no_null_nodes<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    let items = Option::<Vec<Option<T>>>::deserialize(d)?.unwrap_or_default();
    items
        .into_iter()
        .collect::<Option<Vec<T>>>()
        .ok_or_else(|| serde::de::Error::custom("lists must not contain empty or null nodes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_known_fields_drops_unknown() {
        let yaml = b"apiVersion: v2\nname: web\nversion: 1.2.3\nappVersion: 1.16\nfoo: bar\nkeywords: [a, 2]\n\
maintainers:\n- name: Ann\n  email: ann@x.io\n  extra: 1\ndependencies:\n- name: db\n  version: 1.x\n  repository: https://r\n";
        let mut entry = ChartVersionEntry::from_chart_yaml(yaml).unwrap();
        entry.validate(false).unwrap();
        assert_eq!(entry.app_version.as_deref(), Some("1.16"));
        assert_eq!(entry.keywords, ["a", "2"]);
        let rendered = serde_yaml::to_string(&entry).unwrap();
        assert!(!rendered.contains("foo"), "{rendered}");
        assert!(!rendered.contains("extra"), "{rendered}");
        assert!(rendered.contains("repository: https://r"), "{rendered}");
    }

    #[test]
    fn every_kind_of_scalar_reads_as_text_and_nothing_else_does() {
        let yaml = b"name: x\nversion: 1.0.0\nappVersion: 1.10\nkubeVersion: 7\ndescription: -3\nicon: 1e3\n\
home: true\ncondition: ~\ntags: !!str 2.0\nkeywords: [a, 1.50, null, false]\n";
        let entry = ChartVersionEntry::from_chart_yaml(yaml).unwrap();
        assert_eq!(entry.app_version.as_deref(), Some("1.1"), "a float, as YAML reads it");
        assert_eq!(entry.kube_version.as_deref(), Some("7"));
        assert_eq!(entry.description.as_deref(), Some("-3"));
        assert_eq!(entry.icon.as_deref(), Some("1000.0"));
        assert_eq!(entry.home.as_deref(), Some("true"));
        assert_eq!(entry.condition, None, "null is no condition");
        assert_eq!(entry.tags.as_deref(), Some("2.0"), "a tagged string stays as written");
        assert_eq!(entry.keywords, ["a", "1.5", "", "false"]);
        for (yaml, found) in [
            ("name: x\nversion: 1.0.0\nhome: [a]", "found Sequence [String(\"a\")]"),
            ("name: x\nversion: 1.0.0\nhome: {a: 1}", "found Mapping {\"a\": Number(1)}"),
            ("name: x\nversion: 1.0.0\nhome: !custom b", "found TaggedValue { tag: !custom, value: String(\"b\") }"),
        ] {
            let problem = ChartVersionEntry::from_chart_yaml(yaml.as_bytes()).unwrap_err();
            assert!(problem.contains(&format!("expected a string, {found}")), "{problem}");
        }
    }

    #[test]
    fn validation_messages_follow_helm() {
        let check = |yaml: &str| {
            ChartVersionEntry::from_chart_yaml(yaml.as_bytes()).and_then(|mut e| e.validate(false).map(|_| e))
        };
        assert_eq!(check("version: 1.0.0").unwrap_err(), "validation: chart.metadata.name is required");
        assert_eq!(check("name: x").unwrap_err(), "validation: chart.metadata.version is required");
        assert!(check("name: x\nversion: abc")
            .unwrap_err()
            .starts_with("validation: chart.metadata.version \"abc\" is invalid"));
        assert!(check("name: ../../evil\nversion: 1.0.0")
            .unwrap_err()
            .starts_with("validation: chart.metadata.name \"../../evil\" is invalid"));
        assert!(check("name: x\nversion: 1.0.0\nmaintainers: [~]").unwrap_err().contains("null nodes"));
        assert!(check("name: x\nversion: [").unwrap_err().starts_with("cannot load Chart.yaml: "));
        assert_eq!(check("name: x\nversion: v1").unwrap().api_version, "v1");
        assert_eq!(
            check("name: x\nversion: 1.0.0\ndescription: \"a\\tb\\u0007c\"").unwrap().description.as_deref(),
            Some("a bc")
        );
    }
}
