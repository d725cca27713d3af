/// The IEC 62056-21 mode E opening as bytes: the messages, their parsers, and the two sides' state machines.
/// No I/O here: `ModeEOpener` and `ModeEResponder` drive these over a `SerialLine`.
///
/// ```
/// client -> meter   /?<address>!CR LF           sign-on request, 300 baud 7E1
/// meter  -> client  /XXXZ\2<identification>CR LF XXX manufacturer, Z baud code, \2 = mode E (HDLC) offered
/// client -> meter   ACK '2' Z '2' CR LF          protocol '2' (HDLC), rate Z, mode '2' (binary)
/// both              switch to 8N1 at rate Z, then HDLC (SNRM) from the client
/// ```
public enum ModeE {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let ack: UInt8 = 0x06
    static let slash: UInt8 = 0x2F  // '/'
    static let question: UInt8 = 0x3F  // '?'
    static let bang: UInt8 = 0x21  // '!'
    static let backslash: UInt8 = 0x5C  // '\'
    static let hdlcProtocol: UInt8 = 0x32  // '2'
    /// Longest line either side accepts: `/` + 3 + Z + escapes + 16-character identification + CR LF is far
    /// shorter; anything longer is noise, not a message.
    static let maximumLineLength = 100

    /// The rates of baud codes '0'...'6' (modes C and E).
    public static let baudRates: [Int] = [300, 600, 1200, 2400, 4800, 9600, 19200]

    /// The rate of a mode C/E baud code ('0'...'6'), nil for any other byte.
    public static func baudRate(forCode code: UInt8) -> Int? {
        guard code >= 0x30, code <= 0x36 else { return nil }
        return baudRates[Int(code - 0x30)]
    }

    /// The baud code ('0'...'6') of a rate, nil when mode E has no code for it.
    public static func baudCode(forRate rate: Int) -> UInt8? {
        guard let index = baudRates.firstIndex(of: rate) else { return nil }
        return 0x30 + UInt8(index)
    }

    /// `/?!\r\n`, or `/?<address>!\r\n` to wake one meter on a shared bus.
    public static func request(deviceAddress: String = "") -> [UInt8] {
        [slash, question] + Array(deviceAddress.utf8) + [bang, cr, lf]
    }

    /// `ACK '2' Z '2' CR LF`: switch to HDLC at the rate of `baudCode`.
    public static func acknowledgement(baudCode: UInt8) -> [UInt8] {
        [ack, hdlcProtocol, baudCode, hdlcProtocol, cr, lf]
    }

    /// A byte for an error message: printable ASCII as is, others as hex.
    static func show(_ bytes: some Collection<UInt8>) -> String {
        var out = ""
        for byte in bytes {
            if byte >= 0x20 && byte < 0x7F && byte != backslash {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else if byte == cr {
                out += "\\r"
            } else if byte == lf {
                out += "\\n"
            } else {
                let hex = Array("0123456789ABCDEF".utf8)
                out += "\\x"
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0xF)]))
            }
        }
        return out
    }

    @inline(never)
    static func garbled(_ peer: String, _ what: String, _ bytes: some Collection<UInt8>) -> LinkError {
        LinkError(
            .protocolViolation, peer: peer,
            message: "garbled mode E \(what) from \(peer): \"\(show(bytes))\": check that the optical head sits "
                + "squarely on the meter's port and is not disturbed by daylight; or the meter may not speak "
                + "IEC 62056-21 (try direct HDLC without --mode-e)")
    }
}

/// The meter's identification message `/XXXZ\W<identification>CR LF`.
public struct ModeEIdentification: Sendable, Equatable {
    /// Three-letter manufacturer id (FLAG), e.g. `MSE`. A lower-case third letter means the meter answers
    /// within 20 ms.
    public var manufacturer: String
    /// The baud code character, '0'...'6'.
    public var baudCode: UInt8
    /// The offered rate in bits per second (0 when `baudCode` is not '0'...'6').
    public var baudRate: Int
    /// Characters that followed a `\` escape (e.g. `2`).
    public var escapes: [UInt8]
    /// The meter's identification text (up to 16 printable characters).
    public var identification: String

    public init(manufacturer: String, baudCode: UInt8, escapes: [UInt8] = [0x32], identification: String) {
        self.manufacturer = manufacturer
        self.baudCode = baudCode
        self.baudRate = ModeE.baudRate(forCode: baudCode) ?? 0
        self.escapes = escapes
        self.identification = identification
    }

    /// True when the `\2` escape offers mode E (HDLC).
    public var offersHDLC: Bool { escapes.contains(0x32) }

    /// The message bytes, CR LF included.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = [ModeE.slash]
        out += Array(manufacturer.utf8)
        out.append(baudCode)
        for escape in escapes { out += [ModeE.backslash, escape] }
        out += Array(identification.utf8)
        out += [ModeE.cr, ModeE.lf]
        return out
    }

    /// Parses one line (without or with its CR LF), bytes already reduced to 7 bits.
    public static func parse(_ line: [UInt8], peer: String = "the meter") throws(LinkError) -> ModeEIdentification {
        var body = line[...]
        if body.last == ModeE.lf { body = body.dropLast() }
        if body.last == ModeE.cr { body = body.dropLast() }
        guard body.count >= 5, body.first == ModeE.slash else { throw ModeE.garbled(peer, "identification", line) }
        let letters = body.dropFirst().prefix(3)
        for c in letters where !(c >= 0x41 && c <= 0x5A) && !(c >= 0x61 && c <= 0x7A) {
            throw ModeE.garbled(peer, "identification", line)
        }
        let code = body[body.startIndex + 4]
        guard ModeE.baudRate(forCode: code) != nil else {
            if code >= 0x41 && code <= 0x49 {
                throw LinkError(
                    .unsupported, peer: peer,
                    message: "\(peer) identified as an IEC 62056-21 mode B meter (baud code '\(ModeE.show([code]))' "
                        + "in \"\(ModeE.show(line))\"): mode E needs a code '0'..'6'; read it with direct HDLC "
                        + "at a fixed rate instead")
            }
            if code >= 0x37 && code <= 0x39 {
                throw LinkError(
                    .unsupported, peer: peer,
                    message: "\(peer) offered reserved baud code '\(ModeE.show([code]))' in \"\(ModeE.show(line))\": "
                        + "only '0'..'6' (300..19200 baud) are defined; use direct HDLC at a fixed rate")
            }
            throw ModeE.garbled(peer, "identification", line)
        }
        var escapes: [UInt8] = []
        var rest = body.dropFirst(5)
        while rest.first == ModeE.backslash {
            guard rest.count >= 2 else { throw ModeE.garbled(peer, "identification", line) }
            escapes.append(rest[rest.startIndex + 1])
            rest = rest.dropFirst(2)
        }
        for c in rest where c < 0x20 || c > 0x7E { throw ModeE.garbled(peer, "identification", line) }
        return ModeEIdentification(
            manufacturer: String(decoding: letters, as: UTF8.self), baudCode: code, escapes: escapes,
            identification: String(decoding: rest, as: UTF8.self))
    }
}

/// Client side, bytes only: feed what the line delivers after the request was sent; it drops noise before
/// the first `/`, drops the optical head's echo of the request, and yields the identification.
public struct ModeEClientParser: Sendable {
    /// The request that was sent (its echo is recognised and dropped).
    public let request: [UInt8]
    private var line: [UInt8] = []
    /// Bytes recognised as the echo of the request.
    public private(set) var echoBytes = 0
    /// Bytes seen in total (after 7-bit reduction), for "nothing but echo came back" diagnostics.
    public private(set) var bytesSeen = 0
    let peer: String

    public init(request: [UInt8], peer: String = "the meter") {
        self.request = request
        self.peer = peer
        line.reserveCapacity(ModeE.maximumLineLength)
    }

    /// Feeds received bytes; returns the identification once a whole one arrived (later bytes are ignored).
    public mutating func consume(_ bytes: some Collection<UInt8>) throws(LinkError) -> ModeEIdentification? {
        for raw in bytes {
            let byte = raw & 0x7F  // 7E1: the parity bit is not data (a pty passes it through)
            bytesSeen += 1
            if line.isEmpty && byte != ModeE.slash { continue }  // noise before the start of a message
            line.append(byte)
            if line.count > ModeE.maximumLineLength { throw ModeE.garbled(peer, "identification (too long)", line) }
            guard byte == ModeE.lf else { continue }
            // A line starting "/?" is the request coming back: an identification has a letter there.
            if line.count >= 2 && line[1] == ModeE.question {
                echoBytes += line.count
                line.removeAll(keepingCapacity: true)
                continue
            }
            return try ModeEIdentification.parse(line, peer: peer)
        }
        return nil
    }

    /// What has been gathered of an unfinished line, for a timeout message.
    public var pending: [UInt8] { line }
}

/// Meter side, bytes only: finds the sign-on request, then the acknowledgement.
public struct ModeEServerParser: Sendable {
    /// What the parser has recognised.
    public enum Event: Sendable, Equatable {
        /// `/?<address>!` arrived (address empty for "any meter").
        case request(address: String)
        /// `ACK V Z Y` arrived: protocol control V ('2' = HDLC), baud code Z, mode control Y.
        case acknowledgement(protocolControl: UInt8, baudCode: UInt8, modeControl: UInt8)
    }

    private var line: [UInt8] = []
    let peer: String

    public init(peer: String = "the client") {
        self.peer = peer
        line.reserveCapacity(ModeE.maximumLineLength)
    }

    /// Feeds received bytes; returns the first complete request or acknowledgement, or nil.
    /// Bytes after the event in the same call are dropped (the other side waits for an answer first).
    public mutating func consume(_ bytes: some Collection<UInt8>) throws(LinkError) -> Event? {
        for raw in bytes {
            let byte = raw & 0x7F
            if line.isEmpty && byte != ModeE.slash && byte != ModeE.ack { continue }
            line.append(byte)
            if line.count > ModeE.maximumLineLength { throw ModeE.garbled(peer, "request (too long)", line) }
            guard byte == ModeE.lf else { continue }
            defer { line.removeAll(keepingCapacity: true) }
            if line[0] == ModeE.ack {
                guard line.count == 6, line[4] == ModeE.cr else { throw ModeE.garbled(peer, "acknowledgement", line) }
                return .acknowledgement(protocolControl: line[1], baudCode: line[2], modeControl: line[3])
            }
            // "/?" address "!" CR LF
            let count = line.count
            guard count >= 5, line[1] == ModeE.question, line[count - 3] == ModeE.bang, line[count - 2] == ModeE.cr else {
                throw ModeE.garbled(peer, "sign-on request", line)
            }
            return .request(address: String(decoding: line[2..<(count - 3)], as: UTF8.self))
        }
        return nil
    }
}
