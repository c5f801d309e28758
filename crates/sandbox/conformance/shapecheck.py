"""Checks one raw HTTP response of the sandbox against the operation's shapes in botocore's service models.

The AWS SDKs are generated from these models; they drop keys they do not know and rarely check enums, so a
response in a shape AWS never sends passes silently. This module reads the raw bytes instead and reports every
difference: unknown or missing members, wrong types, enum values outside the model, timestamp and blob
encodings, the protocol's Content-Type, and errors that are not among the operation's modelled errors (code and
HTTP status). Protocols: awsJson (1.0, 1.1), restJson1, smithy-rpc-v2-cbor, and awsQuery (XML).

`check_response(operation_model, protocol, status, headers, body)` returns a list of problems, empty when the
response conforms.
"""

import base64
import binascii
import datetime
import json
import struct
import xml.etree.ElementTree as ET

# Errors any operation may answer, from the AWS API references' "Common Errors" pages (ECS, ECR, CodeDeploy,
# CloudWatch, ELBv2, STS: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/CommonErrors.html and the same
# page of each service), with their HTTP status. awsJson services also answer the JSON protocol's own errors.
COMMON_ERRORS = {
    "AccessDeniedException": 400,
    # STS AssumeRole of a role whose trust policy does not admit the caller: `AccessDenied`, HTTP 403
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_roles.html, "not authorized to perform: sts:AssumeRole").
    "AccessDenied": 403,
    "IncompleteSignature": 400,
    "InternalFailure": 500,
    "InvalidAction": 400,
    "InvalidClientTokenId": 403,
    "NotAuthorized": 400,
    "OptInRequired": 403,
    "RequestExpired": 400,
    "ServiceUnavailable": 503,
    "ThrottlingException": 400,
    "Throttling": 400,
    "ValidationError": 400,
    "ValidationException": 400,
    "SerializationException": 400,
    "UnknownOperationException": 400,
}

CBOR_TAG_EPOCH = 1


# ---- CBOR: a decoder that keeps the wire types (botocore's own decoder converts them away) --------------------


class Tag:
    def __init__(self, tag, value):
        self.tag, self.value = tag, value

    def __repr__(self):
        return f"Tag({self.tag}, {self.value!r})"


class CborFloat(float):
    """A CBOR major-type-7 float, so a whole double (5.0) stays distinguishable from the integer 5."""


def decode_cbor(data):
    value, end = _cbor_item(data, 0)
    if end != len(data):
        raise ValueError(f"{len(data) - end} trailing bytes after the CBOR item")
    return value


def _cbor_uint(data, pos, info):
    if info < 24:
        return info, pos
    size = {24: 1, 25: 2, 26: 4, 27: 8}.get(info)
    if size is None:
        raise ValueError(f"unsupported CBOR additional info {info}")
    return int.from_bytes(data[pos : pos + size], "big"), pos + size


BREAK = object()


def _cbor_item(data, pos):
    if pos >= len(data):
        raise ValueError("truncated CBOR")
    initial = data[pos]
    major, info = initial >> 5, initial & 0x1F
    pos += 1
    if major == 7:
        if info == 20:
            return False, pos
        if info == 21:
            return True, pos
        if info in (22, 23):
            return None, pos
        if info == 31:
            return BREAK, pos
        fmt = {25: (">e", 2), 26: (">f", 4), 27: (">d", 8)}.get(info)
        if fmt is None:
            raise ValueError(f"unsupported CBOR simple value {info}")
        return CborFloat(struct.unpack(fmt[0], data[pos : pos + fmt[1]])[0]), pos + fmt[1]
    if info == 31 and major in (2, 3, 4, 5):
        items = []
        while True:
            item, pos = _cbor_item(data, pos)
            if item is BREAK:
                break
            items.append(item)
        if major == 2:
            return b"".join(items), pos
        if major == 3:
            return "".join(items), pos
        if major == 4:
            return items, pos
        return _pairs(items), pos
    n, pos = _cbor_uint(data, pos, info)
    if major == 0:
        return n, pos
    if major == 1:
        return -1 - n, pos
    if major == 2:
        return bytes(data[pos : pos + n]), pos + n
    if major == 3:
        return bytes(data[pos : pos + n]).decode("utf-8"), pos + n
    if major == 4:
        items = []
        for _ in range(n):
            item, pos = _cbor_item(data, pos)
            items.append(item)
        return items, pos
    if major == 5:
        items = []
        for _ in range(2 * n):
            item, pos = _cbor_item(data, pos)
            items.append(item)
        return _pairs(items), pos
    inner, pos = _cbor_item(data, pos)
    return Tag(n, inner), pos


def _pairs(items):
    out = {}
    for key, value in zip(items[::2], items[1::2]):
        if not isinstance(key, str):
            raise ValueError(f"CBOR map key {key!r} is not text")
        out[key] = value
    return out


# ---- values against shapes --------------------------------------------------------------------------------------

INTEGER_TYPES = ("integer", "long", "short", "byte", "bigInteger")
FLOAT_TYPES = ("float", "double", "bigDecimal")


class Checker:
    """Walks a decoded body and a shape together, collecting problems as `path: what`."""

    def __init__(self, protocol):
        self.protocol = protocol
        self.problems = []

    def fail(self, path, message):
        self.problems.append(f"{path or '<body>'}: {message}")

    # JSON and CBOR bodies decode to the same Python containers; only scalars are encoded differently.
    def value(self, shape, value, path):
        kind = shape.type_name
        if value is None:
            self.fail(path, f"null where the model has a {kind} ({shape.name}); AWS omits absent members")
            return
        if kind == "structure":
            self.structure(shape, value, path)
        elif kind == "list":
            if not isinstance(value, list):
                return self.fail(path, f"expected a list ({shape.name}), got {type(value).__name__}")
            for i, item in enumerate(value):
                self.value(shape.member, item, f"{path}[{i}]")
        elif kind == "map":
            if not isinstance(value, dict):
                return self.fail(path, f"expected a map ({shape.name}), got {type(value).__name__}")
            for k, v in value.items():
                self.scalar(shape.key, k, f"{path}{{key {k!r}}}")
                self.value(shape.value, v, f"{path}.{k}")
        else:
            self.scalar(shape, value, path)

    def structure(self, shape, value, path):
        # A Smithy document (e.g. ECS `hookDetails`) is a structure with the `document` trait: any JSON value.
        if getattr(shape, "is_document_type", False):
            return
        if not isinstance(value, dict):
            return self.fail(path, f"expected a structure ({shape.name}), got {type(value).__name__}")
        wire_names = {m.serialization.get("name", name): name for name, m in shape.members.items()}
        for key, item in value.items():
            member = wire_names.get(key)
            if member is None:
                self.fail(join(path, key), f"unknown member: {shape.name} has no member {key!r}")
                continue
            self.value(shape.members[member], item, join(path, key))
        for required in shape.required_members:
            wire = shape.members[required].serialization.get("name", required)
            if wire not in value:
                self.fail(join(path, wire), f"required member of {shape.name} is missing")
        if shape.is_tagged_union and len(value) != 1:
            self.fail(path, f"union {shape.name} must have exactly one member set, has {len(value)}")

    def scalar(self, shape, value, path):
        kind = shape.type_name
        cbor = self.protocol == "smithy-rpc-v2-cbor"
        if kind == "string":
            if not isinstance(value, str):
                return self.fail(path, f"expected a string ({shape.name}), got {value!r}")
            if shape.enum and value not in shape.enum:
                self.fail(path, f"{value!r} is not a value of enum {shape.name} {sorted(shape.enum)}")
        elif kind == "boolean":
            if not isinstance(value, bool):
                self.fail(path, f"expected a boolean, got {value!r}")
        elif kind in INTEGER_TYPES:
            if isinstance(value, bool) or not isinstance(value, int) or isinstance(value, float):
                self.fail(path, f"expected an {kind}, got {value!r}")
            elif shape.metadata.get("min") is not None and value < shape.metadata["min"]:
                self.fail(path, f"{value} is below the model's minimum {shape.metadata['min']}")
        elif kind in FLOAT_TYPES:
            if cbor:
                # The Rust SDK's CBOR decoder reads doubles with `decoder.double()`, which rejects integers.
                if not isinstance(value, CborFloat):
                    self.fail(path, f"expected a CBOR float ({kind}), got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                if value not in ("NaN", "Infinity", "-Infinity"):
                    self.fail(path, f"expected a number ({kind}), got {value!r}")
        elif kind == "timestamp":
            self.timestamp(shape, value, path)
        elif kind == "blob":
            if cbor:
                if not isinstance(value, bytes):
                    self.fail(path, f"expected a CBOR byte string (blob), got {type(value).__name__}")
            elif not isinstance(value, str) or not is_base64(value):
                self.fail(path, f"expected base64 text (blob), got {value!r}")
        elif kind == "document":
            pass
        else:
            self.fail(path, f"unhandled model type {kind}")

    def timestamp(self, shape, value, path):
        fmt = shape.serialization.get("timestampFormat")
        if self.protocol == "smithy-rpc-v2-cbor":
            # RPC v2 CBOR: always tag 1 around epoch seconds, whatever timestampFormat says.
            if not isinstance(value, Tag) or value.tag != CBOR_TAG_EPOCH:
                return self.fail(path, f"expected a CBOR tag-1 epoch timestamp, got {value!r}")
            if isinstance(value.value, bool) or not isinstance(value.value, (int, float)):
                self.fail(path, f"tag 1 must wrap a number, got {value.value!r}")
        elif fmt == "iso8601":
            if not isinstance(value, str) or not is_iso8601(value):
                self.fail(path, f"expected an ISO 8601 timestamp, got {value!r}")
        elif fmt == "rfc822":
            if not isinstance(value, str):
                self.fail(path, f"expected an RFC 822 timestamp, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            # awsJson's default: epoch seconds as a JSON number.
            self.fail(path, f"expected epoch seconds (a number), got {value!r}")

    # ---- awsQuery XML ----
    def xml(self, shape, element, path):
        kind = shape.type_name
        children = list(element)
        if kind == "structure":
            by_wire = {m.serialization.get("name", name): name for name, m in shape.members.items()}
            seen = set()
            for child in children:
                tag = local(child.tag)
                member = by_wire.get(tag)
                if member is None:
                    self.fail(join(path, tag), f"unknown member: {shape.name} has no member {tag!r}")
                    continue
                m = shape.members[member]
                if m.type_name == "list" and m.serialization.get("flattened"):
                    self.xml(m.member, child, join(path, tag))
                elif tag in seen:
                    self.fail(join(path, tag), "member appears twice")
                else:
                    self.xml(m, child, join(path, tag))
                seen.add(tag)
            for required in shape.required_members:
                wire = shape.members[required].serialization.get("name", required)
                if wire not in seen:
                    self.fail(join(path, wire), f"required member of {shape.name} is missing")
        elif kind == "list":
            item_name = shape.member.serialization.get("name", "member")
            for i, child in enumerate(children):
                if local(child.tag) != item_name:
                    self.fail(f"{path}[{i}]", f"list item element must be <{item_name}>, got <{local(child.tag)}>")
                    continue
                self.xml(shape.member, child, f"{path}[{i}]")
        elif kind == "map":
            for i, entry in enumerate(children):
                if local(entry.tag) != "entry":
                    self.fail(f"{path}[{i}]", f"map entries must be <entry>, got <{local(entry.tag)}>")
                    continue
                parts = {local(c.tag): c for c in entry}
                if set(parts) != {"key", "value"}:
                    self.fail(f"{path}[{i}]", f"a map entry holds <key> and <value>, got {sorted(parts)}")
                    continue
                self.xml(shape.key, parts["key"], f"{path}[{i}].key")
                self.xml(shape.value, parts["value"], f"{path}[{i}].value")
        else:
            if children:
                self.fail(path, f"expected text ({kind}), got child elements")
                return
            self.xml_text(shape, element.text or "", path)

    def xml_text(self, shape, text, path):
        kind = shape.type_name
        if kind == "string":
            if shape.enum and text not in shape.enum:
                self.fail(path, f"{text!r} is not a value of enum {shape.name} {sorted(shape.enum)}")
        elif kind == "boolean":
            if text not in ("true", "false"):
                self.fail(path, f"expected true or false, got {text!r}")
        elif kind in INTEGER_TYPES:
            try:
                int(text)
            except ValueError:
                self.fail(path, f"expected an {kind}, got {text!r}")
        elif kind in FLOAT_TYPES:
            try:
                float(text)
            except ValueError:
                self.fail(path, f"expected a number ({kind}), got {text!r}")
        elif kind == "timestamp":
            if not is_iso8601(text):
                self.fail(path, f"expected an ISO 8601 timestamp, got {text!r}")
        elif kind == "blob":
            if not is_base64(text):
                self.fail(path, f"expected base64 text (blob), got {text!r}")


def join(path, key):
    return f"{path}.{key}" if path else key


def local(tag):
    return tag.rsplit("}", 1)[-1]


def is_base64(text):
    try:
        base64.b64decode(text, validate=True)
        return True
    except (binascii.Error, ValueError):
        return False


def is_iso8601(text):
    try:
        datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


# ---- whole responses --------------------------------------------------------------------------------------------


def content_type_for(service_model, protocol):
    if protocol == "rest-json":
        return "application/json"
    if protocol == "json":
        return f"application/x-amz-json-{service_model.metadata.get('jsonVersion', '1.0')}"
    if protocol == "smithy-rpc-v2-cbor":
        return "application/cbor"
    return "text/xml"


def header(headers, name):
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


def check_response(operation_model, protocol, status, headers, body):
    """Every difference between one raw response and the model, as a list of strings (empty = conforms)."""
    service_model = operation_model.service_model
    checker = Checker(protocol)
    want_type = content_type_for(service_model, protocol)
    got_type = (header(headers, "content-type") or "").split(";")[0].strip()
    if got_type != want_type:
        checker.fail("Content-Type", f"expected {want_type}, got {got_type or 'none'}")
    if protocol == "smithy-rpc-v2-cbor" and header(headers, "smithy-protocol") != "rpc-v2-cbor":
        checker.fail("smithy-protocol", f"expected header rpc-v2-cbor, got {header(headers, 'smithy-protocol')}")
    try:
        if 200 <= status < 300:
            check_output(checker, operation_model, protocol, body)
        else:
            check_error(checker, operation_model, protocol, status, headers, body)
    except (ValueError, ET.ParseError) as e:
        checker.fail("", f"undecodable {protocol} body: {e}")
    return checker.problems


def decode(protocol, body):
    if protocol in ("json", "rest-json"):
        return json.loads(body.decode("utf-8")) if body else {}
    if protocol == "smithy-rpc-v2-cbor":
        return decode_cbor(body) if body else {}
    return ET.fromstring(body)


def check_output(checker, operation_model, protocol, body):
    shape = operation_model.output_shape
    if protocol in ("json", "rest-json", "smithy-rpc-v2-cbor"):
        value = decode(protocol, body)
        if shape is None:
            if value not in ({}, None):
                checker.fail("", f"the operation has no output, got {value!r}")
            return
        checker.value(shape, value, "")
        return
    root = decode(protocol, body)
    name = operation_model.name
    if local(root.tag) != f"{name}Response":
        checker.fail("", f"root element must be <{name}Response>, got <{local(root.tag)}>")
        return
    children = {local(c.tag): c for c in root}
    wrapper = shape.serialization.get("resultWrapper") if shape is not None else None
    expected = {"ResponseMetadata"} | ({wrapper} if wrapper else set())
    for extra in sorted(set(children) - expected):
        checker.fail(extra, f"unexpected element in <{name}Response>")
    metadata = children.get("ResponseMetadata")
    if metadata is None or not [c for c in metadata if local(c.tag) == "RequestId"]:
        checker.fail("ResponseMetadata.RequestId", "missing")
    if wrapper:
        result = children.get(wrapper)
        if result is None:
            checker.fail(wrapper, "missing")
        else:
            checker.xml(shape, result, "")


def modelled_error(operation_model, code, by_query_code):
    """The operation's error shape a wire code names, or None. Query and awsQueryCompatible services name errors
    by their `awsQueryError` code (`error.code` in the model), the others by the shape name."""
    for shape in operation_model.error_shapes:
        name = (shape.metadata.get("error", {}).get("code") or shape.name) if by_query_code else shape.name
        if name == code:
            return shape
    return None


def expected_status(shape):
    error = shape.metadata.get("error", {})
    if "httpStatusCode" in error:
        return error["httpStatusCode"]
    return 500 if shape.metadata.get("fault") else 400


def sanitize(code):
    """`com.amazonaws.ecs#ClusterNotFoundException:http://...` -> `ClusterNotFoundException`, as the SDKs read
    `__type`."""
    return code.rsplit("#", 1)[-1].split(":", 1)[0]


def check_error(checker, operation_model, protocol, status, headers, body):
    service_model = operation_model.service_model
    query_compatible = "awsQueryCompatible" in service_model.metadata
    by_query_code = query_compatible or protocol == "query"
    if protocol == "query":
        root = decode(protocol, body)
        if local(root.tag) != "ErrorResponse":
            checker.fail("", f"an error's root element must be <ErrorResponse>, got <{local(root.tag)}>")
            return
        error = next((c for c in root if local(c.tag) == "Error"), None)
        if error is None:
            checker.fail("Error", "missing")
            return
        fields = {local(c.tag): (c.text or "") for c in error}
        for extra in sorted(set(fields) - {"Type", "Code", "Message"}):
            checker.fail(f"Error.{extra}", "unexpected element")
        if fields.get("Type") not in ("Sender", "Receiver"):
            checker.fail("Error.Type", f"expected Sender or Receiver, got {fields.get('Type')!r}")
        if not [c for c in root if local(c.tag) == "RequestId"]:
            checker.fail("RequestId", "missing")
        code = fields.get("Code", "")
    else:
        value = decode(protocol, body)
        if protocol == "rest-json":
            # restJson1: the type travels in `x-amzn-ErrorType` (or the body's `code`/`__type`), the members in the body.
            wire = header(headers, "x-amzn-errortype") or (value.get("code") if isinstance(value, dict) else None)
            if not isinstance(value, dict) or not isinstance(wire, str):
                checker.fail("x-amzn-ErrorType", f"a restJson1 error must name its type, got {value!r}")
                return
            code = sanitize(wire)
            error_shape = modelled_error(operation_model, code, False)
            if error_shape is not None:
                checker.structure(error_shape, {k: v for k, v in value.items() if k not in ("__type", "code")}, "")
        elif not isinstance(value, dict) or not isinstance(value.get("__type"), str):
            checker.fail("__type", f"an error body must carry __type, got {value!r}")
            return
        else:
            code = sanitize(value["__type"])
        if query_compatible:
            # awsQueryCompatible: the query code travels in this header, and the SDKs take it from there.
            query_error = header(headers, "x-amzn-query-error")
            if not query_error or ";" not in query_error:
                checker.fail("x-amzn-query-error", f"awsQueryCompatible errors carry `Code;Sender`, got {query_error}")
            else:
                query_code, fault = query_error.split(";", 1)
                if fault not in ("Sender", "Receiver"):
                    checker.fail("x-amzn-query-error", f"fault must be Sender or Receiver, got {fault!r}")
                shape = modelled_error(operation_model, query_code, True)
                if shape is not None and code not in (shape.name, query_code):
                    checker.fail("__type", f"{value['__type']!r} does not name the error shape {shape.name}")
                code = query_code
        shape = modelled_error(operation_model, code, by_query_code)
        known = {m.lower() for m in shape.members} if shape is not None else set()
        for key, item in value.items():
            if key == "__type" or key.lower() == "message" or key.lower() in known:
                continue
            checker.fail(key, f"unknown member of error {code}")
    shape = modelled_error(operation_model, code, by_query_code)
    if shape is not None:
        want = expected_status(shape)
    elif code in COMMON_ERRORS:
        want = COMMON_ERRORS[code]
    else:
        modelled = sorted(
            (s.metadata.get("error", {}).get("code") or s.name) if by_query_code else s.name
            for s in operation_model.error_shapes
        )
        checker.fail("error", f"{code!r} is neither a modelled error of {operation_model.name} {modelled} nor a common error")
        return
    if status != want:
        checker.fail("status", f"{code} must answer HTTP {want}, got {status}")
