//! Provenance files (`helm package --sign`): a PGP clear-signed message holding the
//! chart's `Chart.yaml` and digest. Like ChartMuseum we read the chart's name and version
//! from it to name the file; the signature itself is the client's to verify.

use super::metadata::is_safe_name;

const SIGNED_MESSAGE_HEADER: &str = "-----BEGIN PGP SIGNED MESSAGE-----";

/// The storage file name a provenance file belongs under: `<name>-<version>.tgz.prov`.
pub fn file_name(bytes: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "invalid provenance file: it is not UTF-8 text".to_string())?;
    if !text.starts_with(SIGNED_MESSAGE_HEADER) {
        return Err(format!("invalid provenance file: it does not start with {SIGNED_MESSAGE_HEADER}"));
    }
    let field = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key))
            .map(|value| value.trim().trim_matches(['"', '\'']).to_string())
            .filter(|value| !value.is_empty())
            .ok_or_else(|| format!("invalid provenance file: it has no `{key}` line"))
    };
    let name = field("name:")?;
    let version = field("version:")?;
    let file = format!("{name}-{version}.tgz.prov");
    if !is_safe_name(&name) || super::version::parse(&version, false).is_none() {
        return Err(format!(
            "{file:?} is improperly formatted: the name or version in the provenance file is not valid"
        ));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_file() {
        let prov =
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\napiVersion: v2\nname: web\nversion: 1.0.0\n...\n";
        assert_eq!(file_name(prov.as_bytes()).unwrap(), "web-1.0.0.tgz.prov");
        assert!(file_name(b"hello").unwrap_err().starts_with("invalid provenance file"));
        let evil = prov.replace("name: web", "name: ../../evil");
        assert!(file_name(evil.as_bytes()).unwrap_err().contains("is improperly formatted"));
    }
}
