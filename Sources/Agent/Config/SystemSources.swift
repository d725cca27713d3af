import CLibc
import Platform

/// What a configured path points at.
enum FileCheck: Equatable {
    case file, directory, missing

    /// `.file` or `.directory` when `path` exists and this process may read it, else `.missing`.
    static func kind(_ path: String) -> FileCheck {
        var st = stat()
        guard stat(path, &st) == 0, access(path, R_OK) == 0 else { return .missing }
        return clibc_s_isdir(st.st_mode) != 0 ? .directory : .file
    }
}

extension ConfigurationLoader {
    /// The process environment, read from `environ` (no Foundation).
    public static func processEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        guard var pointer = clibc_environ() else { return result }
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                result[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            pointer += 1
        }
        return result
    }

    /// Reads a whole text file; nil with errno set when it cannot be opened or read.
    public static func readTextFile(_ path: String) -> String? {
        let fd = clibc_open(path, O_RDONLY | O_CLOEXEC, 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > 1 << 20 { errno = EFBIG; return nil }  // a configuration, not a data file
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Loads the configuration the way `dlms-bridge run` does: the process environment; the `.env` file at
    /// `envFile` (a missing `.env` in the working directory is fine, like python-dotenv; a missing file named
    /// explicitly is an error); and the multi-meter file at `configFile`, or at `$DLMS_BRIDGE_CONFIG`.
    public static func loadFromSystem(
        envFile: String? = nil, configFile: String? = nil, knownMeasurements: Set<String>? = nil
    ) throws(ConfigError) -> AgentConfiguration {
        let environment = processEnvironment()
        var dotenv: ConfigText?
        let envPath = envFile ?? ".env"
        if let text = readTextFile(envPath) {
            dotenv = ConfigText(name: envPath, text: text)
        } else if envFile != nil || errno != ENOENT {
            throw unreadable(envPath, variable: "--env-file")
        }
        var file: ConfigText?
        if let path = configFile ?? environment["DLMS_BRIDGE_CONFIG"].flatMap({ $0.isEmpty ? nil : $0 }) {
            guard let text = readTextFile(path) else { throw unreadable(path, variable: "DLMS_BRIDGE_CONFIG") }
            file = ConfigText(name: path, text: text)
        }
        return try load(environment: environment, dotenv: dotenv, configFile: file, knownMeasurements: knownMeasurements)
    }

    static func unreadable(_ path: String, variable: String) -> ConfigError {
        let reason = String(cString: strerror(errno))
        return ConfigError(
            variable: variable, value: path, origin: nil, problem: "the file cannot be read: \(reason)",
            expected: "a readable configuration file")
    }
}
