//! SCRAM-SHA-256/512 client side (RFC 5802, RFC 7677), as Kafka uses it over SaslAuthenticate.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use crate::config::SaslMechanism;
use crate::error::{Error, Result};

/// Kafka refuses fewer than 4096 iterations and allows at most 16384; a bound keeps
/// a hostile server from making the client spin on PBKDF2.
const MAX_ITERATIONS: u32 = 1 << 20;

pub struct Scram {
    sha512: bool,
    username: String,
    password: String,
    nonce: String,
    client_first_bare: String,
    server_signature: Vec<u8>,
}

fn escape_name(s: &str) -> String {
    s.replace('=', "=3D").replace(',', "=2C")
}

impl Scram {
    pub fn new(mechanism: SaslMechanism, username: &str, password: &str, nonce: String) -> Self {
        Scram {
            sha512: mechanism == SaslMechanism::ScramSha512,
            username: username.to_string(),
            password: password.to_string(),
            nonce,
            client_first_bare: String::new(),
            server_signature: Vec::new(),
        }
    }

    pub fn random_nonce() -> Result<String> {
        let mut raw = [0u8; 24];
        getrandom::getrandom(&mut raw)
            .map_err(|e| Error::Authentication(format!("no randomness for a nonce: {e}")))?;
        Ok(B64.encode(raw))
    }

    fn hmac(&self, key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        let bad = |_| Error::Authentication("bad HMAC key".to_string());
        if self.sha512 {
            let mut m = Hmac::<Sha512>::new_from_slice(key).map_err(bad)?;
            m.update(data);
            Ok(m.finalize().into_bytes().to_vec())
        } else {
            let mut m = Hmac::<Sha256>::new_from_slice(key).map_err(bad)?;
            m.update(data);
            Ok(m.finalize().into_bytes().to_vec())
        }
    }

    fn hash(&self, data: &[u8]) -> Vec<u8> {
        if self.sha512 {
            Sha512::digest(data).to_vec()
        } else {
            Sha256::digest(data).to_vec()
        }
    }

    fn salted_password(&self, salt: &[u8], iterations: u32) -> Vec<u8> {
        if self.sha512 {
            let mut out = [0u8; 64];
            pbkdf2::pbkdf2_hmac::<Sha512>(self.password.as_bytes(), salt, iterations, &mut out);
            out.to_vec()
        } else {
            let mut out = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<Sha256>(self.password.as_bytes(), salt, iterations, &mut out);
            out.to_vec()
        }
    }

    pub fn client_first(&mut self) -> Vec<u8> {
        self.client_first_bare = format!("n={},r={}", escape_name(&self.username), self.nonce);
        format!("n,,{}", self.client_first_bare).into_bytes()
    }

    pub fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>> {
        let text = std::str::from_utf8(server_first)
            .map_err(|_| Error::Authentication("server-first message is not UTF-8".to_string()))?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for part in text.split(',') {
            if let Some(v) = part.strip_prefix("r=") {
                nonce = Some(v);
            } else if let Some(v) = part.strip_prefix("s=") {
                salt = Some(
                    B64.decode(v)
                        .map_err(|_| Error::Authentication("bad salt".to_string()))?,
                );
            } else if let Some(v) = part.strip_prefix("i=") {
                iterations = v.parse::<u32>().ok();
            } else if let Some(v) = part.strip_prefix("e=") {
                return Err(Error::Authentication(format!("server: {v}")));
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(Error::Authentication(format!(
                "malformed server-first message: {text}"
            )));
        };
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err(Error::Authentication(
                "server nonce does not extend the client nonce".to_string(),
            ));
        }
        if iterations == 0 || iterations > MAX_ITERATIONS {
            return Err(Error::Authentication(format!(
                "iteration count {iterations} out of range"
            )));
        }
        let salted = self.salted_password(&salt, iterations);
        let client_key = self.hmac(&salted, b"Client Key")?;
        let stored_key = self.hash(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{},{}", self.client_first_bare, text, without_proof);
        let client_signature = self.hmac(&stored_key, auth_message.as_bytes())?;
        let proof: Vec<u8> = client_key
            .iter()
            .zip(client_signature.iter())
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = self.hmac(&salted, b"Server Key")?;
        self.server_signature = self.hmac(&server_key, auth_message.as_bytes())?;
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Checks the server's proof that it knows the password too.
    pub fn verify_server_final(&self, server_final: &[u8]) -> Result<()> {
        let text = std::str::from_utf8(server_final)
            .map_err(|_| Error::Authentication("server-final message is not UTF-8".to_string()))?;
        if let Some(e) = text.strip_prefix("e=") {
            return Err(Error::Authentication(format!("server: {e}")));
        }
        let v = text
            .split(',')
            .find_map(|p| p.strip_prefix("v="))
            .ok_or_else(|| {
                Error::Authentication(format!("malformed server-final message: {text}"))
            })?;
        let got = B64
            .decode(v)
            .map_err(|_| Error::Authentication("bad server signature".to_string()))?;
        if self.server_signature.is_empty() || got != self.server_signature {
            return Err(Error::Authentication(
                "server signature does not match".to_string(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The SCRAM-SHA-256 exchange of RFC 7677 section 3.
    #[test]
    fn rfc7677_vector() {
        let mut s = Scram::new(
            SaslMechanism::ScramSha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO".to_string(),
        );
        assert_eq!(
            s.client_first(),
            b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO".to_vec()
        );
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let fin = s.client_final(server_first).unwrap();
        assert_eq!(
            String::from_utf8(fin).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        s.verify_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert!(s
            .verify_server_final(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .is_err());
    }

    #[test]
    fn rejects_foreign_nonce_and_huge_iterations() {
        let mut s = Scram::new(SaslMechanism::ScramSha512, "u", "p", "abc".to_string());
        s.client_first();
        assert!(s.client_final(b"r=xyzdef,s=AAAA,i=4096").is_err());
        assert!(s.client_final(b"r=abcdef,s=AAAA,i=99999999").is_err());
    }
}
