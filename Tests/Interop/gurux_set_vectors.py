#!/usr/bin/env python3
"""SET service interop vectors for dlms-bridge, produced at run time by gurux-dlms (issue 11).

Run with no arguments: prints one JSON document on stdout and exits 0. With --check-our-responses it reads
SET-Response APDUs built by dlms-bridge (hex, one a line) on stdin and answers, one JSON line each, the
invoke id and result gurux's client parser reads from them ({"invokeId": n, "result": n} or {"error": text}).
Any gurux exception or failed self-check exits non-zero with the reason on stderr.

The document (schema 1):
  generator     {package, version, schema}
  setRequests   SET-Request-Normal APDUs gurux's client builds to write a clock's attribute 2:
                name, invokeIdAndPriority, classId, obis, attribute, value (hex of the A-XDR Data gurux
                encodes for the time), fields (the date-time fields written), apdu (hex).
  setResponses  SET-Response-Normal APDUs gurux's LN builder encodes for a result: name,
                invokeIdAndPriority, result, apdu (hex), parsed (what gurux's client reads back).
"""

import datetime
import json
import sys
import traceback

try:
    from gurux_dlms import GXDLMSClient
    from gurux_dlms.GXByteBuffer import GXByteBuffer
    from gurux_dlms.GXDLMS import GXDLMS
    from gurux_dlms.GXDLMSSettings import GXDLMSSettings
    from gurux_dlms.GXDLMSLNParameters import GXDLMSLNParameters
    from gurux_dlms.GXReplyData import GXReplyData
    from gurux_dlms.GXDateTime import GXDateTime
    from gurux_dlms.enums import Authentication, Command, InterfaceType
    from gurux_dlms.SetResponseType import SetResponseType
    from gurux_dlms.objects import GXDLMSClock
except ImportError as exc:  # pragma: no cover - reported to the operator
    sys.stderr.write(
        "gurux_set_vectors.py: cannot import gurux-dlms (%s). Run `make venv` and use .venv/bin/python.\n" % exc
    )
    sys.exit(2)

# The version pin, the schema, the failure type and the hex form are gurux_vectors.py's (this script's directory
# is on sys.path when it runs), so that both generators move together.
from gurux_vectors import GURUX_VERSION, SCHEMA, VectorError, as_bytes, hx  # noqa: E402


def pdu_client():
    c = GXDLMSClient(True, 32, 1, Authentication.NONE, None, InterfaceType.PDU)
    c.autoIncreaseInvokeID = False
    return c


def flatten(messages):
    """gurux returns a list of messages; with the PDU interface each one is an APDU."""
    if len(messages) != 1:
        raise VectorError("gurux split a SET-Request-Normal into %d messages" % len(messages))
    m = messages[0]
    return as_bytes(m)


def build_set_requests(out):
    cases = [
        ("utc", datetime.datetime(2026, 12, 7, 1, 2, 3, tzinfo=datetime.timezone.utc), 1),
        ("plus-60", datetime.datetime(2024, 3, 1, 0, 0, 0,
                                      tzinfo=datetime.timezone(datetime.timedelta(minutes=60))), 5),
        ("minus-300", datetime.datetime(2025, 7, 15, 23, 59, 59,
                                        tzinfo=datetime.timezone(datetime.timedelta(minutes=-300))), 15),
    ]
    for name, when, invoke in cases:
        c = pdu_client()
        c.settings.invokeId = invoke
        clock = GXDLMSClock("0.0.1.0.0.255")
        clock.time = GXDateTime(when)
        apdu = flatten(c.write(clock, 2))
        # The value: everything after C1 01 iid, the 9-byte descriptor and the access flag.
        value = apdu[3 + 9 + 1:]
        iid = apdu[2]
        if apdu[0] != 0xC1 or apdu[1] != 0x01:
            raise VectorError("gurux's SET-Request %s does not start C1 01: %s" % (name, hx(apdu)))
        if value[0] != 0x09 or value[1] != 12:
            raise VectorError("gurux did not write the clock as octet-string(12): %s" % hx(value))
        offset = when.utcoffset()
        out.append({
            "name": "set clock %s invoke %d" % (name, invoke),
            "invokeIdAndPriority": iid,
            "classId": 8, "obis": "0.0.1.0.0.255", "attribute": 2,
            "value": hx(value),
            "fields": {"year": when.year, "month": when.month, "day": when.day, "hour": when.hour,
                       "minute": when.minute, "second": when.second,
                       "offsetMinutes": int(offset.total_seconds() // 60)},
            "apdu": hx(apdu),
        })


def parse_set_response(apdu):
    c = pdu_client()
    reply = GXReplyData()
    try:
        c.getData(GXByteBuffer(bytearray(apdu)), reply, None)
    except Exception as exc:  # gurux raises for a refused result; keep its verdict
        return {"invokeId": reply.invokeId, "result": reply.error, "raised": str(exc)}
    return {"invokeId": reply.invokeId, "result": reply.error}


def build_set_responses(out):
    for result in (0, 3, 4, 250):
        for invoke in (0xC1, 0xC7, 0x4F):
            settings = GXDLMSSettings(True, None)
            settings.interfaceType = InterfaceType.PDU
            p = GXDLMSLNParameters(settings, invoke, Command.SET_RESPONSE, SetResponseType.NORMAL, None, None,
                                   result)
            blocks = GXDLMS.getLnMessages(p)
            if len(blocks) != 1:
                raise VectorError("gurux built %d SET-Responses" % len(blocks))
            apdu = as_bytes(blocks[0])
            parsed = parse_set_response(apdu)
            if parsed["result"] != result:
                raise VectorError("gurux reads its own SET-Response %s as result %r" % (hx(apdu), parsed))
            out.append({"name": "set-response result %d invoke %02X" % (result, invoke),
                        "invokeIdAndPriority": invoke, "result": result, "apdu": hx(apdu), "parsed": parsed})


def main():
    if sys.argv[1:] == ["--check-our-responses"]:
        for line in sys.stdin.read().split():
            try:
                sys.stdout.write(json.dumps(parse_set_response(bytes.fromhex(line)), sort_keys=True) + "\n")
            except Exception as exc:
                sys.stdout.write(json.dumps({"error": str(exc)}) + "\n")
        return 0
    doc = {"generator": {"package": "gurux-dlms", "version": GURUX_VERSION, "schema": SCHEMA},
           "setRequests": [], "setResponses": []}
    build_set_requests(doc["setRequests"])
    build_set_responses(doc["setResponses"])
    json.dump(doc, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:
        sys.stderr.write("gurux_set_vectors.py: FAILED while generating vectors\n")
        traceback.print_exc(file=sys.stderr)
        sys.exit(1)
