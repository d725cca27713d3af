#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

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
