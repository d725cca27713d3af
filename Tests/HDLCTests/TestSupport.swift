import HDLC

/// Bytes from a hex string with optional spaces: `h("7E A0 07")`.
func h(_ text: String) -> [UInt8] {
    let digits = text.unicodeScalars.filter { $0 != " " && $0 != "\n" }.map { Character($0) }
    precondition(digits.count % 2 == 0, "odd number of hex digits in \(text)")
    var out: [UInt8] = []
    var i = 0
    while i < digits.count {
        out.append(UInt8(String(digits[i...i + 1]), radix: 16)!)
        i += 2
    }
    return out
}

/// Bytes as `7E A0 07`.
func hexOf(_ bytes: [UInt8]) -> String {
    bytes.map { b in
        let s = String(b, radix: 16, uppercase: true)
        return s.count == 1 ? "0" + s : s
    }.joined(separator: " ")
}

/// An independent CRC-16/X.25, bit by bit from the polynomial: what the tables are checked against.
func bitwiseCRC(_ bytes: [UInt8]) -> UInt16 {
    var crc: UInt16 = 0xFFFF
    for byte in bytes {
        crc ^= UInt16(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x8408 : crc >> 1 }
    }
    return crc ^ 0xFFFF
}

/// The golden frames of dlms-facts.md and the Microstar notes.
enum Golden {
    /// SNRM, client SAP 1 (`03`) to one-byte server address `03`, no parameters.
    static let snrm = h("7E A0 07 03 03 93 8C 11 7E")
    /// DISC, client SAP 1 to two-byte server address `02 03` (logical 1, physical 1).
    static let disc = h("7E A0 08 02 03 03 53 09 B1 7E")
    /// The AARQ frame header: client SAP 16 to logical 1/physical 17, I-frame N(S)=0 N(R)=0 P, HCS AF 9F.
    static let aarqHeader = h("7E A0 2C 02 23 21 10 AF 9F")
    /// A GET-Response I-frame whose FCS is `7E 8C`: a flag byte inside the FCS (built for these tests, its
    /// checksums recomputed by `bitwiseCRC`).
    static let flagInFCS = h("7E A0 17 21 02 23 30 59 ED E6 E7 00 C4 01 C1 00 09 04 12 26 0B FF 7E 8C 7E")
}
