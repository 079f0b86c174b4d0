//! OAuth2 access tokens for the Google APIs Tern's connectors call (RBM, and FCM HTTP v1), from
//! a service-account key file: [`GoogleTokens`] signs a JWT assertion for one scope, exchanges it
//! at the key file's `token_uri`, keeps the token and fetches a new one before the old expires
//! (5 minutes before, or at half its life when it lives under 10 minutes). However many sends
//! ask at once, one fetch runs and they all get its token; a failed refresh keeps handing out the
//! old token while it is still valid. A connector that gets a 401 from the API drops the token
//! with [`GoogleTokens::invalidate_token`] and asks again. The wire shapes are tern-proto's
//! `google_auth`; errors say whether waiting can help ([`TokenError::is_temporary`]).

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tern_core::ports::{ConnectorError, ErrorOrigin};
use tern_core::status::NOT_DELIVERED_ERROR;
use tern_proto::google_auth::{
    OAuthError, ServiceAccount, ServiceAccountError, SigningKey, TokenResponse, token_request_body,
};

/// How long before expiry a token is replaced (for tokens living at least twice as long).
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// After a failed refresh, how long the old (still valid) token is used before trying again.
pub const RETRY_REFRESH_AFTER: Duration = Duration::from_secs(10);

/// How long one token request may take.
pub const TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The key file could not be read (configuration).
    #[error("cannot read the service-account file {path}: {reason}")]
    FileUnreadable { path: String, reason: String },
    /// The key file is not a usable service-account key (configuration).
    #[error(transparent)]
    BadServiceAccount(#[from] ServiceAccountError),
    /// The token endpoint refused the grant (a 4xx: wrong key, unknown account, scope not
    /// allowed): configuration, no retry helps.
    #[error("the token endpoint refused the grant ({status} {error}: {description})")]
    Refused {
        status: u16,
        error: String,
        description: String,
    },
    /// The token endpoint failed (5xx, 429) or answered something unreadable: try again later.
    #[error("the token endpoint failed ({status}): {detail}")]
    Unavailable { status: u16, detail: String },
    /// The token endpoint could not be reached: try again later.
    #[error("the token endpoint cannot be reached: {0}")]
    Network(String),
}

impl TokenError {
    /// Whether a later attempt may succeed (network trouble, the endpoint's own failure);
    /// otherwise the configuration is wrong.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            TokenError::Unavailable { .. } | TokenError::Network(_)
        )
    }

    /// The connector error a send that could not get a token fails with: temporary ones retry
    /// on the same channel; configuration ones fail the attempt (and fall back), error 5.
    pub fn connector_error(&self) -> ConnectorError {
        let message = format!("Google OAuth2: {self}");
        match self {
            TokenError::Network(_) => {
                ConnectorError::temporary(ErrorOrigin::Network, None, message)
            }
            TokenError::Unavailable { .. } => {
                ConnectorError::temporary(ErrorOrigin::Provider, None, message)
            }
            _ => ConnectorError::permanent(ErrorOrigin::Tern, Some(NOT_DELIVERED_ERROR), message),
        }
    }
}

/// A token in hand.
#[derive(Clone)]
struct Cached {
    token: Arc<str>,
    /// When to fetch a new one.
    refresh_at: Instant,
    /// When it stops being valid.
    expires_at: Instant,
}

struct Inner {
    key: SigningKey,
    scope: String,
    project_id: String,
    client: reqwest::Client,
    cached: RwLock<Option<Cached>>,
    /// Held while fetching: one fetch at a time, the others wait and take its token.
    fetching: tokio::sync::Mutex<()>,
}

/// The access tokens of one service account for one scope; cheap to clone (clones share the
/// token).
#[derive(Clone)]
pub struct GoogleTokens {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GoogleTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleTokens")
            .field("token_uri", &self.inner.key.token_uri())
            .field("scope", &self.inner.scope)
            .finish_non_exhaustive()
    }
}

impl GoogleTokens {
    /// Tokens for `scope` from the key file at `path`, fetched with `client`. Reads and checks
    /// the file now; fetches nothing yet.
    pub fn from_file(
        path: &Path,
        scope: &str,
        client: reqwest::Client,
    ) -> Result<GoogleTokens, TokenError> {
        let json = std::fs::read(path).map_err(|error| TokenError::FileUnreadable {
            path: path.display().to_string(),
            reason: error.to_string(),
        })?;
        GoogleTokens::new(&ServiceAccount::parse(&json)?, scope, client)
    }

    /// Tokens for `scope` from a key file already read.
    pub fn new(
        account: &ServiceAccount,
        scope: &str,
        client: reqwest::Client,
    ) -> Result<GoogleTokens, TokenError> {
        Ok(GoogleTokens {
            inner: Arc::new(Inner {
                key: account.signing_key()?,
                scope: scope.to_owned(),
                project_id: account.project_id.clone(),
                client,
                cached: RwLock::new(None),
                fetching: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The key file's `token_uri`.
    pub fn token_uri(&self) -> &str {
        self.inner.key.token_uri()
    }

    /// The key file's `project_id`.
    pub fn project_id(&self) -> &str {
        &self.inner.project_id
    }

    /// A valid access token, for `Authorization: Bearer …`: the one in hand, or a new one.
    pub async fn bearer(&self) -> Result<Arc<str>, TokenError> {
        if let Some(token) = self.current() {
            return Ok(token);
        }
        let _fetching = self.inner.fetching.lock().await;
        // Another caller may have fetched while this one waited.
        if let Some(token) = self.current() {
            return Ok(token);
        }
        match self.fetch().await {
            Ok(cached) => {
                let token = Arc::clone(&cached.token);
                *self.inner.cached.write().expect("token lock") = Some(cached);
                Ok(token)
            }
            Err(error) => {
                // Keep using a token that is still valid, and try again a little later.
                let mut cached = self.inner.cached.write().expect("token lock");
                match cached.as_mut() {
                    Some(old) if Instant::now() < old.expires_at => {
                        old.refresh_at = (Instant::now() + RETRY_REFRESH_AFTER).min(old.expires_at);
                        tracing::warn!(%error, "Google token refresh failed; using the current token");
                        Ok(Arc::clone(&old.token))
                    }
                    _ => Err(error),
                }
            }
        }
    }

    /// Drops the token in hand: the next [`bearer`](Self::bearer) fetches a new one.
    pub fn invalidate(&self) {
        *self.inner.cached.write().expect("token lock") = None;
    }

    /// Drops the token in hand if it is `rejected` (the API answered 401 to it); a newer token
    /// fetched meanwhile is kept.
    pub fn invalidate_token(&self, rejected: &str) {
        let mut cached = self.inner.cached.write().expect("token lock");
        if cached.as_ref().is_some_and(|c| &*c.token == rejected) {
            *cached = None;
        }
    }

    /// The token in hand, if it is not due for refresh yet.
    fn current(&self) -> Option<Arc<str>> {
        let cached = self.inner.cached.read().expect("token lock");
        let cached = cached.as_ref()?;
        (Instant::now() < cached.refresh_at).then(|| Arc::clone(&cached.token))
    }

    /// One exchange at the token endpoint.
    async fn fetch(&self) -> Result<Cached, TokenError> {
        let issued_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let assertion = self.inner.key.assertion(&self.inner.scope, issued_at);
        let asked_at = Instant::now();
        let response = self
            .inner
            .client
            .post(self.inner.key.token_uri())
            .header("content-type", "application/x-www-form-urlencoded")
            .timeout(TOKEN_REQUEST_TIMEOUT)
            .body(token_request_body(&assertion))
            .send()
            .await
            .map_err(|error| TokenError::Network(error.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|error| TokenError::Network(error.to_string()))?;
        if status == 200 {
            let answer = TokenResponse::parse(&body).ok_or_else(|| TokenError::Unavailable {
                status,
                detail: format!("unreadable answer: {}", snippet(&body)),
            })?;
            let lifetime = Duration::from_secs(answer.expires_in);
            let lead = REFRESH_BEFORE_EXPIRY.min(lifetime / 2);
            return Ok(Cached {
                token: Arc::from(answer.access_token),
                refresh_at: asked_at + lifetime - lead,
                expires_at: asked_at + lifetime,
            });
        }
        if status == 429 || status >= 500 {
            return Err(TokenError::Unavailable {
                status,
                detail: snippet(&body),
            });
        }
        let (error, description) = match OAuthError::parse(&body) {
            Some(error) => (error.error, error.error_description.unwrap_or_default()),
            None => (String::new(), snippet(&body)),
        };
        Err(TokenError::Refused {
            status,
            error,
            description,
        })
    }
}

/// The start of a body, for an error's text.
fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_testkit::google::{
        FCM_SCOPE, GoogleTokenStandIn, RBM_SCOPE, TokenOptions, service_account_json,
    };

    fn tokens(stand_in: &GoogleTokenStandIn, scope: &str) -> (tempfile::TempDir, GoogleTokens) {
        let dir = tempfile::tempdir().unwrap();
        let path = stand_in.write_service_account(dir.path(), "sa.json");
        let tokens = GoogleTokens::from_file(&path, scope, tern_testkit::http_client()).unwrap();
        (dir, tokens)
    }

    #[tokio::test]
    async fn a_token_is_fetched_once_and_reused() {
        let stand_in = GoogleTokenStandIn::start(TokenOptions::default()).await;
        let (_dir, tokens) = tokens(&stand_in, RBM_SCOPE);
        assert_eq!(tokens.token_uri(), stand_in.token_url);
        assert_eq!(tokens.project_id(), "tern-test");
        let first = tokens.bearer().await.unwrap();
        assert!(stand_in.is_valid(&first));
        assert!(
            stand_in
                .check()
                .check_scope(Some(&format!("Bearer {first}")), RBM_SCOPE)
        );
        assert!(
            !stand_in
                .check()
                .check_scope(Some(&format!("Bearer {first}")), FCM_SCOPE)
        );
        for _ in 0..5 {
            assert_eq!(tokens.bearer().await.unwrap(), first);
        }
        assert_eq!(tokens.clone().bearer().await.unwrap(), first);
        assert_eq!(stand_in.tokens_issued(), 1);
        let request = &stand_in.requests()[0];
        assert_eq!(request.answered, 200);
        assert_eq!(request.claims.as_ref().unwrap()["scope"], RBM_SCOPE);
    }

    #[tokio::test]
    async fn many_callers_at_once_share_one_fetch() {
        let stand_in = GoogleTokenStandIn::start(TokenOptions::default()).await;
        let (_dir, tokens) = tokens(&stand_in, FCM_SCOPE);
        let calls: Vec<_> = (0..50)
            .map(|_| {
                let tokens = tokens.clone();
                tokio::spawn(async move { tokens.bearer().await.unwrap() })
            })
            .collect();
        let mut got = Vec::new();
        for call in calls {
            got.push(call.await.unwrap());
        }
        assert!(got.iter().all(|token| *token == got[0]));
        assert_eq!(stand_in.tokens_issued(), 1);
    }

    #[tokio::test]
    async fn a_short_lived_token_is_replaced_at_half_life_before_it_expires() {
        let stand_in = GoogleTokenStandIn::start(TokenOptions {
            expires_in: Duration::from_secs(2),
            ..TokenOptions::default()
        })
        .await;
        let (_dir, tokens) = tokens(&stand_in, RBM_SCOPE);
        let first = tokens.bearer().await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(tokens.bearer().await.unwrap(), first);
        tokio::time::sleep(Duration::from_millis(700)).await;
        // Past half of its 2 s: a new one, while the old is still valid.
        assert!(stand_in.is_valid(&first));
        let second = tokens.bearer().await.unwrap();
        assert_ne!(second, first);
        assert!(stand_in.is_valid(&second));
        assert_eq!(stand_in.tokens_issued(), 2);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert!(!stand_in.is_valid(&first), "the first has expired by now");
    }

    #[tokio::test]
    async fn a_rejected_token_is_dropped_and_a_new_one_fetched() {
        let stand_in = GoogleTokenStandIn::start(TokenOptions::default()).await;
        let (_dir, tokens) = tokens(&stand_in, RBM_SCOPE);
        let first = tokens.bearer().await.unwrap();
        stand_in.revoke_all();
        assert!(!stand_in.is_valid(&first));
        tokens.invalidate_token("some older token");
        assert_eq!(tokens.bearer().await.unwrap(), first, "not the one in hand");
        tokens.invalidate_token(&first);
        let second = tokens.bearer().await.unwrap();
        assert_ne!(second, first);
        assert!(stand_in.is_valid(&second));
        tokens.invalidate();
        assert_ne!(tokens.bearer().await.unwrap(), second);
        assert_eq!(stand_in.tokens_issued(), 3);
    }

    #[tokio::test]
    async fn the_rbm_api_takes_the_token_and_a_401_is_mended_by_a_new_one() {
        use tern_testkit::google::{RbmOptions, RbmStandIn};
        let stand_in = GoogleTokenStandIn::start(TokenOptions::default()).await;
        let rbm = RbmStandIn::start(RbmOptions::new(stand_in.check())).await;
        let (_dir, tokens) = tokens(&stand_in, RBM_SCOPE);
        let send = |token: Arc<str>, id: &'static str| {
            let url = format!(
                "{}/v1/phones/+31612345678/agentMessages?messageId={id}&agentId=acme_agent",
                rbm.base_url
            );
            async move {
                tern_testkit::http_client()
                    .post(url)
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(r#"{"contentMessage":{"text":"hi"}}"#)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        };
        assert_eq!(send(tokens.bearer().await.unwrap(), "m1").await, 200);
        stand_in.revoke_all();
        let rejected = tokens.bearer().await.unwrap();
        assert_eq!(send(Arc::clone(&rejected), "m2").await, 401);
        tokens.invalidate_token(&rejected);
        assert_eq!(send(tokens.bearer().await.unwrap(), "m2").await, 200);
        assert_eq!(stand_in.tokens_issued(), 2);
    }

    #[tokio::test]
    async fn refusals_are_configuration_and_failures_temporary() {
        let stand_in = GoogleTokenStandIn::start(TokenOptions::default()).await;
        let (_dir, tokens) = tokens(&stand_in, "https://www.googleapis.com/auth/cloud-platform");
        let error = tokens.bearer().await.unwrap_err();
        assert_eq!(
            error,
            TokenError::Refused {
                status: 400,
                error: "invalid_scope".into(),
                description: "Invalid OAuth scope or ID token audience provided.".into()
            }
        );
        assert!(!error.is_temporary());
        assert_eq!(
            error.connector_error().kind,
            tern_core::ports::ErrorKind::Permanent
        );

        let (_dir, tokens) = self::tokens(&stand_in, RBM_SCOPE);
        stand_in.refuse_with(Some((503, "unavailable", "try later")));
        let error = tokens.bearer().await.unwrap_err();
        assert!(matches!(error, TokenError::Unavailable { status: 503, .. }));
        assert!(error.is_temporary());
        stand_in.refuse_with(Some((
            401,
            "invalid_client",
            "The OAuth client was not found.",
        )));
        assert_eq!(
            tokens.bearer().await.unwrap_err(),
            TokenError::Refused {
                status: 401,
                error: "invalid_client".into(),
                description: "The OAuth client was not found.".into()
            }
        );
        stand_in.refuse_with(None);
        assert!(tokens.bearer().await.is_ok());
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_the_valid_token() {
        let stand_in = GoogleTokenStandIn::start(TokenOptions {
            expires_in: Duration::from_secs(2),
            ..TokenOptions::default()
        })
        .await;
        let (_dir, tokens) = tokens(&stand_in, RBM_SCOPE);
        let first = tokens.bearer().await.unwrap();
        stand_in.refuse_with(Some((500, "internal_failure", "boom")));
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(tokens.bearer().await.unwrap(), first);
        assert_eq!(
            tokens.bearer().await.unwrap(),
            first,
            "no second try at once"
        );
        assert_eq!(stand_in.requests().len(), 2);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert!(tokens.bearer().await.unwrap_err().is_temporary());
    }

    #[tokio::test]
    async fn a_key_the_endpoint_does_not_know_is_refused() {
        let stand_in = GoogleTokenStandIn::start(TokenOptions::default()).await;
        let mut account: ServiceAccount =
            serde_json::from_str(&service_account_json(&stand_in.token_url)).unwrap();
        account.private_key =
            include_str!("../../tern-proto/testdata/google_test_key.pem").to_owned();
        let tokens = GoogleTokens::new(&account, RBM_SCOPE, tern_testkit::http_client()).unwrap();
        assert_eq!(
            tokens.bearer().await.unwrap_err(),
            TokenError::Refused {
                status: 400,
                error: "invalid_grant".into(),
                description: "Invalid JWT Signature.".into()
            }
        );
        assert_eq!(stand_in.tokens_issued(), 0);
    }

    #[tokio::test]
    async fn files_and_endpoints_that_cannot_be_used() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.json");
        assert!(matches!(
            GoogleTokens::from_file(&missing, RBM_SCOPE, tern_testkit::http_client()),
            Err(TokenError::FileUnreadable { .. })
        ));
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"type\":\"service_account\"}").unwrap();
        assert!(matches!(
            GoogleTokens::from_file(&bad, RBM_SCOPE, tern_testkit::http_client()),
            Err(TokenError::BadServiceAccount(ServiceAccountError::Missing(
                "private_key"
            )))
        ));
        // A token endpoint nobody listens on.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/token", closed.local_addr().unwrap());
        drop(closed);
        let account: ServiceAccount = serde_json::from_str(&service_account_json(&url)).unwrap();
        let tokens = GoogleTokens::new(&account, RBM_SCOPE, tern_testkit::http_client()).unwrap();
        let error = tokens.bearer().await.unwrap_err();
        assert!(matches!(error, TokenError::Network(_)), "{error:?}");
        assert!(error.is_temporary());
        assert!(matches!(
            error.connector_error().kind,
            tern_core::ports::ErrorKind::Temporary { .. }
        ));
    }
}
