//! Local stand-ins of two Google services, so that tests and benchmarks can point Tern's RCS
//! (and Push) connectors at real HTTP servers on loopback that check requests as Google does and
//! answer as Google does (reference: `shared/reference/channel-providers.md`, sections 3 and 4):
//!
//! - [`GoogleTokenStandIn`] serves a service account's `token_uri`: it takes the JWT bearer grant
//!   (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…`), **verifies** the
//!   assertion's RS256 signature with the service account's public key, its `iss`, `aud` (its own
//!   URL), `scope` (among those allowed) and `iat`/`exp`, and answers an access token with a
//!   configurable `expires_in` (so tests see refreshes), or OAuth's error JSON. Other stand-ins
//!   check Bearer tokens with its [`TokenCheck`] handle. [`service_account_json`] and
//!   [`GoogleTokenStandIn::write_service_account`] give a key file for the fixed test key
//!   ([`TEST_PRIVATE_KEY_PEM`]; keys are never generated at test time, which is slow).
//! - [`RbmStandIn`] serves `POST /v1/phones/{+E164}/agentMessages?messageId=…&agentId=…`: the
//!   Bearer token (through the token stand-in), the agent id, a unique message id (`409
//!   ALREADY_EXISTS` on reuse) and the body (one content per message, suggestion limits 11 and 4,
//!   text lengths, carousels of 2 to 10 cards, no unknown fields) are checked as RBM does, a bad
//!   request answered with Google's error JSON (`400 INVALID_ARGUMENT` and a message); a script
//!   per recipient prefix ([`RbmRule`]) refuses (`404 NOT_FOUND`, `429`, `500`, `403`, …) or
//!   accepts and later posts a chosen sequence of agent events ([`AgentEvent`]: `DELIVERED`,
//!   `READ`, `TTL_EXPIRATION_REVOKED`, duplicated or out of order) to the webhook URL in the
//!   Pub/Sub push envelope, signed with `X-Goog-Signature`; on command it posts the validation
//!   request and user messages (text, suggestion taps, locations, files). Requests and webhook
//!   answers are logged ([`RbmEvent`]) unless [`RbmOptions::record`] is off (benchmarks keep only
//!   [`RbmCounts`]).
//!
//! The stand-ins share no code with Tern's own Google modules (signatures, JWTs and bodies are
//! made and checked here independently), so a mistake on either side shows.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaKeyPair, UnparsedPublicKey};
use serde_json::{Map, Value, json};
use sha2::Sha512;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// The OAuth2 scope of the RBM API.
pub const RBM_SCOPE: &str = "https://www.googleapis.com/auth/rcsbusinessmessaging";
/// The OAuth2 scope of FCM HTTP v1.
pub const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// The JWT bearer grant type.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The test service account's e-mail (the assertion's `iss`).
pub const TEST_CLIENT_EMAIL: &str = "tern-test@tern-test.iam.gserviceaccount.com";
/// The test service account's key id (the assertion's `kid`).
pub const TEST_PRIVATE_KEY_ID: &str = "3f1c0ffee0ddba11d00df00d5eed0123456789ab";
/// The test service account's project.
pub const TEST_PROJECT_ID: &str = "tern-test";

/// The fixed 2048-bit RSA key (PKCS#8 PEM) of the test service account, made once with
/// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`. For tests only.
pub const TEST_PRIVATE_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCdjBwumrWfCD0c
oyuxD5TmW+76C+slrYfHhQkLj3qVON0HqXNlF9iJW4hpOTOgymcoNPJNZbkn1C8Y
siDnJrY5t4YcGMf69lwxHx3FitSr7HFk94+1PjUFJMAemshY0ibBlfQzVUBhTdd8
qWCfUjywCe51N8TeLQJZmI9d//0Xxe74K0FVlaj3vNZ6nG+SsKek+nLn6BPdQ4PG
AHlRnVvmTxkMtNGpXhpNABb8fwlC43m4ofJdW9WMW1QojnzTKgSpPakIVCEY6nWW
khExUFxAtTpvMLH37/7yhtvOyAMmABajMdHCIpFBqZn4Oo6sBZOTxU1BzKzVjaA7
WyOwwyfHAgMBAAECggEACqXa4cDNtZ82QiaPtWUliHbTgqLQ6bhTYkYOLnHWtG8m
FnZ6uMJmfXdqPh0CQu5rD79EVmbMShzVHLOCoHIarsabPHA6/oMtXUSKcTzI0uB6
vtAx2OteD1LvM8z87W6GoAl6el2wqY2RRXj3xszQEosZSrgniLySBBbY2bQ2GX0e
qmeEkKAVvyC+fzODZFZK9UdkkX/zMaae+STx87jkCnc/zNKpEYRBAmQ6DU/Odh62
TcTj+dapyjXfFqt7g3OqflUmWYdVlTAF/U5PUpDFbpg3KXBiPim2nRg2t59vWtYt
LTZeXH1XZSF8es3aHTLkuXVnHmraDkKQ68YddQY0wQKBgQDSB1w+5VqxX1BXvZXQ
/AXRu6+JvzaC3oN29YfSAIG2GtQ08vdXKAT2RDoAF7iSLotZGXm8wP4YNJLf0gfd
Ip1ZiRxfHzEIjaOb1U5o1bZVb9VDeBcUn86QCULcWkVtRLS6QwDkvkoM8s5ChHWM
awwFj4YpNXTuzc9VghXxveUqBQKBgQDACAg/xYAb3Cvmd43KXlCPRSs1ZhUDaq+t
RWEMOr/1IPublL43hzSfGoDwbYesN81QcwwO2FJu1+ExfnMT9fPlbEm08vsTMlTY
rSJA49eFslcT/8HcAKrxrWEPpchPAX6u8cmcPjLqz87DtSMz3ArcD1/vlFIDKuy7
BZ4Ns8XYWwKBgQCtz+GLO4uell6K/h5p4Od/9m8C8/dMvpDVdcR9CmZOKk3Ls/b1
be0NUNEfGoJol5RCnE6e4qhlp7yU9eAEJY1Kd6m/HrUZev4XDKPjJlnKws4fE9cl
/kqX8NIgQaSLFPzr2F947fGiXZ5MdgpBtqUwROKmX9LxfelDvnAiqyBncQKBgEiQ
gHWAr1lXyKsNUGJBY5XQIHTMP3KMFRiX2AVkCfeaYBm5imu3RtY8kK7J5PPaHlah
MtRFQFkscKdgTiIj1edDFVMwYlotscwzGHeG4YFfE/K1uc7l3bL3vm7ISbo5KWL4
cSP+iQUcQ9jGkSfepafkk28YECmsRcqiY8hvv3pzAoGAI+tiNOoMHHXmiQqs2bsb
StjkLAwU7+dhCPJAX/PYpScuBlCexI0z4IiH2DRkmRfULj6ArWWo2GC3qbD4xL5E
yLwShTy5TocZ/CQgvw/KR65KAO3bvijQyrxshKFnNbkViIf5AqHlyQ+t7viWBie8
wJQc3w15tD8Wo8SaF5/8paI=
-----END PRIVATE KEY-----
";

/// The public key (PKCS#1 `RSAPublicKey` DER, as ring verifies with) of
/// [`TEST_PRIVATE_KEY_PEM`].
pub fn test_public_key() -> Vec<u8> {
    let der: String = TEST_PRIVATE_KEY_PEM
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = STANDARD.decode(der).expect("the test key is base64");
    let key = RsaKeyPair::from_pkcs8(&der).expect("the test key is an RSA PKCS#8 key");
    ring::signature::KeyPair::public_key(&key).as_ref().to_vec()
}

/// A service-account key file for the test key, with `token_uri` (the stand-in's URL).
pub fn service_account_json(token_uri: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": TEST_PROJECT_ID,
        "private_key_id": TEST_PRIVATE_KEY_ID,
        "private_key": TEST_PRIVATE_KEY_PEM,
        "client_email": TEST_CLIENT_EMAIL,
        "client_id": "104357711104357711104",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/tern-test",
        "universe_domain": "googleapis.com",
    })
    .to_string()
}

/// Now, in epoch seconds.
fn epoch_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A nonce for ids, from the clock and the port.
fn nonce(port: u16) -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos() as u64
        ^ u64::from(port) << 32
}

/// `value` in `application/x-www-form-urlencoded`, decoded (`+` is a space).
fn form_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
                decoded.push(u8::from_str_radix(hex, 16).ok()?);
                index += 2;
            }
            byte => decoded.push(byte),
        }
        index += 1;
    }
    String::from_utf8(decoded).ok()
}

/// The pairs of a form body or a query string, decoded.
fn form_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((form_decode(name)?, form_decode(value)?))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The token endpoint.

/// How the token stand-in is configured.
#[derive(Debug, Clone)]
pub struct TokenOptions {
    /// The one service account it knows (`iss`).
    pub client_email: String,
    /// Its key id; an assertion with another `kid` is refused (none set: any).
    pub key_id: Option<String>,
    /// Its public key, PKCS#1 `RSAPublicKey` DER.
    pub public_key: Vec<u8>,
    /// The scopes it grants.
    pub allowed_scopes: Vec<String>,
    /// The lifetime of the tokens it issues.
    pub expires_in: Duration,
    /// How far `iat` may be from its clock.
    pub clock_skew: Duration,
    /// Keep every request in the log.
    pub record: bool,
}

impl Default for TokenOptions {
    /// The test service account, RBM and FCM scopes, tokens valid for an hour.
    fn default() -> Self {
        TokenOptions {
            client_email: TEST_CLIENT_EMAIL.to_owned(),
            key_id: Some(TEST_PRIVATE_KEY_ID.to_owned()),
            public_key: test_public_key(),
            allowed_scopes: vec![RBM_SCOPE.to_owned(), FCM_SCOPE.to_owned()],
            expires_in: Duration::from_secs(3600),
            clock_skew: Duration::from_secs(300),
            record: true,
        }
    }
}

/// A token request and its answer.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// The form fields, decoded.
    pub form: Vec<(String, String)>,
    /// The assertion's claims, when its payload could be read.
    pub claims: Option<Value>,
    pub answered: u16,
    pub answer: Value,
}

/// An issued token.
struct Issued {
    expires_at: Instant,
    scopes: Vec<String>,
}

struct TokenShared {
    options: Mutex<TokenOptions>,
    token_url: String,
    issued: Mutex<HashMap<String, Issued>>,
    tokens_issued: AtomicU64,
    nonce: u64,
    /// Refuse every request with `(status, error, description)`.
    refusal: Mutex<Option<(u16, String, String)>>,
    log: Mutex<Vec<TokenRequest>>,
}

impl TokenShared {
    fn check(&self, authorization: Option<&str>, scope: Option<&str>) -> bool {
        let Some(token) = authorization.and_then(|header| {
            let (scheme, token) = header.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        }) else {
            return false;
        };
        let issued = self.issued.lock().unwrap();
        issued.get(token).is_some_and(|issued| {
            Instant::now() < issued.expires_at
                && scope.is_none_or(|scope| issued.scopes.iter().any(|s| s == scope))
        })
    }
}

/// A cheap handle other stand-ins check Bearer tokens with.
#[derive(Clone)]
pub struct TokenCheck {
    shared: Arc<TokenShared>,
}

impl std::fmt::Debug for TokenCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCheck")
            .field("token_url", &self.shared.token_url)
            .finish()
    }
}

impl TokenCheck {
    /// Whether `authorization_header` is `Bearer <token>` for a token this stand-in issued and
    /// that has not expired (or been revoked).
    pub fn check(&self, authorization_header: Option<&str>) -> bool {
        self.shared.check(authorization_header, None)
    }

    /// [`check`](Self::check), and the token was granted `scope`.
    pub fn check_scope(&self, authorization_header: Option<&str>, scope: &str) -> bool {
        self.shared.check(authorization_header, Some(scope))
    }
}

/// A running token endpoint; its server stops when it is dropped.
pub struct GoogleTokenStandIn {
    /// `http://127.0.0.1:PORT/token`: the `token_uri` of key files.
    pub token_url: String,
    shared: Arc<TokenShared>,
    task: JoinHandle<()>,
}

impl GoogleTokenStandIn {
    /// Starts on 127.0.0.1 with a free port.
    pub async fn start(options: TokenOptions) -> GoogleTokenStandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the token stand-in on loopback");
        let address = listener.local_addr().expect("its address");
        let token_url = format!("http://{address}/token");
        let shared = Arc::new(TokenShared {
            options: Mutex::new(options),
            token_url: token_url.clone(),
            issued: Mutex::new(HashMap::new()),
            tokens_issued: AtomicU64::new(0),
            nonce: nonce(address.port()),
            refusal: Mutex::new(None),
            log: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .fallback(token_endpoint)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        GoogleTokenStandIn {
            token_url,
            shared,
            task,
        }
    }

    /// The handle other stand-ins check tokens with.
    pub fn check(&self) -> TokenCheck {
        TokenCheck {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Whether `bearer` (the token alone) was issued here and has not expired.
    pub fn is_valid(&self, bearer: &str) -> bool {
        self.shared.check(Some(&format!("Bearer {bearer}")), None)
    }

    /// Tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        self.shared.tokens_issued.load(Ordering::Relaxed)
    }

    /// Every token request so far (empty when recording is off).
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.shared.log.lock().unwrap().clone()
    }

    /// From now on, tokens live `expires_in` (whole seconds on the wire; at least 1).
    pub fn set_expires_in(&self, expires_in: Duration) {
        self.shared.options.lock().unwrap().expires_in = expires_in;
    }

    /// Refuse every request from now on with `status` and OAuth's `{"error","error_description"}`
    /// (e.g. 400 `invalid_grant`, 401 `invalid_client`); `None` accepts again.
    pub fn refuse_with(&self, refusal: Option<(u16, &str, &str)>) {
        *self.shared.refusal.lock().unwrap() = refusal
            .map(|(status, error, description)| (status, error.to_owned(), description.to_owned()));
    }

    /// Every token issued so far stops being valid (as when a key is revoked).
    pub fn revoke_all(&self) {
        self.shared.issued.lock().unwrap().clear();
    }

    /// Writes [`service_account_json`] for this endpoint to `dir/name` and returns its path.
    pub fn write_service_account(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, service_account_json(&self.token_url))
            .expect("write the service-account file");
        path
    }
}

impl Drop for GoogleTokenStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// OAuth's error answer.
fn oauth_error(status: u16, error: &str, description: &str) -> (u16, Value) {
    (
        status,
        json!({"error": error, "error_description": description}),
    )
}

async fn token_endpoint(
    State(shared): State<Arc<TokenShared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = form_pairs(&String::from_utf8_lossy(&body));
    let mut claims = None;
    let (status, answer) = token_answer(&shared, &method, &uri, &headers, &form, &mut claims);
    let record = shared.options.lock().unwrap().record;
    if record {
        shared.log.lock().unwrap().push(TokenRequest {
            form,
            claims,
            answered: status,
            answer: answer.clone(),
        });
    }
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(answer),
    )
        .into_response()
}

fn token_answer(
    shared: &TokenShared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    form: &[(String, String)],
    claims_out: &mut Option<Value>,
) -> (u16, Value) {
    if uri.path() != "/token" {
        return oauth_error(404, "not_found", "Unknown path.");
    }
    if method != Method::POST {
        return oauth_error(405, "invalid_request", "Only POST is supported.");
    }
    let form_content = headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|value| {
            value
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_content {
        return oauth_error(
            400,
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded.",
        );
    }
    if let Some((status, error, description)) = shared.refusal.lock().unwrap().clone() {
        return oauth_error(status, &error, &description);
    }
    let field = |name: &str| {
        form.iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    };
    match field("grant_type") {
        Some(JWT_BEARER_GRANT) => {}
        Some(other) => {
            return oauth_error(
                400,
                "unsupported_grant_type",
                &format!("Invalid grant_type: {other}"),
            );
        }
        None => {
            return oauth_error(
                400,
                "invalid_request",
                "Missing required parameter: grant_type",
            );
        }
    }
    let Some(assertion) = field("assertion") else {
        return oauth_error(
            400,
            "invalid_request",
            "Missing required parameter: assertion",
        );
    };
    let options = shared.options.lock().unwrap().clone();
    let claims = match verify_assertion(&options, &shared.token_url, assertion, claims_out) {
        Ok(claims) => claims,
        Err(answer) => return answer,
    };
    let scopes: Vec<String> = claims["scope"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if scopes.is_empty()
        || !scopes
            .iter()
            .all(|scope| options.allowed_scopes.contains(scope))
    {
        return oauth_error(
            400,
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        );
    }
    let count = shared.tokens_issued.fetch_add(1, Ordering::Relaxed) + 1;
    let token = format!("ya29.test-{:x}-{count}", shared.nonce);
    let expires_in = options.expires_in.as_secs().max(1);
    shared.issued.lock().unwrap().insert(
        token.clone(),
        Issued {
            expires_at: Instant::now() + Duration::from_secs(expires_in),
            scopes,
        },
    );
    (
        200,
        json!({"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}),
    )
}

/// The assertion's claims when it is a JWT this stand-in accepts, or the error to answer.
fn verify_assertion(
    options: &TokenOptions,
    token_url: &str,
    assertion: &str,
    claims_out: &mut Option<Value>,
) -> Result<Value, (u16, Value)> {
    let invalid = |description: &str| oauth_error(400, "invalid_grant", description);
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err(invalid("Invalid JWT: not three segments."));
    };
    let decode = |segment: &str| -> Option<Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).ok()?).ok()
    };
    let (Some(header_json), Some(claims)) = (decode(header), decode(payload)) else {
        return Err(invalid("Invalid JWT: a segment is not base64url JSON."));
    };
    *claims_out = Some(claims.clone());
    if header_json["alg"] != "RS256" {
        return Err(invalid("Invalid JWT: alg must be RS256."));
    }
    if let Some(key_id) = &options.key_id
        && header_json["kid"].as_str() != Some(key_id)
    {
        return Err(invalid("Invalid JWT Signature."));
    }
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return Err(invalid("Invalid JWT Signature."));
    };
    let signed = format!("{header}.{payload}");
    if UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &options.public_key)
        .verify(signed.as_bytes(), &signature)
        .is_err()
    {
        return Err(invalid("Invalid JWT Signature."));
    }
    if claims["iss"].as_str() != Some(options.client_email.as_str()) {
        return Err(invalid("Invalid grant: account not found"));
    }
    if claims["aud"].as_str() != Some(token_url) {
        return Err(invalid(
            "Invalid JWT: Failed audience check. The right audience is the token URL.",
        ));
    }
    let now = epoch_now();
    let skew = options.clock_skew.as_secs() as i64;
    let times_sane = match (claims["iat"].as_i64(), claims["exp"].as_i64()) {
        (Some(iat), Some(exp)) => {
            (iat - now).abs() <= skew && exp > now && exp > iat && exp - iat <= 3600
        }
        _ => false,
    };
    if !times_sane {
        return Err(invalid(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable \
             timeframe. Check your iat and exp values in the JWT claim.",
        ));
    }
    Ok(claims)
}

// ---------------------------------------------------------------------------------------------
// The RBM API.

/// An error as the RBM API answers it: `{"error":{"code","message","status"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RbmError {
    pub http_status: u16,
    /// Google's canonical status name.
    pub status: String,
    pub message: String,
}

impl RbmError {
    pub fn new(http_status: u16, status: &str, message: &str) -> RbmError {
        RbmError {
            http_status,
            status: status.to_owned(),
            message: message.to_owned(),
        }
    }

    /// 404 NOT_FOUND: the user is not reachable on RCS (the fallback trigger).
    pub fn not_found() -> RbmError {
        RbmError::new(404, "NOT_FOUND", "Requested entity was not found.")
    }

    /// 429 RESOURCE_EXHAUSTED: rate limited.
    pub fn rate_limited() -> RbmError {
        RbmError::new(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for quota metric 'Agent message requests' and limit 'Agent message \
             requests per minute per agent'.",
        )
    }

    /// 500 INTERNAL.
    pub fn internal() -> RbmError {
        RbmError::new(500, "INTERNAL", "Internal error encountered.")
    }

    /// 503 UNAVAILABLE.
    pub fn unavailable() -> RbmError {
        RbmError::new(503, "UNAVAILABLE", "The service is currently unavailable.")
    }

    /// 403 PERMISSION_DENIED.
    pub fn permission_denied() -> RbmError {
        RbmError::new(
            403,
            "PERMISSION_DENIED",
            "The caller does not have permission",
        )
    }

    /// 401 UNAUTHENTICATED.
    pub fn unauthenticated() -> RbmError {
        RbmError::new(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential.",
        )
    }

    /// 400 INVALID_ARGUMENT with `message` saying what.
    pub fn invalid_argument(message: &str) -> RbmError {
        RbmError::new(400, "INVALID_ARGUMENT", message)
    }

    /// 409 ALREADY_EXISTS: the message id was used before.
    pub fn already_exists() -> RbmError {
        RbmError::new(409, "ALREADY_EXISTS", "Requested entity already exists")
    }

    /// The JSON answered.
    pub fn to_json(&self) -> Value {
        json!({"error": {"code": self.http_status, "message": self.message, "status": self.status}})
    }
}

/// An event RBM posts about an accepted agent message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentEvent {
    /// A user event, `DELIVERED`.
    Delivered,
    /// A user event, `READ`.
    Read,
    /// A server event: the TTL ran out and the message was revoked.
    TtlExpirationRevoked,
    /// A server event: the TTL ran out but revoking failed.
    TtlExpirationRevokeFailed,
}

impl AgentEvent {
    /// The `eventType`.
    pub fn name(self) -> &'static str {
        match self {
            AgentEvent::Delivered => "DELIVERED",
            AgentEvent::Read => "READ",
            AgentEvent::TtlExpirationRevoked => "TTL_EXPIRATION_REVOKED",
            AgentEvent::TtlExpirationRevokeFailed => "TTL_EXPIRATION_REVOKE_FAILED",
        }
    }

    fn is_server_event(self) -> bool {
        matches!(
            self,
            AgentEvent::TtlExpirationRevoked | AgentEvent::TtlExpirationRevokeFailed
        )
    }
}

/// What the stand-in does with an agent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RbmScript {
    /// Answer with this error (the message id stays unused).
    Refuse(RbmError),
    /// Accept; after `delay` post `events` in this order, `interval` apart (repeat one for a
    /// duplicate: it is redelivered with the same `eventId`; reorder for out of order).
    Accept {
        events: Vec<AgentEvent>,
        delay: Duration,
        interval: Duration,
    },
}

impl RbmScript {
    /// Accept, then post `events` after `delay`, back to back.
    pub fn accept(events: Vec<AgentEvent>, delay: Duration) -> RbmScript {
        RbmScript::Accept {
            events,
            delay,
            interval: Duration::ZERO,
        }
    }
}

/// The script for recipients (the path's E.164 number, with `+`) starting with `prefix`; the
/// first matching rule counts, [`RbmOptions::default_script`] when none does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RbmRule {
    pub prefix: String,
    pub script: RbmScript,
}

impl RbmRule {
    pub fn new(prefix: &str, script: RbmScript) -> RbmRule {
        RbmRule {
            prefix: prefix.to_owned(),
            script,
        }
    }
}

/// How the RBM stand-in is configured.
#[derive(Debug, Clone)]
pub struct RbmOptions {
    /// The one agent that may send (`agentId`).
    pub agent_id: String,
    /// Webhooks are signed with it, and the validation request carries it.
    pub client_token: String,
    /// Where webhooks go (Tern's RBM webhook); `None`: accepted messages get no events. May be
    /// set later with [`RbmStandIn::set_webhook_url`] (Tern's port is known only once it runs).
    pub webhook_url: Option<String>,
    /// Checks the Bearer tokens (a [`GoogleTokenStandIn`]'s); they need the RBM scope.
    pub tokens: TokenCheck,
    /// Per recipient prefix, in order.
    pub rules: Vec<RbmRule>,
    /// For recipients no rule matches: accept, `DELIVERED` after 50 ms.
    pub default_script: RbmScript,
    /// Webhook POSTs in flight at once (at least 1).
    pub webhook_concurrency: usize,
    /// Keep every request and webhook in the log; off, only [`RbmCounts`] (benchmarks).
    pub record: bool,
    /// A webhook answered other than 200 (or failed) is posted again, the same body, up to this
    /// many times (Google retries for days; 0: never).
    pub webhook_retries: u32,
    /// The wait before the first retry, doubled for each next one.
    pub webhook_retry_delay: Duration,
}

impl RbmOptions {
    /// Agent `acme_agent`, client token `rbm-test-client-token`, tokens checked by `tokens`.
    pub fn new(tokens: TokenCheck) -> RbmOptions {
        RbmOptions {
            agent_id: "acme_agent".to_owned(),
            client_token: "rbm-test-client-token".to_owned(),
            webhook_url: None,
            tokens,
            rules: Vec::new(),
            default_script: RbmScript::accept(
                vec![AgentEvent::Delivered],
                Duration::from_millis(50),
            ),
            webhook_concurrency: 16,
            record: true,
            webhook_retries: 0,
            webhook_retry_delay: Duration::from_millis(100),
        }
    }
}

/// A request the stand-in received, and its answer.
#[derive(Debug, Clone)]
pub struct RbmRequest {
    pub method: String,
    /// The path, as sent (no query).
    pub path: String,
    /// The query's pairs, decoded.
    pub query: Vec<(String, String)>,
    /// Every header, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body as JSON, when it is JSON.
    pub body: Option<Value>,
    pub answered: u16,
    pub answer: Value,
}

impl RbmRequest {
    /// The first value of query parameter `name`.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }

    /// `messageId`.
    pub fn message_id(&self) -> Option<&str> {
        self.query_value("messageId")
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// What a webhook POST carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RbmWebhookKind {
    /// An agent event (user or server event) of the script, signed.
    Event,
    /// A user message, signed.
    UserMessage,
    /// The validation request.
    Validation,
    /// Anything posted with [`RbmStandIn::post_webhook`] or badly signed.
    Raw,
}

/// A webhook the stand-in posted, and what came of it.
#[derive(Debug, Clone)]
pub struct RbmWebhookPost {
    pub kind: RbmWebhookKind,
    pub url: String,
    /// The raw body sent.
    pub body: Vec<u8>,
    /// The decoded event (the envelope's `data`), for events and user messages.
    pub event: Option<Value>,
    /// The `X-Goog-Signature` sent, if any.
    pub signature: Option<String>,
    /// The HTTP status answered; `None` when the POST failed (see `error`).
    pub answered: Option<u16>,
    /// The body answered.
    pub answer_body: String,
    pub error: Option<String>,
    /// 1 for the first POST of this body, 2 for its first retry, ...
    pub attempt: u32,
}

impl RbmWebhookPost {
    /// Answered 200 (what Pub/Sub counts as acknowledged; any 2xx here).
    pub fn succeeded(&self) -> bool {
        self.answered
            .is_some_and(|status| (200..300).contains(&status))
    }
}

/// One entry of the log, in order of occurrence.
#[derive(Debug, Clone)]
pub enum RbmEvent {
    Request(RbmRequest),
    Webhook(RbmWebhookPost),
}

impl RbmEvent {
    pub fn as_request(&self) -> Option<&RbmRequest> {
        match self {
            RbmEvent::Request(request) => Some(request),
            RbmEvent::Webhook(_) => None,
        }
    }

    pub fn as_webhook(&self) -> Option<&RbmWebhookPost> {
        match self {
            RbmEvent::Webhook(post) => Some(post),
            RbmEvent::Request(_) => None,
        }
    }
}

/// Counters, kept whether or not events are recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RbmCounts {
    /// Requests received.
    pub requests: u64,
    /// Agent messages accepted (200).
    pub accepted: u64,
    /// Requests answered with an error.
    pub refused: u64,
    /// Script events posted and done with (answered 2xx, or out of retries); retries do not
    /// count again.
    pub events_posted: u64,
    /// Webhook POSTs made (of any kind, retries included).
    pub webhook_posts: u64,
    pub webhook_posts_ok: u64,
    pub webhook_posts_failed: u64,
}

#[derive(Default)]
struct RbmCounters {
    requests: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
    events_posted: AtomicU64,
    webhook_posts: AtomicU64,
    webhook_posts_ok: AtomicU64,
    webhook_posts_failed: AtomicU64,
}

impl RbmCounters {
    fn snapshot(&self) -> RbmCounts {
        RbmCounts {
            requests: self.requests.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            events_posted: self.events_posted.load(Ordering::Relaxed),
            webhook_posts: self.webhook_posts.load(Ordering::Relaxed),
            webhook_posts_ok: self.webhook_posts_ok.load(Ordering::Relaxed),
            webhook_posts_failed: self.webhook_posts_failed.load(Ordering::Relaxed),
        }
    }
}

struct RbmShared {
    options: RbmOptions,
    /// Where webhooks go now.
    webhook_url: Mutex<Option<String>>,
    counters: RbmCounters,
    log: Mutex<Vec<RbmEvent>>,
    /// Message ids accepted so far.
    message_ids: Mutex<HashSet<String>>,
    nonce: u64,
    next_id: AtomicU64,
    client: reqwest::Client,
    posts_in_flight: Arc<Semaphore>,
}

impl RbmShared {
    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn record(&self, event: RbmEvent) {
        if self.options.record {
            self.log.lock().unwrap().push(event);
        }
    }

    /// The Pub/Sub envelope of `event` (its bytes base64 in `data`).
    fn envelope(&self, event: &[u8]) -> Vec<u8> {
        let id = self.next_id().to_string();
        json!({
            "message": {
                "data": STANDARD.encode(event),
                "messageId": id,
                "message_id": id,
                "publishTime": jiff::Timestamp::now().to_string(),
                "attributes": {},
            },
            "subscription": format!(
                "projects/rbm-{}/subscriptions/rbm-agent-subscription",
                self.options.agent_id
            ),
        })
        .to_string()
        .into_bytes()
    }

    /// POSTs `body` to `url` with `signature`, counts and records it.
    async fn post(
        &self,
        kind: RbmWebhookKind,
        url: &str,
        body: Vec<u8>,
        event: Option<Value>,
        signature: Option<String>,
        attempt: u32,
    ) -> RbmWebhookPost {
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(signature) = &signature {
            request = request.header("x-goog-signature", signature);
        }
        let (answered, answer_body, error) = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (
                    Some(status),
                    response.text().await.unwrap_or_default(),
                    None,
                )
            }
            Err(error) => (None, String::new(), Some(error.to_string())),
        };
        self.counters.webhook_posts.fetch_add(1, Ordering::Relaxed);
        if answered.is_some_and(|status| (200..300).contains(&status)) {
            self.counters
                .webhook_posts_ok
                .fetch_add(1, Ordering::Relaxed);
        } else {
            self.counters
                .webhook_posts_failed
                .fetch_add(1, Ordering::Relaxed);
        }
        let post = RbmWebhookPost {
            kind,
            url: url.to_owned(),
            body: if self.options.record {
                body
            } else {
                Vec::new()
            },
            event,
            signature,
            answered,
            answer_body,
            error,
            attempt,
        };
        self.record(RbmEvent::Webhook(post.clone()));
        post
    }

    /// Posts a signed event (retrying as configured); returns the last post.
    async fn post_event(&self, kind: RbmWebhookKind, url: &str, event: &Value) -> RbmWebhookPost {
        let data = event.to_string().into_bytes();
        let signature = goog_signature(&self.options.client_token, &data);
        let body = self.envelope(&data);
        let mut wait = self.options.webhook_retry_delay;
        let mut attempt = 1;
        loop {
            // A retry goes where webhooks go now (a receiver that restarted elsewhere).
            let url = match attempt {
                1 => url.to_owned(),
                _ => self
                    .webhook_url
                    .lock()
                    .unwrap()
                    .clone()
                    .unwrap_or_else(|| url.to_owned()),
            };
            let post = {
                let _permit = self.posts_in_flight.acquire().await;
                self.post(
                    kind,
                    &url,
                    body.clone(),
                    Some(event.clone()),
                    Some(signature.clone()),
                    attempt,
                )
                .await
            };
            if post.succeeded() || attempt > self.options.webhook_retries {
                return post;
            }
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
            attempt += 1;
        }
    }
}

/// `X-Goog-Signature`: base64 of HMAC-SHA512(client token, event bytes).
pub fn goog_signature(client_token: &str, data: &[u8]) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(client_token.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(data);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// A message a user sends to the agent.
#[derive(Debug, Clone, PartialEq)]
pub enum UserMessageContent {
    Text(String),
    /// A tap on a suggestion chip: `type` is `REPLY` or `ACTION`.
    SuggestionResponse {
        postback_data: String,
        text: String,
        response_type: String,
    },
    Location {
        latitude: f64,
        longitude: f64,
    },
    UserFile {
        mime_type: String,
        file_uri: String,
        file_name: String,
        file_size_bytes: u64,
    },
}

/// A running RBM stand-in; its server and event tasks stop when it is dropped.
pub struct RbmStandIn {
    /// `http://127.0.0.1:PORT`: the connector's `base_url`.
    pub base_url: String,
    shared: Arc<RbmShared>,
    task: JoinHandle<()>,
}

impl RbmStandIn {
    /// Starts on 127.0.0.1 with a free port.
    pub async fn start(options: RbmOptions) -> RbmStandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the RBM stand-in on loopback");
        let address = listener.local_addr().expect("its address");
        let shared = Arc::new(RbmShared {
            webhook_url: Mutex::new(options.webhook_url.clone()),
            counters: RbmCounters::default(),
            log: Mutex::new(Vec::new()),
            message_ids: Mutex::new(HashSet::new()),
            nonce: nonce(address.port()),
            next_id: AtomicU64::new(1),
            client: crate::http_client(),
            posts_in_flight: Arc::new(Semaphore::new(options.webhook_concurrency.max(1))),
            options,
        });
        let app = Router::new()
            .fallback(rbm_endpoint)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        RbmStandIn {
            base_url: format!("http://{address}"),
            shared,
            task,
        }
    }

    pub fn options(&self) -> &RbmOptions {
        &self.shared.options
    }

    /// The counters so far.
    pub fn counts(&self) -> RbmCounts {
        self.shared.counters.snapshot()
    }

    /// Every log entry so far, in order (empty when recording is off).
    pub fn events(&self) -> Vec<RbmEvent> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<RbmRequest> {
        self.events()
            .iter()
            .filter_map(RbmEvent::as_request)
            .cloned()
            .collect()
    }

    /// Every webhook posted so far.
    pub fn webhooks(&self) -> Vec<RbmWebhookPost> {
        self.events()
            .iter()
            .filter_map(RbmEvent::as_webhook)
            .cloned()
            .collect()
    }

    /// Waits until `done` holds for the whole log (so far or within `timeout`), then returns
    /// the log. Panics, naming `what` and showing the log, when it does not in time.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[RbmEvent]) -> bool,
    ) -> Vec<RbmEvent> {
        crate::poll::until(
            timeout,
            || {
                let log = self.shared.log.lock().unwrap();
                done(&log).then(|| log.clone())
            },
            || self.fail(what, timeout),
        )
        .await
    }

    /// Waits until `done` holds for the counters (works with recording off).
    pub async fn wait_for_counts(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&RbmCounts) -> bool,
    ) -> RbmCounts {
        crate::poll::until(
            timeout,
            || Some(self.counts()).filter(|counts| done(counts)),
            || self.fail(what, timeout),
        )
        .await
    }

    /// Waits until at least `count` script events have been posted and done with, then returns
    /// every event POST.
    pub async fn wait_for_event_posts(&self, count: u64, timeout: Duration) -> Vec<RbmWebhookPost> {
        self.wait_for_counts(&format!("{count} posted event(s)"), timeout, |counts| {
            counts.events_posted >= count
        })
        .await;
        self.webhooks()
            .into_iter()
            .filter(|post| post.kind == RbmWebhookKind::Event)
            .collect()
    }

    fn fail(&self, what: &str, timeout: Duration) -> ! {
        let log: Vec<String> = self
            .events()
            .iter()
            .map(|event| match event {
                RbmEvent::Request(request) => format!(
                    "request {} {} {:?} {} -> {} {}",
                    request.method,
                    request.path,
                    request.query,
                    request
                        .body
                        .as_ref()
                        .map(Value::to_string)
                        .unwrap_or_default(),
                    request.answered,
                    request.answer
                ),
                RbmEvent::Webhook(post) => format!(
                    "webhook {:?} {} -> {:?} {} {}",
                    post.kind,
                    post.url,
                    post.answered,
                    post.error.as_deref().unwrap_or_default(),
                    post.event
                        .as_ref()
                        .map(Value::to_string)
                        .unwrap_or_else(|| String::from_utf8_lossy(&post.body).into_owned())
                ),
            })
            .collect();
        panic!(
            "RBM stand-in: no {what} within {timeout:?}; counts {:?}; log:\n{}",
            self.counts(),
            log.join("\n")
        );
    }

    /// Sends webhooks to `url` from now on (messages accepted while there was none get no
    /// events).
    pub fn set_webhook_url(&self, url: &str) {
        *self.shared.webhook_url.lock().unwrap() = Some(url.to_owned());
    }

    fn webhook_url(&self) -> String {
        self.shared.webhook_url.lock().unwrap().clone().expect(
            "a webhook URL (RbmOptions::webhook_url or set_webhook_url) is needed to post webhooks",
        )
    }

    /// Posts the validation request `{"clientToken","secret"}` with the configured client token.
    /// Returns the post (Google expects 200 and the secret as the body).
    pub async fn send_validation(&self, secret: &str) -> RbmWebhookPost {
        let token = self.shared.options.client_token.clone();
        self.send_validation_with(&token, secret).await
    }

    /// [`send_validation`](Self::send_validation) with another client token (Tern must refuse).
    pub async fn send_validation_with(&self, client_token: &str, secret: &str) -> RbmWebhookPost {
        let body = json!({"clientToken": client_token, "secret": secret})
            .to_string()
            .into_bytes();
        let url = self.webhook_url();
        self.shared
            .post(RbmWebhookKind::Validation, &url, body, None, None, 1)
            .await
    }

    /// The event JSON of a user message from `from` (E.164), with a fresh message id.
    pub fn user_message_event(&self, from: &str, content: &UserMessageContent) -> Value {
        let mut event = json!({
            "senderPhoneNumber": from,
            "messageId": format!("MsUser{:x}{:06}", self.shared.nonce, self.shared.next_id()),
            "sendTime": jiff::Timestamp::now().to_string(),
            "agentId": self.shared.options.agent_id,
        });
        match content {
            UserMessageContent::Text(text) => event["text"] = json!(text),
            UserMessageContent::SuggestionResponse {
                postback_data,
                text,
                response_type,
            } => {
                event["suggestionResponse"] =
                    json!({"postbackData": postback_data, "text": text, "type": response_type});
            }
            UserMessageContent::Location {
                latitude,
                longitude,
            } => event["location"] = json!({"latitude": latitude, "longitude": longitude}),
            UserMessageContent::UserFile {
                mime_type,
                file_uri,
                file_name,
                file_size_bytes,
            } => {
                event["userFile"] = json!({
                    "payload": {
                        "mimeType": mime_type,
                        "fileSizeBytes": file_size_bytes,
                        "fileUri": file_uri,
                        "fileName": file_name,
                    },
                });
            }
        }
        event
    }

    /// Posts a user message from `from`, signed. Returns its event JSON (with its `messageId`)
    /// and the post.
    pub async fn send_user_message(
        &self,
        from: &str,
        content: &UserMessageContent,
    ) -> (Value, RbmWebhookPost) {
        let event = self.user_message_event(from, content);
        let post = self
            .shared
            .post_event(RbmWebhookKind::UserMessage, &self.webhook_url(), &event)
            .await;
        (event, post)
    }

    /// Posts `event` (any JSON) in an envelope, signed (again, for a redelivery).
    pub async fn send_event(&self, event: &Value) -> RbmWebhookPost {
        self.shared
            .post_event(RbmWebhookKind::Event, &self.webhook_url(), event)
            .await
    }

    /// Posts `event` in an envelope signed with another token (Tern must refuse it).
    pub async fn send_event_badly_signed(&self, event: &Value) -> RbmWebhookPost {
        let data = event.to_string().into_bytes();
        let signature = goog_signature("not-the-client-token", &data);
        let body = self.shared.envelope(&data);
        self.shared
            .post(
                RbmWebhookKind::Raw,
                &self.webhook_url(),
                body,
                Some(event.clone()),
                Some(signature),
                1,
            )
            .await
    }

    /// Posts `body` as it is with `signature` as `X-Goog-Signature` (none when `None`).
    pub async fn post_webhook(&self, body: &[u8], signature: Option<&str>) -> RbmWebhookPost {
        self.shared
            .post(
                RbmWebhookKind::Raw,
                &self.webhook_url(),
                body.to_vec(),
                None,
                signature.map(str::to_owned),
                1,
            )
            .await
    }
}

impl Drop for RbmStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn rbm_endpoint(
    State(shared): State<Arc<RbmShared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.counters.requests.fetch_add(1, Ordering::Relaxed);
    let query = form_pairs(uri.query().unwrap_or_default());
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let (status, answer) = match rbm_answer(
        &shared,
        &method,
        uri.path(),
        &query,
        &headers,
        parsed.as_ref(),
    ) {
        Ok(answer) => {
            shared.counters.accepted.fetch_add(1, Ordering::Relaxed);
            (200, answer)
        }
        Err(error) => {
            shared.counters.refused.fetch_add(1, Ordering::Relaxed);
            (error.http_status, error.to_json())
        }
    };
    if shared.options.record {
        shared.record(RbmEvent::Request(RbmRequest {
            method: method.to_string(),
            path: uri.path().to_owned(),
            query,
            headers: headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: parsed,
            answered: status,
            answer: answer.clone(),
        }));
    }
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(answer),
    )
        .into_response()
}

/// The phone number of `/v1/phones/{phone}/agentMessages` (percent-decoded), if the path is that.
fn agent_messages_phone(path: &str) -> Option<String> {
    let phone = path
        .strip_prefix("/v1/phones/")?
        .strip_suffix("/agentMessages")?;
    if phone.contains('/') {
        return None;
    }
    form_decode(&phone.replace('+', "%2B"))
}

fn rbm_answer(
    shared: &Arc<RbmShared>,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: Option<&Value>,
) -> Result<Value, RbmError> {
    let Some(phone) = agent_messages_phone(path) else {
        return Err(RbmError::new(
            404,
            "NOT_FOUND",
            &format!("The requested URL {path} was not found on this server."),
        ));
    };
    if method != Method::POST {
        return Err(RbmError::new(
            405,
            "METHOD_NOT_ALLOWED",
            "Only POST creates agent messages.",
        ));
    }
    let authorization = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok());
    if !shared.options.tokens.check_scope(authorization, RBM_SCOPE) {
        return Err(RbmError::unauthenticated());
    }
    let value = |name: &str| {
        query
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    };
    if value("agentId") != Some(shared.options.agent_id.as_str()) {
        return Err(RbmError::permission_denied());
    }
    let message_id = value("messageId").unwrap_or_default().to_owned();
    if message_id.trim().is_empty() {
        return Err(RbmError::invalid_argument("messageId is required."));
    }
    let digits = phone.strip_prefix('+').unwrap_or_default();
    if !(8..=15).contains(&digits.len())
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || digits.starts_with('0')
    {
        return Err(RbmError::invalid_argument(&format!(
            "Invalid phone number: '{phone}'. It must be in E.164 format, with a leading '+'."
        )));
    }
    let json_content = headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("application/json"));
    if !json_content {
        return Err(RbmError::invalid_argument(
            "Invalid JSON payload received. Content-Type must be application/json.",
        ));
    }
    let Some(body) = body.and_then(Value::as_object) else {
        return Err(RbmError::invalid_argument(
            "Invalid JSON payload received. The body must be a JSON object.",
        ));
    };
    check_agent_message(body).map_err(|message| RbmError::invalid_argument(&message))?;
    if shared.message_ids.lock().unwrap().contains(&message_id) {
        return Err(RbmError::already_exists());
    }
    let script = shared
        .options
        .rules
        .iter()
        .find(|rule| phone.starts_with(&rule.prefix))
        .map_or(&shared.options.default_script, |rule| &rule.script)
        .clone();
    let (events, delay, interval) = match script {
        RbmScript::Refuse(error) => return Err(error),
        RbmScript::Accept {
            events,
            delay,
            interval,
        } => (events, delay, interval),
    };
    shared
        .message_ids
        .lock()
        .unwrap()
        .insert(message_id.clone());
    let mut answer = Value::Object(body.clone());
    answer["name"] = json!(format!("phones/{phone}/agentMessages/{message_id}"));
    answer["sendTime"] = json!(jiff::Timestamp::now().to_string());
    if shared.webhook_url.lock().unwrap().is_some() && !events.is_empty() {
        let shared = Arc::clone(shared);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let Some(url) = shared.webhook_url.lock().unwrap().clone() else {
                return;
            };
            for (index, step) in events.iter().enumerate() {
                if index > 0 && !interval.is_zero() {
                    tokio::time::sleep(interval).await;
                }
                let event_id = format!("{}-{}", step.name(), message_id);
                let mut event = json!({
                    "eventType": step.name(),
                    "eventId": event_id,
                    "messageId": message_id,
                    "sendTime": jiff::Timestamp::now().to_string(),
                    "agentId": shared.options.agent_id,
                });
                if step.is_server_event() {
                    event["phoneNumber"] = json!(phone);
                } else {
                    event["senderPhoneNumber"] = json!(phone);
                }
                shared.post_event(RbmWebhookKind::Event, &url, &event).await;
                shared
                    .counters
                    .events_posted
                    .fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    Ok(answer)
}

/// RBM's limits.
const TEXT_LIMIT: usize = 3072;
const SUGGESTIONS_LIMIT: usize = 11;
const CARD_SUGGESTIONS_LIMIT: usize = 4;
const SUGGESTION_TEXT_LIMIT: usize = 25;
const POSTBACK_LIMIT: usize = 2048;
const TITLE_LIMIT: usize = 200;
const DESCRIPTION_LIMIT: usize = 2000;

/// Fails on a field of `object` not in `known` (Google refuses unknown names), naming `at`.
fn known_fields(object: &Map<String, Value>, known: &[&str], at: &str) -> Result<(), String> {
    match object.keys().find(|key| !known.contains(&key.as_str())) {
        Some(unknown) => Err(format!(
            "Invalid JSON payload received. Unknown name \"{unknown}\" at '{at}': Cannot find field."
        )),
        None => Ok(()),
    }
}

fn object_at<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>, String> {
    value.as_object().ok_or_else(|| {
        format!("Invalid JSON payload received. Invalid value at '{at}': expected an object.")
    })
}

fn string_at<'a>(value: &'a Value, at: &str) -> Result<&'a str, String> {
    value.as_str().ok_or_else(|| {
        format!("Invalid JSON payload received. Invalid value at '{at}': expected a string.")
    })
}

/// A required, non-empty string of at most `max` characters.
fn required_text<'a>(
    object: &'a Map<String, Value>,
    field: &str,
    at: &str,
    max: usize,
) -> Result<&'a str, String> {
    let path = format!("{at}.{field}");
    let text = match object.get(field) {
        None | Some(Value::Null) => return Err(format!("{path} is required.")),
        Some(value) => string_at(value, &path)?,
    };
    if text.trim().is_empty() {
        return Err(format!("{path} must not be empty."));
    }
    if text.chars().count() > max {
        return Err(format!(
            "{path} exceeds the maximum length of {max} characters."
        ));
    }
    Ok(text)
}

/// An optional string of at most `max` characters.
fn optional_text(
    object: &Map<String, Value>,
    field: &str,
    at: &str,
    max: usize,
) -> Result<Option<String>, String> {
    let path = format!("{at}.{field}");
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => {
            let text = string_at(value, &path)?;
            if text.chars().count() > max {
                return Err(format!(
                    "{path} exceeds the maximum length of {max} characters."
                ));
            }
            Ok(Some(text.to_owned()))
        }
    }
}

fn one_of_values(value: &str, allowed: &[&str], at: &str) -> Result<(), String> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "Invalid JSON payload received. Invalid value at '{at}' (type), \"{value}\"."
        ))
    }
}

/// Exactly one of `fields` is present in `object`; returns it.
fn exactly_one<'a>(
    object: &Map<String, Value>,
    fields: &[&'a str],
    at: &str,
) -> Result<&'a str, String> {
    let present: Vec<&str> = fields
        .iter()
        .copied()
        .filter(|field| object.get(*field).is_some_and(|v| !v.is_null()))
        .collect();
    match present.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("{at} must contain one of {}.", fields.join(", "))),
        _ => Err(format!(
            "{at} must contain exactly one of {}, not {}.",
            fields.join(", "),
            present.join(" and ")
        )),
    }
}

fn http_url(text: &str, at: &str) -> Result<(), String> {
    if text.starts_with("https://") || text.starts_with("http://") {
        Ok(())
    } else {
        Err(format!("{at} must be an http(s) URL."))
    }
}

/// RBM's checks of an `AgentMessage`.
fn check_agent_message(body: &Map<String, Value>) -> Result<(), String> {
    known_fields(
        body,
        &["contentMessage", "messageTrafficType", "ttl", "expireTime"],
        "agent_message",
    )?;
    if body.contains_key("ttl") && body.contains_key("expireTime") {
        return Err("agent_message may set ttl or expireTime, not both.".to_owned());
    }
    if let Some(ttl) = body.get("ttl") {
        let ttl = string_at(ttl, "agent_message.ttl")?;
        let seconds = ttl.strip_suffix('s').unwrap_or("x");
        if seconds
            .parse::<f64>()
            .map_or(true, |s| !s.is_finite() || s < 0.0)
        {
            return Err(format!(
                "Invalid JSON payload received. Invalid value at 'agent_message.ttl' (type.googleapis.com/google.protobuf.Duration), \"{ttl}\""
            ));
        }
    }
    if let Some(expire_time) = body.get("expireTime") {
        let expire_time = string_at(expire_time, "agent_message.expire_time")?;
        if expire_time.parse::<jiff::Timestamp>().is_err() {
            return Err(format!(
                "Invalid JSON payload received. Invalid value at 'agent_message.expire_time' (type.googleapis.com/google.protobuf.Timestamp), \"{expire_time}\""
            ));
        }
    }
    if let Some(traffic) = body.get("messageTrafficType") {
        one_of_values(
            string_at(traffic, "agent_message.message_traffic_type")?,
            &[
                "MESSAGE_TRAFFIC_TYPE_UNSPECIFIED",
                "AUTHENTICATION",
                "TRANSACTION",
                "PROMOTION",
                "SERVICEREQUEST",
                "ACKNOWLEDGEMENT",
            ],
            "agent_message.message_traffic_type",
        )?;
    }
    let content = object_at(
        body.get("contentMessage")
            .ok_or("agent_message.content_message is required.")?,
        "agent_message.content_message",
    )?;
    let at = "agent_message.content_message";
    known_fields(
        content,
        &[
            "text",
            "richCard",
            "contentInfo",
            "uploadedRbmFile",
            "suggestions",
        ],
        at,
    )?;
    match exactly_one(
        content,
        &["text", "richCard", "contentInfo", "uploadedRbmFile"],
        at,
    )? {
        "text" => {
            required_text(content, "text", at, TEXT_LIMIT)?;
        }
        "richCard" => check_rich_card(object_at(&content["richCard"], "rich_card")?)?,
        "contentInfo" => {
            check_content_info(&content["contentInfo"], &format!("{at}.content_info"))?
        }
        _ => {
            let file = object_at(&content["uploadedRbmFile"], "uploaded_rbm_file")?;
            known_fields(file, &["fileName", "thumbnailName"], "uploaded_rbm_file")?;
            required_text(file, "fileName", "uploaded_rbm_file", 1024)?;
        }
    }
    check_suggestions(content.get("suggestions"), SUGGESTIONS_LIMIT, at)
}

fn check_content_info(value: &Value, at: &str) -> Result<(), String> {
    let info = object_at(value, at)?;
    known_fields(info, &["fileUrl", "thumbnailUrl", "forceRefresh"], at)?;
    http_url(
        required_text(info, "fileUrl", at, 2048)?,
        &format!("{at}.file_url"),
    )?;
    if let Some(thumbnail) = optional_text(info, "thumbnailUrl", at, 2048)? {
        http_url(&thumbnail, &format!("{at}.thumbnail_url"))?;
    }
    if info.get("forceRefresh").is_some_and(|v| !v.is_boolean()) {
        return Err(format!("{at}.force_refresh must be a boolean."));
    }
    Ok(())
}

fn check_rich_card(card: &Map<String, Value>) -> Result<(), String> {
    known_fields(card, &["standaloneCard", "carouselCard"], "rich_card")?;
    match exactly_one(card, &["standaloneCard", "carouselCard"], "rich_card")? {
        "standaloneCard" => {
            let at = "rich_card.standalone_card";
            let standalone = object_at(&card["standaloneCard"], at)?;
            known_fields(
                standalone,
                &["cardOrientation", "thumbnailImageAlignment", "cardContent"],
                at,
            )?;
            let orientation = string_at(
                standalone
                    .get("cardOrientation")
                    .ok_or(format!("{at}.card_orientation is required."))?,
                &format!("{at}.card_orientation"),
            )?;
            one_of_values(
                orientation,
                &["VERTICAL", "HORIZONTAL"],
                &format!("{at}.card_orientation"),
            )?;
            match standalone.get("thumbnailImageAlignment") {
                Some(alignment) => one_of_values(
                    string_at(alignment, &format!("{at}.thumbnail_image_alignment"))?,
                    &["LEFT", "RIGHT"],
                    &format!("{at}.thumbnail_image_alignment"),
                )?,
                None if orientation == "HORIZONTAL" => {
                    return Err(format!(
                        "{at}.thumbnail_image_alignment is required for a HORIZONTAL card."
                    ));
                }
                None => {}
            }
            check_card_content(
                standalone
                    .get("cardContent")
                    .ok_or(format!("{at}.card_content is required."))?,
                &format!("{at}.card_content"),
            )
        }
        _ => {
            let at = "rich_card.carousel_card";
            let carousel = object_at(&card["carouselCard"], at)?;
            known_fields(carousel, &["cardWidth", "cardContents"], at)?;
            one_of_values(
                string_at(
                    carousel
                        .get("cardWidth")
                        .ok_or(format!("{at}.card_width is required."))?,
                    &format!("{at}.card_width"),
                )?,
                &["SMALL", "MEDIUM"],
                &format!("{at}.card_width"),
            )?;
            let contents = carousel
                .get("cardContents")
                .and_then(Value::as_array)
                .ok_or(format!("{at}.card_contents is required."))?;
            if !(2..=10).contains(&contents.len()) {
                return Err(format!(
                    "{at}.card_contents must have between 2 and 10 cards, not {}.",
                    contents.len()
                ));
            }
            for (index, content) in contents.iter().enumerate() {
                check_card_content(content, &format!("{at}.card_contents[{index}]"))?;
            }
            Ok(())
        }
    }
}

fn check_card_content(value: &Value, at: &str) -> Result<(), String> {
    let content = object_at(value, at)?;
    known_fields(
        content,
        &["title", "description", "media", "suggestions"],
        at,
    )?;
    let title = optional_text(content, "title", at, TITLE_LIMIT)?;
    let description = optional_text(content, "description", at, DESCRIPTION_LIMIT)?;
    if title.is_none() && description.is_none() && content.get("media").is_none() {
        return Err(format!(
            "{at} must have at least one of title, description and media."
        ));
    }
    if let Some(media) = content.get("media") {
        let media_at = format!("{at}.media");
        let media = object_at(media, &media_at)?;
        known_fields(
            media,
            &["height", "contentInfo", "fileName", "thumbnailName"],
            &media_at,
        )?;
        one_of_values(
            string_at(
                media
                    .get("height")
                    .ok_or(format!("{media_at}.height is required."))?,
                &format!("{media_at}.height"),
            )?,
            &["SHORT", "MEDIUM", "TALL"],
            &format!("{media_at}.height"),
        )?;
        match exactly_one(media, &["contentInfo", "fileName"], &media_at)? {
            "contentInfo" => {
                check_content_info(&media["contentInfo"], &format!("{media_at}.content_info"))?
            }
            _ => {
                required_text(media, "fileName", &media_at, 1024)?;
            }
        }
    }
    check_suggestions(content.get("suggestions"), CARD_SUGGESTIONS_LIMIT, at)
}

fn check_suggestions(value: Option<&Value>, limit: usize, at: &str) -> Result<(), String> {
    let Some(value) = value else {
        return Ok(());
    };
    let at = format!("{at}.suggestions");
    let suggestions = value.as_array().ok_or(format!(
        "Invalid JSON payload received. Invalid value at '{at}': expected a list."
    ))?;
    if suggestions.len() > limit {
        return Err(format!(
            "{at} has {} suggestions; at most {limit} are allowed.",
            suggestions.len()
        ));
    }
    for (index, suggestion) in suggestions.iter().enumerate() {
        let at = format!("{at}[{index}]");
        let suggestion = object_at(suggestion, &at)?;
        known_fields(suggestion, &["reply", "action"], &at)?;
        match exactly_one(suggestion, &["reply", "action"], &at)? {
            "reply" => {
                let at = format!("{at}.reply");
                let reply = object_at(&suggestion["reply"], &at)?;
                known_fields(reply, &["text", "postbackData"], &at)?;
                required_text(reply, "text", &at, SUGGESTION_TEXT_LIMIT)?;
                required_text(reply, "postbackData", &at, POSTBACK_LIMIT)?;
            }
            _ => check_action(&suggestion["action"], &format!("{at}.action"))?,
        }
    }
    Ok(())
}

fn check_action(value: &Value, at: &str) -> Result<(), String> {
    let action = object_at(value, at)?;
    const ACTIONS: &[&str] = &[
        "openUrlAction",
        "dialAction",
        "viewLocationAction",
        "createCalendarEventAction",
        "shareLocationAction",
    ];
    let mut known = vec!["text", "postbackData", "fallbackUrl"];
    known.extend_from_slice(ACTIONS);
    known_fields(action, &known, at)?;
    required_text(action, "text", at, SUGGESTION_TEXT_LIMIT)?;
    required_text(action, "postbackData", at, POSTBACK_LIMIT)?;
    if let Some(fallback) = optional_text(action, "fallbackUrl", at, 2048)? {
        http_url(&fallback, &format!("{at}.fallback_url"))?;
    }
    let kind = exactly_one(action, ACTIONS, at)?;
    let inner_at = format!("{at}.{kind}");
    let inner = object_at(&action[kind], &inner_at)?;
    match kind {
        "openUrlAction" => {
            known_fields(
                inner,
                &["url", "application", "webviewViewMode", "description"],
                &inner_at,
            )?;
            http_url(required_text(inner, "url", &inner_at, 2048)?, &inner_at)
        }
        "dialAction" => {
            known_fields(inner, &["phoneNumber"], &inner_at)?;
            let number = required_text(inner, "phoneNumber", &inner_at, 20)?;
            let digits = number.strip_prefix('+').unwrap_or_default();
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{inner_at}.phone_number must be in E.164 format."));
            }
            Ok(())
        }
        "viewLocationAction" => {
            known_fields(inner, &["latLong", "label", "query"], &inner_at)?;
            optional_text(inner, "label", &inner_at, 100)?;
            match (
                inner.get("latLong"),
                optional_text(inner, "query", &inner_at, 1000)?,
            ) {
                (Some(lat_long), _) => {
                    let lat_at = format!("{inner_at}.lat_long");
                    let lat_long = object_at(lat_long, &lat_at)?;
                    known_fields(lat_long, &["latitude", "longitude"], &lat_at)?;
                    let degrees = |field: &str, bound: f64| {
                        lat_long
                            .get(field)
                            .and_then(Value::as_f64)
                            .filter(|d| d.abs() <= bound)
                            .ok_or(format!(
                                "{lat_at}.{field} must be a number within ±{bound}."
                            ))
                    };
                    degrees("latitude", 90.0)?;
                    degrees("longitude", 180.0)?;
                    Ok(())
                }
                (None, Some(_)) => Ok(()),
                (None, None) => Err(format!("{inner_at} needs lat_long or query.")),
            }
        }
        "createCalendarEventAction" => {
            known_fields(
                inner,
                &["startTime", "endTime", "title", "description"],
                &inner_at,
            )?;
            let start = required_text(inner, "startTime", &inner_at, 64)?;
            let end = required_text(inner, "endTime", &inner_at, 64)?;
            required_text(inner, "title", &inner_at, 100)?;
            optional_text(inner, "description", &inner_at, 500)?;
            let (Ok(start), Ok(end)) = (
                start.parse::<jiff::Timestamp>(),
                end.parse::<jiff::Timestamp>(),
            ) else {
                return Err(format!(
                    "{inner_at} start_time and end_time must be RFC 3339 timestamps."
                ));
            };
            if end < start {
                return Err(format!("{inner_at}.end_time is before start_time."));
            }
            Ok(())
        }
        _ => known_fields(inner, &[], &inner_at),
    }
}
