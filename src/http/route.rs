//! Turning a request path into a route.
//!
//! The repository is `DEPTH` path segments: after `/api` for API routes, first otherwise.
//! Like ChartMuseum, a path is an API route only if it starts with `/api/` and does not end
//! in `.yaml`, `.tgz` or `.prov`, so a repository named `api` keeps working.

use percent_encoding::percent_decode_str;

/// Where a request goes. `repo` is the repository path (`""` at depth 0).
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    Health,
    Info,
    /// `/`: the list of repositories.
    Root,
    Index {
        repo: String,
    },
    /// `/<repo>/charts/<file>`: a package or provenance file.
    Package {
        repo: String,
        file: String,
    },
    ApiCharts {
        repo: String,
    },
    ApiChart {
        repo: String,
        name: String,
    },
    ApiVersion {
        repo: String,
        name: String,
        version: String,
    },
    ApiTemplates {
        repo: String,
        name: String,
        version: String,
    },
    ApiValues {
        repo: String,
        name: String,
        version: String,
    },
    ApiProvenance {
        repo: String,
    },
    NotFound,
}

impl Route {
    pub fn is_api(&self) -> bool {
        matches!(
            self,
            Route::ApiCharts { .. }
                | Route::ApiChart { .. }
                | Route::ApiVersion { .. }
                | Route::ApiTemplates { .. }
                | Route::ApiValues { .. }
                | Route::ApiProvenance { .. }
        )
    }
}

/// Resolves `path` (the request path, context path included).
pub fn resolve(path: &str, context_path: &str, depth: u8) -> Route {
    let Some(rest) = path.strip_prefix(context_path) else {
        return Route::NotFound;
    };
    let rest = match rest {
        "" | "/" => return Route::Root,
        r if r.starts_with('/') => &r[1..],
        _ => return Route::NotFound, // `/helmx` under context path `/helm`
    };
    match rest {
        "health" => return Route::Health,
        "info" => return Route::Info,
        _ => {}
    }
    let Some(segments) = rest.split('/').map(decode).collect::<Option<Vec<String>>>() else {
        return Route::NotFound;
    };
    let depth = depth as usize;
    let api = segments[0] == "api" && !(rest.ends_with(".yaml") || rest.ends_with(".tgz") || rest.ends_with(".prov"));
    let skip = usize::from(api);
    if segments.len() < skip + depth || !segments[skip..skip + depth].iter().all(|s| is_repo_segment(s)) {
        return Route::NotFound;
    }
    let repo = segments[skip..skip + depth].join("/");
    let tail: Vec<&str> = segments[skip + depth..].iter().map(String::as_str).collect();
    let owned = |s: &str| s.to_string();
    if api {
        return match tail.as_slice() {
            ["charts"] => Route::ApiCharts { repo },
            ["charts", name] => Route::ApiChart { repo, name: owned(name) },
            ["charts", name, version] => Route::ApiVersion { repo, name: owned(name), version: owned(version) },
            ["charts", name, version, "templates"] => {
                Route::ApiTemplates { repo, name: owned(name), version: owned(version) }
            }
            ["charts", name, version, "values"] => {
                Route::ApiValues { repo, name: owned(name), version: owned(version) }
            }
            ["prov"] => Route::ApiProvenance { repo },
            _ => Route::NotFound,
        };
    }
    match tail.as_slice() {
        ["index.yaml"] => Route::Index { repo },
        ["charts", file] => Route::Package { repo, file: owned(file) },
        [] | [""] => Route::Root, // `/<repo>/`, ChartMuseum's welcome page
        _ => Route::NotFound,
    }
}

fn decode(segment: &str) -> Option<String> {
    let decoded = percent_decode_str(segment).decode_utf8().ok()?;
    (!decoded.contains(['/', '\\', '\0'])).then(|| decoded.into_owned())
}

/// Repository segments are folder names: no dot-folders (the server's own), no `..`.
fn is_repo_segment(segment: &str) -> bool {
    !segment.is_empty() && !segment.starts_with('.') && !segment.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(s: &str) -> String {
        s.to_string()
    }

    #[test]
    fn depths_and_api() {
        assert_eq!(resolve("/health", "", 1), Route::Health);
        assert_eq!(resolve("/", "", 1), Route::Root);
        assert_eq!(resolve("/index.yaml", "", 0), Route::Index { repo: repo("") });
        assert_eq!(resolve("/a/index.yaml", "", 1), Route::Index { repo: repo("a") });
        assert_eq!(resolve("/o/r/index.yaml", "", 2), Route::Index { repo: repo("o/r") });
        assert_eq!(resolve("/api/index.yaml", "", 1), Route::Index { repo: repo("api") });
        assert_eq!(
            resolve("/api/charts/x-1.0.0.tgz", "", 1),
            Route::Package { repo: repo("api"), file: "x-1.0.0.tgz".into() }
        );
        assert_eq!(resolve("/api/a/charts", "", 1), Route::ApiCharts { repo: repo("a") });
        assert_eq!(resolve("/api/charts", "", 0), Route::ApiCharts { repo: repo("") });
        assert_eq!(
            resolve("/api/o/r/charts/x/1.0.0/values", "", 2),
            Route::ApiValues { repo: repo("o/r"), name: "x".into(), version: "1.0.0".into() }
        );
        assert_eq!(resolve("/api/a/prov", "", 1), Route::ApiProvenance { repo: repo("a") });
        assert_eq!(resolve("/a/index.yaml/", "", 1), Route::NotFound);
        assert_eq!(resolve("/.cache/index.yaml", "", 1), Route::NotFound);
        assert_eq!(resolve("/%2e%2e/index.yaml", "", 1), Route::NotFound);
        assert_eq!(resolve("/a%2Fb/index.yaml", "", 1), Route::NotFound);
    }

    #[test]
    fn context_path() {
        assert_eq!(resolve("/helm", "/helm", 1), Route::Root);
        assert_eq!(resolve("/helm/health", "/helm", 1), Route::Health);
        assert_eq!(resolve("/helm/a/index.yaml", "/helm", 1), Route::Index { repo: repo("a") });
        assert_eq!(resolve("/a/index.yaml", "/helm", 1), Route::NotFound);
        assert_eq!(resolve("/helmx/a/index.yaml", "/helm", 1), Route::NotFound);
    }
}
