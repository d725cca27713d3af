import Platform

/// What a mode E opening agreed.
public struct ModeEResult: Sendable, Equatable {
    /// The meter's identification.
    public var identification: ModeEIdentification
    /// The rate the line runs at now (8N1).
    public var baudRate: Int
    /// Bytes of our own messages that came back (an echoing optical head) and were dropped.
    public var echoBytesDiscarded: Int
}

/// Client side of the IEC 62056-21 mode E opening, for an optical probe: sign on at 300 baud 7E1, read the
/// identification, acknowledge HDLC at the offered rate, wait until the ACK is on the wire plus the
/// turnaround, switch the line to 8N1. After `open` returns, send SNRM.
public struct ModeEOpener: Sendable {
    /// Device address for `/?<address>!` (empty: whichever meter is under the head).
    public var deviceAddress: String
    /// How long the meter may take to send its identification. The standard allows 1.5 s before the first
    /// character, and 20 characters at 300 baud take another 0.7 s.
    public var identificationTimeoutMilliseconds: Int64
    /// Wait after the ACK has left the port before switching the rate (the meter switches in 200..300 ms).
    public var turnaroundMilliseconds: Int64
    /// Never ask for more than this rate (a probe that cannot do 19200); nil takes what the meter offers.
    public var maximumBaudRate: Int?
    /// Refuse meters whose identification lacks the `\2` (mode E) escape. Off by default: some meters
    /// accept the HDLC acknowledgement without announcing it.
    public var requireHDLCEscape: Bool

    public init(
        deviceAddress: String = "", identificationTimeoutMilliseconds: Int64 = 3000, turnaroundMilliseconds: Int64 = 300,
        maximumBaudRate: Int? = nil, requireHDLCEscape: Bool = false
    ) {
        self.deviceAddress = deviceAddress
        self.identificationTimeoutMilliseconds = identificationTimeoutMilliseconds
        self.turnaroundMilliseconds = turnaroundMilliseconds
        self.maximumBaudRate = maximumBaudRate
        self.requireHDLCEscape = requireHDLCEscape
    }

    /// The baud code to acknowledge for an identification: the offered one, or the highest not above
    /// `maximumBaudRate`.
    public func chosenBaudCode(for identification: ModeEIdentification) -> UInt8 {
        guard let limit = maximumBaudRate, identification.baudRate > limit else { return identification.baudCode }
        var code = identification.baudCode
        while code > 0x30, let rate = ModeE.baudRate(forCode: code), rate > limit { code -= 1 }
        return code
    }

    /// Runs the opening on `line`. Modem-line settings and the inter-octet gap of the line's current
    /// settings are kept; only rate and framing change.
    public func open(_ line: some SerialLine) throws(LinkError) -> ModeEResult {
        let peer = line.peerDescription
        let original = line.lineSettings
        var opening = SerialSettings.iec62056Opening
        opening.dtr = original.dtr
        opening.rts = original.rts
        try line.apply(opening)
        line.discardInput()

        let request = ModeE.request(deviceAddress: deviceAddress)
        try line.write(request, deadline: .after(milliseconds: 2000))

        var parser = ModeEClientParser(request: request, peer: peer)
        var buffer = [UInt8](repeating: 0, count: 64)
        let deadline = Deadline.after(milliseconds: identificationTimeoutMilliseconds)
        var identification: ModeEIdentification?
        while identification == nil {
            let n: Int
            do { n = try line.read(into: &buffer, deadline: deadline) } catch {
                if error.kind == .timeout { throw noIdentification(peer, request: request, parser: parser) }
                throw error
            }
            identification = try parser.consume(buffer[0..<n])
        }
        guard let identification else { throw noIdentification(peer, request: request, parser: parser) }
        if requireHDLCEscape && !identification.offersHDLC {
            throw LinkError(
                .unsupported, peer: peer,
                message: "\(peer) (\(identification.manufacturer) \(identification.identification)) does not offer "
                    + "mode E (no \\2 in its identification): use a meter or port that speaks DLMS/HDLC")
        }

        let code = chosenBaudCode(for: identification)
        let rate = ModeE.baudRate(forCode: code) ?? identification.baudRate
        let ack = ModeE.acknowledgement(baudCode: code)
        try line.write(ack, deadline: .after(milliseconds: 2000))
        // The ACK must be on the wire at 300 baud before the rate changes, then the meter needs its
        // turnaround. Read (and drop) during that wait: an echoing head returns the ACK now.
        try line.drain()
        var echo = parser.echoBytes
        let turnaround = Deadline.after(milliseconds: turnaroundMilliseconds)
        while !turnaround.hasPassed {
            do { echo += try line.read(into: &buffer, deadline: turnaround) } catch {
                if error.kind == .timeout { break }
                throw error
            }
        }
        var hdlc = SerialSettings.hdlc(baudRate: rate)
        hdlc.dtr = original.dtr
        hdlc.rts = original.rts
        hdlc.interOctetGapMilliseconds = original.interOctetGapMilliseconds
        try line.apply(hdlc)
        line.discardInput()
        return ModeEResult(identification: identification, baudRate: rate, echoBytesDiscarded: echo)
    }

    @inline(never)
    private func noIdentification(_ peer: String, request: [UInt8], parser: ModeEClientParser) -> LinkError {
        let sent = ModeE.show(request)
        let within = formatMilliseconds(identificationTimeoutMilliseconds)
        if parser.bytesSeen == 0 {
            return LinkError(
                .timeout, peer: peer,
                message: "no answer from \(peer) within \(within) to the mode E sign-on \"\(sent)\": check that the "
                    + "optical head sits on the meter's port, the probe is powered (DTR/RTS), and the device address")
        }
        if parser.bytesSeen == parser.echoBytes {
            return LinkError(
                .timeout, peer: peer,
                message: "only the echo of \"\(sent)\" came back from \(peer) within \(within): the probe works but the "
                    + "meter does not answer; check the head's position on the meter and the device address")
        }
        return LinkError(
            .timeout, peer: peer,
            message: "incomplete mode E identification from \(peer) within \(within) (got \"\(ModeE.show(parser.pending))\"): "
                + "check the optical head's position")
    }
}

/// What the meter side agreed in a mode E opening.
public struct ModeEAgreement: Sendable, Equatable {
    /// The address in the client's request (empty for "any").
    public var requestedAddress: String
    /// The rate the line runs at now (8N1).
    public var baudRate: Int
    /// Bytes that came after the acknowledgement in the same read (a client that sends its SNRM without
    /// waiting for the turnaround): the start of the HDLC phase, not to be lost.
    public var trailingBytes: [UInt8] = []
}

/// Meter side of the mode E opening, for the simulated meter on a pty: waits for the sign-on, answers the
/// identification, accepts the acknowledgement, switches the line to 8N1 at the agreed rate.
public struct ModeEResponder: Sendable {
    /// The identification sent (manufacturer, offered baud code, escapes, text).
    public var identification: ModeEIdentification
    /// Only answer requests for this address (or with no address); nil answers every request.
    public var deviceAddress: String?
    /// Echo every byte received during the opening, like an optical head does, to test the client's echo
    /// handling end to end.
    public var echoesInput: Bool

    public init(
        manufacturer: String = "MST", baudCode: UInt8 = 0x35, identification: String = "DLMSBRIDGE-SIM",
        deviceAddress: String? = nil, echoesInput: Bool = false
    ) {
        self.identification = ModeEIdentification(
            manufacturer: manufacturer, baudCode: baudCode, escapes: [0x32], identification: identification)
        self.deviceAddress = deviceAddress
        self.echoesInput = echoesInput
    }

    /// Runs the meter's side of one opening on `line`, which is switched to 300 7E1 first.
    public func respond(on line: some SerialLine, deadline: Deadline) throws(LinkError) -> ModeEAgreement {
        let peer = line.peerDescription
        let original = line.lineSettings
        var opening = SerialSettings.iec62056Opening
        opening.dtr = original.dtr
        opening.rts = original.rts
        try line.apply(opening)

        var parser = ModeEServerParser(peer: peer)
        var buffer = [UInt8](repeating: 0, count: 256)
        var pending: [UInt8] = []
        var address: String?
        while address == nil {
            guard case .request(let requested)? = try nextEvent(line, &parser, &buffer, &pending, deadline: deadline) else {
                throw LinkError(
                    .protocolViolation, peer: peer,
                    message: "mode E acknowledgement from \(peer) before any sign-on request: restart the opening")
            }
            // A request for another meter on the bus is not for us: stay silent, like a meter.
            if let mine = deviceAddress, !requested.isEmpty, requested != mine { continue }
            address = requested
        }
        try line.write(identification.encoded(), deadline: deadline)

        guard case .acknowledgement(let protocolControl, let code, let modeControl)? =
            try nextEvent(line, &parser, &buffer, &pending, deadline: deadline)
        else {
            throw LinkError(
                .protocolViolation, peer: peer,
                message: "a second sign-on request from \(peer) instead of the acknowledgement: restart the opening")
        }
        guard protocolControl == ModeE.hdlcProtocol, modeControl == ModeE.hdlcProtocol else {
            throw LinkError(
                .unsupported, peer: peer,
                message: "\(peer) acknowledged protocol '\(ModeE.show([protocolControl]))' mode "
                    + "'\(ModeE.show([modeControl]))': this meter only offers '2' '2' (HDLC, mode E)")
        }
        guard let rate = ModeE.baudRate(forCode: code), code <= identification.baudCode else {
            throw LinkError(
                .unsupported, peer: peer,
                message: "\(peer) asked for baud code '\(ModeE.show([code]))', above the offered "
                    + "'\(ModeE.show([identification.baudCode]))'")
        }
        try line.drain()
        var hdlc = SerialSettings.hdlc(baudRate: rate)
        hdlc.dtr = original.dtr
        hdlc.rts = original.rts
        hdlc.interOctetGapMilliseconds = original.interOctetGapMilliseconds
        try line.apply(hdlc)
        return ModeEAgreement(requestedAddress: address ?? "", baudRate: rate, trailingBytes: pending)
    }

    /// The next opening event, fed to the parser byte by byte so that what follows an event stays in `pending`.
    private func nextEvent(
        _ line: some SerialLine, _ parser: inout ModeEServerParser, _ buffer: inout [UInt8], _ pending: inout [UInt8],
        deadline: Deadline
    ) throws(LinkError) -> ModeEServerParser.Event? {
        while true {
            var index = 0
            while index < pending.count {
                let event = try parser.consume(pending[index..<(index + 1)])
                index += 1
                if let event {
                    pending.removeFirst(index)
                    return event
                }
            }
            pending.removeAll()
            let n = try line.read(into: &buffer, deadline: deadline)
            if echoesInput { try line.write(Array(buffer[0..<n]), deadline: deadline) }
            pending = Array(buffer[0..<n])
        }
    }
}
