import COSEM

/// Bytes from a hex string with any spacing: `"C0 01 C1"`.
func hx(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    var pending: UInt8? = nil
    for ch in text.unicodeScalars {
        let v: UInt8
        switch ch {
        case "0"..."9": v = UInt8(ch.value - 48)
        case "a"..."f": v = UInt8(ch.value - 87)
        case "A"..."F": v = UInt8(ch.value - 55)
        default: continue
        }
        if let p = pending { out.append(p << 4 | v); pending = nil } else { pending = v }
    }
    precondition(pending == nil, "odd number of hex digits in test vector")
    return out
}

/// Captures the typed error of a throwing expression (nil when it does not throw).
func caught<T>(_ body: () throws(COSEMError) -> T) -> COSEMError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}
