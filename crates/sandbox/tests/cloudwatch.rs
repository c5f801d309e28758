//! CloudWatch conformance with the real `aws-sdk-cloudwatch`, which speaks RPCv2-CBOR (REFERENCE 0.3 and 4.5).

mod common;

use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, StateValue, Statistic,
};
use aws_smithy_types::DateTime;

const NS: &str = "AWS/ApplicationELB";
const LB: &str = "app/web-prod/50dc6c495c0c9188";
const TG: &str = "targetgroup/web-green/73e2d6bc24d8a067";

fn dim(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs_f64()
}

/// A datapoint `ago` seconds of wall time in the past.
fn datum(name: &str, dims: &[(&str, &str)], value: f64, ago: f64) -> MetricDatum {
    let mut d = MetricDatum::builder().metric_name(name).value(value).timestamp(DateTime::from_secs_f64(now() - ago));
    for (n, v) in dims {
        d = d.dimensions(dim(n, v));
    }
    d.build()
}

/// The REFERENCE 4.2 example alarm: target 5xx count per LB + target group, Sum over `period` s.
async fn put_static_alarm(cw: &aws_sdk_cloudwatch::Client, name: &str, period: i32, treat_missing: &str) {
    cw.put_metric_alarm()
        .alarm_name(name)
        .namespace(NS)
        .metric_name("HTTPCode_Target_5XX_Count")
        .dimensions(dim("LoadBalancer", LB))
        .dimensions(dim("TargetGroup", TG))
        .statistic(Statistic::Sum)
        .period(period)
        .evaluation_periods(2)
        .datapoints_to_alarm(2)
        .threshold(10.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .treat_missing_data(treat_missing)
        .send()
        .await
        .expect("PutMetricAlarm");
}

async fn state_of(cw: &aws_sdk_cloudwatch::Client, name: &str) -> Option<StateValue> {
    let out = cw.describe_alarms().alarm_names(name).send().await.expect("DescribeAlarms");
    out.metric_alarms().first().and_then(|a| a.state_value().cloned())
}

async fn wait_for_state(cw: &aws_sdk_cloudwatch::Client, name: &str, want: StateValue, within: Duration) {
    let start = Instant::now();
    loop {
        let state = state_of(cw, name).await;
        if state.as_ref() == Some(&want) {
            return;
        }
        assert!(start.elapsed() < within, "alarm {name} still {state:?} after {within:?}, wanted {want:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// REFERENCE 4.2 + 4.4: PutMetricAlarm creates an INSUFFICIENT_DATA alarm whose configuration DescribeAlarms
/// returns (over CBOR: doubles, integers, timestamps); SetAlarmState forces a state; DeleteAlarms removes it.
#[tokio::test]
async fn put_describe_set_state_and_delete_an_alarm() {
    let sb = common::TestSandbox::start().await;
    let cw = sb.cloudwatch();
    let before = now();
    // `missing` and no data: no evaluation can race the forced state below.
    put_static_alarm(&cw, "web-prod-target-5xx", 60, "missing").await;

    let out = cw.describe_alarms().alarm_names("web-prod-target-5xx").send().await.expect("DescribeAlarms");
    let alarm = &out.metric_alarms()[0];
    assert_eq!(alarm.alarm_name(), Some("web-prod-target-5xx"));
    assert_eq!(alarm.alarm_arn(), Some("arn:aws:cloudwatch:us-east-1:000000000000:alarm:web-prod-target-5xx"));
    assert_eq!(alarm.state_value(), Some(&StateValue::InsufficientData));
    assert_eq!(alarm.threshold(), Some(10.0));
    assert_eq!(alarm.period(), Some(60));
    assert_eq!(alarm.evaluation_periods(), Some(2));
    assert_eq!(alarm.datapoints_to_alarm(), Some(2));
    assert_eq!(alarm.statistic(), Some(&Statistic::Sum));
    assert_eq!(alarm.comparison_operator(), Some(&ComparisonOperator::GreaterThanThreshold));
    assert_eq!(alarm.treat_missing_data(), Some("missing"));
    assert_eq!(alarm.dimensions().len(), 2);
    let updated = alarm.alarm_configuration_updated_timestamp().expect("config timestamp").as_secs_f64();
    assert!(updated >= before - 1.0 && updated <= now() + 1.0, "timestamp {updated} is now");

    cw.set_alarm_state()
        .alarm_name("web-prod-target-5xx")
        .state_value(StateValue::Alarm)
        .state_reason("forced by test")
        .send()
        .await
        .expect("SetAlarmState");
    let out = cw.describe_alarms().state_value(StateValue::Alarm).send().await.expect("DescribeAlarms by state");
    let alarm = &out.metric_alarms()[0];
    assert_eq!(alarm.state_reason(), Some("forced by test"));
    assert!(alarm.state_transitioned_timestamp().is_some() && alarm.state_updated_timestamp().is_some());
    let ok = cw.describe_alarms().state_value(StateValue::Ok).send().await.expect("DescribeAlarms OK");
    assert!(ok.metric_alarms().is_empty());
    let by_prefix = cw.describe_alarms().alarm_name_prefix("web-prod").send().await.expect("by prefix");
    assert_eq!(by_prefix.metric_alarms().len(), 1);

    cw.delete_alarms()
        .alarm_names("web-prod-target-5xx")
        .alarm_names("never-existed")
        .send()
        .await
        .expect("DeleteAlarms");
    assert!(cw.describe_alarms().send().await.expect("DescribeAlarms").metric_alarms().is_empty());
}

/// REFERENCE 4.4 / 5.6: SetAlarmState on an unknown alarm fails with the modeled `ResourceNotFound` error.
#[tokio::test]
async fn set_alarm_state_on_an_unknown_alarm_is_resource_not_found() {
    let sb = common::TestSandbox::start().await;
    let err = sb
        .cloudwatch()
        .set_alarm_state()
        .alarm_name("nope")
        .state_value(StateValue::Alarm)
        .state_reason("test")
        .send()
        .await
        .expect_err("unknown alarm");
    assert_eq!(err.code(), Some("ResourceNotFound"));
    assert!(err.into_service_error().is_resource_not_found());
}

/// REFERENCE 4.2: updating an alarm overwrites its configuration but keeps its state.
#[tokio::test]
async fn put_metric_alarm_again_keeps_the_state() {
    let sb = common::TestSandbox::start().await;
    let cw = sb.cloudwatch();
    put_static_alarm(&cw, "a", 60, "missing").await;
    cw.set_alarm_state().alarm_name("a").state_value(StateValue::Ok).state_reason("t").send().await.expect("set");
    put_static_alarm(&cw, "a", 120, "missing").await;
    let out = cw.describe_alarms().send().await.expect("DescribeAlarms");
    assert_eq!(out.metric_alarms().len(), 1);
    assert_eq!(out.metric_alarms()[0].period(), Some(120));
    assert_eq!(out.metric_alarms()[0].state_value(), Some(&StateValue::Ok));
}

/// REFERENCE 4.4: MaxRecords pages through alarms with NextToken.
#[tokio::test]
async fn describe_alarms_pages_with_next_token() {
    let sb = common::TestSandbox::start().await;
    let cw = sb.cloudwatch();
    for name in ["a1", "a2", "a3"] {
        put_static_alarm(&cw, name, 60, "missing").await;
    }
    let first = cw.describe_alarms().max_records(2).send().await.expect("page 1");
    assert_eq!(first.metric_alarms().len(), 2);
    let token = first.next_token().expect("a next page");
    let second = cw.describe_alarms().max_records(2).next_token(token).send().await.expect("page 2");
    assert_eq!(second.metric_alarms().len(), 1);
    assert_eq!(second.metric_alarms()[0].alarm_name(), Some("a3"));
    assert!(second.next_token().is_none());
}

/// REFERENCE 4.1 + 4.2: target 5xx counts above the threshold in 2 of 2 periods flip the alarm to ALARM, and
/// good data brings it back to OK. time_scale 60: a 60 s period lasts one second.
#[tokio::test]
async fn target_5xx_above_threshold_trips_the_alarm_and_good_data_clears_it() {
    let sb = common::TestSandbox::with_time_scale(60.0).await;
    let cw = sb.cloudwatch();
    put_static_alarm(&cw, "web-prod-target-5xx", 60, "missing").await;
    let dims = [("LoadBalancer", LB), ("TargetGroup", TG)];
    // Steady bad traffic: 20 errors every 200 ms (periods last 1 s), plus the same metric with another
    // dimension set, which must not count (dimensions match as a whole set).
    let start = Instant::now();
    while state_of(&cw, "web-prod-target-5xx").await != Some(StateValue::Alarm) {
        assert!(start.elapsed() < Duration::from_secs(6), "alarm did not go to ALARM");
        cw.put_metric_data()
            .namespace(NS)
            .metric_data(datum("HTTPCode_Target_5XX_Count", &dims, 20.0, 0.0))
            .metric_data(datum("HTTPCode_Target_5XX_Count", &[("LoadBalancer", LB)], 0.0, 0.0))
            .send()
            .await
            .expect("PutMetricData");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let alarm = &cw.describe_alarms().send().await.expect("describe").metric_alarms()[0].clone();
    let reason = alarm.state_reason().expect("reason");
    assert!(reason.starts_with("Threshold Crossed: 2 out of the last 2 datapoints ["), "{reason}");
    assert!(reason.contains("greater than the threshold (10.0)"), "{reason}");
    let data: serde_json::Value = serde_json::from_str(alarm.state_reason_data().expect("data")).expect("json");
    assert_eq!(data["statistic"], "Sum");
    assert_eq!(data["threshold"], 10.0);

    // Healthy traffic: a zero count every 200 ms until the two bad periods leave the window.
    let start = Instant::now();
    while state_of(&cw, "web-prod-target-5xx").await != Some(StateValue::Ok) {
        assert!(start.elapsed() < Duration::from_secs(6), "alarm did not return to OK");
        cw.put_metric_data()
            .namespace(NS)
            .metric_data(datum("HTTPCode_Target_5XX_Count", &dims, 0.0, 0.0))
            .send()
            .await
            .expect("PutMetricData");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// REFERENCE 4.3: the metric-math 5xx-rate alarm `IF(m2 > 0, 100 * (FILL(m1,0) + FILL(m3,0)) / m2, 0)`
/// goes to ALARM when the error rate is over 5 %.
#[tokio::test]
async fn metric_math_5xx_rate_alarm_evaluates() {
    let sb = common::TestSandbox::with_time_scale(60.0).await;
    let cw = sb.cloudwatch();
    let stat_returning = |id: &str, metric: &str, returned: bool| {
        MetricDataQuery::builder()
            .id(id)
            .return_data(returned)
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        Metric::builder().namespace(NS).metric_name(metric).dimensions(dim("LoadBalancer", LB)).build(),
                    )
                    .period(60)
                    .stat("Sum")
                    .build(),
            )
            .build()
    };
    let stat = |id: &str, metric: &str| stat_returning(id, metric, false);
    let rate = MetricDataQuery::builder()
        .id("e1")
        .expression("IF(m2 > 0, 100 * (FILL(m1,0) + FILL(m3,0)) / m2, 0)")
        .label("5xx %")
        .return_data(true)
        .build();
    cw.put_metric_alarm()
        .alarm_name("web-prod-5xx-rate")
        .evaluation_periods(3)
        .datapoints_to_alarm(2)
        .threshold(5.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .treat_missing_data("notBreaching")
        .metrics(rate.clone())
        .metrics(stat("m1", "HTTPCode_Target_5XX_Count"))
        .metrics(stat("m2", "RequestCount"))
        .metrics(stat("m3", "HTTPCode_ELB_5XX_Count"))
        .send()
        .await
        .expect("PutMetricAlarm with Metrics");
    let described = cw.describe_alarms().send().await.expect("describe");
    assert_eq!(described.metric_alarms()[0].metrics().len(), 4);

    let lb = [("LoadBalancer", LB)];
    let mut put = cw.put_metric_data().namespace(NS);
    for ago in [1.0, 2.0] {
        put = put
            .metric_data(datum("RequestCount", &lb, 100.0, ago))
            .metric_data(datum("HTTPCode_Target_5XX_Count", &lb, 4.0, ago))
            .metric_data(datum("HTTPCode_ELB_5XX_Count", &lb, 3.0, ago));
    }
    put.send().await.expect("PutMetricData");
    wait_for_state(&cw, "web-prod-5xx-rate", StateValue::Alarm, Duration::from_secs(4)).await;
    let alarm = &cw.describe_alarms().send().await.expect("describe").metric_alarms()[0].clone();
    assert!(alarm.state_reason().expect("reason").contains("[7.0 ("), "{:?}", alarm.state_reason());

    // Two ReturnData:true queries, or Namespace next to Metrics, are rejected like AWS does.
    let err = cw
        .put_metric_alarm()
        .alarm_name("bad")
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .metrics(rate)
        .metrics(stat_returning("m1", "HTTPCode_Target_5XX_Count", true))
        .send()
        .await
        .expect_err("two ReturnData");
    assert_eq!(err.code(), Some("ValidationError"));
    let err = cw
        .put_metric_alarm()
        .alarm_name("bad")
        .namespace(NS)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .metrics(stat_returning("m1", "HTTPCode_Target_5XX_Count", true))
        .send()
        .await
        .expect_err("Namespace with Metrics");
    assert_eq!(err.code(), Some("ValidationError"));
}

/// REFERENCE 4.1: no traffic means no datapoints; with TreatMissingData notBreaching the alarm goes to OK,
/// while with `missing` an alarm without data keeps its (forced) state.
#[tokio::test]
async fn missing_data_is_treated_as_configured() {
    let sb = common::TestSandbox::with_time_scale(600.0).await;
    let cw = sb.cloudwatch();
    put_static_alarm(&cw, "quiet", 60, "notBreaching").await;
    put_static_alarm(&cw, "forced", 60, "missing").await;
    cw.set_alarm_state()
        .alarm_name("forced")
        .state_value(StateValue::Alarm)
        .state_reason("t")
        .send()
        .await
        .expect("set");
    wait_for_state(&cw, "quiet", StateValue::Ok, Duration::from_secs(3)).await;
    let quiet = &cw.describe_alarms().alarm_names("quiet").send().await.expect("d").metric_alarms()[0].clone();
    assert!(quiet.state_reason().expect("reason").contains("treated as [NonBreaching]"), "{:?}", quiet.state_reason());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(state_of(&cw, "forced").await, Some(StateValue::Alarm));
}

/// REFERENCE 4.1: datapoints read back through GetMetricStatistics and ListMetrics.
#[tokio::test]
async fn metric_data_reads_back() {
    let sb = common::TestSandbox::start().await;
    let cw = sb.cloudwatch();
    let lb = [("LoadBalancer", LB)];
    cw.put_metric_data()
        .namespace(NS)
        .metric_data(datum("RequestCount", &lb, 3.0, 0.0))
        .metric_data(datum("RequestCount", &lb, 5.0, 0.0))
        .send()
        .await
        .expect("PutMetricData");
    let stats = cw
        .get_metric_statistics()
        .namespace(NS)
        .metric_name("RequestCount")
        .dimensions(dim("LoadBalancer", LB))
        .start_time(DateTime::from_secs_f64(now() - 600.0))
        .end_time(DateTime::from_secs_f64(now() + 60.0))
        .period(60)
        .statistics(Statistic::Sum)
        .statistics(Statistic::Maximum)
        .send()
        .await
        .expect("GetMetricStatistics");
    let total: f64 = stats.datapoints().iter().filter_map(|d| d.sum()).sum();
    assert_eq!(total, 8.0);
    assert!(stats.datapoints().iter().all(|d| d.timestamp().is_some()));
    let listed = cw.list_metrics().namespace(NS).send().await.expect("ListMetrics");
    assert_eq!(listed.metrics().len(), 1);
    assert_eq!(listed.metrics()[0].metric_name(), Some("RequestCount"));
}

/// REFERENCE 4.5: the SDK gzips PutMetricData bodies over 10 KiB (request compression); the sandbox accepts them.
#[tokio::test]
async fn a_large_put_metric_data_is_accepted() {
    let sb = common::TestSandbox::start().await;
    let cw = sb.cloudwatch();
    let mut put = cw.put_metric_data().namespace("Custom/Bench");
    for i in 0..400 {
        put = put.metric_data(datum(&format!("metric-with-a-long-name-{i:04}"), &[("Service", "web")], 1.0, 0.0));
    }
    put.send().await.expect("large PutMetricData");
    let listed = cw.list_metrics().namespace("Custom/Bench").send().await.expect("ListMetrics");
    assert_eq!(listed.metrics().len(), 400);
}

/// REFERENCE 4.3: GetMetricData evaluates the 5xx-rate expression per period next to a plain metric query.
#[tokio::test]
async fn get_metric_data_evaluates_metric_math() {
    use aws_sdk_cloudwatch::types::MetricDataQuery;
    let sb = common::TestSandbox::with_time_scale(60.0).await;
    let cw = sb.cloudwatch();
    let lb = [("LoadBalancer", LB)];
    cw.put_metric_data()
        .namespace(NS)
        .metric_data(datum("RequestCount", &lb, 50.0, 0.0))
        .metric_data(datum("HTTPCode_Target_5XX_Count", &lb, 5.0, 0.0))
        .send()
        .await
        .expect("PutMetricData");
    let stat = |id: &str, metric: &str| {
        MetricDataQuery::builder()
            .id(id)
            .return_data(false)
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        Metric::builder().namespace(NS).metric_name(metric).dimensions(dim("LoadBalancer", LB)).build(),
                    )
                    .period(60)
                    .stat("Sum")
                    .build(),
            )
            .build()
    };
    let out = cw
        .get_metric_data()
        .start_time(DateTime::from_secs_f64(now() - 5.0))
        .end_time(DateTime::from_secs_f64(now() + 2.0))
        .metric_data_queries(stat("m1", "HTTPCode_Target_5XX_Count"))
        .metric_data_queries(stat("m2", "RequestCount"))
        .metric_data_queries(
            MetricDataQuery::builder().id("e1").expression("100 * FILL(m1, 0) / m2").return_data(true).build(),
        )
        .send()
        .await
        .expect("GetMetricData");
    let result = &out.metric_data_results()[0];
    assert_eq!(result.id(), Some("e1"));
    assert_eq!(result.values(), [10.0]);
    assert_eq!(result.timestamps().len(), 1);
}

/// Issue 17 (REFERENCE 4.3): metric math with the functions AWS documents for alarms over an array of series,
/// e.g. `err / MAX([err, req])`, evaluates per period; a function the sandbox lacks is a ValidationError naming it.
#[tokio::test]
async fn metric_math_aggregates_over_arrays_and_names_unsupported_functions() {
    let sb = common::TestSandbox::with_time_scale(60.0).await;
    let cw = sb.cloudwatch();
    let stat = |id: &str, metric: &str| {
        let metric = Metric::builder().namespace(NS).metric_name(metric).dimensions(dim("LoadBalancer", LB)).build();
        MetricDataQuery::builder()
            .id(id)
            .return_data(false)
            .metric_stat(MetricStat::builder().metric(metric).period(60).stat("Sum").build())
            .build()
    };
    let math = |expression: &str| MetricDataQuery::builder().id("e1").expression(expression).return_data(true).build();
    let alarm = |name: &str, expression: &str| {
        cw.put_metric_alarm()
            .alarm_name(name)
            .evaluation_periods(3)
            .datapoints_to_alarm(2)
            .threshold(5.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .treat_missing_data("notBreaching")
            .metrics(math(expression))
            .metrics(stat("err", "HTTPCode_Target_5XX_Count"))
            .metrics(stat("req", "RequestCount"))
            .send()
    };
    alarm("error-share", "100 * err / MAX([err, req])").await.expect("MAX over an array is accepted");
    let lb = [("LoadBalancer", LB)];
    let mut put = cw.put_metric_data().namespace(NS);
    for ago in [1.0, 2.0] {
        put = put.metric_data(datum("RequestCount", &lb, 100.0, ago)).metric_data(datum(
            "HTTPCode_Target_5XX_Count",
            &lb,
            10.0,
            ago,
        ));
    }
    put.send().await.expect("PutMetricData");
    wait_for_state(&cw, "error-share", StateValue::Alarm, Duration::from_secs(4)).await;

    let data = cw
        .get_metric_data()
        .metric_data_queries(stat("err", "HTTPCode_Target_5XX_Count"))
        .metric_data_queries(stat("req", "RequestCount"))
        .metric_data_queries(math("SUM([err, req]) + MIN([err, req]) + AVG([err, req]) + STDDEV([err, req])"))
        .start_time(DateTime::from_secs_f64(now() - 600.0))
        .end_time(DateTime::from_secs_f64(now() + 60.0))
        .send()
        .await
        .expect("GetMetricData");
    let values = data.metric_data_results()[0].values();
    assert!(!values.is_empty() && values.iter().all(|v| *v == 110.0 + 10.0 + 55.0 + 45.0), "{values:?}");

    for (expression, named) in
        [("RATE(err)", "function RATE is not supported"), ("MAX(err)", "MAX over a single time series")]
    {
        let err = alarm("bad", expression).await.expect_err(expression);
        assert_eq!(err.code(), Some("ValidationError"), "{expression}");
        assert!(err.message().is_some_and(|m| m.contains(named)), "{expression}: {:?}", err.message());
    }
}

/// Issue 17 (REFERENCE 4.5): over awsJson CloudWatch answers with its model's JSON version, 1.0, and, being
/// awsQueryCompatible, its errors carry the Query code in `x-amzn-query-error` with the model's HTTP status.
#[tokio::test]
async fn cloudwatch_over_aws_json_answers_json_1_0() {
    let sb = common::TestSandbox::start().await;
    let call = |op: &str, body: &'static str| {
        let target = format!("GraniteServiceVersion20100801.{op}");
        let endpoint = sb.running.endpoint();
        async move {
            let headers = [("content-type", "application/x-amz-json-1.0"), ("x-amz-target", target.as_str())];
            common::raw_post(&endpoint, &headers, body.as_bytes()).await
        }
    };
    let ok = call("DescribeAlarms", "{}").await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("content-type"), Some("application/x-amz-json-1.0"));
    assert_eq!(ok.json()["MetricAlarms"], serde_json::json!([]));

    let err = call("SetAlarmState", r#"{"AlarmName":"nope","StateValue":"OK","StateReason":"test"}"#).await;
    assert_eq!(err.status, 404, "ResourceNotFound is HTTP 404 in the model");
    assert_eq!(err.header("content-type"), Some("application/x-amz-json-1.0"));
    assert_eq!(err.header("x-amzn-query-error"), Some("ResourceNotFound;Sender"));
    assert_eq!(err.json()["__type"], "ResourceNotFound");
}

/// REFERENCE A2 (DescribeAlarmHistory, AlarmHistoryItem): each state transition is a StateUpdate item whose
/// HistoryData is a JSON string with oldState/newState; StartDate/EndDate bound it, ScanBy orders it,
/// MaxRecords pages it with NextToken, and the history outlives the alarm.
#[tokio::test]
async fn alarm_history_records_every_transition_even_one_shorter_than_a_poll() {
    use aws_sdk_cloudwatch::types::{HistoryItemType, ScanBy};
    let sb = common::TestSandbox::start().await;
    let cw = sb.cloudwatch();
    put_static_alarm(&cw, "web-5xx", 60, "missing").await;
    let since = DateTime::from_secs_f64(now() - 1.0);
    for (state, reason) in [(StateValue::Alarm, "burst of 5xx"), (StateValue::Ok, "recovered")] {
        cw.set_alarm_state().alarm_name("web-5xx").state_value(state).state_reason(reason).send().await.unwrap();
    }
    let out = cw
        .describe_alarm_history()
        .alarm_name("web-5xx")
        .history_item_type(HistoryItemType::StateUpdate)
        .start_date(since)
        .scan_by(ScanBy::TimestampAscending)
        .send()
        .await
        .expect("DescribeAlarmHistory over CBOR");
    let items = out.alarm_history_items();
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0].alarm_name(), Some("web-5xx"));
    assert_eq!(items[0].history_item_type(), Some(&HistoryItemType::StateUpdate));
    assert_eq!(items[0].history_summary(), Some("Alarm updated from INSUFFICIENT_DATA to ALARM"));
    let data: serde_json::Value = serde_json::from_str(items[0].history_data().unwrap()).expect("HistoryData is JSON");
    assert_eq!(data["oldState"]["stateValue"], "INSUFFICIENT_DATA");
    assert_eq!(data["newState"]["stateValue"], "ALARM");
    assert_eq!(data["newState"]["stateReason"], "burst of 5xx");
    assert!(items[0].timestamp().is_some_and(|t| t.as_secs_f64() >= since.as_secs_f64()));
    let data: serde_json::Value = serde_json::from_str(items[1].history_data().unwrap()).unwrap();
    assert_eq!(
        (data["oldState"]["stateValue"].as_str(), data["newState"]["stateValue"].as_str()),
        (Some("ALARM"), Some("OK"))
    );

    // A StartDate after the transitions leaves them out: a later deployment's watch never sees them.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let later = cw
        .describe_alarm_history()
        .history_item_type(HistoryItemType::StateUpdate)
        .start_date(DateTime::from_secs_f64(now() - 0.5))
        .scan_by(ScanBy::TimestampAscending)
        .send()
        .await
        .unwrap();
    assert!(later.alarm_history_items().is_empty(), "{:?}", later.alarm_history_items());

    // Newest first by default; one record per page.
    let page = cw.describe_alarm_history().alarm_name("web-5xx").max_records(1).send().await.unwrap();
    assert_eq!(page.alarm_history_items().len(), 1);
    assert_eq!(page.alarm_history_items()[0].history_summary(), Some("Alarm updated from ALARM to OK"));
    let token = page.next_token().expect("more pages").to_owned();
    let next = cw.describe_alarm_history().alarm_name("web-5xx").max_records(1).next_token(token).send().await.unwrap();
    assert_eq!(next.alarm_history_items()[0].history_summary(), Some("Alarm updated from INSUFFICIENT_DATA to ALARM"));

    // The creation is a ConfigurationUpdate; an EndDate before everything finds nothing.
    let config = cw
        .describe_alarm_history()
        .alarm_name("web-5xx")
        .history_item_type(HistoryItemType::ConfigurationUpdate)
        .send()
        .await
        .unwrap();
    assert_eq!(config.alarm_history_items().len(), 1);
    let early = cw.describe_alarm_history().end_date(DateTime::from_secs_f64(now() - 3600.0)).send().await.unwrap();
    assert!(early.alarm_history_items().is_empty());

    // Kept after the alarm is deleted.
    cw.delete_alarms().alarm_names("web-5xx").send().await.unwrap();
    let after = cw
        .describe_alarm_history()
        .alarm_name("web-5xx")
        .history_item_type(HistoryItemType::StateUpdate)
        .send()
        .await
        .unwrap();
    assert_eq!(after.alarm_history_items().len(), 2);
    let bad = cw.describe_alarm_history().next_token("garbage").send().await.unwrap_err();
    assert_eq!(bad.code(), Some("InvalidNextToken"));
}
