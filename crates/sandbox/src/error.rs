//! The one error type every emulated API returns; each protocol renders it in its own wire shape.

use std::fmt;

/// An AWS-style error: HTTP status, the error code the SDK matches on (`ThrottlingException`,
/// `ImageTagAlreadyExistsException`, ...) and a human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl AwsError {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status, code: code.into(), message: message.into() }
    }

    /// A 400 client error with the given code, the most common shape.
    pub fn client(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    /// `InvalidParameterException`, used by ECR, ECS and friends for validation failures.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::client("InvalidParameterException", message)
    }

    /// A request for an operation the sandbox does not emulate: never a silent success.
    pub fn not_implemented(service: &str, operation: &str) -> Self {
        Self::new(
            501,
            "NotImplemented",
            format!("pipeline-sandbox does not emulate {service}:{operation} (see crates/sandbox/README.md)"),
        )
    }

    pub fn throttling(service: &str) -> Self {
        // ECS/ECR/CodeDeploy say ThrottlingException; CloudWatch and the Query services say Throttling.
        let code = match service {
            "cloudwatch" | "sts" | "elbv2" => "Throttling",
            _ => "ThrottlingException",
        };
        // EventBridge Scheduler models its ThrottlingException with HTTP 429 (REFERENCE A1).
        let status = if service == "scheduler" { 429 } else { 400 };
        Self::new(status, code, "Rate exceeded")
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalFailure", message)
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for AwsError {}

pub type AwsResult<T> = Result<T, AwsError>;
