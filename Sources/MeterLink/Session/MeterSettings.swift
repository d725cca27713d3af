import COSEM
import HDLC

/// Where a meter is.
public enum MeterEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// HDLC straight on a TCP socket (Microstar: port 3333), not the IEC 62056-47 wrapper.
    case tcp(host: String, port: UInt16)
    /// A serial port (optical probe); with `modeE` the IEC 62056-21 mode E opening runs first at 300 baud.
    case serial(path: String, baudRate: Int, modeE: Bool)

    public var description: String {
        switch self {
        case let .tcp(host, port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case let .serial(path, baud, modeE): return modeE ? "\(path) (mode E)" : "\(path) at \(baud) baud"
        }
    }
}

/// How APDUs travel on the transport (`DLMS_TRANSPORT`).
public enum MeterFraming: String, Sendable, Hashable, CaseIterable {
    /// IEC 62056-46 HDLC (SNRM/UA, I-frames), on TCP or a serial line.
    case hdlc
    /// The IEC 62056-47 wrapper on TCP (default port 4059): an 8-byte header per APDU, client wPort = client SAP,
    /// server wPort = logical device; no link layer.
    case wrapper
}

/// The server address width to use (`DLMS_ADDRESS_SIZE`, `--address-size`): fixed, or `auto` = the smallest that
/// fits, then the others in turn when the meter does not answer.
public enum AddressSizeSetting: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
    case auto
    case fixed(AddressWidth)

    /// Parses `auto`, `1`, `2` or `4` (lower case: the configuration lowercases first).
    public init?(rawValue: String) {
        switch rawValue {
        case "auto": self = .auto
        case "1": self = .fixed(.one)
        case "2": self = .fixed(.two)
        case "4": self = .fixed(.four)
        default: return nil
        }
    }

    /// `auto`, `1`, `2` or `4`: the setting as it is written.
    public var rawValue: String {
        switch self {
        case .auto, .fixed(.auto): return "auto"
        case .fixed(.one): return "1"
        case .fixed(.two): return "2"
        case .fixed(.four): return "4"
        }
    }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case let .fixed(w): return w.description
        }
    }
}

/// A password that never prints: `description` is masked, the bytes go only into the AARQ.
public struct Secret: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]
    public init(_ text: String) { bytes = Array(text.utf8) }
    public var isEmpty: Bool { bytes.isEmpty }
    public var description: String { bytes.isEmpty ? "(none)" : "********" }
}

/// Meter-family defaults in one place, so that quirks are named rather than scattered through the code.
public struct MeterProfile: Sendable, Hashable {
    public var name: String
    public var clientSAP: UInt8
    public var serverLogical: UInt16
    public var serverPhysical: UInt16
    public var linkParameters: LinkParameters
    /// The meter drops an idle association after this many seconds.
    public var inactivityTimeoutSeconds: Int
    /// Read the clock after this many idle seconds to keep the association.
    public var keepAliveSeconds: Int

    /// Microstar: server logical 0 / physical 1 (the field notes; the PDF says logical 1 and physical = the
    /// serial's last four digits, both work by configuration), client SAP 1 with an LLS password (16 public,
    /// 32 management also exist), 128-byte info fields, window 1, 180 s inactivity timeout.
    public static let microstar = MeterProfile(
        name: "microstar", clientSAP: 1, serverLogical: 0, serverPhysical: 1,
        linkParameters: LinkParameters(maxInfoTransmit: 128, maxInfoReceive: 128, windowTransmit: 1, windowReceive: 1),
        inactivityTimeoutSeconds: 180, keepAliveSeconds: 120)

    /// A generic IEC 62056-46 meter: public client 16, management logical device 1, physical 17.
    public static let generic = MeterProfile(
        name: "generic", clientSAP: 16, serverLogical: 1, serverPhysical: 17,
        linkParameters: .defaults, inactivityTimeoutSeconds: 120, keepAliveSeconds: 60)

    /// The profiles by name (`DLMS_METER_PROFILE`).
    public static func named(_ name: String) -> MeterProfile? {
        switch name.lowercased() {
        case "microstar": return .microstar
        case "generic": return .generic
        default: return nil
        }
    }
}

/// Everything needed to reach and read one meter.
public struct MeterSettings: Sendable {
    public var endpoint: MeterEndpoint
    public var clientSAP: UInt8
    public var serverLogical: UInt16
    public var serverPhysical: UInt16
    public var addressSize: AddressSizeSetting
    public var password: Secret
    public var profile: MeterProfile
    /// HDLC parameters proposed in the SNRM.
    public var linkParameters: LinkParameters
    /// Largest APDU this client accepts (AARQ).
    public var maxReceivePDUSize: UInt16
    /// TCP connect (or serial open and mode E) bound.
    public var connectTimeoutMilliseconds: Int64
    /// How long to wait for each answer before retransmitting.
    public var responseTimeoutMilliseconds: Int64
    /// Retransmissions of an unanswered frame before the request fails.
    public var retries: Int
    /// Read the clock after this long idle, to keep the association (0 = never).
    public var keepAliveMilliseconds: Int64
    /// Close the association after every poll (meters that want it).
    public var connectPerPoll: Bool
    /// Most attributes in one GET-With-List.
    public var maxListSize: Int
    /// First reconnect back-off; doubles per failure up to `maxBackoffMilliseconds`, with ±25 % jitter.
    public var initialBackoffMilliseconds: Int64
    public var maxBackoffMilliseconds: Int64
    /// Back-off once the meter is down (its ``FailureStreak`` says so).
    public var downBackoffMilliseconds: Int64
    /// Ciphering and HLS for a secured meter; nil: APDUs in clear (the public client or LLS).
    public var security: MeterSecurity?
    /// HDLC, or the IEC 62056-47 wrapper (TCP only).
    public var framing: MeterFraming = .hdlc

    public init(endpoint: MeterEndpoint, profile: MeterProfile = .microstar, password: Secret = Secret("")) {
        self.endpoint = endpoint
        self.profile = profile
        self.clientSAP = profile.clientSAP
        self.serverLogical = profile.serverLogical
        self.serverPhysical = profile.serverPhysical
        self.addressSize = .auto
        self.password = password
        self.linkParameters = profile.linkParameters
        self.maxReceivePDUSize = 1200
        self.connectTimeoutMilliseconds = 5000
        self.responseTimeoutMilliseconds = 2000
        self.retries = 2
        self.keepAliveMilliseconds = Int64(profile.keepAliveSeconds) * 1000
        self.connectPerPoll = false
        self.maxListSize = 16
        self.initialBackoffMilliseconds = 1000
        self.maxBackoffMilliseconds = 60_000
        self.downBackoffMilliseconds = 300_000
    }

    /// The AARQ authentication for these settings without ciphering: LLS when a password is set, none otherwise.
    public var authentication: Authentication {
        password.isEmpty ? .none : .lowLevel(password: password.bytes)
    }

    /// The server address widths to try, in order.
    public func candidateWidths() -> [AddressWidth] {
        switch addressSize {
        case let .fixed(w): return [w]
        case .auto:
            var out: [AddressWidth] = []
            for w in [AddressWidth.one, .two, .four] {
                if (try? HDLCAddress(logical: serverLogical, physical: serverPhysical, width: w)) != nil { out.append(w) }
            }
            return out
        }
    }
}
