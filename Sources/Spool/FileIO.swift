import CLibc
import Platform

/// The few POSIX file calls the spool needs, each retrying EINTR and throwing `SystemError` with the path.
enum FileIO {
    static func openFile(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws(SystemError) -> Int32 {
        try retryingInterrupts("open(\(path))") { clibc_open(path, flags | O_CLOEXEC, mode) }
    }

    static func closeFile(_ fd: Int32) { _ = close(fd) }

    /// Writes all of `bytes` at `offset`; a short write that cannot continue throws (ENOSPC usually).
    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64, path: String)
        throws(SystemError)
    {
        var done = 0
        while done < bytes.count {
            let n = try retryingInterrupts("write(\(path))") {
                pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            }
            if n == 0 { throw SystemError("write(\(path))", code: ENOSPC) }
            done += n
        }
    }

    static func pwriteAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int64, path: String) throws(SystemError) {
        // withUnsafeBytes rethrows untyped errors: carry the typed one out in a Result.
        let result = bytes.withUnsafeBytes { b in
            Result { () throws(SystemError) in try pwriteAll(fd, b, at: offset, path: path) }
        }
        try result.get()
    }

    /// Reads up to `count` bytes at `offset` (fewer only at end of file).
    static func readAt(_ fd: Int32, count: Int, at offset: Int64, path: String) throws(SystemError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let result = out.withUnsafeMutableBytes { b in
                Result { () throws(SystemError) -> Int in
                    try retryingInterrupts("read(\(path))") {
                        pread(fd, b.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                    }
                }
            }
            let n = try result.get()
            if n == 0 { break }
            done += n
        }
        if done < count { out.removeLast(count - done) }
        return out
    }

    static func fileSize(_ fd: Int32, path: String) throws(SystemError) -> Int64 {
        var st = stat()
        _ = try retryingInterrupts("fstat(\(path))") { fstat(fd, &st) }
        return Int64(st.st_size)
    }

    static func truncate(_ fd: Int32, to size: Int64, path: String) throws(SystemError) {
        _ = try retryingInterrupts("ftruncate(\(path))") { ftruncate(fd, off_t(size)) }
    }

    /// fdatasync: the data and the size, not the timestamps (less metadata to write on flash).
    static func syncData(_ fd: Int32, path: String) throws(SystemError) {
        _ = try retryingInterrupts("fdatasync(\(path))") { fdatasync(fd) }
    }

    /// fsync of a directory: makes file creations, renames and removals in it durable.
    static func syncDirectory(_ fd: Int32, path: String) throws(SystemError) {
        _ = try retryingInterrupts("fsync(\(path))") { fsync(fd) }
    }

    static func removeFile(_ path: String) throws(SystemError) {
        _ = try retryingInterrupts("unlink(\(path))") { unlink(path) }
    }

    /// `mkdir -p` with mode 0750. Each directory it creates is made durable in its parent (fsync of the
    /// parent): without that a power cut may drop the new directory's entry, and with it every file the spool
    /// later writes and fsyncs inside (found by the power-loss checker, Tests/powerloss).
    static func makeDirectories(_ path: String) throws(SystemError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        var parent = path.hasPrefix("/") ? "/" : "."
        for part in path.split(separator: "/") {
            prefix += part
            if mkdir(prefix, 0o750) == 0 {
                // Best effort: a file system that cannot fsync a directory must not stop the agent from starting.
                try? syncPath(parent)
            } else if errno != EEXIST {
                throw .current("mkdir(\(prefix))")
            }
            parent = prefix
            prefix += "/"
        }
    }

    /// fsync of the directory at `path`.
    static func syncPath(_ path: String) throws(SystemError) {
        let fd = try openFile(path, O_RDONLY | O_DIRECTORY)
        defer { closeFile(fd) }
        try syncDirectory(fd, path: path)
    }

    /// Names in a directory (without "." and "..").
    static func list(_ path: String) throws(SystemError) -> [String] {
        guard let dir = opendir(path) else { throw .current("opendir(\(path))") }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            // readdir returns NULL both at the end and on an error: only errno tells them apart, and a listing
            // cut short would hide segments (seen: EOVERFLOW for 64-bit inode numbers in a 32-bit build).
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw .current("readdir(\(path))") }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// This boot's id and the mount id of `directory` ("<boot_id>:<mount id>"); empty when unreadable.
    /// The same value tells a process crash (page cache intact, every written record present) from a
    /// reboot or a remount (writes that never reached flash may be gone).
    static func instanceID(directory: String) -> [UInt8] {
        let boot = Array(readSmallFile("/proc/sys/kernel/random/boot_id").prefix(36))
        guard boot.count == 36, let mount = mountID(of: directory) else { return [] }
        return boot + Array(":\(mount)".utf8)
    }

    private static func readSmallFile(_ path: String, limit: Int = 1 << 20) -> [UInt8] {
        guard let fd = try? openFile(path, O_RDONLY) else { return [] }
        defer { closeFile(fd) }
        var out: [UInt8] = []
        while out.count < limit, let chunk = try? readAt(fd, count: 16 << 10, at: Int64(out.count), path: path),
            !chunk.isEmpty
        {
            out += chunk
        }
        return out
    }

    /// Where a spool directory notes seqs that escaped while its flash could not be written (see
    /// `SpoolConfiguration.volatileDirectory`): one small file per spool, named by a hash of its path.
    static func volatileNotePath(directory: String, in volatile: String) -> String {
        var path = directory
        if let resolved = realpath(directory, nil) {
            path = String(cString: resolved)
            free(resolved)
        }
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a
        for b in path.utf8 { hash = (hash ^ UInt64(b)) &* 0x100_0000_01B3 }
        return volatile + "/dlms-bridge-spool-" + String(hash, radix: 16)
    }

    static func readNote(_ path: String) -> UInt64? {
        let bytes = readSmallFile(path, limit: 64)
        return UInt64(String(decoding: bytes.prefix(while: { $0 >= 48 && $0 <= 57 }), as: UTF8.self))
    }

    static func writeNote(_ path: String, _ value: UInt64) {
        guard let fd = try? openFile(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600) else { return }
        defer { closeFile(fd) }
        try? pwriteAll(fd, Array("\(value)\n".utf8), at: 0, path: path)
    }

    /// mountinfo writes space, tab, newline and backslash in paths as `\040`, `\011`, `\012`, `\134`.
    static func unescapeOctal(_ field: Substring) -> String {
        let bytes = Array(field.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x5C, i + 3 < bytes.count {
                let digits = bytes[(i + 1)...(i + 3)]
                if digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x37 }) {
                    let v = digits.reduce(0) { $0 * 8 + Int($1 - 0x30) }
                    if v < 256 { out.append(UInt8(v)); i += 4; continue }
                }
            }
            out.append(bytes[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The id of the mount holding `directory`, from /proc/self/mountinfo (the last, i.e. topmost, mount
    /// whose mount point is the longest prefix of the directory's real path).
    static func mountID(of directory: String) -> String? {
        guard let resolved = realpath(directory, nil) else { return nil }
        let path = String(cString: resolved)
        free(resolved)
        var best: (length: Int, id: String)?
        let text = String(decoding: readSmallFile("/proc/self/mountinfo"), as: UTF8.self)
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 5)
            guard fields.count >= 5 else { continue }
            let point = unescapeOctal(fields[4])
            let matches = point == "/" || path == point || path.hasPrefix(point + "/")
            if matches && point.utf8.count >= (best?.length ?? -1) { best = (point.utf8.count, String(fields[0])) }
        }
        return best?.id
    }
}
