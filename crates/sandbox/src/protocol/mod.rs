//! Wire protocols: awsJson1.1 (ECR, ECS, CodeDeploy), RPCv2-CBOR (CloudWatch), Query/XML (STS, ELBv2).

pub mod cbor;
pub mod json;
pub mod query;
