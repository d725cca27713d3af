import COSEM
import MeterLink
import HDLC

/// What the meter core wants done after it was fed bytes or asked for its timeouts.
public struct MeterOutput: Sendable, Equatable {
    /// Wait this long before writing anything (the reply-delay fault).
    public var delayMilliseconds: Int = 0
    /// Byte runs to write, in order: frames, with stray bytes and corrupted checksums when faults say so.
    public var writes: [[UInt8]] = []
    /// Drop the link after writing: close the TCP connection (a serial line stays open; the core has
    /// already forgotten its link and association).
    public var closeLink = false
    /// What happened, one line each, for `--verbose` (frames in hex, password bytes masked as `**`).
    public var trace: [String] = []

    public init() {}

    /// All bytes to write, concatenated.
    public var bytes: [UInt8] { writes.flatMap { $0 } }
}

/// One simulated meter end of one connection, sans-I/O: bytes in, bytes out, the time passed in by the
/// caller (unix milliseconds, used for the object values and the inactivity timeout alike).
///
/// It answers as a Microstar does: SNRM/UA and DISC/UA on its server address (in the accepted widths),
/// DM to unknown client SAPs (see ``UnknownClientResponse``), AARQ/AARE with the public client or LLS,
/// GET-Normal/Next/With-List with block transfer, selective access on profiles, RLRQ/RLRE, and the
/// inactivity timeout. ``faults`` can be changed between calls.
///
/// ```swift
/// var meter = SimulatedMeter(configuration: .init())
/// let out = meter.receive(bytesFromClient, now: WallClock.milliseconds())
/// write(out.bytes); if out.closeLink { close() }
/// // when idle: if meter.tick(now:).closeLink { close() }
/// ```
public struct SimulatedMeter: Sendable {
    public let configuration: SimulatorConfiguration
    public let model: SimulatedObjectModel
    /// The faults applied from the next call on.
    public var faults: SimulatorFaults
    /// Record frames in ``MeterOutput/trace``.
    public var tracing: Bool
    /// What this connection did so far (see ``takeCounters()``).
    public internal(set) var counters = SimulatorCounters()
    /// The meter's clock minus the caller's time, in milliseconds: the clock-offset switch, changed by a SET
    /// of the clock (the server shares it between connections, as one meter has one clock).
    public var clockOffsetMilliseconds: Int64

    /// The association state.
    public enum AssociationState: Sendable, Equatable {
        case none
        case associated(clientSAP: UInt8, granted: Conformance, maxPDUSize: Int)
    }

    public internal(set) var association: AssociationState = .none
    var link: HDLCLink?
    var deframer = Deframer()
    var lastFrameAt: Int64?
    var framesInConnection = 0
    var repliesInConnection = 0
    /// A long GET being sent: the blocks not yet sent, and the number of the last one sent.
    var pendingBlocks: [GetResponse] = []
    var lastBlockNumber: UInt32 = 0
    var discardedSoFar = 0
    /// The ciphering of a secured association (nil in clear).
    var secure: SecureServerSession?
    /// Wrapper bytes not yet a whole PDU.
    var wrapperPending: [UInt8] = []

    public init(configuration: SimulatorConfiguration, faults: SimulatorFaults = .none, tracing: Bool = false) {
        self.configuration = configuration
        self.model = SimulatedObjectModel(configuration: configuration)
        self.faults = faults
        self.tracing = tracing
        self.clockOffsetMilliseconds = configuration.clockOffsetSeconds * 1000
    }

    /// Whether the HDLC link is up.
    public var isLinkConnected: Bool { link?.state == .connected }

    /// Whether an application association is open.
    public var isAssociated: Bool { association != .none }

    /// The counters since the last call, then zero (the server sums them over connections).
    public mutating func takeCounters() -> SimulatorCounters {
        defer { counters = SimulatorCounters() }
        return counters
    }

    /// When the inactivity timeout will drop the link (unix ms), or nil while no link is up.
    public var inactivityDeadline: Int64? {
        guard isLinkConnected || isAssociated, let last = lastFrameAt else { return nil }
        return last + configuration.inactivityTimeoutMilliseconds
    }

    /// Checks the inactivity timeout: after that long without a frame the meter drops association and
    /// link (the caller closes the connection).
    public mutating func tick(now: Int64) -> MeterOutput {
        var out = MeterOutput()
        if let deadline = inactivityDeadline, now >= deadline {
            counters.inactivityDrops += 1
            note(&out, "inactivity timeout (\(configuration.inactivityTimeoutMilliseconds / 1000) s without a frame): link dropped")
            forgetLink()
            out.closeLink = true
        }
        return out
    }

    /// Forgets link, association and any half-received frame (a new connection, or a dropped link).
    public mutating func forgetLink() {
        if isLinkConnected { counters.linksClosed += 1 }
        link = nil
        association = .none
        secure = nil
        pendingBlocks = []
        lastFrameAt = nil
        framesInConnection = 0
        repliesInConnection = 0
        wrapperPending = []
        deframer.reset()
    }

    /// Feeds bytes from the client.
    public mutating func receive(_ bytes: [UInt8], now: Int64) -> MeterOutput {
        if configuration.framing == .wrapper { return receiveWrapped(bytes, now: now) }
        var out = MeterOutput()
        var frames: [(HDLCFrame, [UInt8])] = []
        deframer.feed(bytes) { frame, raw in frames.append((frame, [UInt8](raw))) }
        let discarded = deframer.counters.discardedFrames
        counters.discardedFrames += discarded - discardedSoFar
        discardedSoFar = discarded
        for (frame, raw) in frames {
            handle(frame, raw, now: now, into: &out)
            if out.closeLink { break }
        }
        if !out.writes.isEmpty && faults.replyDelayMilliseconds > 0 {
            out.delayMilliseconds = faults.replyDelayMilliseconds
            counters.delayedReplies += 1
        }
        return out
    }

    mutating func handle(_ frame: HDLCFrame, _ raw: [UInt8], now: Int64, into out: inout MeterOutput) {
        counters.framesReceived += 1
        framesInConnection += 1
        if tracing { out.trace.append("RX " + Self.maskedHex(raw)) }
        if let limit = faults.dropAfterFrames, framesInConnection >= limit {
            counters.faultDrops += 1
            note(&out, "fault: dropping the link on frame \(framesInConnection) of this connection")
            forgetLink()
            out.closeLink = true
            return
        }
        if faults.silent {
            counters.silentFrames += 1
            return
        }
        let destination = frame.destination
        guard destination.logical == configuration.serverLogical, destination.physical == configuration.serverPhysical,
            configuration.addressWidths.accepts(byteCount: destination.byteCount)
        else {
            counters.framesForOtherAddresses += 1
            note(&out, "frame to \(destination.description) is not for this meter: no answer")
            return
        }
        lastFrameAt = now
        let source = frame.source
        guard source.byteCount == 1, configuration.knows(clientSAP: source.sap) else {
            counters.framesFromUnknownClients += 1
            if configuration.unknownClientResponse == .disconnectedMode {
                if let dm = try? HDLCFrame.encode(destination: source, source: destination,
                                                  control: .disconnectedMode(final: true), info: []) {
                    emit(dm, into: &out)
                }
            }
            note(&out, "frame from unknown client \(source.description): "
                + (configuration.unknownClientResponse == .disconnectedMode ? "DM" : "no answer"))
            return
        }
        var isSNRM = false
        if case .setNormalResponseMode = frame.control { isSNRM = true }
        // A new link answers in the width the client used; an SNRM from any known client restarts it.
        if link == nil || isSNRM || link?.configuration.peerAddress.map({ !$0.isSameStation(as: source) }) == true {
            if isSNRM {
                association = .none
                secure = nil
                pendingBlocks = []
            }
            link = HDLCLink(.server(destination, parameters: configuration.linkParameters))
        }
        let wasConnected = isLinkConnected
        guard var current = link else { return }
        let events = current.receive(frame: raw)
        link = current
        for event in events {
            switch event {
            case let .send(bytes):
                emit(bytes, into: &out)
            case .connected:
                counters.linksOpened += 1
            case .disconnected:
                if wasConnected { counters.linksClosed += 1 }
                association = .none
                secure = nil
                pendingBlocks = []
            case let .apdu(apdu):
                guard let response = respond(to: apdu, clientSAP: source.sap, now: now, into: &out) else { continue }
                guard var l = link else { continue }
                do {
                    let sent = try l.send(apdu: response)
                    link = l
                    for case let .send(bytes) in sent { emit(bytes, into: &out) }
                } catch {
                    note(&out, "cannot send the response: \(error.description)")
                }
            case .rejected:
                break
            case let .protocolError(error):
                note(&out, "HDLC: \(error.description)")
            }
        }
    }

    /// Appends a reply frame, with the fault effects.
    mutating func emit(_ frame: [UInt8], into out: inout MeterOutput) {
        repliesInConnection += 1
        counters.framesSent += 1
        if !faults.strayBytes.isEmpty {
            counters.strayBursts += 1
            out.writes.append(faults.strayBytes)
        }
        var bytes = frame
        if let n = faults.corruptEveryNthReply, n > 0, repliesInConnection % n == 0, bytes.count >= 4 {
            counters.corruptedReplies += 1
            bytes[bytes.count - 2] ^= 0xFF  // the FCS's high byte (the frame's last byte before the flag)
            note(&out, "fault: corrupted the FCS of reply \(repliesInConnection)")
        }
        if tracing { out.trace.append("TX " + hexString(bytes)) }
        out.writes.append(bytes)
    }

    func note(_ out: inout MeterOutput, _ text: @autoclosure () -> String) {
        if tracing { out.trace.append(text()) }
    }

    // MARK: Application layer

    /// The response APDU to a request APDU, or nil for none.
    mutating func respond(to apdu: [UInt8], clientSAP: UInt8, now: Int64, into out: inout MeterOutput) -> [UInt8]? {
        guard let tag = apdu.first else { return nil }
        if let security = configuration.security {
            if tag == 0x60, security.securedClients.contains(clientSAP) {
                association = .none
                secure = nil
                pendingBlocks = []
                guard let request = try? AARQ.decode(apdu) else {
                    counters.associationsRejected += 1
                    return AARE(result: .rejectedPermanent, diagnostic: .noReasonGiven, userInformation: nil).encode()
                }
                return associateSecured(request, clientSAP: clientSAP, security: security, into: &out)
            }
            if CipheringTags.isCiphered(tag) {
                return respondSecured(to: apdu, clientSAP: clientSAP, security: security, now: now, into: &out)
            }
            if tag == 0xC0, secure != nil {
                counters.exceptionResponses += 1
                note(&out, "a GET in clear inside a secured association: exception-response service-not-allowed")
                return ExceptionResponse(stateError: 1, serviceError: 1).encoded
            }
        }
        return respondPlain(to: apdu, clientSAP: clientSAP, now: now, into: &out)
    }

    /// The response to a request in clear (or deciphered), or nil for none.
    mutating func respondPlain(to apdu: [UInt8], clientSAP: UInt8, now: Int64, into out: inout MeterOutput) -> [UInt8]? {
        guard let tag = apdu.first else { return nil }
        switch tag {
        case 0x60:
            return associate(apdu, clientSAP: clientSAP, into: &out)
        case 0x62:
            counters.releases += 1
            association = .none
            secure = nil
            pendingBlocks = []
            return RLRE(reason: 0).encode()
        case 0xC0:
            guard case let .associated(_, granted, maxPDU) = association else {
                counters.exceptionResponses += 1
                note(&out, "GET before an association: exception-response service-not-allowed")
                return ExceptionResponse(stateError: 1, serviceError: 1).encoded
            }
            let request: GetRequest
            do { request = try GetRequest.decode(apdu) } catch {
                counters.exceptionResponses += 1
                note(&out, "undecodable GET-Request: \(error.description)")
                return ExceptionResponse(stateError: 2, serviceError: 3).encoded
            }
            counters.getRequests += 1
            return get(request, granted: granted, maxPDU: maxPDU, now: now, into: &out)
        case 0xC1:
            guard case let .associated(sap, granted, _) = association else {
                counters.exceptionResponses += 1
                note(&out, "SET before an association: exception-response service-not-allowed")
                return ExceptionResponse(stateError: 1, serviceError: 1).encoded
            }
            guard granted.contains(.set) else {
                counters.exceptionResponses += 1
                note(&out, "SET not granted: exception-response service-not-allowed")
                return ExceptionResponse(stateError: 1, serviceError: 2).encoded
            }
            let request: SetRequest
            do { request = try SetRequest.decode(apdu) } catch {
                counters.exceptionResponses += 1
                note(&out, "undecodable SET-Request: \(error.description)")
                return ExceptionResponse(stateError: 2, serviceError: 3).encoded
            }
            counters.setRequests += 1
            let result = set(request, clientSAP: sap, now: now, into: &out)
            if result != .success { counters.dataAccessErrors += 1 }
            return SetResponse(invoke: request.invoke, result: result).encode()
        default:
            counters.exceptionResponses += 1
            note(&out, "APDU tag \(hexString([tag])) not supported: exception-response service-unknown")
            return ExceptionResponse(stateError: 2, serviceError: 2).encoded
        }
    }

    mutating func associate(_ apdu: [UInt8], clientSAP: UInt8, into out: inout MeterOutput) -> [UInt8] {
        association = .none
        pendingBlocks = []
        func reject(_ diagnostic: AssociateSourceDiagnostic, _ why: String, mechanism: MechanismName? = nil) -> [UInt8] {
            counters.associationsRejected += 1
            note(&out, "association from client SAP \(clientSAP) rejected: \(why)")
            return AARE(result: .rejectedPermanent, diagnostic: diagnostic, userInformation: nil, mechanism: mechanism).encode()
        }
        let request: AARQ
        do { request = try AARQ.decode(apdu) } catch {
            return reject(.noReasonGiven, "undecodable AARQ (\(error.description))")
        }
        guard request.applicationContext == .logicalNameNoCiphering else {
            return reject(.applicationContextNameNotSupported, "application context \(request.applicationContext.rawValue)")
        }
        var mechanism: MechanismName? = nil
        if configuration.passwordClients.contains(clientSAP) {
            mechanism = .lowLevel
            guard case let .lowLevel(password) = request.authentication else {
                return reject(.authenticationRequired, "no password (authentication required)", mechanism: .lowLevel)
            }
            if faults.rejectPassword {
                counters.passwordRejections += 1
                return reject(.authenticationFailure, "password refused (reject-password fault)", mechanism: .lowLevel)
            }
            guard password == configuration.password else {
                return reject(.authenticationFailure, "wrong password (\(password.count) characters)", mechanism: .lowLevel)
            }
        }
        let initiate = request.initiateRequest
        let granted = initiate.proposedConformance.intersection(configuration.conformance)
        // A client max of 0 means "no limit" in the standard.
        let clientMax = initiate.clientMaxReceivePDUSize == 0 ? 0xFFFF : Int(initiate.clientMaxReceivePDUSize)
        let maxPDU = max(64, min(clientMax, Int(configuration.maxPDUSize)))
        association = .associated(clientSAP: clientSAP, granted: granted, maxPDUSize: maxPDU)
        counters.associationsAccepted += 1
        note(&out, "association accepted for client SAP \(clientSAP): granted \(granted), max PDU \(maxPDU)")
        let response = InitiateResponse(negotiatedConformance: granted, serverMaxReceivePDUSize: configuration.maxPDUSize)
        return AARE(result: .accepted, diagnostic: .null, userInformation: .initiateResponse(response),
                    mechanism: mechanism).encode()
    }

    mutating func read(_ attribute: AttributeDescriptor, access: SelectiveAccess?, now: Int64) -> GetDataResult {
        if faults.unavailableObjects.contains(attribute.obis) {
            counters.unavailableAnswers += 1
            counters.dataAccessErrors += 1
            return .error(.objectUnavailable)
        }
        if let security = configuration.security, attribute.obis == security.frameCounter, attribute.classId == 1,
            attribute.attribute == 2 {
            return .data(.doubleLongUnsigned(security.state.lastClientCounter ?? 0))
        }
        let result = model.get(attribute, access: access, at: now + clockOffsetMilliseconds)
        if case .error = result { counters.dataAccessErrors += 1 }
        return result
    }

    /// Writes one attribute. Only the clock's time (class 8 attribute 2) is writable, and only by a client
    /// that authenticated with the password (the public client gets read-write-denied, as on a Microstar).
    mutating func set(_ request: SetRequest, clientSAP: UInt8, now: Int64, into out: inout MeterOutput) -> DataAccessResult {
        let attribute = request.attribute
        guard let interfaceClass = SimulatedObjectModel.interfaceClass(of: attribute.obis) else { return .objectUndefined }
        guard attribute.classId == interfaceClass.rawValue else { return .objectClassInconsistent }
        guard request.access == nil else { return .otherReason }
        guard interfaceClass == .clock, attribute.attribute == 2, configuration.passwordClients.contains(clientSAP) else {
            note(&out, "SET of \(attribute) by client SAP \(clientSAP) refused: read-write-denied")
            return .readWriteDenied
        }
        let dateTime: CosemDateTime
        switch request.value {
        case let .octetString(bytes):
            guard let parsed = try? CosemDateTime(bytes: bytes) else { return .typeUnmatched }
            dateTime = parsed
        case let .dateTime(parsed):
            dateTime = parsed
        default:
            return .typeUnmatched
        }
        guard let ms = try? dateTime.unixMilliseconds(assumedDeviation: configuration.clockDeviationMinutes) else {
            return .typeUnmatched
        }
        clockOffsetMilliseconds = ms - now
        counters.clockSets += 1
        note(&out, "clock set to \(dateTime.description) by client SAP \(clientSAP): offset now \(clockOffsetMilliseconds) ms")
        return .success
    }

    mutating func get(_ request: GetRequest, granted: Conformance, maxPDU: Int, now: Int64,
                      into out: inout MeterOutput) -> [UInt8] {
        switch request {
        case let .normal(invoke, attribute, access):
            pendingBlocks = []
            if access != nil && !granted.contains(.selectiveAccess) {
                counters.dataAccessErrors += 1
                return GetResponse.normal(invoke: invoke, result: .error(.scopeOfAccessViolated)).encode()
            }
            let result = read(attribute, access: access, now: now)
            let response = GetResponse.normal(invoke: invoke, result: result).encode()
            guard response.count > maxPDU, case let .data(value) = result else { return response }
            return startBlocks(invoke: invoke, data: value.encoded, granted: granted, maxPDU: maxPDU, into: &out)
        case let .withList(invoke, attributes):
            pendingBlocks = []
            guard granted.contains(.multipleReferences) else {
                counters.exceptionResponses += 1
                note(&out, "GET-With-List not granted: exception-response service-not-allowed")
                return ExceptionResponse(stateError: 1, serviceError: 2).encoded
            }
            let results = attributes.map { read($0.attribute, access: $0.access, now: now) }
            let response = GetResponse.withList(invoke: invoke, results: results).encode()
            guard response.count > maxPDU else { return response }
            // The blocks carry the list body: count and results, without `C4 03 <invoke>`.
            return startBlocks(invoke: invoke, data: Array(response[3...]), granted: granted, maxPDU: maxPDU, into: &out)
        case let .next(invoke, block):
            guard !pendingBlocks.isEmpty else {
                counters.dataAccessErrors += 1
                return GetResponse.withDatablock(invoke: invoke, block: DataBlock(
                    lastBlock: true, blockNumber: block, result: .error(.noLongGetInProgress))).encode()
            }
            guard block == lastBlockNumber else {
                pendingBlocks = []
                counters.dataAccessErrors += 1
                return GetResponse.withDatablock(invoke: invoke, block: DataBlock(
                    lastBlock: true, blockNumber: block, result: .error(.dataBlockNumberInvalid))).encode()
            }
            var next = pendingBlocks.removeFirst()
            if case let .withDatablock(_, b) = next {
                next = .withDatablock(invoke: invoke, block: b)
                lastBlockNumber = b.blockNumber
            }
            counters.blocksSent += 1
            return next.encode()
        }
    }

    mutating func startBlocks(invoke: InvokeIdAndPriority, data: [UInt8], granted: Conformance, maxPDU: Int,
                              into out: inout MeterOutput) -> [UInt8] {
        guard granted.contains(.blockTransferWithGet) else {
            counters.dataAccessErrors += 1
            note(&out, "answer of \(data.count) bytes exceeds the PDU size \(maxPDU) and block transfer was not granted")
            return GetResponse.normal(invoke: invoke, result: .error(.otherReason)).encode()
        }
        var blocks = GetResponse.datablocks(invoke: invoke, data: data, maxPDUSize: maxPDU,
                                            firstBlockNumber: configuration.firstBlockNumber)
        let first = blocks.removeFirst()
        pendingBlocks = blocks
        lastBlockNumber = configuration.firstBlockNumber
        counters.blocksSent += 1
        note(&out, "answer of \(data.count) bytes in \(blocks.count + 1) blocks")
        return first.encode()
    }

    // MARK: Trace

    /// Hex of a frame with the AARQ's password bytes (`AC len 80 len <password>`) shown as `**`.
    static func maskedHex(_ frame: [UInt8]) -> String {
        var bytes = frame.map { Optional($0) }
        // Find the calling-authentication-value of an AARQ inside the frame's info field.
        if let aarq = frame.firstIndex(of: 0x60), aarq + 2 < frame.count {
            var i = aarq
            while i + 4 < frame.count {
                if frame[i] == 0xAC, frame[i + 2] == 0x80, Int(frame[i + 1]) == Int(frame[i + 3]) + 2 {
                    let n = Int(frame[i + 3])
                    var j = i + 4
                    while j < min(frame.count, i + 4 + n) { bytes[j] = nil; j += 1 }
                    break
                }
                i += 1
            }
        }
        var text = ""
        for (k, b) in bytes.enumerated() {
            if k > 0 { text += " " }
            if let b { text += hexString([b]) } else { text += "**" }
        }
        return text
    }
}

extension ExceptionResponse {
    var encoded: [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }
}
