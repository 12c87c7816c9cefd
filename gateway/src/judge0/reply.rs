//! Judge0's answer shapes: `{"error": "..."}` for a refused request, `{"field": ["why"]}`
//! (422) for a submission that fails validation, `{"error": "not found"}` (404), and a 401
//! without a body when the token is missing — so clients that parse Judge0's errors parse
//! ours. Kennel's own refusals (`ApiError`) are put into these shapes here.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::error::ApiError;

/// `{"error": message}` with `status`.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

pub fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

/// A submission's validation errors, by field, as Judge0 answers them (422).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(pub BTreeMap<&'static str, Vec<String>>);

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.entry(field).or_default().push(message.into());
    }

    pub fn one(field: &'static str, message: impl Into<String>) -> FieldErrors {
        let mut e = FieldErrors::default();
        e.add(field, message);
        e
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!(self.0)
    }
}

/// Why a Judge0 submission was not taken.
#[derive(Debug)]
pub enum Refusal {
    /// 422, by field.
    Fields(FieldErrors),
    /// Any other status with `{"error": ...}` (400, 413, 503…), with a Retry-After maybe.
    Error {
        status: StatusCode,
        message: String,
        retry_after: Option<u64>,
    },
}

impl Refusal {
    /// `{"error": message}` with `status`.
    pub fn with(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal::Error {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Refusal {
        Refusal::Error {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The JSON it answers in a batch's place.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Refusal::Fields(f) => f.to_json(),
            Refusal::Error { message, .. } => json!({ "error": message }),
        }
    }
}

impl From<FieldErrors> for Refusal {
    fn from(f: FieldErrors) -> Refusal {
        Refusal::Fields(f)
    }
}

/// Kennel's refusal in Judge0's shape: a 422 names the field it is about.
impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Refusal {
        if e.status == StatusCode::UNPROCESSABLE_ENTITY {
            return Refusal::Fields(FieldErrors::one(field_of(&e.message), e.message));
        }
        Refusal::Error {
            status: e.status,
            message: e.message,
            retry_after: e.retry_after,
        }
    }
}

/// The Judge0 field a Kennel message is about.
fn field_of(message: &str) -> &'static str {
    const WORDS: [(&str, &str); 7] = [
        ("wall", "wall_time_limit"),
        ("time limit", "cpu_time_limit"),
        ("memory", "memory_limit"),
        ("option", "compiler_options"),
        ("argument", "command_line_arguments"),
        ("file", "additional_files"),
        ("test", "number_of_runs"),
    ];
    let m = message.to_ascii_lowercase();
    WORDS
        .iter()
        .find(|(w, _)| m.contains(w))
        .map_or("source_code", |(_, f)| f)
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Fields(f) => {
                (StatusCode::UNPROCESSABLE_ENTITY, Json(f.to_json())).into_response()
            }
            Refusal::Error {
                status,
                message,
                retry_after,
            } => crate::error::with_retry_after(error(status, message), retry_after),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kennel_refusals_name_the_judge0_field() {
        let r: Refusal = ApiError::unprocessable("over_limit", "wall limit 99 ms is over").into();
        assert_eq!(
            r.to_json(),
            json!({"wall_time_limit": ["wall limit 99 ms is over"]})
        );
        let r: Refusal = ApiError::unprocessable("x", "compile option -B is refused").into();
        assert_eq!(
            r.to_json()["compiler_options"][0],
            "compile option -B is refused"
        );
        let r: Refusal = ApiError::no_capacity("full", 1).into();
        assert!(matches!(
            r,
            Refusal::Error {
                status: StatusCode::SERVICE_UNAVAILABLE,
                retry_after: Some(1),
                ..
            }
        ));
    }
}
