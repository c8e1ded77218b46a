//! The one way to get an EC2 client: [`ec2`] builds it from the standard credentials chain (or a
//! role to assume), with adaptive retries, rustls, the target's endpoint override, and
//! [`super::guard::ReadOnlyInterceptor`] in place; [`ReadOnlyEc2`] wraps it so that only the read
//! operations gitdrift uses can even be named: each type's file in [`super::types`] declares its
//! own with `reads!`, and nothing outside `live::aws` reaches the client.

use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::operation::describe_regions::builders::DescribeRegionsFluentBuilder;
use aws_smithy_http_client::tls;
use aws_types::region::Region;

use super::guard::ReadOnlyInterceptor;
use crate::config::AwsSettings;
use crate::live::Recorder;

/// An EC2 client that can only read. The inner client is private: `describe_regions` and the
/// methods each type's `reads!` declares are all there is.
#[derive(Clone, Debug)]
pub struct ReadOnlyEc2 {
    inner: Client,
    region: String,
    page_size: i32,
}

impl ReadOnlyEc2 {
    /// The region this client reads.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Items per page, clamped to what an operation accepts.
    pub fn page_size(&self, max: i32) -> i32 {
        self.page_size.clamp(5, max)
    }

    /// `DescribeRegions`.
    pub fn describe_regions(&self) -> DescribeRegionsFluentBuilder {
        self.inner.describe_regions()
    }

    /// The SDK client, for the `reads!` of each type's file (and nothing else: the methods
    /// those declare are the only reads there are).
    pub(in crate::live::aws) fn sdk(&self) -> &Client {
        &self.inner
    }
}

/// Builds the read-only EC2 client of a target for a region; its guard counts requests in
/// `recorder`.
pub async fn ec2(
    settings: &AwsSettings,
    region: &str,
    recorder: &Arc<dyn Recorder>,
) -> ReadOnlyEc2 {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .http_client(http)
        .retry_config(RetryConfig::adaptive().with_max_attempts(settings.max_attempts))
        // Without these, an endpoint that accepts connections and never answers holds the
        // scan forever: only connecting has a default timeout.
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_millis(3100))
                .operation_attempt_timeout(settings.attempt_timeout)
                .operation_timeout(settings.operation_timeout)
                .build(),
        );
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let shared = loader.load().await;
    let mut builder = aws_sdk_ec2::config::Builder::from(&shared);
    if let Some(role) = &settings.role_arn {
        let mut assume = aws_config::sts::AssumeRoleProvider::builder(role)
            .session_name("gitdrift")
            .configure(&shared);
        if let Some(id) = &settings.external_id {
            assume = assume.external_id(id);
        }
        builder = builder.credentials_provider(assume.build().await);
    }
    let config = builder
        .interceptor(ReadOnlyInterceptor {
            target: settings.target.clone(),
            recorder: Arc::clone(recorder),
        })
        .build();
    ReadOnlyEc2 {
        inner: Client::from_conf(config),
        region: region.to_string(),
        page_size: settings.page_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_mutating_call_is_refused_before_it_reaches_the_network() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let settings = AwsSettings {
            regions: vec!["eu-west-1".into()],
            endpoint_url: Some(format!("http://127.0.0.1:{port}")),
            max_attempts: 1,
            target: "guard-test-aws".into(),
            ..AwsSettings::default()
        };
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let recorder: Arc<dyn Recorder> = metrics.clone();
        let ec2 = ec2(&settings, "eu-west-1", &recorder).await;
        #[allow(clippy::disallowed_methods)] // proving the guard refuses what clippy bans
        let result = ec2
            .inner
            .run_instances()
            .image_id("ami-12345678")
            .min_count(1)
            .max_count(1)
            .send()
            .await;
        let err = result.unwrap_err();
        assert!(
            matches!(err, aws_sdk_ec2::error::SdkError::ConstructionFailure(_)),
            "{err:?}"
        );
        let message = crate::model::redact::error_chain(&err);
        assert!(
            message.contains("gitdrift is read-only: refused EC2 RunInstances before sending it"),
            "{message}"
        );
        #[allow(clippy::disallowed_methods)]
        let secret = ec2
            .inner
            .get_password_data()
            .instance_id("i-1")
            .send()
            .await;
        assert!(
            crate::model::redact::error_chain(&secret.unwrap_err())
                .contains("refused EC2 GetPasswordData")
        );
        assert!(
            matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "nothing reached the network"
        );
        let metrics = metrics.encode();
        assert!(
            metrics.contains(
                r#"gitdrift_write_refusals_total{provider="aws",target="guard-test-aws"} 2"#
            ),
            "{metrics}"
        );
        assert!(!metrics.contains(r#"target="guard-test-aws",verb="#));
    }
}
