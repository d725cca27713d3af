import CLibc

/// Substring search over UTF-8 bytes. The standard library's `String.contains(_: String)` and `ranges(of:)`
/// live in `_StringProcessing`, which drags ~1.3 MB (with `_RegexParser`) into the static binary for what is
/// a byte comparison.
extension StringProtocol {
    /// Whether `needle` occurs in this string (byte-wise, so case-sensitive).
    public func containsText(_ needle: String) -> Bool { lastOffset(of: needle) != nil }

    /// The UTF-8 offset just past the last occurrence of `needle`, or nil.
    public func offsetAfterLast(_ needle: String) -> Int? { lastOffset(of: needle).map { $0 + needle.utf8.count } }

    private func lastOffset(of needle: String) -> Int? {
        let hay = Array(utf8)
        let n = Array(needle.utf8)
        guard !n.isEmpty else { return hay.count }
        guard hay.count >= n.count else { return nil }
        var i = hay.count - n.count
        while i >= 0 {
            if hay[i] == n[0] && Array(hay[i..<(i + n.count)]) == n { return i }
            i -= 1
        }
        return nil
    }
}

/// The process's command-line arguments, the program name first (from the C library, as main received them:
/// Embedded Swift has no `CommandLine`).
public enum ProcessArguments {
    public static var all: [String] {
        let argv = clibc_argv()
        return (0..<Int(clibc_argc())).map { i in argv.flatMap { $0[i] }.map { String(cString: $0) } ?? "" }
    }
}
