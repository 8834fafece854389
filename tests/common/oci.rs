//! OCI pieces the OCI tests share: a Helm chart manifest as `helm push` writes one, and a
//! blob pushed in one request.

use super::{client, sha256_hex, Response, Server};

/// `sha256:<hex>` of `bytes`, as OCI names content.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

/// A Helm chart's image manifest: the config blob, and the package as the one chart layer.
pub fn helm_manifest(config: &[u8], layer: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": digest(config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "digest": digest(layer), "size": layer.len()}],
    }))
    .unwrap()
}

/// `POST`s a whole blob (a monolithic upload); returns the answer.
pub fn push_blob(server: &Server, name: &str, bytes: &[u8]) -> Response {
    let url = server.url(&format!("/v2/{name}/blobs/uploads/?digest={}", digest(bytes)));
    client().post(url).body(bytes.to_vec()).send().unwrap()
}
