//! HTTPS with `TLS_CERT` and `TLS_KEY` (PEM files), through rustls; with `TLS_CA_CERT`,
//! every client must present a certificate that CA signed, as in ChartMuseum.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// Loads the certificate chain and key, and the client CA if any; the error names the
/// file that is wrong.
pub fn acceptor(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<TlsAcceptor, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("TLS_CERT {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("TLS_CERT {}: no certificate found", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("TLS_KEY {}: {e}", key.display()))?;
    let builder = ServerConfig::builder();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => builder.with_client_cert_verifier(client_verifier(ca)?),
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| format!("TLS_CERT/TLS_KEY: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts only clients whose certificate the CA in `ca` signed.
fn client_verifier(ca: &Path) -> Result<Arc<dyn tokio_rustls::rustls::server::danger::ClientCertVerifier>, String> {
    let named = |e: &dyn std::fmt::Display| format!("TLS_CA_CERT {}: {e}", ca.display());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| named(&e))? {
        roots.add(cert.map_err(|e| named(&e))?).map_err(|e| named(&e))?;
    }
    if roots.is_empty() {
        return Err(named(&"no certificate found"));
    }
    WebPkiClientVerifier::builder(Arc::new(roots)).build().map_err(|e| named(&e))
}
