//! TLS listener material. Pingora's rustls acceptor panics on a bad cert or
//! key when the listener starts, so both are loaded here first and a problem
//! becomes a config diagnostic (exit 2), not a crash.

use std::path::Path;

/// Check that the PEM certificate chain and private key load.
pub fn check_cert_and_key(cert: &Path, key: &Path) -> Result<(), String> {
    let (cert_s, key_s) = (cert.to_string_lossy(), key.to_string_lossy());
    match pingora::tls::load_certs_and_key_files(&cert_s, &key_s) {
        Ok(Some((certs, _key))) if !certs.is_empty() => Ok(()),
        Ok(Some(_)) => Err(format!("{cert_s}: no certificate found in PEM file")),
        Ok(None) => Err(format!("{key_s}: no private key found in PEM file")),
        Err(e) => Err(format!(
            "cannot load TLS certificate or key: {}",
            e.context
                .as_ref()
                .map(|c| c.as_str())
                .unwrap_or("unreadable PEM")
        )),
    }
}
