import COSEM
import Foundation
import MeterLink
import Testing

@testable import Agent

/// DLMS_SECURITY, DLMS_AUTH, the keys (hex or file), DLMS_SYSTEM_TITLE and DLMS_FRAME_COUNTER_OBIS.
@Suite struct SecurityConfigTests {
    static let ek = "000102030405060708090A0B0C0D0E0F"
    static let ak = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
    static let secured = [
        "DEVICE_ID": "m1", "DLMS_HOST": "10.0.0.5", "DLMS_SECURITY": "auth-enc", "DLMS_AUTH": "hls-gmac",
        "DLMS_EK": ek, "DLMS_AK": ak, "DLMS_SYSTEM_TITLE": "4D4D4D0000BC614E",
    ]

    func load(_ env: [String: String]) throws(ConfigError) -> AgentConfiguration {
        try ConfigurationLoader.load(environment: env)
    }

    func error(_ env: [String: String]) -> ConfigError? {
        do {
            _ = try load(env)
            return nil
        } catch { return error }
    }

    func keyFile(_ text: String, mode: Int) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/ek"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    @Test func securedMeterLoadsWithEverySetting() throws {
        var env = Self.secured
        env["DLMS_FRAME_COUNTER_OBIS"] = "0-0:43.1.0.255"
        let m = try load(env).meters[0]
        let s = try #require(m.security)
        #expect(s.level == .authEnc && s.authentication == .hlsGMAC)
        #expect(s.keys.encryption == SecurityKey(hex: Self.ek) && s.keys.authentication == SecurityKey(hex: Self.ak))
        #expect(s.clientSystemTitle.description == "4D4D4D0000BC614E")
        #expect(s.frameCounter == ObisCode(0, 0, 43, 1, 0, 255))
        let settings = MeterSettings(m)
        #expect(settings.security?.security == .authenticatedEncrypted)
    }

    @Test func withoutSecurityNothingChanges() throws {
        let m = try load(["DEVICE_ID": "m1", "DLMS_HOST": "10.0.0.5", "DLMS_PASSWORD": "22222222"]).meters[0]
        #expect(m.security == nil)
        #expect(MeterSettings(m).security == nil)
    }

    @Test func keysNeverPrintAndAreMaskedInPrintConfig() throws {
        let c = try load(Self.secured)
        let text = c.maskedDescription
        #expect(text.contains("DLMS_EK=********") && text.contains("DLMS_AK=********"))
        #expect(text.contains("DLMS_SECURITY=auth-enc") && text.contains("DLMS_AUTH=hls-gmac"))
        #expect(!text.contains(Self.ek) && !text.contains(Self.ak) && !text.contains("0A0B0C"))
        #expect(!"\(c.meters[0])".contains(Self.ek))
    }

    @Test(arguments: [
        ("DLMS_SECURITY", "full", "DLMS_SECURITY=\"full\" (from environment): unknown security level; expected none, auth (authenticated APDUs), enc (encrypted) or auth-enc (both, the usual)"),
        ("DLMS_AUTH", "hls", "DLMS_AUTH=\"hls\" (from environment): unknown authentication; expected none, lls (DLMS_PASSWORD) or hls-gmac (DLMS_EK and DLMS_AK)"),
        ("DLMS_EK", "00112233", "DLMS_EK=\"********\" (from environment): it is not 32 hex digits; expected a 128-bit key written as 32 hex digits"),
        ("DLMS_SYSTEM_TITLE", "4D4D4D", "DLMS_SYSTEM_TITLE=\"4D4D4D\" (from environment): it is not 16 hex digits; expected this client's system title, 16 hex digits (8 bytes), e.g. 4D4D4D0000BC614E"),
        ("DLMS_FRAME_COUNTER_OBIS", "43.1", "DLMS_FRAME_COUNTER_OBIS=\"43.1\" (from environment): it is not an OBIS code; expected the meter's frame-counter Data object, e.g. 0-0:43.1.0.255 (or 0-0:43.1.1.255)"),
    ])
    func invalidValuesNameTheVariableAndTheFix(name: String, value: String, message: String) {
        var env = Self.secured
        env[name] = value
        #expect(error(env)?.description == message)
    }

    @Test func missingPiecesAreNamed() {
        var env = Self.secured
        env["DLMS_AK"] = nil
        #expect(error(env)?.description.hasPrefix("DLMS_AK: it is not set (nor DLMS_AK_FILE) and DLMS_SECURITY=auth-enc needs it") == true)
        env = Self.secured
        env["DLMS_SYSTEM_TITLE"] = nil
        #expect(error(env)?.variable == "DLMS_SYSTEM_TITLE")
        env = Self.secured
        env["DLMS_AUTH"] = "lls"
        #expect(error(env)?.description.contains("DLMS_PASSWORD") == true)
        // Keys set on an unsecured meter would be ignored: refused instead.
        #expect(error(["DEVICE_ID": "m1", "DLMS_HOST": "h", "DLMS_EK": Self.ek])?.description
            == "DLMS_EK=\"********\" (from environment): it is set but DLMS_SECURITY is none; expected DLMS_SECURITY=auth-enc (or auth, enc) to cipher, or remove DLMS_EK")
        #expect(error(["DEVICE_ID": "m1", "DLMS_HOST": "h", "DLMS_AUTH": "hls-gmac"])?.variable == "DLMS_AUTH")
        env = Self.secured
        env["DLMS_SECURITY"] = "auth"
        env["DLMS_DK"] = "00112233445566778899AABBCCDDEEFF"
        #expect(error(env)?.description.contains("would travel in clear") == true)
        env = Self.secured
        env["DLMS_EK_FILE"] = "/x"
        #expect(error(env)?.description.contains("both DLMS_EK and DLMS_EK_FILE are set") == true)
    }

    @Test func keyFileIsReadWhenOnlyItsOwnerMayReadIt() throws {
        var env = Self.secured
        env["DLMS_EK"] = nil
        env["DLMS_EK_FILE"] = try keyFile(Self.ek + "\n", mode: 0o600)
        let s = try #require(try load(env).meters[0].security)
        #expect(s.keys.encryption == SecurityKey(hex: Self.ek))
        #expect(try load(env).maskedDescription.contains("DLMS_EK_FILE=" + env["DLMS_EK_FILE"]!))
    }

    @Test func keyFileOpenToOthersIsRefusedWithTheFix() throws {
        var env = Self.secured
        env["DLMS_EK"] = nil
        let path = try keyFile(Self.ek, mode: 0o644)
        env["DLMS_EK_FILE"] = path
        let e = try #require(error(env))
        #expect(e.description == "DLMS_EK_FILE=\"\(path)\" (from environment): the key file is open to group or others (mode 0644): anyone on the gateway could read the key; expected a file only its owner can read: chmod 600 \(path)")
        env["DLMS_EK_FILE"] = try keyFile("not a key", mode: 0o600)
        #expect(error(env)?.description.contains("neither 32 hex digits nor 16 raw bytes") == true)
        #expect(error(env)?.description.contains("not a key") == false)
    }
}

@Suite struct TransportConfigTests {
    @Test func wrapperDefaultsToPort4059AndIsRefusedOnASerialLine() throws {
        let c = try ConfigurationLoader.load(environment: ["DEVICE_ID": "m1", "DLMS_HOST": "10.0.0.5", "DLMS_TRANSPORT": "wrapper"])
        #expect(c.meters[0].framing == .wrapper)
        #expect(c.meters[0].transport == .tcp(host: "10.0.0.5", port: 4059))
        #expect(MeterSettings(c.meters[0]).framing == .wrapper)
        #expect(c.maskedDescription.contains("DLMS_TRANSPORT=wrapper"))
        let hdlc = try ConfigurationLoader.load(environment: ["DEVICE_ID": "m1", "DLMS_HOST": "10.0.0.5"])
        #expect(hdlc.meters[0].framing == .hdlc && hdlc.meters[0].transport == .tcp(host: "10.0.0.5", port: 3333))
        #expect(throws: ConfigError.self) {
            try ConfigurationLoader.load(environment: ["DEVICE_ID": "m1", "DLMS_SERIAL_DEVICE": "/dev/ttyUSB0",
                                                       "DLMS_TRANSPORT": "wrapper"])
        }
        do {
            _ = try ConfigurationLoader.load(environment: ["DEVICE_ID": "m1", "DLMS_HOST": "h", "DLMS_TRANSPORT": "tcp"])
            Issue.record("DLMS_TRANSPORT=tcp was accepted")
        } catch {
            #expect(error.description.hasPrefix("DLMS_TRANSPORT=\"tcp\" (from environment): unknown transport; expected hdlc"))
        }
    }
}
