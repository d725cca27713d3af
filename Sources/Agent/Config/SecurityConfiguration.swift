import CLibc
import COSEM
import MeterLink
import Platform
import Spool

// The settings of a secured meter (DLMS security suite 0): DLMS_SECURITY, DLMS_AUTH, the keys (hex, or from a
// file only the service's user can read), DLMS_SYSTEM_TITLE and DLMS_FRAME_COUNTER_OBIS. Keys never print.

/// `DLMS_SECURITY`: the protection of every APDU.
public enum SecurityLevel: String, Sendable, Equatable, CaseIterable {
    case none, auth, enc, authEnc = "auth-enc"

    /// The security control byte of suite 0; nil for `none`.
    public var securityControl: SecurityControl? {
        switch self {
        case .none: return nil
        case .auth: return .authenticated
        case .enc: return SecurityControl(rawValue: 0x20)
        case .authEnc: return .authenticatedEncrypted
        }
    }
}

/// The security of one meter, as configured.
public struct MeterSecurityConfiguration: Sendable, Equatable {
    public var level: SecurityLevel
    public var authentication: SecureAuthentication
    /// EK, AK and the optional dedicated key (`SecurityKey` never prints a bit of itself).
    public var keys: SecurityKeys
    /// The files the keys came from (`DLMS_EK_FILE` → path), shown by `--print-config` instead of the keys.
    public var keyFiles: [String: String]
    public var clientSystemTitle: SystemTitle
    public var frameCounter: ObisCode?

    /// The meter link's view.
    public var meterSecurity: MeterSecurity? {
        guard let sc = level.securityControl else { return nil }
        // The power-loss checker's override (off in production): a short lease block, many leases stored.
        return MeterSecurity(security: sc, authentication: authentication, keys: keys,
                             clientSystemTitle: clientSystemTitle, frameCounter: frameCounter,
                             leaseBlock: PowerLossTrace.leaseBlock ?? 1000)
    }
}

extension ConfigurationLoader {
    /// The key variables: hex in `NAME`, or a file in `NAME_FILE`.
    static let keyVariables = ["DLMS_EK", "DLMS_AK", "DLMS_DK"]

    /// Reads DLMS_SECURITY and what goes with it; nil when the meter is not secured (and then refuses any key
    /// or title set, which would otherwise be silently ignored). `password` is DLMS_PASSWORD (for LLS).
    static func security(_ v: Values, password: ConfigSecret?) throws(ConfigError) -> MeterSecurityConfiguration? {
        let levelText = v["DLMS_SECURITY"]?.value.trimmingBlanksString().lowercased() ?? "none"
        guard let level = SecurityLevel(rawValue: levelText) else {
            throw v.fail("DLMS_SECURITY", "unknown security level",
                "none, auth (authenticated APDUs), enc (encrypted) or auth-enc (both, the usual)")
        }
        let authText = v["DLMS_AUTH"]?.value.trimmingBlanksString().lowercased() ?? (password == nil ? "none" : "lls")
        guard let authentication = SecureAuthentication(rawValue: authText) else {
            throw v.fail("DLMS_AUTH", "unknown authentication", "none, lls (DLMS_PASSWORD) or hls-gmac (DLMS_EK and DLMS_AK)")
        }
        if authentication == .lls && password == nil {
            throw v.fail("DLMS_AUTH", "lls needs a password and DLMS_PASSWORD is not set",
                "DLMS_PASSWORD=<the meter's password>, or DLMS_AUTH=hls-gmac or none")
        }
        guard level != .none else {
            if authentication == .hlsGMAC {
                throw v.fail("DLMS_AUTH", "hls-gmac needs ciphering and DLMS_SECURITY is none",
                    "DLMS_SECURITY=auth-enc (or auth, enc) with DLMS_EK, DLMS_AK and DLMS_SYSTEM_TITLE")
            }
            for name in keyVariables.flatMap({ [$0, $0 + "_FILE"] }) + ["DLMS_SYSTEM_TITLE", "DLMS_FRAME_COUNTER_OBIS"]
            where v[name].map({ !$0.value.isEmpty }) ?? false {
                throw v.fail(name, "it is set but DLMS_SECURITY is none",
                    "DLMS_SECURITY=auth-enc (or auth, enc) to cipher, or remove \(name)")
            }
            return nil
        }
        var files: [String: String] = [:]
        let ek = try key(v, "DLMS_EK", files: &files)
        let ak = try key(v, "DLMS_AK", files: &files)
        func missing(_ name: String, _ what: String) -> ConfigError {
            v.fail(name, "it is not set (nor \(name)_FILE) and DLMS_SECURITY=\(level.rawValue) needs it",
                "the meter's \(what): 32 hex digits in \(name), or a file only this user can read in \(name)_FILE")
        }
        guard let ek else { throw missing("DLMS_EK", "global unicast encryption key") }
        guard let ak else { throw missing("DLMS_AK", "authentication key") }
        let dk = try key(v, "DLMS_DK", files: &files)
        if dk != nil && level == .auth {
            throw v.fail(files["DLMS_DK_FILE"] == nil ? "DLMS_DK" : "DLMS_DK_FILE",
                "with DLMS_SECURITY=auth the dedicated key would travel in clear in the AARQ",
                "DLMS_SECURITY=auth-enc (or enc), or no dedicated key")
        }
        guard let titleSetting = v["DLMS_SYSTEM_TITLE"], !titleSetting.value.isEmpty else {
            throw v.fail("DLMS_SYSTEM_TITLE", "it is not set and DLMS_SECURITY=\(level.rawValue) needs it",
                "this client's system title, 16 hex digits (8 bytes) as registered in the meter, e.g. 4D4D4D0000BC614E")
        }
        guard let title = SystemTitle(hex: titleSetting.value.trimmingBlanksString()) else {
            throw v.fail("DLMS_SYSTEM_TITLE", "it is not 16 hex digits",
                "this client's system title, 16 hex digits (8 bytes), e.g. 4D4D4D0000BC614E")
        }
        var frameCounter: ObisCode?
        if let s = v["DLMS_FRAME_COUNTER_OBIS"], !s.value.isEmpty {
            guard let obis = try? ObisCode(parsing: s.value.trimmingBlanksString()) else {
                throw v.fail("DLMS_FRAME_COUNTER_OBIS", "it is not an OBIS code",
                    "the meter's frame-counter Data object, e.g. 0-0:43.1.0.255 (or 0-0:43.1.1.255)")
            }
            frameCounter = obis
        }
        return MeterSecurityConfiguration(
            level: level, authentication: authentication,
            keys: SecurityKeys(encryption: ek, authentication: ak, dedicated: dk), keyFiles: files,
            clientSystemTitle: title, frameCounter: frameCounter)
    }

    /// A key from `name` (32 hex digits) or `name_FILE` (32 hex digits, or 16 raw bytes, in a file that only
    /// its owner may read). Errors never show the key.
    static func key(_ v: Values, _ name: String, files: inout [String: String]) throws(ConfigError) -> SecurityKey? {
        let fileName = name + "_FILE"
        let text = v[name].flatMap { $0.value.isEmpty ? nil : $0 }
        let file = v[fileName].flatMap { $0.value.isEmpty ? nil : $0 }
        if text != nil && file != nil {
            throw v.fail(name, "both \(name) and \(fileName) are set", "one of them (a file keeps the key out of the environment)")
        }
        if text != nil {
            guard let key = SecurityKey(hex: text!.value.trimmingBlanksString()) else {
                throw v.fail(name, "it is not 32 hex digits", "a 128-bit key written as 32 hex digits")
            }
            return key
        }
        guard let path = file?.value.trimmingBlanksString() else { return nil }
        let bytes: [UInt8]
        switch readKeyFile(path) {
        case let .failure(problem): throw v.fail(fileName, problem.problem, problem.expected)
        case let .success(b): bytes = b
        }
        let asText = String(decoding: bytes, as: UTF8.self).trimmingBlanksString()
            .replacingAll("\n", with: "")
        if let key = SecurityKey(hex: asText) {
            files[fileName] = path
            return key
        }
        if let key = SecurityKey(bytes: bytes) {
            files[fileName] = path
            return key
        }
        throw v.fail(fileName, "the file holds neither 32 hex digits nor 16 raw bytes",
            "a file with the key as 32 hex digits (a trailing newline is fine)")
    }

    struct KeyFileProblem: Error {
        var problem: String
        var expected: String
    }

    /// The bytes of a key file, refused when group or others may read or write it (it holds a secret).
    static func readKeyFile(_ path: String) -> Result<[UInt8], KeyFileProblem> {
        var st = stat()
        guard stat(path, &st) == 0, access(path, R_OK) == 0 else {
            let reason = String(cString: strerror(errno))
            return .failure(KeyFileProblem(problem: "the key file cannot be read: \(reason)",
                expected: "a file readable by the service's user (owner) only, e.g. chmod 600 \(path)"))
        }
        guard clibc_s_isdir(st.st_mode) == 0 else {
            return .failure(KeyFileProblem(problem: "it is a directory", expected: "the path of a key file"))
        }
        let mode = UInt32(st.st_mode) & 0o777
        guard mode & 0o077 == 0 else {
            return .failure(KeyFileProblem(
                problem: "the key file is open to group or others (mode " + octal(mode) + "): anyone on the gateway could read the key",
                expected: "a file only its owner can read: chmod 600 \(path)"))
        }
        let fd = clibc_open(path, O_RDONLY | O_CLOEXEC, 0)
        guard fd >= 0 else {
            return .failure(KeyFileProblem(problem: "the key file cannot be opened: " + String(cString: strerror(errno)),
                expected: "a readable file, mode 600"))
        }
        defer { close(fd) }
        // A key file is small: anything beyond 256 bytes is not a key.
        var bytes = [UInt8](repeating: 0, count: 257)
        var count = 0
        while count < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else {
                return .failure(KeyFileProblem(problem: "the key file cannot be read: " + String(cString: strerror(errno)),
                    expected: "a readable file, mode 600"))
            }
            if n == 0 { break }
            count += n
        }
        return .success(Array(bytes[0..<count]))
    }

    static func octal(_ mode: UInt32) -> String {
        var digits = ""
        var m = mode
        for _ in 0..<4 {
            digits = String(m & 7) + digits
            m >>= 3
        }
        return digits
    }
}
