//! Bearer-token authentication of gRPC calls. With a token configured, every
//! call but `grpc.health.v1.Health` (which probes make) needs
//! `authorization: Bearer <token>` metadata, else UNAUTHENTICATED. Only the
//! token's SHA-256 is kept, and presented tokens are compared by digest in
//! constant time; neither is ever logged.

use std::fmt;
use std::task::{Context, Poll};

use futures_util::future::{Either, Ready};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tonic_types::{ErrorDetails, StatusExt};
use tower::{Layer, Service};

use crate::reason::{set_error_info, ErrorReason};

/// The calls that need no token.
const OPEN_PREFIX: &str = "/grpc.health.v1.Health/";

/// Shortest token accepted: anything shorter is guessable.
pub const MIN_TOKEN_LEN: usize = 16;

/// The token callers must present.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthToken {
    digest: [u8; 32],
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

impl AuthToken {
    /// The token `raw` (surrounding whitespace, such as a file's last newline,
    /// is not part of it): at least [`MIN_TOKEN_LEN`] visible ASCII characters.
    pub fn new(raw: &str) -> Result<Self, String> {
        let token = raw.trim();
        if token.len() < MIN_TOKEN_LEN {
            return Err(format!("the token must have at least {MIN_TOKEN_LEN} characters"));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("the token must be visible ASCII characters without spaces".into());
        }
        Ok(Self { digest: Sha256::digest(token.as_bytes()).into() })
    }

    /// Whether `authorization` is `Bearer <this token>`.
    fn accepts(&self, authorization: Option<&http::HeaderValue>) -> bool {
        let Some(value) = authorization.and_then(|v| v.to_str().ok()) else { return false };
        let Some((scheme, presented)) = value.split_once(' ') else { return false };
        let digest: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
        scheme.eq_ignore_ascii_case("bearer") && bool::from(digest.ct_eq(&self.digest))
    }
}

/// Checks the token of every call (none when no token is configured).
#[derive(Clone, Debug, Default)]
pub struct AuthLayer {
    token: Option<AuthToken>,
}

impl AuthLayer {
    /// Calls must present `token`; `None` lets every call through.
    pub fn new(token: Option<AuthToken>) -> Self {
        Self { token }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Auth<S> {
        Auth { inner, token: self.token.clone() }
    }
}

/// The service [`AuthLayer`] makes.
#[derive(Clone, Debug)]
pub struct Auth<S> {
    inner: S,
    token: Option<AuthToken>,
}

impl<S, B> Service<http::Request<B>> for Auth<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<S::Response, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let allowed = match &self.token {
            None => true,
            Some(token) => {
                req.uri().path().starts_with(OPEN_PREFIX)
                    || token.accepts(req.headers().get(http::header::AUTHORIZATION))
            }
        };
        if allowed {
            Either::Left(self.inner.call(req))
        } else {
            Either::Right(futures_util::future::ready(Ok(unauthenticated().into_http())))
        }
    }
}

/// UNAUTHENTICATED with ErrorInfo reason `UNAUTHENTICATED`.
pub(crate) fn unauthenticated() -> tonic::Status {
    let mut details = ErrorDetails::new();
    set_error_info(&mut details, ErrorReason::Unauthenticated, std::collections::HashMap::new());
    tonic::Status::with_error_details(
        tonic::Code::Unauthenticated,
        "this gateway needs `authorization: Bearer <token>` metadata with its token",
        details,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &str) -> http::HeaderValue {
        http::HeaderValue::from_str(value).expect("header")
    }

    #[test]
    fn only_the_exact_token_as_a_bearer_passes() {
        let token = AuthToken::new("correct-horse-battery-staple\n").expect("valid");
        assert!(token.accepts(Some(&header("Bearer correct-horse-battery-staple"))));
        assert!(token.accepts(Some(&header("bearer correct-horse-battery-staple"))));
        assert!(!token.accepts(Some(&header("Bearer correct-horse-battery-stapl"))));
        assert!(!token.accepts(Some(&header("Basic correct-horse-battery-staple"))));
        assert!(!token.accepts(Some(&header("correct-horse-battery-staple"))));
        assert!(!token.accepts(None));
    }

    #[test]
    fn short_or_spaced_tokens_are_refused_and_never_printed() {
        assert!(AuthToken::new("short").is_err());
        assert!(AuthToken::new("has a space inside it").is_err());
        let token = AuthToken::new("correct-horse-battery-staple").expect("valid");
        assert_eq!(format!("{token:?}"), "AuthToken(<redacted>)");
    }
}
