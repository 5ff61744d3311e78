//! TLS on the listener: a rustls server configuration built once from the
//! PEM certificate chain and key, with the same crypto provider (ring) and
//! protocol versions (TLS 1.2 and 1.3) as the client crate.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsIdentity;

/// Parses the identity; an error names what is wrong with it.
pub fn acceptor(id: &TlsIdentity) -> Result<TlsAcceptor, String> {
    let chain = CertificateDer::pem_slice_iter(&id.cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad certificate PEM: {e}"))?;
    if chain.is_empty() {
        return Err("the certificate PEM holds no certificate".to_string());
    }
    let key = PrivateKeyDer::from_pem_slice(&id.key_pem)
        .map_err(|e| format!("bad private key PEM: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("the certificate and key do not make a TLS identity: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
