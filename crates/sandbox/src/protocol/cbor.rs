//! RPCv2-CBOR (CloudWatch as the current Rust SDK speaks it, REFERENCE 4.5).
//!
//! Handlers work on `serde_json::Value`, so this module only translates: CBOR in -> JSON, JSON -> CBOR out.
//! CBOR carries types JSON lacks, and the SDK's decoder is strict about them (`decoder.double()` rejects an
//! integer, `decoder.timestamp()` wants tag 1), so the encoder restores them from the member names:
//! timestamps (tag 1, epoch seconds) and doubles are recognised by name, every other number keeps its JSON type.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use ciborium::Value as Cbor;
use serde_json::{Map, Number, Value};

use crate::{AwsError, AwsResult};

/// CloudWatch's service name in the CBOR path and its awsJson `X-Amz-Target` prefix.
pub const TARGET_PREFIX: &str = "GraniteServiceVersion20100801";

/// `POST /service/GraniteServiceVersion20100801/operation/<Op>`.
pub const PATH_PREFIX: &str = "/service/GraniteServiceVersion20100801/operation/";

/// CBOR tag 1: epoch-based date/time (RFC 8949 3.4.2), how Smithy sends timestamps.
const TAG_EPOCH: u64 = 1;

/// Members the CloudWatch model types as `double`: always sent as CBOR floats, even when whole.
const DOUBLE_MEMBERS: &[&str] = &[
    "Threshold",
    "Value",
    "Values",
    "Counts",
    "Sum",
    "Average",
    "Minimum",
    "Maximum",
    "SampleCount",
    "ExtendedStatistics",
    "AggregateValue",
    "ApproximateAggregateValue",
    "ApproximateValue",
    "MaxContributorValue",
    "UniqueContributors",
];

/// Decodes a request body into JSON; an empty body is an empty input.
pub fn decode_request(body: &[u8]) -> AwsResult<Value> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    // The SDK gzips bodies over 10 KiB (`requestCompression` on PutMetricData). The gzip magic 1f 8b cannot
    // start a CBOR item (0x1f is a reserved initial byte), so the body itself tells which it is.
    if body.starts_with(&[0x1f, 0x8b]) {
        let mut inflated = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(body), &mut inflated)
            .map_err(|e| AwsError::client("SerializationException", format!("malformed gzip body: {e}")))?;
        return decode_request(&inflated);
    }
    let value: Cbor = ciborium::de::from_reader(body)
        .map_err(|e| AwsError::client("SerializationException", format!("malformed CBOR body: {e}")))?;
    let json = to_json(value)?;
    if !json.is_object() {
        return Err(AwsError::client("SerializationException", "the CBOR body must be a map"));
    }
    Ok(json)
}

fn to_json(value: Cbor) -> AwsResult<Value> {
    Ok(match value {
        Cbor::Null => Value::Null,
        Cbor::Bool(b) => Value::Bool(b),
        Cbor::Integer(i) => {
            let i = i128::from(i);
            if let Ok(n) = i64::try_from(i) {
                Value::from(n)
            } else if let Ok(n) = u64::try_from(i) {
                Value::from(n)
            } else {
                Value::from(i as f64)
            }
        }
        Cbor::Float(f) => Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null),
        Cbor::Text(s) => Value::String(s),
        // Blobs travel as base64 text in the JSON the handlers see, as in awsJson.
        Cbor::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Cbor::Array(items) => Value::Array(items.into_iter().map(to_json).collect::<AwsResult<_>>()?),
        Cbor::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let Cbor::Text(key) = k else {
                    return Err(AwsError::client("SerializationException", "CBOR map keys must be text"));
                };
                map.insert(key, to_json(v)?);
            }
            Value::Object(map)
        }
        // Timestamps become epoch seconds, the same shape awsJson handlers receive.
        Cbor::Tag(TAG_EPOCH, inner) => match *inner {
            Cbor::Integer(i) => Value::from(i128::from(i) as f64),
            Cbor::Float(f) => Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null),
            _ => return Err(AwsError::client("SerializationException", "tag 1 must wrap a number")),
        },
        Cbor::Tag(_, inner) => to_json(*inner)?,
        _ => Value::Null,
    })
}

/// How a member's value must be typed on the wire, decided by its name.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Plain,
    Timestamp,
    Double,
}

fn kind_of(member: &str) -> Kind {
    if member.ends_with("Timestamp")
        || member.ends_with("Timestamps")
        || matches!(member, "LastModified" | "CreatedAt" | "UpdatedAt")
    {
        Kind::Timestamp
    } else if DOUBLE_MEMBERS.contains(&member) {
        Kind::Double
    } else {
        Kind::Plain
    }
}

fn to_cbor(value: &Value, kind: Kind) -> Cbor {
    match value {
        Value::Null => Cbor::Null,
        Value::Bool(b) => Cbor::Bool(*b),
        Value::Number(n) => {
            let as_float = n.as_f64().unwrap_or(0.0);
            match kind {
                Kind::Timestamp => Cbor::Tag(TAG_EPOCH, Box::new(Cbor::Float(as_float))),
                Kind::Double => Cbor::Float(as_float),
                Kind::Plain => {
                    if let Some(i) = n.as_i64() {
                        Cbor::Integer(i.into())
                    } else if let Some(u) = n.as_u64() {
                        Cbor::Integer(u.into())
                    } else {
                        Cbor::Float(as_float)
                    }
                }
            }
        }
        Value::String(s) => Cbor::Text(s.clone()),
        // A list inherits its member's kind (`Timestamps`, `Values`).
        Value::Array(items) => Cbor::Array(items.iter().map(|v| to_cbor(v, kind)).collect()),
        Value::Object(map) => Cbor::Map(
            map.iter()
                .map(|(k, v)| {
                    // A map of doubles (`ExtendedStatistics`) keeps the kind for its values; a structure's
                    // members are typed by their own names.
                    let member_kind = if kind == Kind::Double { Kind::Double } else { kind_of(k) };
                    (Cbor::Text(k.clone()), to_cbor(v, member_kind))
                })
                .collect(),
        ),
    }
}

/// Encodes a JSON output (or error envelope) as CBOR bytes.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail; an empty map is the fallback all the same.
    if ciborium::ser::into_writer(&to_cbor(value, Kind::Plain), &mut out).is_err() {
        out = vec![0xa0];
    }
    out
}

pub fn respond(result: AwsResult<Value>) -> Response {
    match result {
        Ok(value) => {
            // An operation without output members answers with an empty map, never an empty body.
            let value = if value.is_null() { Value::Object(Map::new()) } else { value };
            with_headers((StatusCode::OK, encode(&value)).into_response())
        }
        Err(e) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            let body = serde_json::json!({ "__type": e.code, "message": e.message });
            let mut response = with_headers((status, encode(&body)).into_response());
            // CloudWatch is awsQueryCompatible: the SDK takes the error code from this header when present.
            super::insert_query_error(response.headers_mut(), &e);
            response
        }
    }
}

fn with_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    headers.insert("content-type", HeaderValue::from_static("application/cbor"));
    headers.insert(
        "x-amzn-requestid",
        HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).unwrap_or(HeaderValue::from_static("sandbox")),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_and_doubles_are_typed_by_member_name() {
        let out = json!({"MetricAlarms": [{"Threshold": 5, "Period": 60, "StateUpdatedTimestamp": 1700000000.5}]});
        let cbor: Cbor = ciborium::de::from_reader(encode(&out).as_slice()).expect("valid cbor");
        let alarm = &cbor.as_map().expect("map")[0].1.as_array().expect("list")[0];
        let field = |name: &str| {
            alarm.as_map().expect("map").iter().find(|(k, _)| k.as_text() == Some(name)).map(|(_, v)| v.clone())
        };
        assert_eq!(field("Threshold"), Some(Cbor::Float(5.0)));
        assert_eq!(field("Period"), Some(Cbor::Integer(60.into())));
        assert_eq!(field("StateUpdatedTimestamp"), Some(Cbor::Tag(1, Box::new(Cbor::Float(1700000000.5)))));
    }

    #[test]
    fn a_tagged_timestamp_decodes_to_epoch_seconds() {
        let mut body = Vec::new();
        let input = Cbor::Map(vec![(Cbor::Text("Timestamp".into()), Cbor::Tag(1, Box::new(Cbor::Integer(10.into()))))]);
        ciborium::ser::into_writer(&input, &mut body).expect("encode");
        assert_eq!(decode_request(&body).expect("decodes"), json!({"Timestamp": 10.0}));
        assert!(decode_request(&[0xff, 0x00]).is_err());
        assert_eq!(decode_request(&[]).expect("empty"), json!({}));
    }
}
