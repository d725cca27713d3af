/// An OBIS code (IEC 62056-6-1): the six-byte logical name A-B:C.D.E.F of a COSEM object.
///
/// Parses the common spellings: `1-1:32.7.0` (F defaults to 255), `1-1:32.7.0.255`, `1-1:32.7.0*255`,
/// `1.1.32.7.0.255`, and 12 hex digits (`0101200700FF`). `description` prints the short form the payload
/// uses (`1-1:32.7.0`, with `.F` only when F is not 255).
public struct ObisCode: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var a: UInt8
    public var b: UInt8
    public var c: UInt8
    public var d: UInt8
    public var e: UInt8
    public var f: UInt8

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, _ e: UInt8, _ f: UInt8 = 255) {
        self.a = a; self.b = b; self.c = c; self.d = d; self.e = e; self.f = f
    }

    /// From the six bytes of a logical name (octet-string(6)); nil unless exactly 6 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 6 else { return nil }
        let s = bytes.startIndex
        self.init(bytes[s], bytes[s + 1], bytes[s + 2], bytes[s + 3], bytes[s + 4], bytes[s + 5])
    }

    /// The six bytes, A first.
    public var bytes: [UInt8] { [a, b, c, d, e, f] }

    /// Parses any of the accepted spellings; throws `COSEMError.invalidObis` saying what is wrong.
    public init(parsing text: String) throws(COSEMError) {
        var fields: [Int] = []
        fields.reserveCapacity(6)
        var separators: [UInt8] = []
        var current = -1
        var digits = 0
        let utf8 = Array(text.utf8)
        var start = 0
        var stop = utf8.count
        while start < stop, utf8[start] == 0x20 || utf8[start] == 0x09 { start += 1 }
        while stop > start, utf8[stop - 1] == 0x20 || utf8[stop - 1] == 0x09 { stop -= 1 }
        if start == stop { throw COSEMError.invalidObis(text: text, reason: "it is empty") }

        // 12 hex digits and nothing else: the raw logical name.
        if stop - start == 12, utf8[start..<stop].allSatisfy({ hexValue($0) != nil }) {
            var raw: [UInt8] = []
            var i = start
            while i < stop {
                raw.append(hexValue(utf8[i])! << 4 | hexValue(utf8[i + 1])!)
                i += 2
            }
            self.init(bytes: raw)!
            return
        }

        for i in start..<stop {
            let ch = utf8[i]
            if ch >= 0x30, ch <= 0x39 {
                current = (current < 0 ? 0 : current) * 10 + Int(ch - 0x30)
                digits += 1
                if current > 255 || digits > 3 {
                    throw COSEMError.invalidObis(text: text, reason: "field \(fields.count + 1) is larger than 255")
                }
            } else if ch == 0x2D || ch == 0x3A || ch == 0x2E || ch == 0x2A || ch == 0x26 {  // - : . * &
                guard current >= 0 else {
                    throw COSEMError.invalidObis(
                        text: text, reason: "a field is missing before separator \(fields.count + 1)")
                }
                fields.append(current)
                separators.append(ch)
                current = -1
                digits = 0
                if fields.count >= 6 { throw COSEMError.invalidObis(text: text, reason: "it has more than 6 fields") }
            } else {
                throw COSEMError.invalidObis(text: text, reason: "character \(i - start + 1) is not a digit or separator")
            }
        }
        guard current >= 0 else { throw COSEMError.invalidObis(text: text, reason: "it ends with a separator") }
        fields.append(current)

        // Check the separator pattern: A-B:C.D.E[.F|*F] or A.B.C.D.E.F.
        let isDotted = separators.allSatisfy { $0 == 0x2E }
        if isDotted {
            guard fields.count == 6 else {
                throw COSEMError.invalidObis(text: text, reason: "the all-dots form needs 6 fields, it has \(fields.count)")
            }
        } else {
            guard fields.count == 5 || fields.count == 6, separators[0] == 0x2D, separators[1] == 0x3A,
                separators[2] == 0x2E, separators[3] == 0x2E,
                fields.count == 5 || separators[4] == 0x2E || separators[4] == 0x2A || separators[4] == 0x26
            else {
                throw COSEMError.invalidObis(text: text, reason: "the separators are not in the A-B:C.D.E.F pattern")
            }
        }
        self.init(
            UInt8(fields[0]), UInt8(fields[1]), UInt8(fields[2]), UInt8(fields[3]), UInt8(fields[4]),
            fields.count == 6 ? UInt8(fields[5]) : 255)
    }

    /// `1-1:32.7.0` when F is 255, else `1-1:32.7.0.F`: the spelling of the published payload.
    public var description: String {
        let base = "\(a)-\(b):\(c).\(d).\(e)"
        return f == 255 ? base : base + ".\(f)"
    }

    /// Always six fields: `1-1:32.7.0.255`.
    public var fullDescription: String { "\(a)-\(b):\(c).\(d).\(e).\(f)" }

    /// The all-dots form: `1.1.32.7.0.255`.
    public var dottedDescription: String { "\(a).\(b).\(c).\(d).\(e).\(f)" }

    /// Orders by A, then B, ... then F (the order of the bytes).
    public static func < (lhs: ObisCode, rhs: ObisCode) -> Bool {
        (lhs.a, lhs.b, lhs.c, lhs.d, lhs.e, lhs.f) < (rhs.a, rhs.b, rhs.c, rhs.d, rhs.e, rhs.f)
    }

    /// The standard clock object, 0-0:1.0.0.255.
    public static let clock = ObisCode(0, 0, 1, 0, 0, 255)
}

func hexValue(_ ch: UInt8) -> UInt8? {
    switch ch {
    case 0x30...0x39: return ch - 0x30
    case 0x41...0x46: return ch - 0x41 + 10
    case 0x61...0x66: return ch - 0x61 + 10
    default: return nil
    }
}
