import COSEM
import DLMSCrypto
import HDLC
import Platform

/// Which way a traced frame went.
public enum FrameDirection: String, Sendable {
    case transmit = "TX"
    case receive = "RX"
}

/// Receives every frame on the line (for `--verbose`); passwords are already masked as `**` bytes.
public typealias FrameTrace = @Sendable (FrameDirection, String) -> Void

/// One association with one meter: the transport, the HDLC link and the COSEM client association, driven
/// over blocking I/O with deadlines. Not thread-safe: one thread (the meter's) uses it.
///
/// `open()` connects the transport, clears a stale link (DISC), opens the link (SNRM/UA, trying the other
/// address widths when the meter does not answer and the width is `auto`) and associates (AARQ/AARE).
/// `read(_:)` reads measurements in as few round trips as the meter allows: scaler and unit once per
/// association, then one GET-With-List for every value. `close()` releases and disconnects.
public final class MeterSession {
    public let settings: MeterSettings
    public internal(set) var counters = MeterCounters()
    /// The server address width the meter answered to (known after `open`).
    public private(set) var resolvedWidth: AddressWidth?
    /// The services the meter granted.
    public internal(set) var granted: Conformance?
    /// The negotiated HDLC parameters.
    public private(set) var linkParameters: LinkParameters?

    let trace: FrameTrace?
    private let transportFactory: @Sendable (MeterEndpoint, Deadline) throws(LinkError) -> any ByteTransport
    var transport: (any ByteTransport)?
    var link: HDLCLink?
    /// With the wrapper: the client wPort of the "link" (the client SAP, or 16 while reading the frame counter).
    var wrapperClient: UInt8?
    var association: ClientAssociation
    /// Where the invocation counter's lease is persisted (secured meters); nil: only in memory.
    let counterLease: (any InvocationCounterLeaseStore)?
    /// The AES-GCM engine of this meter's thread, created at the first secured association.
    var engine: OpenSSLGCM?
    /// The ciphering state of the open association (secured meters).
    var cipher: CipheringContext<OpenSSLGCM>?
    /// The sending counter, kept across associations: it only ever moves forward.
    var sendCounter: InvocationCounter?
    /// The meter's counters seen so far, kept across associations: a replayed old reply is refused.
    var peerGuard = ReplayGuard()
    private var scalerCache: [ObisCode: ScalerUnit] = [:]
    var readBuffer = [UInt8](repeating: 0, count: 4096)
    var lastActivity = MonotonicInstant.now()
    private var deframerBaseline = DeframerCounters()

    /// - Parameters:
    ///   - trace: called with every frame in hex (`--verbose`), password bytes masked.
    ///   - transportFactory: opens the transport; tests may substitute one.
    ///   - counterLease: where a secured meter's invocation counter lease is persisted (beside its spool).
    public init(
        settings: MeterSettings, trace: FrameTrace? = nil, counterLease: (any InvocationCounterLeaseStore)? = nil,
        transportFactory: @escaping @Sendable (MeterEndpoint, Deadline) throws(LinkError) -> any ByteTransport = MeterSession.openTransport
    ) {
        self.settings = settings
        self.trace = trace
        self.counterLease = counterLease
        self.transportFactory = transportFactory
        self.association = ClientAssociation(settings: AssociationSettings(
            clientSAP: settings.clientSAP, authentication: settings.authentication,
            maxReceivePDUSize: settings.maxReceivePDUSize))
    }

    deinit { transport?.close() }

    /// True while an association is up.
    public var isAssociated: Bool {
        let linked = settings.framing == .wrapper ? wrapperClient != nil : link?.state == .connected
        if case .associated = association.state, linked, transport?.isOpen == true { return true }
        return false
    }

    /// Opens the transport the default way: TCP, or a serial port with the optional mode E opening.
    public static func openTransport(_ endpoint: MeterEndpoint, _ deadline: Deadline) throws(LinkError) -> any ByteTransport {
        switch endpoint {
        case let .tcp(host, port):
            return try TCPTransport(host: host, port: port, deadline: deadline)
        case let .serial(path, baud, modeE):
            if modeE {
                // The opener switches the line to 300 baud 7E1 itself, and to the agreed rate afterwards.
                let line = try SerialTransport(path: path, settings: .hdlc(baudRate: baud))
                do {
                    _ = try ModeEOpener(maximumBaudRate: baud).open(line)  // DLMS_BAUD caps the offered rate
                } catch {
                    line.close()
                    throw error
                }
                return line
            }
            return try SerialTransport(path: path, settings: .hdlc(baudRate: baud))
        }
    }

    // MARK: Opening and closing

    /// Connects, opens the HDLC link and associates. Throws an operator-facing `MeterError`.
    public func open() throws(MeterError) {
        abort()
        let deadline = Deadline.after(milliseconds: settings.connectTimeoutMilliseconds)
        do {
            transport = try transportFactory(settings.endpoint, deadline)
        } catch {
            throw MeterError.transport(error)
        }
        do {
            if let security = settings.security, sendCounter == nil {
                try startCounter(security)
            }
            try openLink(clientSAP: settings.clientSAP)
            if settings.security != nil { try associateSecured() } else { try associate() }
        } catch {
            abort()
            throw error
        }
        lastActivity = .now()
    }

    func openLink(clientSAP: UInt8) throws(MeterError) {
        if settings.framing == .wrapper {
            // No link layer: the client's wPort is its SAP, the AARQ is the first PDU.
            guard case .tcp = settings.endpoint else {
                throw MeterError(.configuration, "the IEC 62056-47 wrapper runs on TCP only: use DLMS_TRANSPORT=hdlc on a serial line")
            }
            wrapperClient = clientSAP
            return
        }
        let client: HDLCAddress
        do { client = try HDLCAddress.client(sap: clientSAP) } catch {
            throw MeterError(.configuration, "client SAP \(clientSAP) cannot be addressed: \(error.description)")
        }
        var widths = settings.candidateWidths()
        if widths.isEmpty {
            throw MeterError(.configuration,
                "server logical \(settings.serverLogical) / physical \(settings.serverPhysical) does not fit an HDLC "
                + "address of \(settings.addressSize) byte(s): logical and physical must be below 128 for 2 bytes, "
                + "below 16384 for 4 bytes")
        }
        // A meter that answered once keeps its addressing: reconnects try only the width that worked, so a
        // dead meter costs one SNRM timeout per poll, not one per width.
        if let known = resolvedWidth, widths.contains(known) { widths = [known] }
        var tried: [String] = []
        for (index, width) in widths.enumerated() {
            let server: HDLCAddress
            do { server = try HDLCAddress(logical: settings.serverLogical, physical: settings.serverPhysical, width: width) }
            catch { continue }
            link = HDLCLink(.client(client, server: server, parameters: settings.linkParameters))
            deframerBaseline = DeframerCounters()  // a new link counts from zero
            tried.append(hexString(server.bytes))
            // Clear a half-open link left by an earlier process or a dropped connection: DISC, then SNRM.
            if index == 0 {
                do {
                    _ = try exchange(link!.disconnect(), until: .disconnected,
                                     timeout: min(settings.responseTimeoutMilliseconds, 1000), retries: 0)
                } catch {
                    if error.kind != .timeout { throw error }
                }
            }
            do {
                if case let .connected(parameters) = try exchange(link!.connect(), until: .connected,
                                                                  timeout: settings.responseTimeoutMilliseconds,
                                                                  retries: min(settings.retries, 1)) {
                    linkParameters = parameters
                }
                if resolvedWidth != width, settings.addressSize == .auto, index > 0 {
                    trace?(.receive, "(the meter answered at the \(server.byteCount)-byte server address \(hexString(server.bytes)))")
                }
                resolvedWidth = width
                return
            } catch {
                if error.kind != .timeout { throw error }
            }
        }
        counters.associationFailures += 1
        throw MeterError(.noAnswer,
            "no answer from \(settings.endpoint) at server logical \(settings.serverLogical) / physical "
            + "\(settings.serverPhysical) (address bytes tried: \(tried.joined(separator: ", ")), client SAP "
            + "\(settings.clientSAP)): check DLMS_SERVER_LOGICAL (Microstar: 0 or 1), DLMS_SERVER_PHYSICAL "
            + "(Microstar: 1, or the last four digits of the serial) and DLMS_ADDRESS_SIZE")
    }

    func associate() throws(MeterError) {
        association = ClientAssociation(settings: association.settings)
        let response = try transact(association.associationRequest(), masking: settings.password.bytes)
        let outcome: AssociationOutcome
        do { outcome = try association.handleAssociationResponse(response) } catch {
            counters.associationFailures += 1
            throw MeterError(.protocolError, "the meter's association response could not be read: \(error.description)")
        }
        switch outcome {
        case let .accepted(granted, _):
            self.granted = granted
            counters.associations += 1
            scalerCache.removeAll()
        case let .rejected(result, diagnostic, error):
            counters.associationFailures += 1
            let sap = settings.clientSAP
            let hint: String
            if diagnostic == .authenticationFailure {
                hint = "the password (\(settings.password.bytes.count) characters) is wrong for client SAP \(sap): "
                    + "check DLMS_PASSWORD (Microstar: 8 or 10 characters)"
            } else if diagnostic == .authenticationRequired {
                hint = "client SAP \(sap) needs a password: set DLMS_PASSWORD, or use the public client (DLMS_CLIENT_SAP=16)"
            } else {
                hint = "\(error.description); check DLMS_CLIENT_SAP and DLMS_PASSWORD"
            }
            // Leave the link cleanly so that the next attempt starts from a known state.
            disconnectLink(timeout: 500)
            throw MeterError(.associationRejected,
                "association rejected by \(settings.endpoint) (\(result.name), \(diagnostic.name), diagnostic \(diagnostic.rawValue)): \(hint)")
        }
    }

    /// DISC and its UA (bounded, best effort); nothing with the wrapper, which has no link.
    func disconnectLink(timeout: Int64) {
        if let l = link, l.state == .connected {
            _ = try? exchange(link!.disconnect(), until: .disconnected, timeout: timeout, retries: 0)
        }
        wrapperClient = nil
    }

    /// Forgets what one association learnt (scalers are read again in the next).
    func resetAssociationCaches() { scalerCache.removeAll() }

    /// Releases the association and disconnects the link (bounded, best effort), then closes the transport.
    public func close() {
        if isAssociated {
            _ = try? transact(association.releaseRequest(), timeout: 1000, retries: 0)
        }
        disconnectLink(timeout: 1000)
        abort()
    }

    /// Forgets the address width the meter answered to, so that the next open tries every width again
    /// (after the meter was reported down: it may have been replaced by one addressed differently).
    public func forgetAddressWidth() { resolvedWidth = nil }

    /// Drops everything without talking to the meter (after a broken link).
    public func abort() {
        transport?.close()
        transport = nil
        link = nil
        wrapperClient = nil
        association.reset()
        cipher = nil
        granted = nil
    }

    // MARK: Reading

    /// Reads `measurements`: values (and capture times) in one GET-With-List when the meter granted it,
    /// scaler and unit once per association. An object the meter refuses fails alone; a broken link throws.
    public func read(_ measurements: [Measurement]) throws(MeterError) -> [MeasurementResult] {
        guard isAssociated else { throw MeterError(.linkDropped, "not associated with \(settings.endpoint): open the session first") }
        let start = MonotonicInstant.now()
        let roundTripsBefore = counters.roundTrips
        defer {
            counters.lastPollRoundTrips = counters.roundTrips - roundTripsBefore
            counters.lastPollMicroseconds = MonotonicInstant.now().microseconds(since: start)
        }
        var failures: [String: MeterError] = [:]
        let readable = measurements.filter { m in
            if m.kind == .profile {
                failures[m.key] = MeterError(.configuration,
                    "\(m.key) (\(m.obis)) is a profile: read it by range (`dlms-bridge read --profile \(m.obis.fullDescription) --from ... --to ...`), not in a poll")
                return false
            }
            return true
        }

        // Scaler and unit, once per association.
        let missing = readable.filter { $0.kind.hasScalerUnit && scalerCache[$0.obis] == nil }
        if !missing.isEmpty {
            let results = try readAttributes(missing.compactMap { $0.scalerUnitAttribute })
            for (m, r) in zip(missing, results) {
                switch r {
                case let .success(v):
                    do { scalerCache[m.obis] = try ScalerUnit(v) } catch {
                        failures[m.key] = MeterError(.protocolError, "\(m.key) (\(m.obis)): scaler_unit not understood: \(error.description)")
                    }
                case let .failure(e): failures[m.key] = e
                }
            }
        }

        // Values and capture times, in one request.
        var attributes: [AttributeDescriptor] = []
        var slots: [(Measurement, value: Int, capture: Int?)] = []
        for m in readable where failures[m.key] == nil {
            let v = attributes.count
            attributes.append(m.valueAttribute)
            var c: Int? = nil
            if let ct = m.captureTimeAttribute { c = attributes.count; attributes.append(ct) }
            slots.append((m, v, c))
        }
        let values = attributes.isEmpty ? [] : try readAttributes(attributes)

        var out: [MeasurementResult] = []
        for m in measurements {
            if let e = failures[m.key] { out.append(.failed(m, e)); continue }
            guard let slot = slots.first(where: { $0.0.key == m.key }) else { continue }
            switch values[slot.value] {
            case let .failure(e):
                out.append(.failed(m, e))
            case let .success(raw):
                var captured: CosemDateTime? = nil
                if let c = slot.capture, case let .success(ct) = values[c] {
                    if case let .octetString(b) = ct { captured = try? CosemDateTime(bytes: b) }
                    if case let .dateTime(dt) = ct { captured = dt }
                }
                out.append(.reading(Reading(measurement: m, raw: raw, scalerUnit: scalerCache[m.obis], captureTime: captured)))
            }
        }
        return out
    }

    /// Reads one attribute's value.
    public func readAttribute(_ attribute: AttributeDescriptor, access: SelectiveAccess? = nil) throws(MeterError) -> DataValue {
        guard isAssociated else { throw MeterError(.linkDropped, "not associated with \(settings.endpoint): open the session first") }
        let request: [UInt8]
        do { request = try association.getRequest(attribute, access: access) } catch {
            throw MeterError(.protocolError, "cannot build the request for \(attribute): \(error.description)")
        }
        let result = try complete(request)
        guard case let .result(r) = result else {
            throw MeterError(.protocolError, "the meter answered a single GET with a list")
        }
        return try value(of: r, for: attribute).get()
    }

    /// Reads several attributes, each with its own selective access, in one GET-With-List when the meter
    /// granted it (one round trip plus blocks), else one GET each. A refused attribute fails alone.
    public func readList(_ requests: [AttributeRequest]) throws(MeterError) -> [Result<DataValue, MeterError>] {
        guard isAssociated else { throw MeterError(.linkDropped, "not associated with \(settings.endpoint): open the session first") }
        guard (granted?.contains(.multipleReferences) ?? false) && requests.count > 1 else {
            var out: [Result<DataValue, MeterError>] = []
            for r in requests {
                do { out.append(.success(try readAttribute(r.attribute, access: r.access))) } catch {
                    if error.keepsAssociation { out.append(.failure(error)) } else { throw error }
                }
            }
            return out
        }
        let request: [UInt8]
        do { request = try association.getRequest(list: requests) } catch {
            throw MeterError(.protocolError, "cannot build the list request: \(error.description)")
        }
        guard case let .results(results) = try complete(request) else {
            throw MeterError(.protocolError, "the meter answered a GET-With-List with a single result")
        }
        return zip(requests, results).map { value(of: $1, for: $0.attribute) }
    }

    /// Writes one attribute (SET-Request-Normal) and returns the meter's verdict: `.success`, or why it
    /// refused (read-write-denied for a client without the right, ...). A broken link or an undecodable
    /// answer throws; a meter that did not grant SET throws `.objectUnavailable` naming it.
    public func writeAttribute(_ attribute: AttributeDescriptor, value: DataValue) throws(MeterError) -> DataAccessResult {
        guard isAssociated else { throw MeterError(.linkDropped, "not associated with \(settings.endpoint): open the session first") }
        let request: [UInt8]
        do { request = try association.setRequest(attribute, value: value) } catch {
            throw MeterError(.objectUnavailable,
                "cannot write \(attribute): \(error.description) (the meter did not grant SET to client SAP \(settings.clientSAP))",
                accessResult: .readWriteDenied)
        }
        let response = try transactProtected(request)  // ciphered like a GET on a secured meter
        do { return try association.handleSetResponse(response) } catch {
            throw MeterError(.protocolError, "the meter's answer to the SET of \(attribute) could not be read: \(error.description)")
        }
    }

    /// Reads a profile generic (load profile, event log) by clock range with the one ``ProfileReader``
    /// (the agent's collection uses it too); the meter's clock is taken as UTC when a row's deviation is
    /// not specified.
    public func readProfile(_ obis: ObisCode, fromUnixMilliseconds from: Int64, toUnixMilliseconds to: Int64) throws(MeterError) -> ProfileReading {
        // A one-shot read asks for up to a week of quarter hours per request.
        let reader = ProfileReader(obis: obis, rowsPerSlice: 96 * 7)
        let r = try reader.readRange(using: self, from: from, to: to)
        return ProfileReading(columns: r.header.columns, scalers: r.header.scalers, rows: r.rows.map { $0.cells },
                              issues: r.issues)
    }

    /// Reads the clock when the association has been idle for the keep-alive interval, so that the meter's
    /// inactivity timeout (Microstar: 180 s) does not drop it. Returns true when it read.
    @discardableResult
    public func keepAliveIfIdle() throws(MeterError) -> Bool {
        guard isAssociated, settings.keepAliveMilliseconds > 0,
            MonotonicInstant.now().milliseconds(since: lastActivity) >= settings.keepAliveMilliseconds else { return false }
        _ = try readAttribute(InterfaceClass.clock.attribute(2, of: .clock))
        counters.keepAlives += 1
        return true
    }

    /// When the next keep-alive read falls due (nil when there is no association or keep-alive is off).
    public var nextKeepAlive: MonotonicInstant? {
        guard isAssociated, settings.keepAliveMilliseconds > 0 else { return nil }
        return lastActivity.advanced(byMilliseconds: settings.keepAliveMilliseconds)
    }

    // MARK: Internals: GET

    /// Reads several attributes: GET-With-List in chunks when granted, single GETs otherwise.
    private func readAttributes(_ attributes: [AttributeDescriptor]) throws(MeterError) -> [Result<DataValue, MeterError>] {
        let withList = (granted?.contains(.multipleReferences) ?? false) && attributes.count > 1
        var out: [Result<DataValue, MeterError>] = []
        if !withList {
            for a in attributes {
                do { out.append(.success(try readAttribute(a))) } catch {
                    if error.keepsAssociation { out.append(.failure(error)) } else { throw error }
                }
            }
            return out
        }
        var index = 0
        while index < attributes.count {
            let chunk = Array(attributes[index..<min(index + max(1, settings.maxListSize), attributes.count)])
            index += chunk.count
            let request: [UInt8]
            do { request = try association.getRequest(list: chunk.map { AttributeRequest($0) }) } catch {
                throw MeterError(.protocolError, "cannot build the list request: \(error.description)")
            }
            guard case let .results(results) = try complete(request) else {
                throw MeterError(.protocolError, "the meter answered a GET-With-List with a single result")
            }
            for (a, r) in zip(chunk, results) { out.append(value(of: r, for: a)) }
        }
        return out
    }

    /// Sends a GET and follows block transfer to the end.
    private func complete(_ request: [UInt8]) throws(MeterError) -> GetStep {
        var response = try transactProtected(request)
        while true {
            let step: GetStep
            do { step = try association.handleGetResponse(response) } catch {
                throw MeterError(.protocolError, "the meter's answer could not be read: \(error.description)")
            }
            guard case let .send(next) = step else { return step }
            response = try transactProtected(next)
        }
    }

    private func value(of result: GetDataResult, for attribute: AttributeDescriptor) -> Result<DataValue, MeterError> {
        switch result {
        case let .data(v): return .success(v)
        case let .error(access):
            counters.objectErrors += 1
            return .failure(MeterError(.objectUnavailable,
                "\(attribute) refused by the meter: \(access.name) (data-access-result \(access.rawValue)): \(access.advice)",
                accessResult: access))
        }
    }

    // MARK: Internals: the line

    enum Awaited { case connected, disconnected, apdu }
    enum Arrival { case connected(LinkParameters), disconnected, apdu([UInt8]) }

    /// Sends an APDU and returns the answer APDU (segments and RRs handled by the link).
    func transact(_ apdu: [UInt8], masking secret: [UInt8] = [], timeout: Int64? = nil, retries: Int? = nil) throws(MeterError) -> [UInt8] {
        if settings.framing == .wrapper { return try transactWrapped(apdu, masking: secret, timeout: timeout) }
        guard link != nil else { throw MeterError(.linkDropped, "no link to \(settings.endpoint)") }
        let events: [HDLCLink.Event]
        do { events = try link!.send(apdu: apdu) } catch {
            throw MeterError(.linkDropped, "cannot send to \(settings.endpoint): \(error.description)")
        }
        let sent = MonotonicInstant.now()
        let arrival = try exchange(events, until: .apdu, timeout: timeout ?? settings.responseTimeoutMilliseconds,
                                   retries: retries ?? settings.retries, masking: secret)
        counters.lastRTTMicroseconds = MonotonicInstant.now().microseconds(since: sent)
        guard case let .apdu(answer) = arrival else { throw MeterError(.protocolError, "no APDU in the answer") }
        return answer
    }

    /// Writes the link's frames, reads until the awaited event, retransmitting on timeouts.
    func exchange(_ initial: [HDLCLink.Event], until awaited: Awaited, timeout: Int64, retries: Int,
                          masking secret: [UInt8] = []) throws(MeterError) -> Arrival {
        guard let transport else { throw MeterError(.linkDropped, "no connection to \(settings.endpoint)") }
        var pending = initial
        var attempts = 0
        var deadline = Deadline.after(milliseconds: timeout)
        while true {
            for event in pending {
                switch event {
                case let .send(frame):
                    try write(frame, on: transport, masking: secret)
                    deadline = Deadline.after(milliseconds: timeout)
                case let .connected(p):
                    if awaited == .connected { return .connected(p) }
                case .disconnected:
                    if awaited == .disconnected { return .disconnected }
                    throw MeterError(.linkDropped, "\(settings.endpoint) closed the HDLC link (DISC or DM): it will be reopened")
                case let .apdu(a):
                    if awaited == .apdu { return .apdu(a) }
                case let .rejected(why):
                    if awaited == .disconnected { return .disconnected }
                    throw MeterError(.linkDropped, "\(settings.endpoint): \(why.description)")
                case .protocolError:
                    counters.framingErrors += 1
                }
            }
            pending = []
            let n: Int
            do {
                n = try transport.read(into: &readBuffer, deadline: deadline)
            } catch {
                if error.kind == .timeout {
                    counters.timeouts += 1
                    if attempts < retries, link != nil {
                        attempts += 1
                        counters.retransmissions += 1
                        link!.abandonPartialFrame()
                        pending = link!.retransmit()
                        continue
                    }
                    throw MeterError(.timeout,
                        "no answer from \(settings.endpoint) within \(timeout) ms (\(attempts) retransmission(s)): "
                        + "the meter may be busy with another client, or the line is broken; it will be retried")
                }
                throw MeterError.transport(error)
            }
            counters.bytesIn += n
            lastActivity = .now()
            let chunk = Array(readBuffer[0..<n])
            pending = link!.receive(bytes: chunk)
            updateDeframerCounters()
            if let trace, !chunk.isEmpty { trace(.receive, hexString(chunk)) }
        }
    }

    func write(_ frame: [UInt8], on transport: any ByteTransport, masking secret: [UInt8]) throws(MeterError) {
        if let trace { trace(.transmit, Self.maskedHex(frame, secret: secret)) }
        do {
            try transport.write(frame, deadline: .after(milliseconds: settings.responseTimeoutMilliseconds))
        } catch {
            throw MeterError.transport(error)
        }
        counters.bytesOut += frame.count
        counters.roundTrips += 1
    }

    private func updateDeframerCounters() {
        guard let link else { return }
        let now = link.deframerCounters
        counters.crcErrors += (now.hcsErrors - deframerBaseline.hcsErrors) + (now.fcsErrors - deframerBaseline.fcsErrors)
        counters.framingErrors += (now.garbageBytes - deframerBaseline.garbageBytes)
            + (now.truncatedFrames - deframerBaseline.truncatedFrames)
            + (now.malformedHeaders - deframerBaseline.malformedHeaders)
            + (now.oversizeFrames - deframerBaseline.oversizeFrames)
        deframerBaseline = now
    }

    /// The frame in hex with the bytes of `secret` (the password inside an AARQ) shown as `**`.
    public static func maskedHex(_ frame: [UInt8], secret: [UInt8]) -> String {
        var masked = Set<Int>()
        if !secret.isEmpty, frame.count >= secret.count {
            var i = 0
            while i + secret.count <= frame.count {
                if Array(frame[i..<(i + secret.count)]) == secret {
                    for j in i..<(i + secret.count) { masked.insert(j) }
                    i += secret.count
                } else {
                    i += 1
                }
            }
        }
        var out = ""
        for (i, b) in frame.enumerated() {
            if i > 0 { out += " " }
            out += masked.contains(i) ? "**" : hexString([b])
        }
        return out
    }
}
