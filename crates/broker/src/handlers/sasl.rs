//! SASL/PLAIN authentication (SaslHandshake v1 + SaslAuthenticate), on when
//! the broker is given users. Until a connection authenticates, only
//! ApiVersions, SaslHandshake and SaslAuthenticate are served; anything
//! else closes it, as Kafka does. A failed authentication is answered with
//! SASL_AUTHENTICATION_FAILED and the connection closes.
//!
//! PLAIN sends the password in the clear: use it on loopback or a trusted
//! network (TLS is not implemented).

use kafka_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::Ctx;
use crate::errors;

pub const PLAIN: &str = "PLAIN";

/// Per-connection authentication state.
#[derive(Default)]
pub struct Session {
    pub mechanism_ok: bool,
    pub principal: Option<String>,
    /// Set by a failed authentication: answer, then close.
    pub close_after_response: bool,
}

impl Session {
    pub fn authenticated(&self, ctx: &Ctx) -> bool {
        ctx.config.sasl_plain_users.is_none() || self.principal.is_some()
    }
}

pub fn handshake(req: &SaslHandshakeRequest, session: &mut Session) -> SaslHandshakeResponse {
    let ok = req.mechanism.as_str() == PLAIN;
    session.mechanism_ok = ok;
    SaslHandshakeResponse::default()
        .with_error_code(if ok {
            errors::NONE
        } else {
            errors::UNSUPPORTED_SASL_MECHANISM
        })
        .with_mechanisms(vec![StrBytes::from_static_str(PLAIN)])
}

/// Compares without an early exit, so timing does not tell how much of a
/// password matched.
fn same(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    diff == 0
}

pub fn authenticate(
    ctx: &Ctx,
    req: &SaslAuthenticateRequest,
    session: &mut Session,
) -> SaslAuthenticateResponse {
    let fail = |session: &mut Session, message: &str| {
        session.close_after_response = true;
        SaslAuthenticateResponse::default()
            .with_error_code(errors::SASL_AUTHENTICATION_FAILED)
            .with_error_message(Some(StrBytes::from_string(message.to_string())))
    };
    let Some(users) = &ctx.config.sasl_plain_users else {
        return fail(session, "SASL is not enabled on this broker");
    };
    if !session.mechanism_ok {
        return fail(session, "SaslAuthenticate before a PLAIN SaslHandshake");
    }
    // PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd
    let mut parts = req.auth_bytes.split(|&b| b == 0);
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return fail(session, "malformed PLAIN token");
    };
    let user = String::from_utf8_lossy(user).into_owned();
    if !authzid.is_empty() && authzid != user.as_bytes() {
        return fail(session, "authorization id must be empty or the user name");
    }
    let known = users.get(&user);
    let expected = known.map_or(&[][..], |p| p.as_bytes());
    if !same(expected, password) || known.is_none() {
        (ctx.config.log)(&format!("authentication failed for user `{user}`"));
        return fail(
            session,
            "Authentication failed: invalid username or password",
        );
    }
    session.principal = Some(user);
    SaslAuthenticateResponse::default().with_error_code(errors::NONE)
}
