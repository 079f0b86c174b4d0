//! The simulator's HTTP control API: `POST /mo` injects an MO (deliver_sm, esm_class 0, split
//! into UDH-concatenated parts when long), `POST /throttle` answers ESME_RTHROTTLED to
//! submissions for a while, `POST /disconnect` drops every session, `GET /stats` counts.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tern_proto::smpp::{Pdu, SubmitSm, Tlvs};
use tern_proto::sms::{self, EncodedText, SmsEncoding};

use super::Sim;

pub(super) fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/mo", post(mo))
        .route("/throttle", post(throttle))
        .route("/disconnect", post(disconnect))
        .route("/stats", get(stats))
        .with_state(sim)
}

fn error(status: StatusCode, message: &str) -> (StatusCode, Json<Value>) {
    (status, Json(json!({ "error": message })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MoRequest {
    from: String,
    to: String,
    text: String,
    /// "gsm" or "ucs2"; GSM when every character has a GSM form, else UCS2, when absent.
    #[serde(default)]
    encoding: Option<String>,
    /// Concatenate a long text with SAR TLVs instead of a user data header.
    #[serde(default)]
    sar: bool,
    /// Send the parts last first (a handset or network that reorders them).
    #[serde(default)]
    reverse: bool,
}

/// TON/NPI for an address: international E.164 for digits, alphanumeric otherwise.
fn ton_npi(address: &str) -> (u8, u8) {
    let digits = address.strip_prefix('+').unwrap_or(address);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        (1, 1)
    } else {
        (5, 0)
    }
}

/// The deliver_sm parts of an MO.
fn mo_parts(sim: &Sim, request: &MoRequest) -> Result<Vec<Pdu>, (StatusCode, Json<Value>)> {
    let encoding = match request.encoding.as_deref() {
        None => {
            if sms::gsm7::is_gsm_text(&request.text) {
                SmsEncoding::Gsm7
            } else {
                SmsEncoding::Ucs2
            }
        }
        Some(e) if e.eq_ignore_ascii_case("gsm") => SmsEncoding::Gsm7,
        Some(e) if e.eq_ignore_ascii_case("ucs2") => SmsEncoding::Ucs2,
        Some(_) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "encoding is \"gsm\" or \"ucs2\"",
            ));
        }
    };
    let encoded = EncodedText::encode(&request.text, encoding)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &e.to_string()))?;
    let reference = sim.next_concat_reference.fetch_add(1, Ordering::Relaxed);
    let parts = sms::try_split(&encoded, reference)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &e.to_string()))?;
    let (source_ton, source_npi) = ton_npi(&request.from);
    let (dest_ton, dest_npi) = ton_npi(&request.to);
    let mut pdus: Vec<Pdu> = parts
        .iter()
        .map(|part| {
            let (esm_class, short_message, tlvs) = match part.sar {
                Some(sar) if request.sar => (
                    0,
                    part.payload.clone(),
                    Tlvs {
                        sar_msg_ref_num: Some(sar.reference),
                        sar_total_segments: Some(sar.total),
                        sar_segment_seqnum: Some(sar.sequence),
                        ..Tlvs::default()
                    },
                ),
                _ => (
                    if part.udh.is_empty() { 0 } else { 0x40 },
                    part.short_message(),
                    Tlvs::default(),
                ),
            };
            Pdu::DeliverSm(Box::new(SubmitSm {
                source_addr_ton: source_ton,
                source_addr_npi: source_npi,
                source_addr: request.from.clone(),
                dest_addr_ton: dest_ton,
                dest_addr_npi: dest_npi,
                destination_addr: request.to.clone(),
                esm_class,
                data_coding: encoding.data_coding(),
                short_message,
                tlvs,
                ..SubmitSm::default()
            }))
        })
        .collect();
    if request.reverse {
        pdus.reverse();
    }
    Ok(pdus)
}

async fn mo(
    State(sim): State<Arc<Sim>>,
    Json(request): Json<MoRequest>,
) -> (StatusCode, Json<Value>) {
    let parts = match mo_parts(&sim, &request) {
        Ok(parts) => parts,
        Err(refused) => return refused,
    };
    let count = parts.len();
    if sim.send_mo(parts) {
        (StatusCode::OK, Json(json!({ "parts": count })))
    } else {
        error(
            StatusCode::CONFLICT,
            "no receiver or transceiver session is bound",
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThrottleRequest {
    seconds: f64,
}

async fn throttle(
    State(sim): State<Arc<Sim>>,
    Json(request): Json<ThrottleRequest>,
) -> (StatusCode, Json<Value>) {
    match Duration::try_from_secs_f64(request.seconds) {
        Ok(duration) => {
            sim.throttle_for(duration);
            (StatusCode::OK, Json(json!({ "seconds": request.seconds })))
        }
        Err(_) => error(StatusCode::BAD_REQUEST, "seconds is a non-negative number"),
    }
}

async fn disconnect(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let bound = sim.peers().len();
    sim.disconnect.send_modify(|generation| *generation += 1);
    Json(json!({ "bound_sessions": bound }))
}

async fn stats(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let stats = &sim.stats;
    Json(json!({
        "binds": stats.binds.load(Ordering::Relaxed),
        "submits": stats.submits.load(Ordering::Relaxed),
        "receipts": stats.receipts.load(Ordering::Relaxed),
        "mo": stats.mo.load(Ordering::Relaxed),
    }))
}
