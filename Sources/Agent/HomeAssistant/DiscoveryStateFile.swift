import CLibc
import Platform

/// The discovery config topics this gateway may have left retained on the broker, one per line, in a small
/// file in the spool directory. A meter or measurement removed from the configuration is found here at the
/// next start, and its config cleared (an empty retained message) so that Home Assistant removes the entity.
///
/// Crash-safe: the file is replaced whole (written to `<path>.tmp`, fsynced, renamed over the old one, the
/// directory fsynced), so a crash leaves the old list or the new one, never a mix. A topic leaves the list only
/// once the broker acknowledged its clearing; a clear lost in a crash is sent again at the next start.
public struct DiscoveryStateFile: Sendable {
    public let path: String

    public init(directory: String) { path = directory + "/home-assistant-discovery" }

    /// The recorded topics; empty when the file does not exist. Unreadable is an error.
    public func load() throws(SystemError) -> Set<String> {
        let fd = clibc_open(path, O_RDONLY | O_CLOEXEC, 0)
        if fd < 0 {
            let code = errno
            if code == ENOENT { return [] }
            throw SystemError("open(\(path))", code: code)
        }
        defer { _ = close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = try retryingInterrupts("read(\(path))") { read(fd, &chunk, 4096) }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > 16 << 20 { throw SystemError("read(\(path)): larger than 16 MiB", code: EFBIG) }
        }
        var topics: Set<String> = []
        for line in bytes.split(separator: 0x0A) where !line.isEmpty {
            topics.insert(String(decoding: line, as: UTF8.self))
        }
        return topics
    }

    /// Replaces the recorded topics with `topics`, atomically and durably.
    public func save(_ topics: Set<String>) throws(SystemError) {
        var text: [UInt8] = []
        for t in topics.sorted() {
            text.append(contentsOf: t.utf8)
            text.append(0x0A)
        }
        let temporary = path + ".tmp"
        let fd = try retryingInterrupts("open(\(temporary))") {
            clibc_open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        }
        var written = 0
        while written < text.count {
            // withUnsafeBytes rethrows untyped errors: carry the typed one out in a Result.
            let result = text.withUnsafeBytes { b in
                Result { () throws(SystemError) -> Int in
                    try retryingInterrupts("write(\(temporary))") { write(fd, b.baseAddress! + written, b.count - written) }
                }
            }
            switch result {
            case .success(let n): written += n
            case .failure(let error):
                _ = close(fd)
                throw error
            }
        }
        if fsync(fd) != 0 {
            let code = errno
            _ = close(fd)
            throw SystemError("fsync(\(temporary))", code: code)
        }
        _ = close(fd)
        guard rename(temporary, path) == 0 else { throw SystemError("rename(\(temporary))", code: errno) }
        let directory = Self.directory(of: path)
        let dfd = clibc_open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        if dfd >= 0 {
            _ = fsync(dfd)
            _ = close(dfd)
        }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: 0x2F) else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }
}
