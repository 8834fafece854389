//! Chart versions as Helm reads them.
//!
//! Helm accepts a lenient SemVer (Masterminds' loose form: a `v` prefix, a missing minor
//! or patch, leading zeros) and sorts versions by SemVer precedence, newest first. We
//! normalise the lenient form to strict SemVer and let the `semver` crate do the rest.

use std::cmp::Ordering;

use semver::{Version, VersionReq};

/// Parses a version the way Helm does. With `strict`, only SemVer 2 as written.
pub fn parse(text: &str, strict: bool) -> Option<Version> {
    if strict {
        return Version::parse(text).ok();
    }
    let body = text.strip_prefix('v').unwrap_or(text);
    let core_end = body.find(['-', '+']).unwrap_or(body.len());
    let (core, rest) = body.split_at(core_end);
    let mut numbers = [0u64; 3];
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    for (slot, part) in numbers.iter_mut().zip(&parts) {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    Version::parse(&format!("{}.{}.{}{rest}", numbers[0], numbers[1], numbers[2])).ok()
}

/// Newest first, as Helm's `SortEntries`; ties (equal precedence) keep a stable order.
pub fn newest_first(a: &Version, b: &Version) -> Ordering {
    b.cmp_precedence(a).then_with(|| b.cmp(a))
}

/// How the API's `<version>` path segment picks a version from a list sorted newest
/// first: an exact match, `latest` (the newest release that is not a pre-release), or a
/// constraint like `~1.2` / `1.2` (Helm's `IndexFile.Get`).
pub fn select<'a, T>(
    versions: &'a [T],
    wanted: &str,
    text_of: impl Fn(&T) -> &str,
    version_of: impl Fn(&T) -> &Version,
) -> Result<&'a T, SelectError> {
    if let Some(found) = versions.iter().find(|v| text_of(v) == wanted) {
        return Ok(found);
    }
    if wanted == "latest" {
        return versions.iter().find(|v| version_of(v).pre.is_empty()).ok_or(SelectError::NoMatch);
    }
    // A bare version such as `1.2` means `=1.2` (1.2.x), as in Masterminds, not `^1.2`.
    let constraint = wanted.strip_prefix('v').unwrap_or(wanted);
    let constraint = if constraint.starts_with(|c: char| c.is_ascii_digit()) {
        format!("={constraint}")
    } else {
        constraint.to_string()
    };
    let requirement = VersionReq::parse(&constraint).map_err(|_| SelectError::BadConstraint)?;
    versions.iter().find(|v| requirement.matches(version_of(v))).ok_or(SelectError::NoMatch)
}

/// Why [`select`] found nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum SelectError {
    NoMatch,
    BadConstraint,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_and_strict() {
        assert_eq!(parse("v1.2", false).unwrap().to_string(), "1.2.0");
        assert_eq!(parse("1", false).unwrap().to_string(), "1.0.0");
        assert_eq!(parse("01.2.3-rc.1+b5", false).unwrap().to_string(), "1.2.3-rc.1+b5");
        assert_eq!(parse("3.0.0-12", false).unwrap().to_string(), "3.0.0-12");
        assert!(parse("abc", false).is_none());
        assert!(parse("1.2.3.4", false).is_none());
        assert!(parse("", false).is_none());
        assert!(parse("v1.2.3", true).is_none());
        assert!(parse("1.2", true).is_none());
        assert!(parse("1.2.3", true).is_some());
    }

    #[test]
    fn ordering_and_selection() {
        let mut list: Vec<Version> =
            ["0.1.0", "0.10.0", "0.2.0", "1.0.0-rc.1", "0.2.1"].iter().map(|s| parse(s, false).unwrap()).collect();
        list.sort_by(newest_first);
        let texts: Vec<String> = list.iter().map(|v| v.to_string()).collect();
        assert_eq!(texts, ["1.0.0-rc.1", "0.10.0", "0.2.1", "0.2.0", "0.1.0"]);
        let pick = |w: &str| select(&texts, w, |s| s.as_str(), |s| Box::leak(Box::new(parse(s, false).unwrap())));
        assert_eq!(pick("latest").unwrap(), "0.10.0");
        assert_eq!(pick("0.2").unwrap(), "0.2.1");
        assert_eq!(pick("~0.2.0").unwrap(), "0.2.1");
        assert_eq!(pick("0.3"), Err(SelectError::NoMatch));
        assert_eq!(pick("abc"), Err(SelectError::BadConstraint));
    }
}
