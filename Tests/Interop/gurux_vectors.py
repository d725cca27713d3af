#!/usr/bin/env python3
"""Interop vectors for dlms-bridge, produced at run time by the independent gurux-dlms implementation.

Run with no arguments: prints one JSON document on stdout and exits 0. With --check-our-frames it reads
frames built by dlms-bridge on stdin and answers, one JSON line each, how gurux's parsers read them. Any gurux exception, or any
self-check that fails (gurux not accepting its own frames, a round trip that changes a value), exits
non-zero with the reason on stderr, so the Swift test that consumes this never sees half a document.

The document (schema 1):
  generator     {package, version, schema}
  inexpressible address combinations gurux cannot put on the wire, with what it emits instead
  requests      client -> meter frames built by GXDLMSClient (SNRM, DISC, AARQ, GET Normal/With-List/
                Next/selective access, RR). Each: name, kind, params, frames[] (hex), decoded[] (what
                gurux's own HDLC parser reads back from each frame), apdu (hex, LLC removed, reassembled).
  aares         AARE APDUs from gurux's encoder (accepted, rejected) and what gurux's client reads from them.
  axdr          A-XDR Data encoded by gurux (_GXCommon.setData): name, params, hex, value (typed JSON,
                as gurux's _GXCommon.getData decodes it).
  getResponses  GET-Response APDUs encoded by gurux's LN PDU builder: name, params, apdus[] (hex, several
                for block transfer), nextRequests[] (the GET-Request-Next APDUs gurux sends between
                blocks), result (as gurux's client parser yields it).
  conversations HDLC exchanges of a segmented and/or block-transferred GET-Response: steps[] in order
                ({from: client|meter, hex, what}), result as gurux's client decoded it.

Typed values: {"type": <name>, "value": ...}; integers of 64 bits are decimal strings; octet strings,
bit strings and raw date/time octets are hex; arrays and structures hold a list of typed values;
date-time/date/time carry "fields" (null = not specified) as gurux decodes them.
"""

import datetime
import json
import sys
import traceback

try:
    import gurux_dlms
    from gurux_dlms import GXDLMSClient
    from gurux_dlms.GXByteBuffer import GXByteBuffer
    from gurux_dlms.GXDLMS import GXDLMS
    from gurux_dlms.GXDLMSSettings import GXDLMSSettings
    from gurux_dlms.GXDLMSLNParameters import GXDLMSLNParameters
    from gurux_dlms.GXReplyData import GXReplyData
    from gurux_dlms.GXDateTime import GXDateTime
    from gurux_dlms.GXDate import GXDate
    from gurux_dlms.GXTime import GXTime
    from gurux_dlms.GXBitString import GXBitString
    from gurux_dlms.GXArray import GXArray
    from gurux_dlms.GXStructure import GXStructure
    from gurux_dlms.GXTimeZone import GXTimeZone
    from gurux_dlms.GetCommandType import GetCommandType
    from gurux_dlms.internal._GXCommon import _GXCommon
    from gurux_dlms.internal._GXDataInfo import _GXDataInfo
    from gurux_dlms.enums import (
        Authentication,
        Command,
        Conformance,
        DataType,
        DateTimeSkips,
        InterfaceType,
        ObjectType,
        RequestTypes,
    )
    from gurux_dlms.objects import GXDLMSRegister, GXDLMSProfileGeneric, GXDLMSClock, GXDLMSData
except ImportError as exc:  # pragma: no cover - reported to the operator
    sys.stderr.write(
        "gurux_vectors.py: cannot import gurux-dlms (%s). Run `make venv` and use .venv/bin/python.\n" % exc
    )
    sys.exit(2)

SCHEMA = 1
GURUX_VERSION = "1.0.203"


class VectorError(Exception):
    """A self-check failed: gurux did not accept or reproduce its own output."""


def hx(data):
    return bytes(data).hex().upper()


def as_bytes(data):
    if isinstance(data, GXByteBuffer):
        return bytes(data.array())
    return bytes(data)


# ---------------------------------------------------------------------------------------------------
# Typed values: gurux's decoded Python objects -> JSON.


def dt_fields(value, kind):
    """Fields of a gurux GXDateTime/GXDate/GXTime as gurux decoded them (None = not specified)."""
    skip = value.skip
    v = value.value
    fields = {}
    if kind in ("date-time", "date"):
        fields["year"] = None if skip & DateTimeSkips.YEAR else v.year
        fields["month"] = None if skip & DateTimeSkips.MONTH else v.month
        fields["day"] = None if skip & DateTimeSkips.DAY else v.day
        dow = getattr(value, "dayOfWeek", 0xFF)
        fields["dayOfWeek"] = None if (skip & DateTimeSkips.DAY_OF_WEEK or dow in (0, 0xFF)) else dow
    if kind in ("date-time", "time"):
        fields["hour"] = None if skip & DateTimeSkips.HOUR else v.hour
        fields["minute"] = None if skip & DateTimeSkips.MINUTE else v.minute
        fields["second"] = None if skip & DateTimeSkips.SECOND else v.second
        fields["hundredths"] = None if skip & DateTimeSkips.MILLISECOND else v.microsecond // 10000
    if kind == "date-time":
        off = v.utcoffset()
        if skip & DateTimeSkips.DEVITATION or off is None:
            fields["deviation"] = None
        else:
            # gurux (useUtc2NormalTime False) stores tz = -deviation; the wire value is minutes.
            fields["deviation"] = -int(off.total_seconds() // 60)
        fields["clockStatus"] = None if skip & DateTimeSkips.STATUS else int(value.status)
    return fields


TYPE_NAMES = {
    DataType.NONE: "null",
    DataType.ARRAY: "array",
    DataType.STRUCTURE: "structure",
    DataType.BOOLEAN: "boolean",
    DataType.BITSTRING: "bit-string",
    DataType.INT32: "double-long",
    DataType.UINT32: "double-long-unsigned",
    DataType.OCTET_STRING: "octet-string",
    DataType.STRING: "visible-string",
    DataType.STRING_UTF8: "utf8-string",
    DataType.BCD: "bcd",
    DataType.INT8: "integer",
    DataType.INT16: "long",
    DataType.UINT8: "unsigned",
    DataType.UINT16: "long-unsigned",
    DataType.INT64: "long64",
    DataType.UINT64: "long64-unsigned",
    DataType.ENUM: "enum",
    DataType.FLOAT32: "float32",
    DataType.FLOAT64: "float64",
    DataType.DATETIME: "date-time",
    DataType.DATE: "date",
    DataType.TIME: "time",
}


def typed(buff_type, value, raw):
    """JSON for one decoded gurux value. raw: the A-XDR bytes of this element (tag included)."""
    name = TYPE_NAMES.get(buff_type)
    if name is None:
        raise VectorError("gurux decoded an unexpected data type %r" % buff_type)
    if name == "null":
        return {"type": name, "value": None}
    if name in ("array", "structure"):
        raise VectorError("containers are converted by typed_tree")
    if name == "boolean":
        return {"type": name, "value": bool(value)}
    if name == "bit-string":
        # gurux keeps the bits MSB first in .value bytes plus a pad count; give bit count and bytes.
        nbits = len(value.value) * 8 - value.pad_bits
        return {"type": name, "value": {"bits": nbits, "hex": hx(value.value)}}
    if name in ("long64", "long64-unsigned"):
        return {"type": name, "value": str(int(value))}
    if name in ("double-long", "double-long-unsigned", "integer", "long", "unsigned", "long-unsigned",
                "enum", "bcd"):
        return {"type": name, "value": int(value)}
    if name in ("float32", "float64"):
        return {"type": name, "value": float(value)}
    if name == "octet-string":
        return {"type": name, "value": hx(value)}
    if name == "visible-string":
        return {"type": name, "value": str(value)}
    if name == "utf8-string":
        # gurux 1.0.203 returns utf8-string as a hex dump of its bytes ("C3 A9"); give back the text.
        text = bytes.fromhex(str(value).replace(" ", "")).decode("utf-8")
        return {"type": name, "value": text, "guruxValue": str(value)}
    if name in ("date-time", "date", "time"):
        return {"type": name, "value": hx(raw[1:]), "fields": dt_fields(value, name)}
    raise VectorError("no JSON mapping for %s" % name)


def decode_axdr(data):
    """Decode one A-XDR Data with gurux and return (typed JSON tree, bytes consumed).

    gurux's getData returns plain Python values without the nested type tags, so the tree is walked
    element by element with gurux decoding each element (containers recurse on the element count)."""
    buff = GXByteBuffer(bytearray(data))
    tree = _walk(buff)
    if buff.position != len(buff):
        raise VectorError("gurux left %d trailing bytes in %s" % (len(buff) - buff.position, hx(data)))
    # And gurux's own one-shot decode must agree with the element walk.
    whole = _GXCommon.getData(GXDLMSSettings(False, None), GXByteBuffer(bytearray(data)), _GXDataInfo())
    if not _same(tree, whole):
        raise VectorError("gurux element walk and one-shot decode disagree for %s" % hx(data))
    return tree


def _walk(buff):
    start = buff.position
    tag = buff.getUInt8(buff.position)
    if tag in (DataType.ARRAY, DataType.STRUCTURE):
        buff.position += 1
        count = _GXCommon.getObjectCount(buff)
        items = [_walk(buff) for _ in range(count)]
        return {"type": TYPE_NAMES[tag], "value": items}
    info = _GXDataInfo()
    value = _GXCommon.getData(GXDLMSSettings(False, None), buff, info)
    if not info.complete:
        raise VectorError("gurux could not decode a complete element at %d" % start)
    raw = bytes(buff._data[start:buff.position])
    return typed(info.type_, value, raw)


def _same(tree, value):
    t = tree["type"]
    if t in ("array", "structure"):
        return isinstance(value, list) and len(value) == len(tree["value"]) and all(
            _same(a, b) for a, b in zip(tree["value"], value))
    if t == "null":
        return value is None
    return True  # scalars were produced by the same gurux decoder


# ---------------------------------------------------------------------------------------------------
# Addresses.


def server_address_fields(b):
    """Decode an HDLC server address the way IEC 62056-46 lays it out (for the inexpressible check)."""
    vals = []
    for byte in b:
        vals.append(byte >> 1)
    if len(b) == 1:
        return {"width": 1, "value7": vals[0]}
    if len(b) == 2:
        return {"width": 2, "upper": vals[0], "lower": vals[1]}
    if len(b) == 4:
        return {"width": 4, "upper": (vals[0] << 7) | vals[1], "lower": (vals[2] << 7) | vals[3]}
    return {"width": len(b)}


def gurux_parse(frame_bytes, as_server=True):
    """Parse one HDLC frame with gurux's own parser. Returns decoded fields.

    as_server=True parses a client->meter frame the way a gurux meter would. The translator flag (xml)
    is not used; sequence checks are bypassed by giving each frame fresh settings."""
    settings = GXDLMSSettings(as_server, None)
    settings.serverAddress = 0
    settings.clientAddress = 0
    buff = GXByteBuffer(bytearray(frame_bytes))
    data = GXReplyData()
    # Fresh settings would reject an I-frame whose sequence it did not expect: prime the receiver
    # sequence from the frame itself (gurux has no "accept any" switch for checkFrame).
    control = frame_bytes[_control_index(frame_bytes)]
    if control & 1 == 0:
        # An I-frame: checkFrame accepts it only as the successor of the receiver state it holds.
        settings.receiverFrame = _prime_receiver(control)
    cf = GXDLMS.getHdlcData(as_server, settings, buff, data, None)
    if not data.complete:
        raise VectorError("gurux did not see a complete frame in %s" % hx(frame_bytes))
    GXDLMS.getDataFromFrame(buff, data, True)
    # gurux's reading of the addresses (checkHdlcAddress stored them in the settings).
    logical, physical = [0], [0]
    GXDLMS.getServerAddress(settings.serverAddress, logical, physical)
    return {
        "control": cf,
        "segmented": bool(frame_bytes[1] & 0x08),
        "serverLogical": logical[0],
        "serverPhysical": physical[0],
        "clientSAP": settings.clientAddress,
        "payload": hx(as_bytes(data.data.array())),
    }


def _control_index(frame_bytes):
    i = 3
    while not frame_bytes[i] & 1:  # destination address
        i += 1
    i += 1
    while not frame_bytes[i] & 1:  # source address
        i += 1
    return i + 1


def _prime_receiver(control):
    for rx in range(256):
        if GXDLMSSettings.increaseReceiverSequence(GXDLMSSettings.increaseSendSequence(rx)) == control:
            return rx
    for rx in range(256):
        if control == ((rx & 0xFF) + 0x20 | 0x10 | rx & 0xE) & 0xFF:
            return rx
    return 0


def client_for(p):
    """A GXDLMSClient configured from one params dict."""
    auth = Authentication.LOW if p.get("password") is not None else Authentication.NONE
    address = GXDLMSClient.getServerAddress(p["serverLogical"], p["serverPhysical"], p["addressSize"])
    c = GXDLMSClient(True, p["clientSAP"], address, auth, p.get("password"), InterfaceType.HDLC)
    c.serverAddressSize = p["addressSize"]
    c.hdlcSettings.maxInfoTX = p.get("maxInfoTX", 128)
    c.hdlcSettings.maxInfoRX = p.get("maxInfoRX", 128)
    c.hdlcSettings.windowSizeTX = p.get("windowTX", 1)
    c.hdlcSettings.windowSizeRX = p.get("windowRX", 1)
    if "conformance" in p:
        c.proposedConformance = Conformance(wire_to_gurux_conformance(p["conformance"]))
    if "maxPduSize" in p:
        c.maxReceivePDUSize = p["maxPduSize"]
    return c


def check_address(p, frame_bytes):
    """Does gurux's destination address carry the requested logical/physical in the requested width?

    Returns None when it does, else a reason. Width 0 means "smallest that fits" (auto)."""
    n = 1
    while not frame_bytes[3 + n - 1] & 1:
        n += 1
    dest = frame_bytes[3:3 + n]
    f = server_address_fields(dest)
    want = p["addressSize"]
    lg, ph = p["serverLogical"], p["serverPhysical"]
    if want and n != want:
        return "asked for %d-byte server address, gurux emitted %d bytes %s" % (want, n, hx(dest)), dest
    if n == 1:
        # gurux puts a one-byte server address in the physical part with logical 0.
        if not (lg == 0 and f["value7"] == ph):
            return "one byte cannot hold logical %d physical %d; gurux emitted %s" % (lg, ph, hx(dest)), dest
    elif f.get("upper") != lg or f.get("lower") != ph:
        return "gurux emitted %s (upper %s lower %s)" % (hx(dest), f.get("upper"), f.get("lower")), dest
    return None, dest


def request_vector(name, kind, p, frames, extra=None):
    frames = [as_bytes(f) for f in frames]
    decoded = []
    apdu = b""
    for i, f in enumerate(frames):
        d = gurux_parse(f, as_server=True)
        n = 1
        while not f[3 + n - 1] & 1:
            n += 1
        d["destination"] = hx(f[3:3 + n])
        d["source"] = hx(f[3 + n:3 + n + 1])
        decoded.append(d)
        apdu += bytes.fromhex(d["payload"])
    v = {"name": name, "kind": kind, "params": p, "frames": [hx(f) for f in frames], "decoded": decoded,
         "apdu": hx(apdu)}
    if extra:
        v.update(extra)
    return v


# ---------------------------------------------------------------------------------------------------
# Requests.

ADDRESSES = [(lg, ph, size) for lg in (0, 1) for ph in (1, 1234) for size in (0, 1, 2, 4)]
CLIENT_SAPS = (1, 16, 32)
PASSWORDS = (None, "12345678", "ABCDEFGHIJ")
MAX_INFOS = (32, 128)
# What the agent proposes: get, selective access, block transfer with get, multiple references, ...
CONFORMANCE_AGENT = 0x007E1F
MAX_PDU_AGENT = 1200


def wire_to_gurux_conformance(value):
    """gurux numbers conformance bits in reverse of the wire's 24-bit string (bit 0 = MSB on the wire).

    The same function maps back: reversing 24 bits is its own inverse."""
    out = 0
    for bit in range(24):
        if value & (1 << bit):
            out |= 1 << (23 - bit)
    return out


def base_params(lg, ph, size, sap, **kw):
    p = {"serverLogical": lg, "serverPhysical": ph, "addressSize": size, "clientSAP": sap}
    p.update(kw)
    return p


def build_requests(out, inexpressible):
    expressible = []
    for lg, ph, size in ADDRESSES:
        p = base_params(lg, ph, size, 16)
        c = client_for(p)
        snrm = as_bytes(c.snrmRequest())
        reason, dest = check_address(p, snrm)
        if reason:
            inexpressible.append({"serverLogical": lg, "serverPhysical": ph, "addressSize": size,
                                  "guruxDestination": hx(dest), "reason": reason})
        else:
            expressible.append((lg, ph, size))

    # SNRM and DISC for every expressible address and client SAP, default parameters (empty SNRM).
    for lg, ph, size in expressible:
        for sap in CLIENT_SAPS:
            p = base_params(lg, ph, size, sap)
            c = client_for(p)
            out.append(request_vector("snrm default %d/%d/w%d sap%d" % (lg, ph, size, sap), "snrm", p,
                                      [c.snrmRequest()]))
            out.append(request_vector("disc %d/%d/w%d sap%d" % (lg, ph, size, sap), "disc", p,
                                      [c.disconnectRequest(True)]))
    # SNRM with non-default parameters.
    for lg, ph, size in expressible[:3]:
        for mi_tx, mi_rx, w_tx, w_rx in ((32, 32, 1, 1), (32, 128, 1, 1), (128, 32, 1, 1), (512, 512, 1, 1),
                                         (128, 128, 7, 7), (32, 32, 3, 1), (32, 32, 7, 7),
                                         (512, 256, 2, 3)):
            p = base_params(lg, ph, size, 1, maxInfoTX=mi_tx, maxInfoRX=mi_rx, windowTX=w_tx, windowRX=w_rx)
            c = client_for(p)
            out.append(request_vector("snrm %d/%d/w%d tx%d rx%d win%d/%d" % (lg, ph, size, mi_tx, mi_rx, w_tx,
                                                                            w_rx), "snrm", p, [c.snrmRequest()]))

    # AARQ: SAP x password x max info x conformance/PDU proposal, on two addresses.
    for lg, ph, size in expressible[:1] + [a for a in expressible if a[1] == 1234][:1]:
        for sap in CLIENT_SAPS:
            for pwd in PASSWORDS:
                for mi in MAX_INFOS:
                    for conf, pdu in ((CONFORMANCE_AGENT, MAX_PDU_AGENT), (None, None)):
                        p = base_params(lg, ph, size, sap, maxInfoTX=mi, maxInfoRX=mi)
                        if pwd is not None:
                            p["password"] = pwd
                        if conf is not None:
                            p["conformance"] = conf
                            p["maxPduSize"] = pdu
                        c = client_for(p)
                        c.snrmRequest()
                        frames = c.aarqRequest()
                        p["conformance"] = wire_to_gurux_conformance(int(c.proposedConformance))
                        p["maxPduSize"] = int(c.maxReceivePDUSize)
                        p["authentication"] = "low" if pwd is not None else "none"
                        p["firstControl"] = as_bytes(frames[0])[_control_index(as_bytes(frames[0]))]
                        out.append(request_vector(
                            "aarq %d/%d/w%d sap%d pwd%s info%d pdu%d" % (
                                lg, ph, size, sap, len(pwd) if pwd else 0, mi, p["maxPduSize"]),
                            "aarq", p, frames))

    # GET requests, sent after the AARQ (so the control bytes are the second I-frame's).
    lg, ph, size = [a for a in expressible if a[0] == 1][0]
    for mi in MAX_INFOS:
        for sap in (1, 16):
            p = base_params(lg, ph, size, sap, maxInfoTX=mi, maxInfoRX=mi, maxPduSize=MAX_PDU_AGENT,
                            conformance=CONFORMANCE_AGENT)
            add_get_requests(out, p)


def associated_client(p):
    c = client_for(p)
    c.snrmRequest()
    c.aarqRequest()
    # As if the AARE granted what was proposed (needed for GET-With-List).
    c.negotiatedConformance = c.proposedConformance
    return c


def add_get_requests(out, p):
    tag = "%d/%d/w%d sap%d info%d" % (p["serverLogical"], p["serverPhysical"], p["addressSize"], p["clientSAP"],
                                      p["maxInfoTX"])
    reg = GXDLMSRegister("1.0.32.7.0.255")
    for attr, what in ((2, "value"), (3, "scaler_unit")):
        c = associated_client(p)
        frames = c.read(reg, attr)
        q = dict(p, classId=3, obis="1.0.32.7.0.255", attribute=attr, invokeIdAndPriority=0xC1,
                 control=as_bytes(frames[0])[_control_index(as_bytes(frames[0]))])
        out.append(request_vector("get-normal register %s %s" % (what, tag), "get-normal", q, frames))
    c = associated_client(p)
    clock = GXDLMSClock("0.0.1.0.0.255")
    frames = c.read(clock, 2)
    q = dict(p, classId=8, obis="0.0.1.0.0.255", attribute=2, invokeIdAndPriority=0xC1,
             control=as_bytes(frames[0])[_control_index(as_bytes(frames[0]))])
    out.append(request_vector("get-normal clock time %s" % tag, "get-normal", q, frames))

    # With-List.
    items = [(GXDLMSRegister("1.0.32.7.0.255"), 2), (GXDLMSRegister("1.0.32.7.0.255"), 3),
             (GXDLMSRegister("1.0.31.7.0.255"), 2), (GXDLMSClock("0.0.1.0.0.255"), 2)]
    c = associated_client(p)
    messages = c.readList(items)
    if len(messages) != 1:
        raise VectorError("gurux split a 4-item With-List into %d requests" % len(messages))
    frames = messages[0]
    q = dict(p, invokeIdAndPriority=0xC1, items=[
        {"classId": int(o.objectType), "obis": o.logicalName, "attribute": a} for o, a in items],
        control=as_bytes(frames[0])[_control_index(as_bytes(frames[0]))])
    out.append(request_vector("get-with-list 4 items %s" % tag, "get-with-list", q, frames))

    # Selective access on a profile generic whose first capture object is the clock.
    pg = GXDLMSProfileGeneric("1.0.99.1.0.255")
    pg.captureObjects.append((GXDLMSClock("0.0.1.0.0.255"), _capture_object(2, 0)))
    pg.captureObjects.append((GXDLMSRegister("1.0.1.8.0.255"), _capture_object(2, 0)))
    tz = datetime.timezone(datetime.timedelta(minutes=60))
    start = GXDateTime(datetime.datetime(2024, 3, 1, 0, 0, 0, tzinfo=tz))
    end = GXDateTime(datetime.datetime(2024, 3, 2, 0, 0, 0, tzinfo=tz))
    c = associated_client(p)
    frames = c.readRowsByRange(pg, start, end)
    # readRowsByRange sends the bounds as octet-string(12), not as the date-time type.
    start_raw = _encode(DataType.OCTET_STRING, start)
    end_raw = _encode(DataType.OCTET_STRING, end)
    q = dict(p, classId=7, obis="1.0.99.1.0.255", attribute=2, invokeIdAndPriority=0xC1,
             selector=1, restrictingObject={"classId": 8, "obis": "0.0.1.0.0.255", "attribute": 2,
                                            "dataIndex": 0},
             fromValue=decode_axdr(start_raw), toValue=decode_axdr(end_raw), columns=[],
             control=as_bytes(frames[0])[_control_index(as_bytes(frames[0]))])
    out.append(request_vector("get-selective by-range %s" % tag, "get-selective-range", q, frames))

    for index, count in ((1, 10), (5, 1), (1, 0)):
        c = associated_client(p)
        frames = c.readRowsByEntry(pg, index, count)
        to_entry = 0 if count == 0 else index + count - 1
        q = dict(p, classId=7, obis="1.0.99.1.0.255", attribute=2, invokeIdAndPriority=0xC1, selector=2,
                 fromEntry=index, toEntry=to_entry, fromColumn=1, toColumn=0,
                 control=as_bytes(frames[0])[_control_index(as_bytes(frames[0]))])
        out.append(request_vector("get-selective by-entry %d..%d %s" % (index, to_entry, tag),
                                  "get-selective-entry", q, frames))


def _capture_object(attribute, data_index):
    from gurux_dlms.objects.GXDLMSCaptureObject import GXDLMSCaptureObject
    return GXDLMSCaptureObject(attribute, data_index)


def _encode(data_type, value):
    b = GXByteBuffer()
    _GXCommon.setData(GXDLMSSettings(False, None), b, data_type, value)
    return as_bytes(b.array())


# ---------------------------------------------------------------------------------------------------
# A-XDR data.

TZ_PLUS1 = datetime.timezone(datetime.timedelta(minutes=60))
TZ_MINUS5 = datetime.timezone(datetime.timedelta(minutes=-300))


def axdr_cases():
    big = bytes((i * 7 + 3) & 0xFF for i in range(300))
    dt_skipped = GXDateTime(datetime.datetime(2024, 12, 31, 23, 59, 58, tzinfo=TZ_PLUS1))
    dt_skipped.skip = DateTimeSkips.YEAR | DateTimeSkips.DEVITATION | DateTimeSkips.MILLISECOND
    return [
        ("null", DataType.NONE, None),
        ("boolean true", DataType.BOOLEAN, True),
        ("boolean false", DataType.BOOLEAN, False),
        ("bit-string 7 bits", DataType.BITSTRING, GXBitString("1011001")),
        ("bit-string 16 bits", DataType.BITSTRING, GXBitString("1000000000000001")),
        ("double-long -5", DataType.INT32, -5),
        ("double-long min", DataType.INT32, -2147483648),
        ("double-long-unsigned 123456789", DataType.UINT32, 123456789),
        ("double-long-unsigned max", DataType.UINT32, 4294967295),
        ("octet-string obis", DataType.OCTET_STRING, bytes([1, 0, 32, 7, 0, 255])),
        ("octet-string empty", DataType.OCTET_STRING, b""),
        ("octet-string 127", DataType.OCTET_STRING, big[:127]),
        ("octet-string 128 (81 form)", DataType.OCTET_STRING, big[:128]),
        ("octet-string 255 (81 form)", DataType.OCTET_STRING, big[:255]),
        ("octet-string 300 (82 form)", DataType.OCTET_STRING, big[:300]),
        ("visible-string serial", DataType.STRING, "000019001234"),
        ("visible-string empty", DataType.STRING, ""),
        ("utf8-string", DataType.STRING_UTF8, "Zähler €"),
        ("bcd 12", DataType.BCD, 12),
        ("integer -1", DataType.INT8, -1),
        ("integer -3 scaler", DataType.INT8, -3),
        ("integer 127", DataType.INT8, 127),
        ("long -300", DataType.INT16, -300),
        ("long min", DataType.INT16, -32768),
        ("unsigned 200", DataType.UINT8, 200),
        ("long-unsigned 60000", DataType.UINT16, 60000),
        ("long64 min", DataType.INT64, -(2 ** 63)),
        ("long64 -1", DataType.INT64, -1),
        ("long64-unsigned max", DataType.UINT64, 2 ** 64 - 1),
        ("long64-unsigned 1e12", DataType.UINT64, 10 ** 12),
        ("enum 35 (V)", DataType.ENUM, 35),
        ("enum 255", DataType.ENUM, 255),
        ("float32 230.5", DataType.FLOAT32, 230.5),
        ("float32 -0.125", DataType.FLOAT32, -0.125),
        ("float64 1.25", DataType.FLOAT64, 1.25),
        ("float64 -12345.678", DataType.FLOAT64, -12345.678),
        ("date-time UTC+1", DataType.DATETIME, GXDateTime(datetime.datetime(2024, 3, 1, 12, 34, 56, 780000,
                                                                            tzinfo=TZ_PLUS1))),
        ("date-time UTC-5", DataType.DATETIME, GXDateTime(datetime.datetime(2023, 7, 15, 6, 0, 0,
                                                                            tzinfo=TZ_MINUS5))),
        ("date-time skipped fields", DataType.DATETIME, dt_skipped),
        ("date", DataType.DATE, GXDate(datetime.datetime(2024, 2, 29))),
        ("time", DataType.TIME, GXTime(datetime.datetime(1900, 1, 1, 23, 5, 7))),
        ("array of 3 long-unsigned", DataType.ARRAY, GXArray([_u16(1), _u16(2), _u16(65535)])),
        ("array empty", DataType.ARRAY, GXArray([])),
        ("array of 130 unsigned (81 count)", DataType.ARRAY, GXArray([_u8(i) for i in range(130)])),
        ("scaler_unit structure -1 V", DataType.STRUCTURE, _st([_i8(-1), _enum(35)])),
        ("scaler_unit structure 3 Wh", DataType.STRUCTURE, _st([_i8(3), _enum(30)])),
        ("nested structure", DataType.STRUCTURE, _st([
            _st([_u32(7), GXArray([_os(b"\x01\x02"), _os(b"")])]), None, True, "x"])),
        ("capture object", DataType.STRUCTURE, _st([
            _u16(8), _os(bytes([0, 0, 1, 0, 0, 255])), _i8(2), _u16(0)])),
    ]


def _st(items):
    s = GXStructure()
    s.extend(items)
    return s


def _i8(v):
    from gurux_dlms.GXInt8 import GXInt8
    return GXInt8(v)


def _u8(v):
    from gurux_dlms.GXUInt8 import GXUInt8
    return GXUInt8(v)


def _u16(v):
    from gurux_dlms.GXUInt16 import GXUInt16
    return GXUInt16(v)


def _u32(v):
    from gurux_dlms.GXUInt32 import GXUInt32
    return GXUInt32(v)


def _enum(v):
    from gurux_dlms.GXEnum import GXEnum
    return GXEnum(v)


def _os(v):
    return bytearray(v)


def build_axdr(out):
    for name, data_type, value in axdr_cases():
        raw = _encode(data_type, value)
        tree = decode_axdr(raw)
        if tree["type"] != TYPE_NAMES[data_type]:
            raise VectorError("%s: encoded as %s, gurux decoded %s" % (name, TYPE_NAMES[data_type], tree["type"]))
        out.append({"name": name, "params": {"type": TYPE_NAMES[data_type]}, "hex": hx(raw), "value": tree})


# ---------------------------------------------------------------------------------------------------
# AARE (meter -> client) from gurux's APDU encoder, and what gurux's client makes of it.


def build_aares(out):
    from gurux_dlms._GXAPDU import _GXAPDU
    from gurux_dlms.enums import AssociationResult, SourceDiagnostic
    from gurux_dlms.GXDLMSException import GXDLMSException
    cases = [
        ("accepted usual conformance pdu 1200", 0, 0, 0x001E1D, 1200),
        ("accepted with-list and selective access pdu 512", 0, 0, 0x007E1F, 512),
        ("accepted gurux-style conformance pdu 65535", 0, 0, 0x401E5D, 65535),
        ("rejected permanent authentication failure", 1, 13, 0x001E1D, 1200),
        ("rejected permanent authentication required", 1, 14, 0x001E1D, 1200),
        ("rejected transient no reason", 2, 1, 0x001E1D, 1200),
    ]
    for name, result, diagnostic, conformance, pdu in cases:
        s = GXDLMSSettings(True, None)
        s.negotiatedConformance = Conformance(wire_to_gurux_conformance(conformance))
        s.maxPduSize = pdu
        s.dlmsVersion = 6
        buff = GXByteBuffer()
        _GXAPDU.generateAARE(s, buff, AssociationResult(result), SourceDiagnostic(diagnostic), None, None, None)
        apdu = as_bytes(buff.array())
        client = GXDLMSClient(True, 16, 1)
        gurux = {}
        try:
            client.parseAareResponse(GXByteBuffer(bytearray(apdu)))
            gurux = {"result": 0, "negotiatedConformance": wire_to_gurux_conformance(int(client.negotiatedConformance)),
                     "serverMaxReceivePDUSize": int(client.maxReceivePDUSize)}
        except GXDLMSException as exc:
            gurux = {"result": int(exc.result), "diagnostic": int(exc.diagnostic)}
        if gurux["result"] != result or (result and gurux["diagnostic"] != diagnostic):
            raise VectorError("%s: gurux's client read back %r" % (name, gurux))
        if result == 0 and (gurux["negotiatedConformance"] != conformance or gurux["serverMaxReceivePDUSize"] != pdu):
            raise VectorError("%s: gurux's client read back %r" % (name, gurux))
        out.append({"name": name, "kind": "aare", "apdu": hx(apdu), "params": {
            "result": result, "diagnostic": diagnostic, "conformance": conformance, "maxPduSize": pdu},
            "gurux": gurux})


# ---------------------------------------------------------------------------------------------------
# GET-Responses (APDUs) and their decode by gurux's client.


def meter_settings(max_pdu, interface=InterfaceType.PDU):
    s = GXDLMSSettings(True, None)
    s.interfaceType = interface
    s.maxPduSize = max_pdu
    s.negotiatedConformance = Conformance(wire_to_gurux_conformance(CONFORMANCE_AGENT))
    return s


def pdu_client(max_pdu):
    c = GXDLMSClient(True, 16, 1, Authentication.NONE, None, InterfaceType.PDU)
    c.maxReceivePDUSize = max_pdu
    c.negotiatedConformance = Conformance(wire_to_gurux_conformance(CONFORMANCE_AGENT))
    return c


def response_apdus(settings, data, status=0, request_type=GetCommandType.NORMAL, invoke=0xC1):
    """GET-Response APDUs as gurux's LN PDU builder splits them (several = With-Datablock)."""
    bb = GXByteBuffer()
    if data is not None:
        bb.set(data)
    p = GXDLMSLNParameters(settings, invoke, Command.GET_RESPONSE, request_type, None,
                           bb if data is not None else None, status)
    out = []
    blocks = GXDLMS.getLnMessages(p)
    for block in blocks:
        # The PDU interface yields one APDU per block (HDLC would yield a list of frames).
        out.append(as_bytes(block))
    return out


def client_decode(client, apdus, first_request):
    """Feed APDUs to gurux's client as a meter's replies. Returns (reply, next-request APDUs)."""
    reply = GXReplyData()
    nexts = []
    for i, apdu in enumerate(apdus):
        ok = client.getData(GXByteBuffer(bytearray(apdu)), reply, None)
        if not ok:
            raise VectorError("gurux client did not accept response APDU %d: %s" % (i, hx(apdu)))
        if reply.isMoreData():
            if i == len(apdus) - 1:
                raise VectorError("gurux client wants more data after the last APDU")
            nexts.append(as_bytes(client.receiverReady(reply)))
        elif i != len(apdus) - 1:
            raise VectorError("gurux client finished before APDU %d of %d" % (i + 1, len(apdus)))
    return reply, nexts


def build_get_responses(out):
    profile_rows = GXArray([
        _st([_os(_encode(DataType.DATETIME, GXDateTime(datetime.datetime(2024, 3, 1, h, 0, 0,
                                                                                  tzinfo=TZ_PLUS1))))[2:],
                     _u32(1000000 + 1234 * h), _u32(5000 + h), _u16(2300 + h)])
        for h in range(12)])
    cases = [
        ("normal register value double-long-unsigned", 1200, DataType.UINT32, 123456789),
        ("normal register value long-unsigned", 1200, DataType.UINT16, 2301),
        ("normal scaler_unit -1 V", 1200, DataType.STRUCTURE, _st([_i8(-1), _enum(35)])),
        ("normal clock octet-string", 1200, DataType.OCTET_STRING,
         _encode(DataType.DATETIME, GXDateTime(datetime.datetime(2024, 3, 1, 12, 0, 0, tzinfo=TZ_PLUS1)))[2:]),
        ("normal null", 1200, DataType.NONE, None),
        ("datablock profile 12 rows pdu 128", 128, DataType.ARRAY, profile_rows),
        ("datablock profile 12 rows pdu 64", 64, DataType.ARRAY, profile_rows),
        ("datablock octet-string 300 pdu 100", 100, DataType.OCTET_STRING, bytes(range(256)) + bytes(44)),
    ]
    for name, max_pdu, data_type, value in cases:
        data = _encode(data_type, value)
        apdus = response_apdus(meter_settings(max_pdu), data)
        client = pdu_client(max_pdu)
        client.read(GXDLMSData("0.0.96.1.0.255"), 2)  # sets the client's command state (GET Normal)
        reply, nexts = client_decode(client, apdus, None)
        if reply.error:
            raise VectorError("%s: gurux client reported error %d" % (name, reply.error))
        # gurux's client keeps the reassembled Data in reply.data; decode it element-wise for the types.
        value_tree = decode_axdr(data)
        got = _GXCommon.getData(GXDLMSSettings(False, None), GXByteBuffer(bytearray(as_bytes(reply.data.array()))),
                                _GXDataInfo()) if reply.data.size else None
        if not _same(value_tree, reply.value if reply.value is not None else got):
            raise VectorError("%s: gurux client value differs from the encoded data" % name)
        if as_bytes(reply.data.array())[:len(data)] != data:
            raise VectorError("%s: gurux client reassembled %s, meter sent %s" % (
                name, hx(as_bytes(reply.data.array())), hx(data)))
        out.append({"name": name, "kind": "get-response-normal" if len(apdus) == 1 else "get-response-datablock",
                    "params": {"maxPduSize": max_pdu, "invokeIdAndPriority": 0xC1, "blocks": len(apdus)},
                    "apdus": [hx(a) for a in apdus], "nextRequests": [hx(n) for n in nexts],
                    "data": hx(data), "result": {"kind": "data", "value": value_tree}})

    # data-access-result errors.
    for code, label in ((1, "hardware-fault"), (3, "read-write-denied"), (4, "object-undefined"),
                        (9, "object-unavailable"), (11, "type-unmatched"), (250, "other-reason")):
        apdus = response_apdus(meter_settings(1200), None, status=code)
        client = pdu_client(1200)
        client.read(GXDLMSData("0.0.96.1.0.255"), 2)
        reply = GXReplyData()
        try:
            client.getData(GXByteBuffer(bytearray(apdus[0])), reply, None)
            gurux_error = reply.error
        except Exception as exc:  # gurux raises GXDLMSException for access errors with throwExceptions
            gurux_error = getattr(exc, "errorCode", None)
            if gurux_error is None:
                raise
        if gurux_error != code:
            raise VectorError("data-access-result %d: gurux client read %r" % (code, gurux_error))
        out.append({"name": "normal data-access-result %s" % label, "kind": "get-response-normal",
                    "params": {"invokeIdAndPriority": 0xC1}, "apdus": [hx(apdus[0])], "nextRequests": [],
                    "result": {"kind": "error", "dataAccessResult": code, "label": label}})

    # With-List: data and errors mixed; gurux's builder is given the list body.
    items = [("data", DataType.UINT32, 4711), ("error", 4, None), ("data", DataType.STRUCTURE,
                                                                    _st([_i8(-2), _enum(33)])),
             ("data", DataType.NONE, None), ("error", 3, None)]
    body = GXByteBuffer()
    _GXCommon.setObjectCount(len(items), body)
    expect = []
    for kind, a, b in items:
        if kind == "data":
            body.setUInt8(0)
            raw = _encode(a, b)
            body.set(raw)
            expect.append({"kind": "data", "value": decode_axdr(raw)})
        else:
            body.setUInt8(1)
            body.setUInt8(a)
            expect.append({"kind": "error", "dataAccessResult": a})
    apdus = response_apdus(meter_settings(1200), as_bytes(body.array()), status=0xFF,
                           request_type=GetCommandType.WITH_LIST)
    client = pdu_client(1200)
    client.readList([(GXDLMSData("0.0.96.1.0.255"), 2)] * len(items))
    reply, nexts = client_decode(client, apdus, None)
    if not isinstance(reply.value, list) or len(reply.value) != len(items):
        raise VectorError("With-List: gurux client returned %r" % (reply.value,))
    gurux_values = []
    for e, v in zip(expect, reply.value):
        if e["kind"] == "error":
            if v is not None:
                raise VectorError("With-List: gurux gave a value for an error item")
        elif not _same(e["value"], v):
            raise VectorError("With-List: gurux value differs")
    out.append({"name": "with-list 3 data 2 errors", "kind": "get-response-with-list",
                "params": {"invokeIdAndPriority": 0xC1, "count": len(items)}, "apdus": [hx(a) for a in apdus],
                "nextRequests": [], "result": {"kind": "list", "items": expect},
                "guruxNote": "gurux keeps only the last item error in reply.error (%d); items are null" %
                             reply.error})


# ---------------------------------------------------------------------------------------------------
# Conversations: a GET whose response needs HDLC segmentation and/or block transfer.


def build_conversations(out):
    rows = GXArray([
        _st([_u32(1000000 + 1234 * h), _u32(5000 + h), _u16(2300 + h), _os(bytes([h] * 6))])
        for h in range(10)])
    data = _encode(DataType.ARRAY, rows)
    for lg, ph, size in ((1, 17, 2), (1, 1234, 4)):
        for max_info, max_pdu in ((32, 1200), (128, 1200), (128, 64), (32, 100)):
            p = base_params(lg, ph, size, 16, maxInfoTX=max_info, maxInfoRX=max_info, maxPduSize=max_pdu,
                            conformance=CONFORMANCE_AGENT)
            out.append(conversation(p, data))


def conversation(p, data):
    client = client_for(p)
    steps = []
    snrm = as_bytes(client.snrmRequest())
    steps.append({"from": "client", "what": "snrm", "hex": hx(snrm)})

    meter = meter_settings(p["maxPduSize"], InterfaceType.HDLC)
    meter.clientAddress = client.clientAddress
    meter.serverAddress = client.serverAddress
    meter.serverAddressSize = p["addressSize"]
    meter.hdlc.maxInfoTX = p["maxInfoRX"]
    meter.hdlc.maxInfoRX = p["maxInfoTX"]
    meter.resetFrameSequence()
    ua_info = GXByteBuffer()
    ua_info.set(bytes([0x81, 0x80, 0x00]))
    for pid, value in ((0x05, p["maxInfoRX"]), (0x06, p["maxInfoTX"])):
        ua_info.setUInt8(pid)
        GXDLMS.appendHdlcParameter(ua_info, value)
    for pid, value in ((0x07, 1), (0x08, 1)):
        ua_info.setUInt8(pid)
        ua_info.setUInt8(4)
        ua_info.setUInt32(value)
    ua_info.setUInt8(len(ua_info) - 3, 2)
    ua = as_bytes(GXDLMS.getHdlcFrame(meter, 0x73, ua_info))
    steps.append({"from": "meter", "what": "ua", "hex": hx(ua)})
    reply = GXReplyData()
    if not client.getData(GXByteBuffer(bytearray(ua)), reply, None):
        raise VectorError("gurux client rejected the UA %s" % hx(ua))
    client.parseUAResponse(reply.data)

    # Skip the association: the GET is the client's first I-frame after the UA, which is enough to
    # exercise sequence numbers; the client is told the association is up.
    from gurux_dlms.ConnectionState import ConnectionState
    client.settings.connected = ConnectionState.HDLC | ConnectionState.DLMS
    client.negotiatedConformance = Conformance(wire_to_gurux_conformance(CONFORMANCE_AGENT))
    get = client.read(GXDLMSData("1.0.99.1.0.255"), 2)
    if len(get) != 1:
        raise VectorError("GET request did not fit one frame")
    steps.append({"from": "client", "what": "get-request-normal", "hex": hx(as_bytes(get[0]))})
    meter.receiverFrame = GXDLMSSettings.increaseReceiverSequence(meter.receiverFrame)

    bb = GXByteBuffer()
    bb.set(data)
    params = GXDLMSLNParameters(meter, 0xC1, Command.GET_RESPONSE, GetCommandType.NORMAL, None, bb, 0)
    # With HDLC, gurux returns every frame of every block in one flat list; a frame without the
    # segmentation bit ends a block.
    frames = [as_bytes(f) for f in GXDLMS.getLnMessages(params)]
    block_count = sum(1 for f in frames if not f[1] & 0x08)

    reply = GXReplyData()
    blocks_done = 0
    for index, frame in enumerate(frames):
        segmented = bool(frame[1] & 0x08)
        steps.append({"from": "meter", "what": "i-frame segment" if segmented else "i-frame", "hex": hx(frame)})
        ok = client.getData(GXByteBuffer(bytearray(frame)), reply, None)
        if segmented:
            if not (reply.moreData & RequestTypes.FRAME):
                raise VectorError("gurux client did not ask for the next segment after %s" % hx(frame))
            rr = as_bytes(client.receiverReady(reply.moreData))
            steps.append({"from": "client", "what": "rr", "hex": hx(rr)})
            continue
        blocks_done += 1
        if blocks_done < block_count:
            if not ok or not (reply.moreData & RequestTypes.DATABLOCK):
                raise VectorError("gurux client did not ask for the next block after %s" % hx(frame))
            nxt = as_bytes(client.receiverReady(reply))
            steps.append({"from": "client", "what": "get-request-next", "hex": hx(nxt)})
        elif not ok or reply.isMoreData() or index != len(frames) - 1:
            raise VectorError("gurux client did not complete the response")
    blocks = [None] * block_count
    segments = len(frames)
    if reply.error:
        raise VectorError("gurux client reported error %d" % reply.error)
    value_tree = decode_axdr(data)
    if not _same(value_tree, reply.value):
        raise VectorError("conversation: gurux client value differs from the meter's data")
    name = "conversation %d/%d/w%d info%d pdu%d: %d blocks %d frames" % (
        p["serverLogical"], p["serverPhysical"], p["addressSize"], p["maxInfoTX"], p["maxPduSize"], len(blocks),
        segments)
    return {"name": name, "kind": "conversation", "params": p, "blocks": len(blocks), "meterFrames": segments,
            "steps": steps, "data": hx(data), "result": {"kind": "data", "value": value_tree}}


# ---------------------------------------------------------------------------------------------------


def check_our_frames(lines):
    """The reverse direction: frames our code built, read by gurux's parsers (the Swift test sends them).

    Each input line is `frames <hex> <hex> ...` (the I-frames of one APDU: gurux's meter-side parser
    joins them), `snrm <hex>` (gurux reads the SNRM parameters) or `responses <hex> ...` (GET-Response
    APDUs read by gurux's client). Each output line is a JSON object: {"apdu": hex} /
    {"parameters": {...}} / {"data": hex, "nextRequests": [...]} / {"error": text}. gurux exceptions here are answers, not
    failures: they tell the test that gurux refuses our bytes."""
    out = []
    for line in lines:
        words = line.split()
        if not words:
            continue
        try:
            if words[0] == "frames":
                apdu = b""
                for w in words[1:]:
                    d = gurux_parse(bytes.fromhex(w), as_server=True)
                    apdu += bytes.fromhex(d["payload"])
                out.append({"apdu": hx(apdu)})
            elif words[0] == "snrm":
                frame = bytes.fromhex(words[1])
                d = gurux_parse(frame, as_server=True)
                if d["control"] != 0x93:
                    raise VectorError("not an SNRM: control %02X" % d["control"])
                from gurux_dlms.GXHdlcSettings import GXHdlcSettings
                hdlc = GXHdlcSettings()
                info = _raw_info(frame)
                GXDLMS.parseSnrmUaResponse(GXByteBuffer(bytearray(info)), hdlc)
                # parseSnrmUaResponse takes the peer's view (a UA): swap back to the sender's.
                out.append({"parameters": {"maxInfoTX": hdlc.maxInfoRX, "maxInfoRX": hdlc.maxInfoTX,
                                           "windowTX": hdlc.windowSizeRX, "windowRX": hdlc.windowSizeTX}})
            elif words[0] in ("responses", "list-responses"):
                # GET-Response APDUs as our meter side sends them: gurux's client reads them as answers
                # to a GET-Normal (or a With-List of `count` items: `list-responses <count> <hex>...`).
                client = pdu_client(65535)
                if words[0] == "list-responses":
                    apdus = [bytes.fromhex(w) for w in words[2:]]
                    client.readList([(GXDLMSData("0.0.96.1.0.255"), 2)] * int(words[1]))
                else:
                    apdus = [bytes.fromhex(w) for w in words[1:]]
                    client.read(GXDLMSData("0.0.96.1.0.255"), 2)
                reply, nexts = client_decode(client, apdus, None)
                answer = {"nextRequests": [hx(n) for n in nexts], "error": None}
                if reply.error:
                    answer["dataAccessResult"] = reply.error
                if words[0] == "responses" and reply.data.size:
                    answer["data"] = hx(as_bytes(reply.data.array()))
                if words[0] == "list-responses":
                    # gurux keeps values (null for refused items) and only the last error code.
                    answer["values"] = [None if v is None else hx(_encode(_GXCommon.getDLMSDataType(v), v))
                                        for v in reply.value]
                del answer["error"]
                out.append(answer)
            else:
                out.append({"error": "unknown request %r" % words[0]})
        except Exception as exc:  # gurux refusing our bytes is the answer
            out.append({"error": "%s: %s" % (type(exc).__name__, exc)})
    return out


def _raw_info(frame):
    """The information field of one frame (between HCS and FCS), empty when there is none."""
    start = _control_index(frame) + 1
    end = len(frame) - 3
    return frame[start + 2:end] if end > start else b""


def main():
    if sys.argv[1:] == ["--check-our-frames"]:
        for answer in check_our_frames(sys.stdin.read().splitlines()):
            sys.stdout.write(json.dumps(answer, sort_keys=True) + "\n")
        return 0

    doc = {"generator": {"package": "gurux-dlms", "version": GURUX_VERSION, "schema": SCHEMA},
           "inexpressible": [], "requests": [], "axdr": [], "aares": [], "getResponses": [], "conversations": []}
    build_requests(doc["requests"], doc["inexpressible"])
    build_axdr(doc["axdr"])
    build_aares(doc["aares"])
    build_get_responses(doc["getResponses"])
    build_conversations(doc["conversations"])
    json.dump(doc, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # any gurux exception or failed self-check: loud, non-zero
        sys.stderr.write("gurux_vectors.py: FAILED while generating vectors\n")
        traceback.print_exc(file=sys.stderr)
        sys.exit(1)
