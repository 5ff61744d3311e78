//! SASL authentication: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, through
//! SaslHandshake and SaslAuthenticate, on when the broker is given users.
//! Until a connection authenticates, only ApiVersions, SaslHandshake and
//! SaslAuthenticate are served; anything else closes it, as Kafka does. A
//! failed authentication is answered with SASL_AUTHENTICATION_FAILED and
//! the connection closes.
//!
//! There is no TLS: PLAIN passwords cross the network in the clear (SCRAM
//! never sends the password).

use kafka_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::Ctx;
use crate::errors;
use crate::scram::{self, Kind};

/// The SASL mechanisms offered, in SaslHandshake's answer.
pub const MECHANISMS: &[&str] = &["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mechanism {
    Plain,
    Scram(Kind),
}

/// Per-connection authentication state.
#[derive(Default)]
pub struct Session {
    mechanism: Option<Mechanism>,
    scram: Option<scram::Exchange>,
    /// The authenticated user name (without `User:`), None before.
    pub principal: Option<String>,
    /// Set by a failed authentication: answer, then close.
    pub close_after_response: bool,
    /// The client's address (ACLs match its IP as the host).
    pub peer: Option<std::net::SocketAddr>,
    /// The connection speaks TLS.
    pub tls: bool,
}

impl Session {
    /// Whether requests beyond ApiVersions and SASL may be served: SASL is
    /// off, or this connection authenticated.
    pub fn authenticated(&self, ctx: &Ctx) -> bool {
        ctx.config.sasl_users.is_none() || self.principal.is_some()
    }
}

/// SaslHandshake: picks the mechanism for the next SaslAuthenticate, or
/// answers UNSUPPORTED_SASL_MECHANISM with the ones offered.
pub fn handshake(req: &SaslHandshakeRequest, session: &mut Session) -> SaslHandshakeResponse {
    let m = req.mechanism.as_str();
    session.mechanism = if m == "PLAIN" {
        Some(Mechanism::Plain)
    } else {
        Kind::from_mechanism(m).map(Mechanism::Scram)
    };
    session.scram = None;
    SaslHandshakeResponse::default()
        .with_error_code(if session.mechanism.is_some() {
            errors::NONE
        } else {
            errors::UNSUPPORTED_SASL_MECHANISM
        })
        .with_mechanisms(
            MECHANISMS
                .iter()
                .map(|m| StrBytes::from_static_str(m))
                .collect(),
        )
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

/// The reason goes to the broker's log; the client hears only that it
/// failed (no hint whether the user exists).
fn fail(ctx: &Ctx, session: &mut Session, reason: &str) -> SaslAuthenticateResponse {
    session.close_after_response = true;
    (ctx.config.log)(&format!("SASL authentication failed: {reason}"));
    SaslAuthenticateResponse::default()
        .with_error_code(errors::SASL_AUTHENTICATION_FAILED)
        .with_error_message(Some(StrBytes::from_static_str(
            "Authentication failed: invalid username or password",
        )))
}

fn plain(ctx: &Ctx, token: &[u8], session: &mut Session) -> SaslAuthenticateResponse {
    let Some(users) = &ctx.config.sasl_users else {
        return fail(ctx, session, "SASL is not enabled on this broker");
    };
    // PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd
    let mut parts = token.split(|&b| b == 0);
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return fail(ctx, session, "malformed PLAIN token");
    };
    let user = String::from_utf8_lossy(user).into_owned();
    if !authzid.is_empty() && authzid != user.as_bytes() {
        return fail(
            ctx,
            session,
            "authorization id must be empty or the user name",
        );
    }
    let known = users.get(&user);
    let expected = known.map_or(&[][..], |p| p.as_bytes());
    if !same(expected, password) || known.is_none() {
        return fail(
            ctx,
            session,
            "Authentication failed: invalid username or password",
        );
    }
    session.principal = Some(user);
    SaslAuthenticateResponse::default().with_error_code(errors::NONE)
}

/// SaslAuthenticate: one step of PLAIN or SCRAM; on success the session
/// gets its principal, on failure it answers then closes.
pub fn authenticate(
    ctx: &Ctx,
    req: &SaslAuthenticateRequest,
    session: &mut Session,
) -> SaslAuthenticateResponse {
    if session.principal.is_some() {
        return fail(ctx, session, "already authenticated");
    }
    match session.mechanism {
        None => fail(ctx, session, "SaslAuthenticate before a SaslHandshake"),
        Some(Mechanism::Plain) => plain(ctx, &req.auth_bytes, session),
        Some(Mechanism::Scram(kind)) => match session.scram.take() {
            None => match scram::first(kind, &ctx.scram, &req.auth_bytes) {
                Ok((exchange, server_first)) => {
                    session.scram = Some(exchange);
                    SaslAuthenticateResponse::default()
                        .with_error_code(errors::NONE)
                        .with_auth_bytes(server_first.into_bytes().into())
                }
                Err(m) => fail(ctx, session, m),
            },
            Some(exchange) => match scram::finish(&exchange, &ctx.scram, &req.auth_bytes) {
                Ok(server_final) => {
                    session.principal = Some(exchange.user);
                    SaslAuthenticateResponse::default()
                        .with_error_code(errors::NONE)
                        .with_auth_bytes(server_final.into_bytes().into())
                }
                Err(m) => fail(ctx, session, m),
            },
        },
    }
}
