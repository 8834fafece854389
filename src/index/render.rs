//! The index's text: its first lines, each chart's key line and each version's entry, as
//! YAML written directly — or, with `JSON_INDEX`, as compact JSON ([`Format`]).
//!
//! Every package read at start-up is rendered once; through serde_yaml's emitter that was
//! ~12 µs a version, a fifth of a cold start. The entry has a fixed shape, so it is written
//! here field by field in the block style `helm repo index` uses. Scalars are plain only
//! when no YAML reader could take them for anything but that string (they start with a
//! letter, hold only safe characters, and are no null or boolean word); everything else
//! is double-quoted with JSON-compatible escapes. The rare entry this does not cover
//! (`import-values`, which hold arbitrary YAML) goes through serde_yaml.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt::Write;

use bytes::Bytes;

use crate::chart::metadata::{Dependency, Maintainer};
use crate::chart::ChartVersionEntry;

/// What the index starts with, with entries and without.
pub const PREFIX: &[u8] = b"apiVersion: v1\nentries:\n";
pub const PREFIX_EMPTY: &[u8] = b"apiVersion: v1\nentries: {}\n";
/// The JSON index's start; the suffix closes `entries`, so an empty index starts alike.
const JSON_PREFIX: &[u8] = b"{\"apiVersion\":\"v1\",\"entries\":{";

/// The language of the index text, fixed for a server's run (`JSON_INDEX`).
///
/// Both are written from the same pieces: the prefix, each chart as its key and its
/// versions' entries, the suffix. JSON also needs separators, which YAML has not: a comma
/// *before* every chart but the first of the whole index (so removing or adding the last
/// chart never touches the one before it, and only the segment that holds the first chart
/// ever needs to know it is first), commas between a chart's versions, and `]` after them.
/// Keys come in the YAML's (sorted) order, and the values are the same, so both parse to
/// the same document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Yaml,
    Json,
}

impl Format {
    /// The index's first bytes, when it has entries and when it has none.
    pub fn prefix(self, empty: bool) -> &'static [u8] {
        match (self, empty) {
            (Format::Yaml, false) => PREFIX,
            (Format::Yaml, true) => PREFIX_EMPTY,
            (Format::Json, _) => JSON_PREFIX,
        }
    }

    /// The index's last bytes: when it was generated and the `serverInfo`.
    pub fn suffix(self, generated: &str, context_path: &str) -> String {
        match self {
            Format::Yaml if context_path.is_empty() => format!("generated: \"{generated}\"\nserverInfo: {{}}\n"),
            Format::Yaml => {
                format!("generated: \"{generated}\"\nserverInfo:\n  contextPath: {}\n", yaml_scalar(context_path))
            }
            Format::Json if context_path.is_empty() => {
                format!("}},\"generated\":\"{generated}\",\"serverInfo\":{{}}}}")
            }
            Format::Json => format!(
                "}},\"generated\":\"{generated}\",\"serverInfo\":{{\"contextPath\":{}}}}}",
                json_string(context_path)
            ),
        }
    }

    /// A version's entry.
    pub fn version_item(self, entry: &ChartVersionEntry) -> Bytes {
        match self {
            Format::Yaml => version_item(entry),
            Format::Json => json_item(entry),
        }
    }

    /// A chart's key, up to its first version.
    pub fn chart_key(self, name: &str) -> String {
        match self {
            Format::Yaml => chart_key(name),
            Format::Json => json_string(name) + ":[",
        }
    }

    /// What comes before a chart's key: nothing, or in JSON a comma unless the chart is
    /// the first of the index.
    pub fn before_chart(self, first: bool) -> &'static [u8] {
        match self {
            Format::Json if !first => b",",
            _ => b"",
        }
    }

    /// What separates a chart's versions.
    pub fn between_versions(self) -> &'static [u8] {
        match self {
            Format::Yaml => b"",
            Format::Json => b",",
        }
    }

    /// What follows a chart's last version.
    pub fn after_chart(self) -> &'static [u8] {
        match self {
            Format::Yaml => b"",
            Format::Json => b"]",
        }
    }

    /// The format a version's entry was rendered in: a JSON entry is an object, a YAML
    /// one a list item (`  - `).
    pub fn of_item(item: &[u8]) -> Format {
        if item.first() == Some(&b'{') {
            Format::Json
        } else {
            Format::Yaml
        }
    }
}

/// `value` as a JSON string.
fn json_string(value: &str) -> String {
    serde_json::to_string(value).expect("a string serializes to JSON")
}

/// A version's entry as one compact JSON object. serde writes the fields in the struct's
/// order, which is the YAML's (sorted), and skips the same empty ones.
fn json_item(entry: &ChartVersionEntry) -> Bytes {
    match serde_json::to_vec(entry) {
        Ok(json) => Bytes::from(json),
        // `import-values` may hold YAML maps with keys that are not strings, which JSON
        // cannot: go through a JSON value with those keys as text, as Helm's reader does.
        Err(_) => {
            let yaml = serde_yaml::to_value(entry).expect("a chart entry serializes to YAML");
            Bytes::from(serde_json::to_vec(&json_value(yaml)).expect("a JSON value serializes"))
        }
    }
}

/// A YAML value as JSON, map keys that are not strings written as their YAML text.
fn json_value(value: serde_yaml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    use serde_yaml::Value as Y;
    match value {
        Y::Null => J::Null,
        Y::Bool(b) => J::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).unwrap_or(J::Null),
        Y::String(s) => J::String(s),
        Y::Sequence(items) => J::Array(items.into_iter().map(json_value).collect()),
        Y::Mapping(map) => J::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        other => serde_yaml::to_string(&other).unwrap_or_default().trim_end().to_string(),
                    };
                    (key, json_value(v))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => json_value(tagged.value),
    }
}

/// `- key: value` lines at the depth of a version under `entries.<name>`: the first line
/// starts with `  - `, the others with four spaces.
pub fn version_item(entry: &ChartVersionEntry) -> Bytes {
    if entry.dependencies.iter().any(|d| !d.import_values.is_empty()) {
        return Bytes::from(through_serde(entry));
    }
    thread_local! {
        // Rendered here, then copied out at its exact size: 130,000 entries kept in
        // buffers grown for the longest would be a third more memory to fault in.
        static BUFFER: Cell<String> = const { Cell::new(String::new()) };
    }
    let mut text = BUFFER.take();
    text.clear();
    let mut out = Item { text, started: false };
    if !entry.annotations.is_empty() {
        out.key("annotations");
        out.map(&entry.annotations);
    }
    out.field("apiVersion", &entry.api_version);
    out.optional("appVersion", &entry.app_version);
    out.optional("condition", &entry.condition);
    if !entry.created.is_empty() {
        out.field("created", &entry.created);
    }
    if !entry.dependencies.is_empty() {
        out.key("dependencies");
        entry.dependencies.iter().for_each(|d| out.dependency(d));
    }
    if entry.deprecated {
        out.line("deprecated: true");
    }
    out.optional("description", &entry.description);
    if !entry.digest.is_empty() {
        out.field("digest", &entry.digest);
    }
    out.optional("home", &entry.home);
    out.optional("icon", &entry.icon);
    out.list("keywords", &entry.keywords);
    out.optional("kubeVersion", &entry.kube_version);
    if !entry.maintainers.is_empty() {
        out.key("maintainers");
        entry.maintainers.iter().for_each(|m| out.maintainer(m));
    }
    out.field("name", &entry.name);
    out.list("sources", &entry.sources);
    out.optional("tags", &entry.tags);
    out.optional("type", &entry.chart_type);
    out.list("urls", &entry.urls);
    out.field("version", &entry.version);
    let item = Bytes::copy_from_slice(out.text.as_bytes());
    BUFFER.set(out.text);
    item
}

/// The item being written; each line is indented for its place in the index.
struct Item {
    text: String,
    /// Whether the next line starts a sequence item of the top-level list (`  - `).
    started: bool,
}

impl Item {
    /// Starts a line at the entry's own depth.
    fn start(&mut self) {
        self.text.push_str(if self.started { "    " } else { "  - " });
        self.started = true;
    }

    fn line(&mut self, line: &str) {
        self.start();
        self.text.push_str(line);
        self.text.push('\n');
    }

    fn key(&mut self, key: &str) {
        self.start();
        self.text.push_str(key);
        self.text.push_str(":\n");
    }

    fn field(&mut self, key: &str, value: &str) {
        self.start();
        self.text.push_str(key);
        self.text.push_str(": ");
        scalar(&mut self.text, value);
        self.text.push('\n');
    }

    fn optional(&mut self, key: &str, value: &Option<String>) {
        if let Some(value) = value {
            self.field(key, value);
        }
    }

    /// `key:` then `- item` lines (serde_yaml's and Helm's style: no extra indent).
    fn list(&mut self, key: &str, items: &[String]) {
        self.list_at("", key, items);
    }

    /// [`Item::list`], `indent` deeper (a list inside a list item).
    fn list_at(&mut self, indent: &str, key: &str, items: &[String]) {
        if items.is_empty() {
            return;
        }
        self.start();
        self.text.push_str(indent);
        self.text.push_str(key);
        self.text.push_str(":\n");
        for item in items {
            self.start();
            self.text.push_str(indent);
            self.text.push_str("- ");
            scalar(&mut self.text, item);
            self.text.push('\n');
        }
    }

    /// `  key: value` lines under a key.
    fn map(&mut self, map: &BTreeMap<String, String>) {
        for (key, value) in map {
            self.start();
            self.text.push_str("  ");
            scalar(&mut self.text, key);
            self.text.push_str(": ");
            scalar(&mut self.text, value);
            self.text.push('\n');
        }
    }

    /// One `- name: …` mapping of a list, its fields in order; `None` fields are left out.
    fn list_item(&mut self, fields: &[(&str, Option<Value>)]) {
        let mut first = true;
        for (key, value) in fields {
            let Some(value) = value else { continue };
            self.start();
            self.text.push_str(if first { "- " } else { "  " });
            first = false;
            self.text.push_str(key);
            self.text.push_str(": ");
            match value {
                Value::Text(text) => scalar(&mut self.text, text),
                Value::True => self.text.push_str("true"),
            }
            self.text.push('\n');
        }
    }

    fn maintainer(&mut self, m: &Maintainer) {
        self.list_item(&[("email", text(&m.email)), ("name", Some(Value::Text(&m.name))), ("url", text(&m.url))]);
    }

    fn dependency(&mut self, d: &Dependency) {
        self.list_item(&[
            ("alias", text(&d.alias)),
            ("condition", text(&d.condition)),
            ("enabled", d.enabled.then_some(Value::True)),
            ("name", Some(Value::Text(&d.name))),
            ("repository", Some(Value::Text(&d.repository))),
        ]);
        self.list_at("  ", "tags", &d.tags);
        if let Some(version) = &d.version {
            self.start();
            self.text.push_str("  version: ");
            scalar(&mut self.text, version);
            self.text.push('\n');
        }
    }
}

/// A field's value in a list item.
enum Value<'a> {
    Text(&'a str),
    True,
}

fn text(value: &Option<String>) -> Option<Value<'_>> {
    value.as_deref().map(Value::Text)
}

/// `  <name>:` — a chart's key line under `entries:`.
pub fn chart_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    out.push_str("  ");
    scalar(&mut out, name);
    out.push_str(":\n");
    out
}

/// `value` as a YAML scalar that reads back as exactly that string.
pub fn yaml_scalar(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    scalar(&mut out, value);
    out
}

/// Writes `value` as a YAML scalar that reads back as exactly that string.
fn scalar(out: &mut String, value: &str) {
    if is_plain_safe(value) {
        out.push_str(value);
    } else {
        double_quoted(out, value);
    }
}

/// Whether `value` can be written unquoted: it starts with a letter, holds only letters,
/// digits, single spaces and `-_./+@=()`, `:` and `#` only where they cannot start a
/// mapping value or a comment, and is not one of the words YAML 1.1 reads as null or a
/// boolean.
fn is_plain_safe(value: &str) -> bool {
    let bytes = value.as_bytes();
    let Some(&first) = bytes.first() else { return false };
    if !first.is_ascii_alphabetic() || bytes[bytes.len() - 1] == b' ' {
        return false;
    }
    let mut previous = 0u8;
    for (i, &b) in bytes.iter().enumerate() {
        let next = bytes.get(i + 1).copied();
        let ok = match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'+' | b'@' | b'=' | b'(' | b')' => {
                true
            }
            b' ' => previous != b' ',
            b':' => next.is_some_and(|n| n != b' '),
            b'#' => previous != b' ',
            _ => false,
        };
        if !ok {
            return false;
        }
        previous = b;
    }
    const WORDS: [&str; 11] = ["null", "true", "false", "yes", "no", "on", "off", "y", "n", "nan", "inf"];
    !WORDS.iter().any(|word| value.eq_ignore_ascii_case(word))
}

/// `"…"` with the escapes YAML and JSON share: quotes, backslashes, and every character a
/// YAML reader could fold or refuse (controls, DEL, C1, line and paragraph separators,
/// byte-order mark) as `\uXXXX`.
fn double_quoted(out: &mut String, value: &str) {
    out.push('"');
    let mut run = 0; // start of the text not yet written
    for (at, c) in value.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\t' => "\\t",
            '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' => "",
            _ => continue,
        };
        out.push_str(&value[run..at]);
        run = at + c.len_utf8();
        if escape.is_empty() {
            write!(out, "\\u{:04x}", c as u32).expect("writing to a String");
        } else {
            out.push_str(escape);
        }
    }
    out.push_str(&value[run..]);
    out.push('"');
}

/// The general path, for entries holding arbitrary YAML values.
fn through_serde(entry: &ChartVersionEntry) -> String {
    let yaml = serde_yaml::to_string(entry).expect("a chart entry always serializes to YAML");
    let mut out = String::with_capacity(yaml.len() + 8 * yaml.lines().count());
    for (i, line) in yaml.lines().enumerate() {
        out.push_str(if i == 0 { "  - " } else { "    " });
        // Helm's own index quotes the timestamp; a plain one is a YAML timestamp to some
        // parsers, not a string.
        match line.strip_prefix("created: ") {
            Some(value) if !value.starts_with('"') && !value.starts_with('\'') => {
                out.push_str("created: \"");
                out.push_str(value);
                out.push('"');
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strings a careless emitter would get wrong: words YAML reads as null, booleans or
    /// numbers, indicators, comments, mapping values, whitespace, escapes and characters
    /// that readers fold or refuse.
    #[rustfmt::skip]
    const AWKWARD: &[&str] = &[
        "", "~", "null", "NULL", "true", "False", "yes", "No", "on", "OFF", "y", "N", "1", "-1", "+1", "1.0", "1.2.3",
        "0x1F", "0o17", "1e3", ".inf", "-.inf", ".NaN", "2024-01-01", "12:30:00", "- item", "-", "? key", ": v",
        "a: b", "a:b", "key:", "a #b", "a#b", "#x", "@at", "`tick", "%pct", "!tag", "&anchor", "*alias", "|pipe",
        ">gt", "'single'", "\"double\"", "[flow]", "{flow}", ",comma", "<<", " leading", "trailing ", "two  spaces",
        "multi\nline\n", "tab\there", "back\\slash", "é 日本", "line\u{2028}sep", "next\u{85}line", "del\u{7f}",
        "bom\u{feff}", "bell\u{7}", "https://example.com/a?b=c#frag", "v1.2.3", "plain words (and parens)",
    ];

    fn entry_with(text: &str, n: usize) -> ChartVersionEntry {
        let s = |suffix: &str| format!("{text}{suffix}");
        ChartVersionEntry {
            annotations: [(s(""), s("v")), (format!("k{n}"), text.to_string())].into_iter().collect(),
            api_version: text.to_string(),
            app_version: Some(s("")),
            condition: Some(s("c")),
            created: format!("2024-01-0{}T00:00:00Z", n % 9 + 1),
            dependencies: vec![
                Dependency {
                    alias: Some(s("")),
                    condition: Some(text.to_string()),
                    enabled: true,
                    name: s("d"),
                    repository: text.to_string(),
                    tags: vec![text.to_string(), s("t")],
                    version: Some(text.to_string()),
                    ..Default::default()
                },
                Dependency { name: text.to_string(), ..Default::default() },
            ],
            deprecated: n % 2 == 0,
            description: Some(text.to_string()),
            digest: text.to_string(),
            home: Some(text.to_string()),
            icon: Some(s("i")),
            keywords: vec![text.to_string(), s("k")],
            kube_version: Some(text.to_string()),
            maintainers: vec![
                Maintainer { email: Some(text.to_string()), name: s("m"), url: Some(text.to_string()) },
                Maintainer { name: text.to_string(), ..Default::default() },
            ],
            name: text.to_string(),
            sources: vec![text.to_string()],
            tags: Some(text.to_string()),
            chart_type: Some(text.to_string()),
            urls: vec![s("u")],
            version: text.to_string(),
        }
    }

    /// The item as a YAML list, back at the left margin.
    fn parse(item: &str) -> Vec<ChartVersionEntry> {
        let unindented: String = item.lines().map(|line| format!("{}\n", &line[2..])).collect();
        serde_yaml::from_str(&unindented).unwrap_or_else(|e| panic!("{e}:\n{item}"))
    }

    #[test]
    fn every_field_reads_back_as_written() {
        for (n, text) in AWKWARD.iter().enumerate() {
            let entry = entry_with(text, n);
            let item = version_item(&entry);
            let item = std::str::from_utf8(&item).unwrap();
            assert!(item.starts_with("  - annotations:\n"), "{item}");
            assert!(item.lines().skip(1).all(|line| line.starts_with("    ")), "{item}");
            // (The lenient reader takes an empty optional field for an absent one.)
            if !text.is_empty() {
                assert_eq!(parse(item), std::slice::from_ref(&entry), "{text:?} does not read back:\n{item}");
            }
            // The same data as the general path writes.
            let general: serde_yaml::Value = serde_yaml::from_str(&through_serde(&entry).replace("\n  ", "\n")[2..])
                .expect("serde_yaml's rendering parses");
            let direct: serde_yaml::Value =
                serde_yaml::from_str(&item.replace("\n  ", "\n")[2..]).expect("the direct rendering parses");
            assert_eq!(direct, general, "{text:?}");
            // The JSON entry is the same document, compact, keys in the YAML's order.
            let json = Format::Json.version_item(&entry);
            let as_json: serde_json::Value = serde_json::from_slice(&json).expect("the JSON entry parses");
            let yaml_as_json: serde_json::Value =
                serde_yaml::from_str(&item.replace("\n  ", "\n")[2..]).expect("the YAML entry parses");
            assert_eq!(as_json, yaml_as_json[0], "{text:?}");
            assert!(json.starts_with(b"{\"annotations\":{") && !json.contains(&b'\n'), "{text:?}");
        }
    }

    #[test]
    fn only_unambiguous_text_is_plain() {
        for text in ["nginx", "web-app", "v1.2.3", "https://example.com/charts", "Jane Doe", "a:b", "C++"] {
            assert!(is_plain_safe(text), "{text:?} could be plain");
        }
        let quoted = AWKWARD.iter().filter(|t| !is_plain_safe(t)).count();
        assert!(quoted >= AWKWARD.len() - 6, "most awkward strings are quoted ({quoted})");
        let mut out = String::new();
        double_quoted(&mut out, "a\"b\\c\nd\u{2028}e\u{7f}");
        assert_eq!(out, r#""a\"b\\c\nd\u2028e\u007f""#);
    }

    /// `cargo test --release --lib render_speed -- --ignored --nocapture`: the cost of
    /// rendering one typical entry in each format (what a cold start pays per version).
    #[test]
    #[ignore]
    fn render_speed() {
        let entries: Vec<ChartVersionEntry> =
            (0..130_000).map(|n| entry_with(&format!("service-{}", n % 13_000), n)).collect();
        for format in [Format::Yaml, Format::Json, Format::Yaml, Format::Json] {
            let started = std::time::Instant::now();
            let bytes: usize = entries.iter().map(|e| format.version_item(e).len()).sum();
            let each = started.elapsed().as_secs_f64() * 1e6 / entries.len() as f64;
            eprintln!("{format:?}: {each:.2} µs an entry, {} bytes an entry", bytes / entries.len());
        }
    }

    #[test]
    fn import_values_go_through_serde_yaml() {
        let mut entry = entry_with("x", 1);
        entry.dependencies[0].import_values = vec![serde_yaml::from_str("{child: a, parent: b}").unwrap()];
        assert_eq!(parse(std::str::from_utf8(&version_item(&entry)).unwrap()), [entry.clone()]);
        // JSON has only text keys: a YAML map with others gets their text, as Helm's reader.
        entry.dependencies[0].import_values = vec![serde_yaml::from_str("{1: a, true: b, c: [x]}").unwrap()];
        let json: serde_json::Value = serde_json::from_slice(&Format::Json.version_item(&entry)).unwrap();
        assert_eq!(json["dependencies"][0]["import-values"][0], serde_json::json!({"1": "a", "true": "b", "c": ["x"]}));
    }
}
