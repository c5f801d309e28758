//! The test listener's URL through ELBv2: the listener's protocol and port, its load balancer's DNS name
//! (DescribeListeners, DescribeLoadBalancers). Read-only, done while planning.

use aws_sdk_elasticloadbalancingv2::Client;

use crate::Error;

/// `http(s)://<DNS name>:<port>` of the listener.
pub async fn url(elbv2: &Client, listener_arn: &str) -> Result<String, Error> {
    let out = elbv2
        .describe_listeners()
        .listener_arns(listener_arn)
        .send()
        .await
        .map_err(|e| Error::aws("DescribeListeners", listener_arn, e))?;
    let Some(listener) = out.listeners().first() else {
        return Err(Error::JobSetup {
            message: format!("the test listener {listener_arn} does not exist"),
            help: "check the listeners of the deployment's load balancer".into(),
        });
    };
    let port = listener.port().unwrap_or(80);
    let scheme = match listener.protocol().map(|p| p.as_str()) {
        Some("HTTPS") => "https",
        _ => "http",
    };
    let lb = listener.load_balancer_arn().unwrap_or_default();
    let out = elbv2
        .describe_load_balancers()
        .load_balancer_arns(lb)
        .send()
        .await
        .map_err(|e| Error::aws("DescribeLoadBalancers", lb, e))?;
    let dns = out.load_balancers().first().and_then(|l| l.dns_name()).unwrap_or_default();
    Ok(format!("{scheme}://{dns}:{port}"))
}
