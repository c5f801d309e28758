"""Unit tests of the checker: conforming responses pass, and each planted deviation is reported."""

import json
import struct
import unittest

import botocore.session

import shapecheck

SESSION = botocore.session.get_session()


def op(service, name):
    return SESSION.get_service_model(service).operation_model(name)


JSON_11 = {"content-type": "application/x-amz-json-1.1"}
JSON_10 = {"content-type": "application/x-amz-json-1.0"}
CBOR = {"content-type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
XML = {"content-type": "text/xml"}

SERVICE_DEPLOYMENT = {
    "serviceDeploymentArn": "arn:aws:ecs:us-east-1:000000000000:service-deployment/c/s/abc",
    "serviceArn": "arn:aws:ecs:us-east-1:000000000000:service/c/s",
    "clusterArn": "arn:aws:ecs:us-east-1:000000000000:cluster/c",
    "createdAt": 1700000000.5,
    "status": "SUCCESSFUL",
    "targetServiceRevision": {
        "arn": "arn:aws:ecs:us-east-1:000000000000:service-revision/c/s/123",
        "requestedTaskCount": 2,
        "runningTaskCount": 2,
        "pendingTaskCount": 0,
    },
}


def describe_sd(deployment):
    body = json.dumps({"serviceDeployments": [deployment], "failures": []}).encode()
    return shapecheck.check_response(op("ecs", "DescribeServiceDeployments"), "json", 200, JSON_11, body)


def cbor(value):
    """A minimal CBOR encoder for the tests (maps, text, floats, ints, tag 1)."""
    if isinstance(value, dict):
        out = bytes([0xA0 + len(value)])
        for k, v in value.items():
            out += cbor(k) + cbor(v)
        return out
    if isinstance(value, list):
        return bytes([0x80 + len(value)]) + b"".join(cbor(v) for v in value)
    if isinstance(value, str):
        data = value.encode()
        return (bytes([0x60 + len(data)]) if len(data) < 24 else bytes([0x78, len(data)])) + data
    if isinstance(value, shapecheck.Tag):
        return bytes([0xC0 + value.tag]) + cbor(value.value)
    if isinstance(value, float):
        return b"\xfb" + struct.pack(">d", value)
    if isinstance(value, bool):
        return b"\xf5" if value else b"\xf4"
    if isinstance(value, int) and 0 <= value < 24:
        return bytes([value])
    raise NotImplementedError(value)


class JsonShapes(unittest.TestCase):
    def test_a_conforming_response_passes(self):
        self.assertEqual(describe_sd(SERVICE_DEPLOYMENT), [])

    def test_an_extra_key_fails(self):
        planted = dict(SERVICE_DEPLOYMENT, targetServiceRevisionArn="arn:aws:ecs:...:service-revision/c/s/123")
        problems = describe_sd(planted)
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("unknown member", problems[0])
        self.assertIn("targetServiceRevisionArn", problems[0])

    def test_a_wrong_enum_fails(self):
        problems = describe_sd(dict(SERVICE_DEPLOYMENT, status="DONE"))
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("'DONE' is not a value of enum", problems[0])

    def test_a_missing_required_member_fails(self):
        body = json.dumps({"failures": [{"arn": "x"}], "repositories": [{"repositoryName": "r"}]}).encode()
        problems = shapecheck.check_response(op("ecr", "DescribeRepositories"), "json", 200, JSON_11, body)
        self.assertTrue(any("unknown member" in p and "failures" in p for p in problems), problems)
        # PutMetricAlarm's Metrics[].Id is required: a query without it is reported.
        alarm = {"MetricAlarms": [{"AlarmName": "a", "Metrics": [{"Expression": "m1"}]}]}
        problems = shapecheck.check_response(
            op("cloudwatch", "DescribeAlarms"), "json", 200, JSON_10, json.dumps(alarm).encode()
        )
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("MetricAlarms[0].Metrics[0].Id: required member", problems[0])

    def test_types_and_encodings_fail(self):
        cases = {
            "createdAt": ("2024-01-01T00:00:00Z", "expected epoch seconds"),
            "targetServiceRevision": ({"arn": "x", "runningTaskCount": "2"}, "expected an integer"),
            "finishedAt": (None, "null where the model has"),
        }
        for key, (value, message) in cases.items():
            with self.subTest(key):
                problems = describe_sd(dict(SERVICE_DEPLOYMENT, **{key: value}))
                self.assertEqual(len(problems), 1, problems)
                self.assertIn(message, problems[0])

    def test_the_content_type_is_the_protocols(self):
        body = json.dumps({"MetricAlarms": []}).encode()
        problems = shapecheck.check_response(op("cloudwatch", "DescribeAlarms"), "json", 200, JSON_11, body)
        self.assertEqual(problems, ["Content-Type: expected application/x-amz-json-1.0, got application/x-amz-json-1.1"])


class Errors(unittest.TestCase):
    def test_modelled_errors_pass_and_others_fail(self):
        describe = op("ecs", "DescribeServices")
        body = json.dumps({"__type": "ClusterNotFoundException", "message": "Cluster not found."}).encode()
        self.assertEqual(shapecheck.check_response(describe, "json", 400, JSON_11, body), [])
        self.assertIn("must answer HTTP 400", shapecheck.check_response(describe, "json", 404, JSON_11, body)[0])
        body = json.dumps({"__type": "ServiceNotFoundException", "message": "x"}).encode()
        problems = shapecheck.check_response(describe, "json", 400, JSON_11, body)
        self.assertIn("neither a modelled error of DescribeServices", problems[0])

    def test_query_compatible_errors_need_the_query_error_header(self):
        set_state = op("cloudwatch", "SetAlarmState")
        body = json.dumps({"__type": "ResourceNotFound", "message": "no alarm"}).encode()
        headers = dict(JSON_10, **{"x-amzn-query-error": "ResourceNotFound;Sender"})
        self.assertEqual(shapecheck.check_response(set_state, "json", 404, headers, body), [])
        problems = shapecheck.check_response(set_state, "json", 404, JSON_10, body)
        self.assertTrue(any("x-amzn-query-error" in p for p in problems), problems)

    def test_query_errors(self):
        describe = op("elbv2", "DescribeTargetGroups")
        body = (
            b"<ErrorResponse><Error><Type>Sender</Type><Code>TargetGroupNotFound</Code><Message>m</Message>"
            b"</Error><RequestId>r</RequestId></ErrorResponse>"
        )
        self.assertEqual(shapecheck.check_response(describe, "query", 400, XML, body), [])
        wrong = body.replace(b"TargetGroupNotFound", b"TargetGroupNotFoundException")
        self.assertIn("neither a modelled error", shapecheck.check_response(describe, "query", 400, XML, wrong)[0])


class CborShapes(unittest.TestCase):
    def alarms(self, alarm):
        return shapecheck.check_response(op("cloudwatch", "DescribeAlarms"), "smithy-rpc-v2-cbor", 200, CBOR, cbor({"MetricAlarms": [alarm]}))

    def test_typed_values_pass(self):
        alarm = {"AlarmName": "a", "Threshold": 5.0, "StateUpdatedTimestamp": shapecheck.Tag(1, 1700000000.5)}
        self.assertEqual(self.alarms(alarm), [])

    def test_untyped_values_fail(self):
        self.assertIn("expected a CBOR float", self.alarms({"AlarmName": "a", "Threshold": 5})[0])
        self.assertIn("tag-1 epoch", self.alarms({"AlarmName": "a", "StateUpdatedTimestamp": 1700000000.5})[0])
        self.assertIn("not a value of enum", self.alarms({"AlarmName": "a", "StateValue": "FIRING"})[0])
        self.assertIn("unknown member", self.alarms({"AlarmName": "a", "Extra": "x"})[0])


class QueryShapes(unittest.TestCase):
    def test_xml_members_lists_and_enums(self):
        health = op("elbv2", "DescribeTargetHealth")
        good = (
            b'<DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">'
            b"<DescribeTargetHealthResult><TargetHealthDescriptions><member><Target><Id>10.0.0.1</Id><Port>80</Port>"
            b"</Target><TargetHealth><State>healthy</State></TargetHealth></member></TargetHealthDescriptions>"
            b"</DescribeTargetHealthResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
            b"</DescribeTargetHealthResponse>"
        )
        self.assertEqual(shapecheck.check_response(health, "query", 200, XML, good), [])
        for planted, message in (
            (good.replace(b"healthy", b"fine"), "not a value of enum"),
            (good.replace(b"<Port>80</Port>", b"<Port>eighty</Port>"), "expected an integer"),
            (good.replace(b"<Id>10.0.0.1</Id>", b""), "required member"),
            (good.replace(b"</Target><TargetHealth>", b"</Target><Extra/><TargetHealth>"), "unknown member"),
        ):
            with self.subTest(message):
                problems = shapecheck.check_response(health, "query", 200, XML, planted)
                self.assertEqual(len(problems), 1, problems)
                self.assertIn(message, problems[0])


REST_JSON = {"content-type": "application/json"}


class RestJsonShapes(unittest.TestCase):
    def test_outputs_and_errors_of_a_rest_json_service(self):
        get = op("scheduler", "GetSchedule")
        good = {"Name": "n", "State": "ENABLED", "CreationDate": 1700000000.5, "FlexibleTimeWindow": {"Mode": "OFF"}}
        self.assertEqual(shapecheck.check_response(get, "rest-json", 200, REST_JSON, json.dumps(good).encode()), [])
        bad_enum = dict(good, State="PAUSED")
        self.assertIn("not a value of enum", shapecheck.check_response(get, "rest-json", 200, REST_JSON, json.dumps(bad_enum).encode())[0])
        wrong_type = shapecheck.check_response(get, "rest-json", 200, JSON_11, json.dumps(good).encode())
        self.assertIn("Content-Type", wrong_type[0])
        error = dict(REST_JSON, **{"x-amzn-errortype": "ResourceNotFoundException"})
        self.assertEqual(shapecheck.check_response(get, "rest-json", 404, error, b'{"Message": "gone"}'), [])
        self.assertIn("required member", shapecheck.check_response(get, "rest-json", 404, error, b"{}")[0])
        self.assertIn("HTTP 404", shapecheck.check_response(get, "rest-json", 400, error, b'{"Message": "gone"}')[0])
        self.assertIn("name its type", shapecheck.check_response(get, "rest-json", 404, REST_JSON, b'{"Message": "x"}')[0])


if __name__ == "__main__":
    unittest.main()
