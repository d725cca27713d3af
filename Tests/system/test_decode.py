"""`dlms-bridge decode`: golden frames, checksum verdicts with byte positions, hex and log-line input, stdin,
--json, masked passwords, bare APDUs, streams with garbage. Frames are built here with an independent
CRC-16/X.25, so a wrong CRC in the Swift code cannot hide behind its own test vectors."""
import json
import subprocess

SNRM = "7E A0 07 03 03 93 8C 11 7E"
DISC = "7E A0 08 02 03 03 53 09 B1 7E"
PASSWORD = b"S3cr3tPw"


def crc16_x25(data: bytes) -> int:
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def frame(dst: bytes, src: bytes, control: int, info: bytes = b"", segmented: bool = False) -> bytes:
    length = 2 + len(dst) + len(src) + 1 + (2 + len(info) if info else 0) + 2
    header = bytes([0xA0 | (0x08 if segmented else 0) | (length >> 8), length & 0xFF]) + dst + src + bytes([control])
    body = header
    if info:
        hcs = crc16_x25(header)
        body += bytes([hcs & 0xFF, hcs >> 8]) + info
    fcs = crc16_x25(body)
    return b"\x7e" + body + bytes([fcs & 0xFF, fcs >> 8]) + b"\x7e"


SERVER_1234 = bytes([0x00, 0x02, 0x12, 0xA5])  # logical 1, physical 1234, 4-byte form
CLIENT_32 = bytes([0x41])
GET_RESPONSE = bytes.fromhex("C401C100060001E240")  # double-long-unsigned 123456
GET_REQUEST = bytes.fromhex("C001C10003010101 0800FF0200".replace(" ", ""))  # 1-1:1.8.0.255 attr 2
AARQ = (bytes.fromhex("6036A1090607608574050801018A0207808B0760857405080201AC0A8008") + PASSWORD
        + bytes.fromhex("BE10040E01000000065F1F0400007E1F04B0"))


def run(bridge_bin, *args, stdin=None):
    return subprocess.run([str(bridge_bin), "decode", *args], input=stdin, capture_output=True, text=True, timeout=30)


def decode_json(bridge_bin, *args, stdin=None):
    out = run(bridge_bin, "--json", *args, stdin=stdin)
    return out.returncode, json.loads(out.stdout)


def test_snrm_golden_fields(bridge_bin):
    rc, doc = decode_json(bridge_bin, SNRM)
    assert rc == 0 and doc["valid"] is True
    (f,) = doc["items"]
    assert f["kind"] == "frame" and f["length"] == 9
    assert f["format"] == {"hex": "A007", "type": 3, "segmented": False, "length": 7}
    assert f["destination"]["hex"] == "03" and f["destination"]["width"] == 1
    assert f["destination"]["role"] == "server" and f["destination"]["physical"] == 1
    assert f["source"]["role"] == "client" and f["source"]["sap"] == 1
    assert f["control"]["kind"] == "SNRM" and f["control"]["poll_final"] is True
    assert f["hcs"] is None
    assert f["fcs"] == {"offset": 6, "expected": "8C11", "actual": "8C11", "valid": True, "verifiable": True}
    assert f["parameters"]["defaults"] is True and f["parameters"]["max_info_receive"] == 128


def test_snrm_golden_human_output(bridge_bin):
    out = run(bridge_bin, SNRM)
    assert out.returncode == 0, out.stderr
    assert "control     93: SNRM, P/F=1" in out.stdout
    assert "FCS         8C11 at frame byte 7: ok" in out.stdout
    assert "destination 03: server logical 0, physical 1 (1 byte)" in out.stdout
    assert "source      03: client SAP 1 (1 byte)" in out.stdout
    assert "result      valid" in out.stdout


def test_disc_golden_fields(bridge_bin):
    rc, doc = decode_json(bridge_bin, DISC.replace(" ", ""))
    assert rc == 0
    (f,) = doc["items"]
    assert f["destination"] == {"hex": "02 03", "width": 2, "logical": 1, "physical": 1, "role": "server"}
    assert f["control"]["kind"] == "DISC" and f["control"]["hex"] == "53"
    assert f["fcs"]["actual"] == "09B1" and f["fcs"]["valid"] is True


def test_broken_fcs_names_byte_and_values(bridge_bin):
    out = run(bridge_bin, "7E A0 08 02 03 03 53 09 B2 7E")
    assert out.returncode == 1
    assert "FCS mismatch at byte 8: expected 09B1, got 09B2" in out.stdout
    assert "FCS         09B2 at frame byte 8: WRONG, expected 09B1" in out.stdout
    # Every field that could be read is still there.
    assert "control     53: DISC, P/F=1" in out.stdout


def test_broken_hcs_in_i_frame(bridge_bin):
    good = bytearray(frame(CLIENT_32, SERVER_1234, 0x30, b"\xe6\xe7\x00" + GET_RESPONSE))
    good[9] ^= 0xFF  # first HCS byte (frame byte 10)
    rc, doc = decode_json(bridge_bin, good.hex())
    assert rc == 1 and doc["valid"] is False
    assert any("HCS mismatch at byte 10" in e for e in doc["errors"]), doc["errors"]


def test_non_hex_input_exits_2_with_character(bridge_bin):
    out = run(bridge_bin, "7E A0 0G 03")
    assert out.returncode == 2
    assert "not hex" in out.stderr and "character 8" in out.stderr


def test_odd_digit_count_exits_2_with_character(bridge_bin):
    out = run(bridge_bin, "7EA0070303938C117")
    assert out.returncode == 2
    assert "odd number of hex digits" in out.stderr and "character 17" in out.stderr


def test_stdin_with_log_prefixes(bridge_bin):
    resp = frame(CLIENT_32, SERVER_1234, 0x30, b"\xe6\xe7\x00" + GET_RESPONSE)
    text = (
        "2026-11-22T04:31:07.123Z TX 7E A0 07 03 03 93 8C 11 7E\n"          # our --verbose trace
        f"2024-05-01 10:00:00,123 DEBUG TX: {resp[:10].hex(' ')}\n"          # the prototype's log, RX in chunks
        f"2024-05-01 10:00:00,160 DEBUG RX: {resp[10:].hex(' ')}\n"
        "associated (server address width 4 bytes)\n"
    )
    rc, doc = decode_json(bridge_bin, stdin=text)
    assert rc == 0, doc
    kinds = [i["control"]["kind"] for i in doc["items"]]
    assert kinds == ["SNRM", "I"]
    assert doc["items"][1]["apdu"]["results"][0]["value"] == 123456
    assert doc["input"]["skipped_lines"] == [4]
    # "-" reads stdin too.
    rc, doc = decode_json(bridge_bin, "-", stdin=SNRM + "\n")
    assert rc == 0 and doc["items"][0]["control"]["kind"] == "SNRM"


def test_hex_spellings(bridge_bin):
    for spelling in ("0x7E 0xA0 0x07 0x03 0x03 0x93 0x8C 0x11 0x7E", "7e:a0:07:03:03:93:8c:11:7e", "7ea0070303938c117e",
                     "[0x7E, 0xA0, 0x07, 0x03, 0x03, 0x93, 0x8C, 0x11, 0x7E]"):
        rc, doc = decode_json(bridge_bin, spelling)
        assert rc == 0 and doc["items"][0]["control"]["kind"] == "SNRM", spelling


def test_get_response_frame_decodes_to_value(bridge_bin):
    resp = frame(CLIENT_32, SERVER_1234, 0x30, b"\xe6\xe7\x00" + GET_RESPONSE)
    assert len(resp) == 26
    rc, doc = decode_json(bridge_bin, resp.hex(" "))
    assert rc == 0
    (f,) = doc["items"]
    assert f["source"] == {"hex": "00 02 12 A5", "width": 4, "logical": 1, "physical": 1234, "role": "server"}
    assert f["control"] == {"hex": "30", "kind": "I", "send_sequence": 0, "receive_sequence": 1, "poll_final": True}
    assert f["llc"] == "response" and f["hcs"]["valid"] is True
    apdu = f["apdu"]
    assert apdu["type"] == "GET-Response-Normal" and apdu["invoke_id"] == 1
    assert apdu["results"] == [{"type": "double-long-unsigned", "value": 123456, "text": "double-long-unsigned 123456"}]


def test_get_request_frame_shows_obis(bridge_bin):
    req = frame(SERVER_1234, CLIENT_32, 0x10, b"\xe6\xe6\x00" + GET_REQUEST)
    out = run(bridge_bin, req.hex())
    assert out.returncode == 0, out.stdout
    assert "GET-Request-Normal" in out.stdout and "class 3 1-1:1.8.0.255 attr 2" in out.stdout
    rc, doc = decode_json(bridge_bin, req.hex())
    assert doc["items"][0]["apdu"]["attributes"][0] == {"class_id": 3, "obis": "1-1:1.8.0.255", "attribute": 2, "access": None}


def test_aarq_password_is_masked(bridge_bin):
    aarq = frame(bytes([0x02, 0x23]), CLIENT_32, 0x10, b"\xe6\xe6\x00" + AARQ)
    for args in ([aarq.hex(" ")], ["--json", aarq.hex(" ")]):
        out = run(bridge_bin, *args)
        assert out.returncode == 0, out.stdout
        text = out.stdout + out.stderr
        assert PASSWORD.hex(" ").upper() not in text.upper()
        assert PASSWORD.hex().upper() not in text.upper().replace(" ", "")
        assert PASSWORD.decode() not in text
        assert "********" in text
    rc, doc = decode_json(bridge_bin, AARQ.hex())  # a bare AARQ too
    assert rc == 0
    assert doc["items"][0]["authentication"] == "low-level" and doc["items"][0]["password"] == "********"
    assert "** ** ** ** ** ** ** **" in doc["items"][0]["hex"]


def test_bare_apdu_and_truncated_axdr(bridge_bin):
    rc, doc = decode_json(bridge_bin, "C4 01 C1 00 12 00 E6")
    assert rc == 0 and doc["items"][0]["results"][0] == {"type": "long-unsigned", "value": 230, "text": "long-unsigned 230"}
    out = run(bridge_bin, "C4 01 C1 00 06 00 01")
    assert out.returncode == 1
    assert "double-long-unsigned at byte 5 needs 4 bytes but only 2 remain" in out.stdout
    assert "APDU byte 6" in out.stdout


def test_stream_with_garbage_and_truncated_frame(bridge_bin):
    resp = frame(CLIENT_32, SERVER_1234, 0x30, b"\xe6\xe7\x00" + GET_RESPONSE)
    stream = bytes.fromhex("11 22 33") + bytes.fromhex(SNRM) + resp[:15] + bytes.fromhex(DISC)
    rc, doc = decode_json(bridge_bin, stream.hex())
    assert rc == 1
    kinds = [i["kind"] for i in doc["items"]]
    assert kinds == ["garbage", "frame", "frame", "frame"], kinds
    assert doc["items"][0] == {"kind": "garbage", "offset": 0, "length": 3, "hex": "11 22 33"}
    cut, disc = doc["items"][2], doc["items"][3]
    assert cut["valid"] is False and any("declares 24 bytes" in p for p in cut["problems"]), cut["problems"]
    assert disc["valid"] is True and disc["control"]["kind"] == "DISC"
    assert doc["deframer"]["frames"] == 2


def test_segmented_apdu_is_reassembled(bridge_bin):
    apdu = b"\xe6\xe7\x00" + bytes.fromhex("C401C100") + bytes([0x09, 0x20]) + bytes(range(32))
    first = frame(CLIENT_32, SERVER_1234, 0x30, apdu[:20], segmented=True)
    rr = frame(SERVER_1234, CLIENT_32, 0x51)
    last = frame(CLIENT_32, SERVER_1234, 0x32, apdu[20:])
    rc, doc = decode_json(bridge_bin, (first + rr + last).hex())
    assert rc == 0, doc["errors"]
    frames = doc["items"]
    assert frames[0]["format"]["segmented"] is True and frames[0]["apdu"] is None
    assert frames[1]["control"]["kind"] == "RR"
    assert frames[2]["apdu"]["results"][0]["type"] == "octet-string"
    assert "reassembled from 2 frames" in frames[2]["segment"]


def test_masked_trace_line_is_accepted_without_checksum_verdict(bridge_bin):
    aarq = frame(bytes([0x02, 0x23]), CLIENT_32, 0x10, b"\xe6\xe6\x00" + AARQ).hex(" ").upper()
    masked = aarq.replace(PASSWORD.hex(" ").upper(), " ".join(["**"] * len(PASSWORD)))
    assert masked != aarq
    rc, doc = decode_json(bridge_bin, stdin=f"2026-11-22T04:31:07.123Z TX {masked}\n")
    assert rc == 0, doc["errors"]
    (f,) = doc["items"]
    assert doc["input"]["masked_bytes"] == 8
    assert f["fcs"]["verifiable"] is False and f["hcs"]["valid"] is True
    assert f["apdu"]["type"] == "AARQ" and f["apdu"]["password"] == "********"


def test_mutated_frames_never_crash_and_json_stays_valid(bridge_bin):
    import random

    rng = random.Random(7)  # fixed seed: a failure reproduces
    base = [frame(CLIENT_32, SERVER_1234, 0x30, b"\xe6\xe7\x00" + GET_RESPONSE),
            frame(bytes([0x02, 0x23]), CLIENT_32, 0x10, b"\xe6\xe6\x00" + AARQ),
            bytes.fromhex(SNRM), frame(SERVER_1234, CLIENT_32, 0x10, b"\xe6\xe6\x00" + GET_REQUEST), AARQ, GET_RESPONSE]
    for _ in range(100):
        b = bytearray(b"".join(rng.choice(base) for _ in range(rng.randint(1, 3))))
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(b))
            op = rng.random()
            if op < 0.4:
                b[i] = rng.randrange(256)
            elif op < 0.7:
                del b[i:i + rng.randint(1, 5)]
            else:
                b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        if not b:
            continue
        out = run(bridge_bin, "--json", b.hex())
        assert out.returncode in (0, 1), (b.hex(), out.stderr)
        doc = json.loads(out.stdout)
        assert doc["valid"] is (out.returncode == 0)
        assert PASSWORD.decode() not in out.stdout


# Issue 12: ciphered APDUs and the IEC 62056-47 wrapper (vectors of security-facts.md).
EK = "000102030405060708090A0B0C0D0E0F"
AK = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
CLIENT_TITLE = "4D4D4D0000BC614E"
GLO_GET = "C81E300123456A0DD9F537AABE4DFC84AE8FD98915E51A6D88EFCA1365FA89F7"  # vector 5, client title
KEYS = ("--ek", EK, "--ak", AK)


def test_ciphered_get_without_keys_shows_the_security_header(bridge_bin):
    rc, doc = decode_json(bridge_bin, GLO_GET)
    assert rc == 0
    (a,) = doc["items"]
    assert a["ciphered"]["name"] == "glo-get-request" and a["ciphered"]["security_control"] == 0x30
    assert a["ciphered"]["invocation_counter"] == 0x0123456A and a["ciphered"]["deciphered"] is False


def test_ciphered_get_deciphers_with_keys_and_the_tag_verifies(bridge_bin):
    rc, doc = decode_json(bridge_bin, *KEYS, "--system-title", CLIENT_TITLE, GLO_GET)
    assert rc == 0, doc
    (a,) = doc["items"]
    assert a["ciphered"]["tag_verified"] is True
    assert a["ciphered"]["plain_hex"] == "C0 01 C1 00 01 00 00 2B 01 00 FF 02 00"
    assert a["type"] == "GET-Request-Normal"
    out = run(bridge_bin, *KEYS, "--system-title", CLIENT_TITLE, GLO_GET)
    assert EK not in out.stdout and AK not in out.stdout and "the tag verifies" in out.stdout


def test_wrong_title_is_a_tag_that_does_not_verify(bridge_bin):
    out = run(bridge_bin, *KEYS, "--system-title", "4D4D4D0000000001", GLO_GET)
    assert out.returncode == 1
    assert "does not verify: check DLMS_AK and DLMS_EK" in out.stdout


def test_bad_key_is_named_not_echoed(bridge_bin):
    out = run(bridge_bin, "--ek", "00112233", "--ak", AK, GLO_GET)
    assert out.returncode == 2 and "--ek must be 32 hex digits" in out.stderr and "00112233" not in out.stderr


def test_wrapper_aarq_with_ciphered_initiate_request(bridge_bin):
    pdu = ("0001001000010057" "6055A109060760857405080103A60A04084D4D4D0000BC614E8A0207808B0760857405080205"
           "AC0A80084142434445464748BE230421211F3001234567801212FF9D0558536867253843E146830127DB113047B05492B9")
    rc, doc = decode_json(bridge_bin, *KEYS, pdu)
    assert rc == 0, doc
    (a,) = doc["items"]
    assert a["wrapper"] == {"version": 1, "source_wport": 16, "destination_wport": 1, "length": 0x57}
    assert a["type"] == "AARQ" and a["user_information_tag_verified"] is True
