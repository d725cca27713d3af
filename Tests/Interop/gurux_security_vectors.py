#!/usr/bin/env python3
"""Ciphered interop vectors for dlms-bridge (issue 12), produced at run time by gurux-dlms 1.0.203.

With no arguments: prints one JSON document on stdout and exits 0. gurux's client builds ciphered requests
for a matrix (SC 10/20/30, LLS and HLS-GMAC, glo and general-glo, with and without a dedicated key, HDLC and
the IEC 62056-47 wrapper); every AES-GCM call gurux makes is recorded (plaintext in, ciphertext out), so the
Swift side checks that it deciphers each ciphered APDU to exactly the plain APDU gurux ciphered.

With --check-our-apdus: reads lines `<sc> <ic> <title> <dedicated 0|1> <ciphered hex>` built by dlms-bridge and
answers one JSON line each: what gurux's decipher yields ({"plain": hex}) and what gurux's cipher makes of that
plaintext with the same counter and title ({"reencrypted": hex}), or {"error": text}.

gurux is used only as an encoder/decoder here (its server classes are broken for ciphering). It prints
progress words on stdout while deciphering; those go to stderr so the document stays clean. Any gurux
exception or failed self-check exits non-zero with the reason on stderr.
"""

import contextlib
import json
import sys
import traceback

try:
    from gurux_dlms import GXByteBuffer, GXDLMSClient
    from gurux_dlms.AesGcmParameter import AesGcmParameter
    from gurux_dlms.GXCiphering import GXCiphering
    from gurux_dlms.GXDLMSChippering import GXDLMSChippering
    from gurux_dlms.CountType import CountType
    from gurux_dlms.enums import Authentication, Conformance, InterfaceType, Security, Command
    from gurux_dlms.ConnectionState import ConnectionState
    from gurux_dlms.objects import GXDLMSRegister, GXDLMSData
    from gurux_dlms.secure import GXDLMSSecureClient
except ImportError as exc:  # pragma: no cover - reported to the operator
    sys.stderr.write("gurux_security_vectors.py: cannot import gurux-dlms (%s). Run `make venv`.\n" % exc)
    sys.exit(2)

SCHEMA = 1
EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
DK = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
CLIENT_TITLE = bytes.fromhex("4D4D4D0000BC614E")
SERVER_TITLE = bytes.fromhex("4D4D4D0000000001")
STOC = b"P6wRJ21F"
PASSWORD = b"12345678"
FIRST_IC = 0x01234567


# The helpers of the plain vectors (same folder, on sys.path when run as a script).
from gurux_vectors import VectorError, as_bytes, hx  # noqa: E402


# Every AES-GCM packet gurux builds, in order: (plaintext, ciphered APDU). GMAC-only calls (HLS pass 3's
# f(StoC)) are recorded apart.
RECORDED = []
_original_encrypt = GXDLMSChippering.encryptAesGcm.__func__


def _recording_encrypt(cls, p, plainText):
    plain = as_bytes(plainText)
    out = _original_encrypt(cls, p, plainText)
    if p.type_ == CountType.PACKET:
        RECORDED.append((plain, bytes(out)))
    return out


GXDLMSChippering.encryptAesGcm = classmethod(_recording_encrypt)


def new_client(sc, auth, general, dedicated, interface):
    client = GXDLMSSecureClient(
        True, 1 if auth == "lls" else 1, 1,
        Authentication.LOW if auth == "lls" else Authentication.HIGH_GMAC,
        PASSWORD if auth == "lls" else None,
        InterfaceType.WRAPPER if interface == "wrapper" else InterfaceType.HDLC,
    )
    cipher = client.ciphering
    cipher.security = Security(sc)
    cipher.systemTitle = CLIENT_TITLE
    cipher.blockCipherKey = EK
    cipher.authenticationKey = AK
    cipher.invocationCounter = FIRST_IC
    if dedicated:
        cipher.dedicatedKey = DK
    conformance = Conformance.GET | Conformance.SET | Conformance.ACTION | Conformance.SELECTIVE_ACCESS | \
        Conformance.MULTIPLE_REFERENCES | Conformance.BLOCK_TRANSFER_WITH_GET_OR_READ
    if general:
        conformance |= Conformance.GENERAL_PROTECTION
    client.proposedConformance = conformance
    if auth == "gmac":
        client.ctoSChallenge = b"ABCDEFGH"
    return client


def flat_frames(messages):
    """gurux returns a list of frames, or (readList) a list of messages each a list of frames."""
    out = []
    for m in messages:
        if isinstance(m, (list, tuple)):
            out.extend(hx(f) for f in m)
        else:
            out.append(hx(m))
    return out


def take_recorded(count_before):
    got = RECORDED[count_before:]
    if not got:
        raise VectorError("gurux ciphered nothing")
    return got


def case(sc, auth, general, dedicated, interface):
    name = "sc%02X-%s-%s%s-%s" % (sc, auth, "general" if general else "glo", "-ded" if dedicated else "", interface)
    client = new_client(sc, auth, general, dedicated, interface)
    steps = []

    # AARQ: the ciphered InitiateRequest is gurux's first packet.
    before = len(RECORDED)
    frames = [hx(f) for f in client.aarqRequest()]
    (plain, ciphered), = take_recorded(before)
    steps.append({"what": "aarq", "frames": frames, "plain": hx(plain), "ciphered": hx(ciphered)})

    # The association as a meter would grant it (gurux's server cannot produce a ciphered AARE).
    settings = client.settings
    settings.negotiatedConformance = client.proposedConformance
    settings.sourceSystemTitle = SERVER_TITLE
    settings.maxPduSize = 0xFFFF
    if auth == "gmac":
        settings.stoCChallenge = STOC
        before = len(RECORDED)
        frames = [hx(f) for f in client.getApplicationAssociationRequest()]
        (plain, ciphered), = take_recorded(before)
        steps.append({"what": "hls-pass3", "frames": frames, "plain": hx(plain), "ciphered": hx(ciphered)})

    # Open: from here gurux uses the dedicated key and, when granted, the general forms.
    settings.connected = settings.connected | ConnectionState.DLMS
    register = GXDLMSRegister("1.1.32.7.0.255")
    counter = GXDLMSData("0.0.43.1.0.255")
    for what, frames_of in (("get-register", lambda: client.read(register, 2)),
                            ("get-with-list", lambda: client.readList([(register, 2), (counter, 2)]))):
        before = len(RECORDED)
        frames = flat_frames(frames_of())
        (plain, ciphered), = take_recorded(before)
        steps.append({"what": what, "frames": frames, "plain": hx(plain), "ciphered": hx(ciphered)})
    return {"name": name, "sc": sc, "authentication": auth, "general": general, "dedicated": dedicated,
            "interface": interface, "clientTitle": hx(CLIENT_TITLE), "steps": steps}


def document():
    cases = []
    for sc in (0x10, 0x20, 0x30):
        for auth in ("lls", "gmac"):
            for general in (False, True):
                for dedicated in (False, True):
                    for interface in ("hdlc", "wrapper"):
                        cases.append(case(sc, auth, general, dedicated, interface))
    return {
        "generator": {"package": "gurux-dlms", "schema": SCHEMA},
        "keys": {"ek": hx(EK), "ak": hx(AK), "dk": hx(DK), "client": hx(CLIENT_TITLE), "server": hx(SERVER_TITLE),
                 "stoc": hx(STOC), "firstInvocationCounter": FIRST_IC},
        "cases": cases,
    }


def check_ours(line):
    sc_text, ic_text, title_text, dedicated_text, apdu_text = line.split()
    sc, ic, title = int(sc_text, 16), int(ic_text), bytes.fromhex(title_text)
    key = DK if dedicated_text == "1" else EK
    data = bytes.fromhex(apdu_text)
    client = GXDLMSSecureClient(True)
    p = AesGcmParameter(0, title, key, AK)
    p.settings = client.settings
    with contextlib.redirect_stdout(sys.stderr):
        plain = GXDLMSChippering.decryptAesGcm(client.settings, p, GXByteBuffer(bytearray(data)))
    plain = as_bytes(plain)
    # gurux ciphers the same plaintext under the same counter and title: the bytes must be ours.
    again = AesGcmParameter(data[0], title, key, AK)
    again.security = Security(sc & 0x30)
    again.invocationCounter = ic
    if data[0] in (Command.GENERAL_GLO_CIPHERING, Command.GENERAL_DED_CIPHERING):
        again.tag = data[0]
    reencrypted = as_bytes(_original_encrypt(GXDLMSChippering, again, bytearray(plain)))
    return {"plain": hx(plain), "reencrypted": hx(reencrypted)}


def main():
    try:
        if len(sys.argv) > 1 and sys.argv[1] == "--check-our-apdus":
            for line in sys.stdin:
                line = line.strip()
                if not line:
                    continue
                try:
                    answer = check_ours(line)
                except Exception as exc:  # gurux refused our bytes: the Swift test reports it
                    answer = {"error": "%s: %s" % (type(exc).__name__, exc)}
                print(json.dumps(answer))
            return 0
        with contextlib.redirect_stdout(sys.stderr):
            doc = document()
        print(json.dumps(doc))
        return 0
    except Exception:
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    sys.exit(main())
