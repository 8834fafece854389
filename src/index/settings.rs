//! What every repository's index shares: where packages are linked from, what
//! `serverInfo` says, and which versions are accepted.

use super::render::Format;

/// Settings baked into the index text (and so into the start-up cache).
#[derive(Debug, Clone, Default)]
pub struct IndexSettings {
    /// `CHART_URL` (no trailing slash), empty for relative `charts/<file>` links.
    pub chart_url: String,
    /// `CONTEXT_PATH` (`/x` or empty).
    pub context_path: String,
    pub strict_semver: bool,
    /// YAML, or JSON with `JSON_INDEX`.
    pub format: Format,
}

impl IndexSettings {
    /// What goes before the file name in a version's `urls`.
    pub fn url_prefix(&self, repo: &str) -> String {
        if self.chart_url.is_empty() {
            return "charts/".into();
        }
        let repo = if repo.is_empty() { String::new() } else { format!("/{repo}") };
        format!("{}{}{repo}/charts/", self.chart_url, self.context_path)
    }

    /// The index's last lines: `generated` (RFC 3339) and `serverInfo`.
    pub fn suffix(&self, generated: &str) -> String {
        self.format.suffix(generated, &self.context_path)
    }
}
