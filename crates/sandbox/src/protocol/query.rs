//! The Query protocol (STS, ELBv2): form-encoded parameters in, XML out.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::AwsError;

pub type Params = BTreeMap<String, String>;

pub fn parse_form(body: &[u8]) -> Params {
    form_urlencoded::parse(body).into_owned().collect()
}

/// `Prefix.member.1`, `Prefix.member.2`, ... as a list (Query's encoding of lists).
pub fn list(params: &Params, prefix: &str) -> Vec<String> {
    (1..).map_while(|i| params.get(&format!("{prefix}.member.{i}")).cloned()).collect()
}

/// Escapes text for an XML element body or attribute.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// `<name>text</name>` with the text escaped.
pub fn el(name: &str, text: &str) -> String {
    format!("<{name}>{}</{name}>", esc(text))
}

pub fn respond_ok(xml: &str) -> Response {
    let mut response = (StatusCode::OK, xml.to_owned()).into_response();
    response.headers_mut().insert("content-type", HeaderValue::from_static("text/xml"));
    response
}

pub fn respond_error(e: &AwsError) -> Response {
    let kind = if e.status >= 500 { "Receiver" } else { "Sender" };
    let xml = format!(
        "<ErrorResponse><Error><Type>{kind}</Type>{}{}</Error><RequestId>{}</RequestId></ErrorResponse>",
        el("Code", &e.code),
        el("Message", &e.message),
        uuid::Uuid::new_v4()
    );
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, xml).into_response();
    response.headers_mut().insert("content-type", HeaderValue::from_static("text/xml"));
    response
}
