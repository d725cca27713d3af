import CLibc

/// Lines on stderr (fd 2) without stdio buffering: one write(2) per line, short writes and EINTR retried, so
/// that lines from several threads do not interleave mid-line and nothing is lost when the process exits.
public enum StandardError {
    /// Writes `text` and a newline.
    public static func writeLine(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.append(0x0A)
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(2, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += n
            }
        }
    }
}

/// Standard input (fd 0), read with read(2): `readLine` needs a runtime function Embedded Swift lacks.
public enum StandardInput {
    /// Everything until end of file, decoded as UTF-8 (invalid bytes replaced).
    public static func readAll() -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
