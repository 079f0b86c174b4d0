//! Google's OAuth2 service-account grant on the wire, shared by every Google API Tern calls (RBM,
//! FCM HTTP v1): the service-account key file ([`ServiceAccount`]), the signed JWT assertion
//! exchanged at its `token_uri` ([`SigningKey::assertion`]: RS256 over
//! `{"alg":"RS256","typ":"JWT","kid"}` and `{iss, scope, aud, iat, exp}`), the form body of that
//! exchange ([`token_request_body`]), and what the token endpoint answers ([`TokenResponse`],
//! [`OAuthError`]). Pure apart from the random blinding ring uses when signing; fetching,
//! caching and refreshing the token is the edges' business.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The grant type of the exchange.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How long an assertion is valid (Google's maximum): `exp = iat + 3600`.
pub const ASSERTION_LIFETIME_SECS: i64 = 3600;

/// Google's token endpoint, the usual `token_uri` of a key file.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// The scope of FCM HTTP v1 (RBM's is `rbm::SCOPE`).
pub const FIREBASE_MESSAGING_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

/// Why a key file or its key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceAccountError {
    #[error("the service-account file is not JSON: {0}")]
    NotJson(String),
    #[error("the service-account file has no {0}")]
    Missing(&'static str),
    #[error("the service-account file is of type '{0}', not service_account")]
    WrongType(String),
    #[error("the service account's private_key is not a PEM PKCS#8 key")]
    NotPkcs8Pem,
    #[error("the service account's private_key is not an RSA key ring accepts: {0}")]
    BadKey(String),
}

/// A service-account key file (`type`, `project_id`, `private_key_id`, `private_key`,
/// `client_email`, `token_uri`; the other fields are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccount {
    /// `service_account`.
    #[serde(rename = "type", default)]
    pub account_type: String,
    #[serde(default)]
    pub project_id: String,
    /// The `kid` of the assertion's header.
    #[serde(default)]
    pub private_key_id: String,
    /// PEM, `-----BEGIN PRIVATE KEY-----` (PKCS#8).
    #[serde(default)]
    pub private_key: String,
    /// The assertion's `iss`.
    #[serde(default)]
    pub client_email: String,
    /// Where the assertion is exchanged, and its `aud`.
    #[serde(default)]
    pub token_uri: String,
}

impl ServiceAccount {
    /// Read a key file: it must be a `service_account` (or not say) and have a private key, a
    /// client email and a token URI.
    pub fn parse(json: &[u8]) -> Result<ServiceAccount, ServiceAccountError> {
        let account: ServiceAccount = serde_json::from_slice(json)
            .map_err(|error| ServiceAccountError::NotJson(error.to_string()))?;
        if !account.account_type.is_empty() && account.account_type != "service_account" {
            return Err(ServiceAccountError::WrongType(account.account_type));
        }
        for (field, value) in [
            ("private_key", &account.private_key),
            ("client_email", &account.client_email),
            ("token_uri", &account.token_uri),
        ] {
            if value.trim().is_empty() {
                return Err(ServiceAccountError::Missing(field));
            }
        }
        Ok(account)
    }

    /// Its key, ready to sign assertions.
    pub fn signing_key(&self) -> Result<SigningKey, ServiceAccountError> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(self.private_key.as_bytes())
            .map_err(|_| ServiceAccountError::NotPkcs8Pem)?;
        let key_pair = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
            .map_err(|error| ServiceAccountError::BadKey(error.to_string()))?;
        Ok(SigningKey {
            key_pair,
            key_id: self.private_key_id.clone(),
            client_email: self.client_email.clone(),
            token_uri: self.token_uri.clone(),
        })
    }
}

/// A service account's parsed key with what goes in its assertions.
#[derive(Debug)]
pub struct SigningKey {
    key_pair: RsaKeyPair,
    key_id: String,
    client_email: String,
    token_uri: String,
}

/// The assertion's header.
#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    kid: &'a str,
}

/// The assertion's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub scope: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

impl SigningKey {
    /// The token URI the assertion is for (its `aud`).
    pub fn token_uri(&self) -> &str {
        &self.token_uri
    }

    /// The claims of an assertion for `scope` (space-separated scopes) issued at `iat` (epoch
    /// seconds).
    pub fn claims(&self, scope: &str, iat: i64) -> Claims {
        Claims {
            iss: self.client_email.clone(),
            scope: scope.to_owned(),
            aud: self.token_uri.clone(),
            iat,
            exp: iat + ASSERTION_LIFETIME_SECS,
        }
    }

    /// The signed JWT (`header.claims.signature`, each base64url without padding) for `scope`,
    /// issued at `iat`.
    pub fn assertion(&self, scope: &str, iat: i64) -> String {
        let header = Header {
            alg: "RS256",
            typ: "JWT",
            kid: &self.key_id,
        };
        let mut jwt = String::new();
        jwt.push_str(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("serialises")));
        jwt.push('.');
        jwt.push_str(
            &URL_SAFE_NO_PAD
                .encode(serde_json::to_vec(&self.claims(scope, iat)).expect("serialises")),
        );
        let mut signature = vec![0; self.key_pair.public().modulus_len()];
        self.key_pair
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                jwt.as_bytes(),
                &mut signature,
            )
            .expect("RSA signing with a valid key and a buffer of the modulus' length");
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(&signature));
        jwt
    }
}

/// The form body (`application/x-www-form-urlencoded`) of the exchange.
pub fn token_request_body(assertion: &str) -> String {
    format!(
        "grant_type={}&assertion={}",
        crate::rbm::send::percent_encode(GRANT_TYPE),
        crate::rbm::send::percent_encode(assertion)
    )
}

/// The token endpoint's 200 answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// Seconds from now (a number, or its text).
    #[serde(deserialize_with = "seconds")]
    pub expires_in: u64,
    /// `Bearer`.
    #[serde(default)]
    pub token_type: String,
}

impl TokenResponse {
    /// Read a 200 body; `None` when it is not one (or has an empty token).
    pub fn parse(body: &[u8]) -> Option<TokenResponse> {
        serde_json::from_slice::<TokenResponse>(body)
            .ok()
            .filter(|response| !response.access_token.is_empty())
    }
}

/// The token endpoint's error answer (400 / 401): `invalid_grant`, `invalid_scope`,
/// `unauthorized_client`, …
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthError {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

impl OAuthError {
    /// Read an error body; `None` when it is not one.
    pub fn parse(body: &[u8]) -> Option<OAuthError> {
        serde_json::from_slice(body).ok()
    }
}

fn seconds<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Number(number) => number
            .as_u64()
            .ok_or_else(|| serde::de::Error::custom("expected whole seconds")),
        Value::String(text) => text
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom("expected whole seconds")),
        _ => Err(serde::de::Error::custom("expected whole seconds")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    /// A throwaway 2048-bit key (tests only; tern-testkit has the one stand-ins check).
    const TEST_KEY: &str = include_str!("../testdata/google_test_key.pem");
    const TEST_PUBLIC_KEY_DER: &[u8] = include_bytes!("../testdata/google_test_key.pub.der");

    fn account() -> ServiceAccount {
        ServiceAccount::parse(
            serde_json::json!({
                "type": "service_account",
                "project_id": "acme",
                "private_key_id": "kid-1",
                "private_key": TEST_KEY,
                "client_email": "rbm@acme.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "http://127.0.0.1:1/token",
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn assertions_are_rs256_jwts_with_googles_claims() {
        let key = account().signing_key().unwrap();
        let jwt = key.assertion(
            "https://www.googleapis.com/auth/rcsbusinessmessaging",
            1_700_000_000,
        );
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg":"RS256","typ":"JWT","kid":"kid-1"})
        );
        let claims: Claims =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(
            claims,
            Claims {
                iss: "rbm@acme.iam.gserviceaccount.com".into(),
                scope: "https://www.googleapis.com/auth/rcsbusinessmessaging".into(),
                aud: "http://127.0.0.1:1/token".into(),
                iat: 1_700_000_000,
                exp: 1_700_003_600,
            }
        );
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        assert_eq!(signature.len(), 256);
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            TEST_PUBLIC_KEY_DER,
        );
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(public.verify(signed.as_bytes(), &signature).is_ok());
        assert!(public.verify(b"something else", &signature).is_err());
    }

    #[test]
    fn bad_key_files_are_refused_with_a_reason() {
        assert!(matches!(
            ServiceAccount::parse(b"{"),
            Err(ServiceAccountError::NotJson(_))
        ));
        assert_eq!(
            ServiceAccount::parse(br#"{"type":"authorized_user","private_key":"k","client_email":"e","token_uri":"u"}"#),
            Err(ServiceAccountError::WrongType("authorized_user".into()))
        );
        assert_eq!(
            ServiceAccount::parse(br#"{"private_key":"k","token_uri":"u"}"#),
            Err(ServiceAccountError::Missing("client_email"))
        );
        let mut account = account();
        account.private_key =
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into();
        assert!(matches!(
            account.signing_key(),
            Err(ServiceAccountError::BadKey(_))
        ));
        account.private_key = "not pem".into();
        assert_eq!(
            account.signing_key().unwrap_err(),
            ServiceAccountError::NotPkcs8Pem
        );
    }

    #[test]
    fn the_exchange_is_form_encoded_and_its_answers_parse() {
        assert_eq!(
            token_request_body("aa.bb.c-_"),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=aa.bb.c-_"
        );
        assert_eq!(
            TokenResponse::parse(
                br#"{"access_token":"ya29.x","expires_in":3599,"token_type":"Bearer"}"#
            ),
            Some(TokenResponse {
                access_token: "ya29.x".into(),
                expires_in: 3599,
                token_type: "Bearer".into()
            })
        );
        assert_eq!(
            TokenResponse::parse(br#"{"access_token":"t","expires_in":"60"}"#)
                .map(|t| t.expires_in),
            Some(60)
        );
        assert_eq!(
            TokenResponse::parse(br#"{"access_token":"","expires_in":1}"#),
            None
        );
        assert_eq!(
            TokenResponse::parse(br#"{"access_token":"t","expires_in":-1}"#),
            None
        );
        assert_eq!(
            OAuthError::parse(
                br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#
            ),
            Some(OAuthError {
                error: "invalid_grant".into(),
                error_description: Some("Invalid JWT Signature.".into())
            })
        );
    }
}
