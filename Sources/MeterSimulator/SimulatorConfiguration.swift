import COSEM
import MeterLink
import HDLC

/// Which server address widths the simulated meter answers to. A real meter often answers only one form
/// (e.g. only the 4-byte address), which is what the client's automatic width fallback has to cope with.
public enum AcceptedAddressWidths: Sendable, Hashable, CustomStringConvertible {
    /// 1, 2 and 4 bytes, whichever can express the configured address.
    case any
    /// Only this width; frames addressed with another width get no answer (as on a multi-drop line).
    case only(AddressWidth)

    /// `1`, `2`, `4` or `any` (the `--address-size` values).
    public init?(parsing text: String) {
        switch text.lowercased() {
        case "any", "auto": self = .any
        case "1": self = .only(.one)
        case "2": self = .only(.two)
        case "4": self = .only(.four)
        default: return nil
        }
    }

    /// True when a frame to an address of `byteCount` bytes is answered.
    public func accepts(byteCount: Int) -> Bool {
        switch self {
        case .any: return true
        case let .only(width): return width.byteCount == byteCount
        }
    }

    public var description: String {
        switch self {
        case .any: return "any"
        case let .only(width): return "\(width.byteCount ?? 0)"
        }
    }
}

/// What the meter does with an SNRM (or any frame) from a client SAP it has no association for.
///
/// Decision: a DM by default. The HDLC layer of a meter knows its configured client SAPs; answering
/// "disconnected mode" (rather than silence) lets a client tell a wrong client SAP (DM) from a wrong server
/// address (no answer at all), which is the distinction an operator needs. `.silence` models meters that
/// stay mute instead.
public enum UnknownClientResponse: Sendable, Hashable {
    case disconnectedMode
    case silence
}

/// The simulated meter's settings: addresses, credentials, services, object values, timeouts.
/// The defaults are a Microstar as the field notes describe it.
public struct SimulatorConfiguration: Sendable {
    /// Upper HDLC address (logical device). Microstar: 0 (field notes) or 1 (PDF).
    public var serverLogical: UInt16
    /// Lower HDLC address (physical device). Microstar: 1, or the serial's last four digits (1234).
    public var serverPhysical: UInt16
    /// Address widths answered (`--address-size`).
    public var addressWidths: AcceptedAddressWidths
    /// Client SAPs that associate without authentication (the public client).
    public var publicClients: Set<UInt8>
    /// Client SAPs that need the LLS password (Microstar: 1 in practice, 32 the management client).
    public var passwordClients: Set<UInt8>
    /// The LLS password (Microstar: 8 or 10 ASCII characters).
    public var password: [UInt8]
    /// Answer to frames from other client SAPs.
    public var unknownClientResponse: UnknownClientResponse
    /// The HDLC parameters the meter accepts at most (Microstar: 128-byte info fields, window 1).
    public var linkParameters: LinkParameters
    /// Services granted (intersected with the client's proposal). Drop `.multipleReferences` to test a
    /// client's fallback from GET-With-List to single GETs.
    public var conformance: Conformance
    /// The largest APDU the meter receives and sends (the AARE's server-max-receive-pdu-size); answers
    /// longer than this (or than the client's own limit) go in GET blocks.
    public var maxPDUSize: UInt16
    /// Number of the first GET block (1 in the standard; some meters use 0).
    public var firstBlockNumber: UInt32
    /// The meter drops association and link after this long without a frame (Microstar: 180 s).
    public var inactivityTimeoutMilliseconds: Int64
    /// The meter's serial number (12 digits for a Microstar), attribute 2 of 0-0:96.1.0.255.
    public var serialNumber: String
    /// Firmware version text, attribute 2 of 0-0:42.0.0.255.
    public var firmwareVersion: String
    /// Rows of load profile history kept back from now (at least 96: one day at 15 minutes).
    public var profileRows: Int
    /// The load profile's capture period, seconds.
    public var capturePeriodSeconds: Int
    /// The clock's deviation from UTC in minutes (standard convention: local = UTC - deviation); 0 = UTC.
    public var clockDeviationMinutes: Int16
    /// How far the meter's clock runs ahead of true time at start, seconds (negative: behind).
    public var clockOffsetSeconds: Int64
    /// Seconds between event log entries (default 6 hours).
    public var eventPeriodSeconds: Int64
    /// Windows of meter time (unix seconds, half-open) in which the load profile captured nothing: the
    /// meter was unpowered. Rows there are simply absent from the buffer.
    public var profileGaps: [Range<Int64>]
    /// From this instant (unix seconds, meter time) on, the load profile was reconfigured: it captures
    /// ``SimulatedObjectModel/changedLoadProfileColumns`` and its buffer holds only rows captured since.
    public var captureObjectsChangeAt: Int64?
    /// A secured meter (suite 0 ciphering, LLS or HLS-GMAC) for the clients it names; nil: no ciphering.
    public var security: SimulatorSecurity?
    /// HDLC, or the IEC 62056-47 wrapper (TCP: wPort = client SAP, the meter's wPort = `serverLogical`).
    public var framing: MeterFraming = .hdlc

    public init(
        serverLogical: UInt16 = 0, serverPhysical: UInt16 = 1, addressWidths: AcceptedAddressWidths = .any,
        publicClients: Set<UInt8> = [16], passwordClients: Set<UInt8> = [1, 32],
        password: [UInt8] = Array("22222222".utf8), unknownClientResponse: UnknownClientResponse = .disconnectedMode,
        linkParameters: LinkParameters = .defaults, conformance: Conformance = SimulatorConfiguration.fullConformance,
        maxPDUSize: UInt16 = 1024, firstBlockNumber: UInt32 = 1, inactivityTimeoutMilliseconds: Int64 = 180_000,
        serialNumber: String = "000019001234", firmwareVersion: String = "MST-SIM 1.0.0",
        profileRows: Int = 96 * 2, capturePeriodSeconds: Int = 900, clockDeviationMinutes: Int16 = 0,
        clockOffsetSeconds: Int64 = 0, profileGaps: [Range<Int64>] = [], captureObjectsChangeAt: Int64? = nil,
        eventPeriodSeconds: Int64 = SimulatedObjectModel.eventIntervalSeconds
    ) {
        self.serverLogical = serverLogical
        self.serverPhysical = serverPhysical
        self.addressWidths = addressWidths
        self.publicClients = publicClients
        self.passwordClients = passwordClients
        self.password = password
        self.unknownClientResponse = unknownClientResponse
        self.linkParameters = linkParameters
        self.conformance = conformance
        self.maxPDUSize = maxPDUSize
        self.firstBlockNumber = firstBlockNumber
        self.inactivityTimeoutMilliseconds = inactivityTimeoutMilliseconds
        self.serialNumber = serialNumber
        self.firmwareVersion = firmwareVersion
        self.profileRows = profileRows
        self.capturePeriodSeconds = capturePeriodSeconds
        self.clockDeviationMinutes = clockDeviationMinutes
        self.clockOffsetSeconds = clockOffsetSeconds
        self.profileGaps = profileGaps
        self.captureObjectsChangeAt = captureObjectsChangeAt
        self.eventPeriodSeconds = eventPeriodSeconds
    }

    /// GET, SET (the clock, for password clients), selective access, block transfer with GET, GET-With-List
    /// (multiple references), priority management.
    public static let fullConformance: Conformance = [
        .get, .set, .selectiveAccess, .blockTransferWithGet, .multipleReferences, .priorityManagement,
    ]

    /// The same without GET-With-List: a meter that makes the client fall back to single GETs.
    public static let withoutGetWithList: Conformance = [.get, .selectiveAccess, .blockTransferWithGet, .priorityManagement]

    /// True when `sap` may open a link.
    public func knows(clientSAP sap: UInt8) -> Bool {
        publicClients.contains(sap) || passwordClients.contains(sap) || (security?.securedClients.contains(sap) ?? false)
    }
}

/// Faults the simulated meter can be told to commit, to prove that a client survives them. All are off by
/// default; the server's ``SimulatorServer/faults`` can change them while clients are connected.
public struct SimulatorFaults: Sendable, Equatable {
    /// Drop the link (close the TCP connection; on a serial line, forget the link) on the Nth frame
    /// received in a connection, without answering it.
    public var dropAfterFrames: Int?
    /// Wait this long before every reply.
    public var replyDelayMilliseconds: Int
    /// Corrupt the FCS of every Nth reply frame (counted per connection).
    public var corruptEveryNthReply: Int?
    /// Bytes sent before every reply (garbage, or `7E 7E`); empty for none.
    public var strayBytes: [UInt8]
    /// Reject every LLS password with diagnostic 13 (authentication failure), even the right one.
    public var rejectPassword: Bool
    /// A dead meter: read everything, answer nothing.
    public var silent: Bool
    /// Objects answered with data-access-result object-unavailable (11).
    public var unavailableObjects: Set<ObisCode>
    /// Secured meter: alter the authentication tag of every protected reply.
    public var wrongTag = false
    /// Secured meter: send an earlier protected reply again instead of the answer (a replay).
    public var replayReply = false
    /// Secured meter: protect replies with the previous reply's invocation counter (stale, not increasing).
    public var staleCounter = false
    /// Secured meter: answer HLS-GMAC pass 3 with a wrong f(CtoS) (an impostor).
    public var wrongFCtoS = false

    public init(
        dropAfterFrames: Int? = nil, replyDelayMilliseconds: Int = 0, corruptEveryNthReply: Int? = nil,
        strayBytes: [UInt8] = [], rejectPassword: Bool = false, silent: Bool = false,
        unavailableObjects: Set<ObisCode> = []
    ) {
        self.dropAfterFrames = dropAfterFrames
        self.replyDelayMilliseconds = replyDelayMilliseconds
        self.corruptEveryNthReply = corruptEveryNthReply
        self.strayBytes = strayBytes
        self.rejectPassword = rejectPassword
        self.silent = silent
        self.unavailableObjects = unavailableObjects
    }

    /// No fault.
    public static let none = SimulatorFaults()

    /// `drop-after-frames=3 reply-delay-ms=20 ...`, or `none`.
    public var summary: String {
        var parts: [String] = []
        if let n = dropAfterFrames { parts.append("drop-after-frames=\(n)") }
        if replyDelayMilliseconds > 0 { parts.append("reply-delay-ms=\(replyDelayMilliseconds)") }
        if let n = corruptEveryNthReply { parts.append("corrupt-every=\(n)") }
        if !strayBytes.isEmpty { parts.append("stray-bytes=\(hexString(strayBytes).replacingSpaces)") }
        if rejectPassword { parts.append("reject-password") }
        if silent { parts.append("silent") }
        if wrongTag { parts.append("wrong-tag") }
        if replayReply { parts.append("replay-reply") }
        if staleCounter { parts.append("stale-counter") }
        if wrongFCtoS { parts.append("wrong-f-ctos") }
        for obis in unavailableObjects.sorted(by: { $0.bytes.lexicographicallyPrecedes($1.bytes) }) {
            parts.append("unavailable=\(obis.fullDescription)")
        }
        return parts.isEmpty ? "none" : parts.joined(separator: " ")
    }
}

/// What the simulated meter did, for tests and the operator (`counters` on the control channel).
public struct SimulatorCounters: Sendable, Equatable {
    /// TCP connections accepted, or serial sessions started.
    public var connections = 0
    /// Mode E openings completed.
    public var modeEOpenings = 0
    /// Valid frames received (any address).
    public var framesReceived = 0
    /// Frames sent.
    public var framesSent = 0
    /// Frames for another server address or width: not answered.
    public var framesForOtherAddresses = 0
    /// Frames from client SAPs the meter does not know.
    public var framesFromUnknownClients = 0
    /// Bytes the deframer threw away (garbage, bad checksums, cut frames).
    public var discardedFrames = 0
    public var linksOpened = 0
    public var linksClosed = 0
    public var associationsAccepted = 0
    public var associationsRejected = 0
    public var releases = 0
    public var getRequests = 0
    public var setRequests = 0
    /// SETs of the clock that were accepted.
    public var clockSets = 0
    /// GET-Response-With-Datablock APDUs sent.
    public var blocksSent = 0
    /// Attributes answered with a data-access-result instead of data.
    public var dataAccessErrors = 0
    /// Requests answered with an exception-response (service not allowed or unknown).
    public var exceptionResponses = 0
    /// Links dropped by the inactivity timeout.
    public var inactivityDrops = 0
    /// Fault effects.
    public var faultDrops = 0
    public var delayedReplies = 0
    public var corruptedReplies = 0
    public var strayBursts = 0
    public var passwordRejections = 0
    public var silentFrames = 0
    public var unavailableAnswers = 0

    public init() {}

    /// Adds `other` field by field (the server sums its connections).
    public mutating func add(_ other: SimulatorCounters) {
        connections += other.connections
        modeEOpenings += other.modeEOpenings
        framesReceived += other.framesReceived
        framesSent += other.framesSent
        framesForOtherAddresses += other.framesForOtherAddresses
        framesFromUnknownClients += other.framesFromUnknownClients
        discardedFrames += other.discardedFrames
        linksOpened += other.linksOpened
        linksClosed += other.linksClosed
        associationsAccepted += other.associationsAccepted
        associationsRejected += other.associationsRejected
        releases += other.releases
        getRequests += other.getRequests
        setRequests += other.setRequests
        clockSets += other.clockSets
        blocksSent += other.blocksSent
        dataAccessErrors += other.dataAccessErrors
        exceptionResponses += other.exceptionResponses
        inactivityDrops += other.inactivityDrops
        faultDrops += other.faultDrops
        delayedReplies += other.delayedReplies
        corruptedReplies += other.corruptedReplies
        strayBursts += other.strayBursts
        passwordRejections += other.passwordRejections
        silentFrames += other.silentFrames
        unavailableAnswers += other.unavailableAnswers
    }

    /// Every counter as `(name, value)`, in a fixed order (for JSON and logs).
    public var fields: [(String, Int)] {
        [
            ("connections", connections), ("mode_e_openings", modeEOpenings),
            ("frames_received", framesReceived), ("frames_sent", framesSent),
            ("frames_for_other_addresses", framesForOtherAddresses),
            ("frames_from_unknown_clients", framesFromUnknownClients), ("discarded_frames", discardedFrames),
            ("links_opened", linksOpened), ("links_closed", linksClosed),
            ("associations_accepted", associationsAccepted), ("associations_rejected", associationsRejected),
            ("releases", releases), ("get_requests", getRequests), ("set_requests", setRequests), ("clock_sets", clockSets),
            ("blocks_sent", blocksSent),
            ("data_access_errors", dataAccessErrors), ("exception_responses", exceptionResponses),
            ("inactivity_drops", inactivityDrops), ("fault_drops", faultDrops),
            ("delayed_replies", delayedReplies), ("corrupted_replies", corruptedReplies),
            ("stray_bursts", strayBursts), ("password_rejections", passwordRejections),
            ("silent_frames", silentFrames), ("unavailable_answers", unavailableAnswers),
        ]
    }

    /// `{"connections":1,...}`.
    public var json: String {
        "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }
}

extension String {
    var replacingSpaces: String { String(self.filter { $0 != " " }) }
}

/// A simulator setting that cannot be used; the description says which and what is accepted.
public struct SimulatorError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension SimulatorFaults {
    /// Parses fault switches written as `key=value` words (the control channel's and the tests' syntax):
    /// `drop-after-frames=N`, `reply-delay-ms=D`, `corrupt-every=N`, `stray-bytes=HEX` (e.g. `7E7E`),
    /// `reject-password`, `silent`, `unavailable=OBIS` (repeatable), or `none`. Unnamed faults are off.
    public init(parsing words: [String]) throws(SimulatorError) {
        self.init()
        for word in words where !word.isEmpty && word != "none" {
            let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
            let key = parts[0]
            let value = parts.count > 1 ? parts[1] : nil
            func number() throws(SimulatorError) -> Int {
                guard let value, let n = Int(value), n >= 0 else {
                    throw SimulatorError("fault \(key) needs a non-negative number: \(key)=N")
                }
                return n
            }
            switch key {
            case "drop-after-frames": dropAfterFrames = try number()
            case "reply-delay-ms": replyDelayMilliseconds = try number()
            case "corrupt-every": corruptEveryNthReply = try number()
            case "stray-bytes":
                guard let value, let bytes = parseHex(value), !bytes.isEmpty else {
                    throw SimulatorError("fault stray-bytes needs hex bytes, e.g. stray-bytes=7E7E or stray-bytes=00FF13")
                }
                strayBytes = bytes
            case "reject-password": rejectPassword = true
            case "silent": silent = true
            case "wrong-tag": wrongTag = true
            case "replay-reply": replayReply = true
            case "stale-counter": staleCounter = true
            case "wrong-f-ctos": wrongFCtoS = true
            case "unavailable":
                guard let value, let obis = try? ObisCode(parsing: value) else {
                    throw SimulatorError("fault unavailable needs an OBIS code, e.g. unavailable=1-1:32.7.0")
                }
                unavailableObjects.insert(obis)
            default:
                throw SimulatorError("unknown fault \"\(word)\": use drop-after-frames=N, reply-delay-ms=D, corrupt-every=N, "
                    + "stray-bytes=HEX, reject-password, silent, unavailable=OBIS, wrong-tag, replay-reply, stale-counter, "
                    + "wrong-f-ctos or none")
            }
        }
    }
}

/// `7E 7E`, `7e7e` or `7E:7E` as bytes; nil when not hex.
public func parseHex(_ text: String) -> [UInt8]? {
    var digits: [UInt8] = []
    for c in text.utf8 {
        switch c {
        case 0x30...0x39: digits.append(c - 0x30)
        case 0x41...0x46: digits.append(c - 0x41 + 10)
        case 0x61...0x66: digits.append(c - 0x61 + 10)
        case 0x20, 0x3A, 0x2D: continue
        default: return nil
        }
    }
    guard digits.count % 2 == 0 else { return nil }
    return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
}
