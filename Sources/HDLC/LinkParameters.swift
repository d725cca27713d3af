/// The HDLC link parameters negotiated by SNRM and UA: largest information field and window, each way.
///
/// On the wire (info field of SNRM and UA): `81 80 LL` then parameters `id len value`:
/// `05` max info field transmit, `06` max info field receive, `07` window transmit, `08` window receive.
/// Values are big-endian; this encoder writes max info in one byte when it fits, else two, and windows in
/// four bytes (as gurux-dlms does). An empty field means the defaults (128/128/1/1).
///
/// Each side states its own view: "transmit" is what the sender of the SNRM or UA transmits. A client
/// therefore combines its proposal with the server's UA using ``negotiated(withPeer:)``, which crosses
/// the directions and takes the minimum of both sides.
public struct LinkParameters: Hashable, Sendable, CustomStringConvertible {
    /// Largest information field this side sends, in bytes.
    public var maxInfoTransmit: Int
    /// Largest information field this side accepts, in bytes.
    public var maxInfoReceive: Int
    /// Frames this side sends before waiting for an acknowledgement (1...7).
    public var windowTransmit: Int
    /// Frames this side accepts before acknowledging (1...7).
    public var windowReceive: Int

    @inlinable public init(maxInfoTransmit: Int = 128, maxInfoReceive: Int = 128,
                           windowTransmit: Int = 1, windowReceive: Int = 1) {
        self.maxInfoTransmit = maxInfoTransmit
        self.maxInfoReceive = maxInfoReceive
        self.windowTransmit = windowTransmit
        self.windowReceive = windowReceive
    }

    /// 128/128/1/1, what an empty SNRM or UA means.
    public static let defaults = LinkParameters()

    /// The parameters this side uses after hearing the peer's view: transmit = min(our transmit, peer's
    /// receive), receive = min(our receive, peer's transmit), for both info size and window.
    public func negotiated(withPeer peer: LinkParameters) -> LinkParameters {
        LinkParameters(
            maxInfoTransmit: min(maxInfoTransmit, peer.maxInfoReceive),
            maxInfoReceive: min(maxInfoReceive, peer.maxInfoTransmit),
            windowTransmit: min(windowTransmit, peer.windowReceive),
            windowReceive: min(windowReceive, peer.windowTransmit))
    }

    /// The same parameters seen from the other side (transmit and receive swapped).
    public var swapped: LinkParameters {
        LinkParameters(maxInfoTransmit: maxInfoReceive, maxInfoReceive: maxInfoTransmit,
                       windowTransmit: windowReceive, windowReceive: windowTransmit)
    }

    /// The info field for an SNRM or UA. With `omittingDefaults`, each parameter equal to its default is
    /// left out, and all defaults give an empty field, as gurux-dlms's SNRM does (and the Microstar notes'
    /// SNRM `7E A0 07 03 03 93 8C 11 7E`). Without it all four are written, as meters' UAs do.
    public func encode(omittingDefaults: Bool = false) -> [UInt8] {
        if omittingDefaults && self == .defaults { return [] }
        let d = LinkParameters.defaults
        var body: [UInt8] = []
        body.reserveCapacity(23)
        func info(_ id: UInt8, _ value: Int) {
            let v = UInt32(truncatingIfNeeded: max(0, value))
            if v > 0xFF {
                body += [id, 2, UInt8(truncatingIfNeeded: v &>> 8), UInt8(truncatingIfNeeded: v)]
            } else {
                body += [id, 1, UInt8(truncatingIfNeeded: v)]
            }
        }
        func window(_ id: UInt8, _ value: Int) {
            let v = UInt32(truncatingIfNeeded: max(0, value))
            body += [id, 4, UInt8(truncatingIfNeeded: v &>> 24), UInt8(truncatingIfNeeded: v &>> 16),
                     UInt8(truncatingIfNeeded: v &>> 8), UInt8(truncatingIfNeeded: v)]
        }
        let all = !omittingDefaults
        if all || maxInfoTransmit != d.maxInfoTransmit { info(0x05, maxInfoTransmit) }
        if all || maxInfoReceive != d.maxInfoReceive { info(0x06, maxInfoReceive) }
        if all || windowTransmit != d.windowTransmit { window(0x07, windowTransmit) }
        if all || windowReceive != d.windowReceive { window(0x08, windowReceive) }
        return [0x81, 0x80, UInt8(body.count)] + body
    }

    /// Decodes an SNRM or UA info field; empty means ``defaults``, and absent parameters keep their
    /// defaults. Unknown parameter ids are skipped. Positions in errors are offsets into `info`.
    public static func decode(_ info: UnsafeRawBufferPointer) throws(FrameError) -> LinkParameters {
        var result = LinkParameters.defaults
        guard info.count > 0 else { return result }
        guard info.count >= 3, info[0] == 0x81, info[1] == 0x80 else {
            throw .invalidParameters(at: info.count > 0 && info[0] == 0x81 ? 1 : 0)
        }
        let end = 3 &+ Int(info[2])
        guard end <= info.count else { throw .invalidParameters(at: 2) }
        var p = 3
        while p < end {
            guard p &+ 2 <= end else { throw .invalidParameters(at: p) }
            let id = info[p]
            let count = Int(info[p &+ 1])
            guard count >= 1, count <= 4, p &+ 2 &+ count <= end else { throw .invalidParameters(at: p &+ 1) }
            var value = 0
            for i in 0..<count { value = value &<< 8 | Int(info[p &+ 2 &+ i]) }
            switch id {
            case 0x05: result.maxInfoTransmit = value
            case 0x06: result.maxInfoReceive = value
            case 0x07: result.windowTransmit = value
            case 0x08: result.windowReceive = value
            default: break
            }
            // A zero size or window cannot carry anything: refuse rather than stall later.
            if (0x05...0x08).contains(id) && value == 0 { throw .invalidParameters(at: p &+ 2) }
            p &+= 2 &+ count
        }
        return result
    }

    /// Decodes an SNRM or UA info field; see `decode(_:)` over a raw buffer.
    public static func decode(_ info: [UInt8]) throws(FrameError) -> LinkParameters {
        var result: Result<LinkParameters, FrameError> = .success(.defaults)
        info.withUnsafeBytes { raw in
            do throws(FrameError) { result = .success(try decode(raw)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// `max info TX 128 RX 128, window TX 1 RX 1`.
    public var description: String {
        "max info TX \(maxInfoTransmit) RX \(maxInfoReceive), window TX \(windowTransmit) RX \(windowReceive)"
    }
}
