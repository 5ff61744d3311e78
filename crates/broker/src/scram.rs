//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), as Kafka's
//! SASL/SCRAM: credentials are derived once from the configured passwords
//! (random salt, 4096 iterations); each exchange is two SaslAuthenticate
//! round trips.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

pub const ITERATIONS: u32 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Sha256,
    Sha512,
}

impl Kind {
    pub fn from_mechanism(m: &str) -> Option<Kind> {
        match m {
            "SCRAM-SHA-256" => Some(Kind::Sha256),
            "SCRAM-SHA-512" => Some(Kind::Sha512),
            _ => None,
        }
    }

    fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        match self {
            Kind::Sha256 => {
                let Ok(mut m) = Hmac::<Sha256>::new_from_slice(key) else {
                    return Vec::new();
                };
                parts.iter().for_each(|p| m.update(p));
                m.finalize().into_bytes().to_vec()
            }
            Kind::Sha512 => {
                let Ok(mut m) = Hmac::<Sha512>::new_from_slice(key) else {
                    return Vec::new();
                };
                parts.iter().for_each(|p| m.update(p));
                m.finalize().into_bytes().to_vec()
            }
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Kind::Sha256 => Sha256::digest(data).to_vec(),
            Kind::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Kind::Sha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            Kind::Sha512 => {
                let mut out = vec![0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }
}

/// What the server keeps per user and mechanism (never the password).
#[derive(Clone)]
pub struct Credential {
    salt: Vec<u8>,
    iterations: u32,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

pub type Credentials = HashMap<(Kind, String), Credential>;

fn random(n: usize) -> Option<Vec<u8>> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).ok()?;
    Some(b)
}

/// SCRAM credentials for every user, both mechanisms.
pub fn derive(users: &HashMap<String, String>) -> Option<Credentials> {
    let mut out = HashMap::new();
    for (user, password) in users {
        for kind in [Kind::Sha256, Kind::Sha512] {
            let salt = random(16)?;
            let salted = kind.salted_password(password.as_bytes(), &salt, ITERATIONS);
            let client_key = kind.hmac(&salted, &[b"Client Key"]);
            out.insert(
                (kind, user.clone()),
                Credential {
                    stored_key: kind.hash(&client_key),
                    server_key: kind.hmac(&salted, &[b"Server Key"]),
                    salt,
                    iterations: ITERATIONS,
                },
            );
        }
    }
    Some(out)
}

/// A SCRAM exchange between its first and final messages.
pub struct Exchange {
    kind: Kind,
    pub user: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

/// `saslname` of RFC 5802: `=2C` is `,` and `=3D` is `=`.
fn unescape(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return None,
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

fn attr(part: &str, key: char) -> Option<&str> {
    let mut chars = part.chars();
    (chars.next() == Some(key) && chars.next() == Some('=')).then(|| &part[2..])
}

/// The client's first message: answers with the server's first message.
pub fn first(
    kind: Kind,
    creds: &Credentials,
    message: &[u8],
) -> Result<(Exchange, String), &'static str> {
    let text = std::str::from_utf8(message).map_err(|_| "SCRAM message is not UTF-8")?;
    // gs2 header: "n,," (no channel binding; an authzid, if any, is ignored
    // unless it names the user, as Kafka does).
    let mut parts = text.splitn(3, ',');
    let (Some(cb), Some(authzid), Some(bare)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("malformed SCRAM client-first message");
    };
    if cb != "n" && cb != "y" {
        return Err("channel binding is not supported");
    }
    let mut fields = bare.split(',');
    let user = fields
        .next()
        .and_then(|f| attr(f, 'n'))
        .and_then(unescape)
        .ok_or("SCRAM client-first message has no user name")?;
    let client_nonce = fields
        .next()
        .and_then(|f| attr(f, 'r'))
        .filter(|n| !n.is_empty())
        .ok_or("SCRAM client-first message has no nonce")?;
    if !authzid.is_empty() && attr(authzid, 'a').and_then(unescape).as_deref() != Some(&user) {
        return Err("authorization id must be the user name");
    }
    let cred = creds
        .get(&(kind, user.clone()))
        .ok_or("SCRAM user is unknown")?;
    let server_nonce = random(18).ok_or("no randomness for a nonce")?;
    let nonce = format!("{client_nonce}{}", B64.encode(server_nonce));
    let server_first = format!(
        "r={nonce},s={},i={}",
        B64.encode(&cred.salt),
        cred.iterations
    );
    Ok((
        Exchange {
            kind,
            user,
            client_first_bare: bare.to_string(),
            server_first: server_first.clone(),
            nonce,
        },
        server_first,
    ))
}

/// The client's final message: the server's final message when the proof holds.
pub fn finish(ex: &Exchange, creds: &Credentials, message: &[u8]) -> Result<String, &'static str> {
    let text = std::str::from_utf8(message).map_err(|_| "SCRAM message is not UTF-8")?;
    let (without_proof, proof) = text
        .rsplit_once(",p=")
        .ok_or("SCRAM client-final message has no proof")?;
    let mut fields = without_proof.split(',');
    let binding = fields
        .next()
        .and_then(|f| attr(f, 'c'))
        .ok_or("SCRAM client-final message has no channel binding")?;
    // "n,," base64-encoded: no channel binding, no authzid (or "n,a=user,").
    let binding = B64
        .decode(binding)
        .map_err(|_| "SCRAM channel binding is not base64")?;
    if !binding.starts_with(b"n,") && !binding.starts_with(b"y,") {
        return Err("SCRAM channel binding is not supported");
    }
    let nonce = fields
        .next()
        .and_then(|f| attr(f, 'r'))
        .ok_or("SCRAM client-final message has no nonce")?;
    // Kafka accepts a nonce that ends with the one it sent, because
    // librdkafka (2.0 at least) sends its own nonce again in front of it;
    // the proof covers the message as sent, so this weakens nothing.
    if !nonce.ends_with(&ex.nonce) {
        return Err("SCRAM nonce does not match");
    }
    let proof = B64.decode(proof).map_err(|_| "SCRAM proof is not base64")?;
    let cred = creds
        .get(&(ex.kind, ex.user.clone()))
        .ok_or("SCRAM user vanished")?;
    let auth_message = format!(
        "{},{},{}",
        ex.client_first_bare, ex.server_first, without_proof
    );
    let signature = ex.kind.hmac(&cred.stored_key, &[auth_message.as_bytes()]);
    if proof.len() != signature.len() {
        return Err("SCRAM proof has the wrong length");
    }
    let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
    let computed = ex.kind.hash(&client_key);
    // Constant time: fold every byte's difference.
    let diff = computed
        .iter()
        .zip(&cred.stored_key)
        .fold(computed.len() ^ cred.stored_key.len(), |d, (a, b)| {
            d | usize::from(a ^ b)
        });
    if diff != 0 {
        return Err("SCRAM proof does not match: wrong password");
    }
    let server_signature = ex.kind.hmac(&cred.server_key, &[auth_message.as_bytes()]);
    Ok(format!("v={}", B64.encode(server_signature)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's SCRAM-SHA-256 example, run as a client against `finish`.
    #[test]
    fn rfc7677_exchange_verifies_and_a_wrong_proof_fails() {
        let kind = Kind::Sha256;
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let salted = kind.salted_password(b"pencil", &salt, 4096);
        let client_key = kind.hmac(&salted, &[b"Client Key"]);
        let mut creds = Credentials::new();
        creds.insert(
            (kind, "user".into()),
            Credential {
                stored_key: kind.hash(&client_key),
                server_key: kind.hmac(&salted, &[b"Server Key"]),
                salt: salt.clone(),
                iterations: 4096,
            },
        );
        let ex = Exchange {
            kind,
            user: "user".into(),
            client_first_bare: "n=user,r=rOprNGfwEbeRWgbNEkqO".into(),
            server_first:
                "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
                    .into(),
            nonce: "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0".into(),
        };
        let fin = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        assert_eq!(
            finish(&ex, &creds, fin).unwrap(),
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
        let mut bad = fin.to_vec();
        let n = bad.len();
        bad[n - 3] = b'A';
        assert!(finish(&ex, &creds, &bad).is_err());
    }

    #[test]
    fn saslname_escapes() {
        assert_eq!(unescape("a=2Cb=3Dc").as_deref(), Some("a,b=c"));
        assert_eq!(unescape("bad=xx"), None);
    }
}
