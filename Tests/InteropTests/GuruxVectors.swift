// Loads the interop vectors that the independent gurux-dlms implementation produces at test time
// (Tests/Interop/gurux_vectors.py). No expected bytes live in this target: they all come from gurux.
import Foundation

/// A JSON value, decoded once from the generator's output. Sendable so the vectors can be shared.
indirect enum JSON: Sendable, Decodable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSON].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSON].self))
        }
    }

    subscript(key: String) -> JSON? {
        if case let .object(o) = self { return o[key] }
        return nil
    }

    var int: Int? {
        if case let .number(n) = self, n == n.rounded(), abs(n) < 9e15 { return Int(n) }
        return nil
    }

    var double: Double? {
        if case let .number(n) = self { return n }
        return nil
    }

    var string: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    var bool: Bool? {
        if case let .bool(b) = self { return b }
        return nil
    }

    var array: [JSON]? {
        if case let .array(a) = self { return a }
        return nil
    }

    var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    var description: String {
        switch self {
        case .null: return "null"
        case let .bool(b): return String(b)
        case let .number(n): return String(n)
        case let .string(s): return "\"\(s)\""
        case let .array(a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case let .object(o):
            return "{" + o.keys.sorted().map { "\($0): \(o[$0]!.description)" }.joined(separator: ", ") + "}"
        }
    }
}

/// Why the vectors could not be produced. The test that needs them fails with this text.
struct VectorLoadFailure: Error, Sendable, CustomStringConvertible {
    let description: String
}

enum GuruxVectors {
    /// The generator's document, produced once per test process.
    static let document: Result<JSON, VectorLoadFailure> = load()

    /// The document or a failure that says what to do; tests `try` it, so a missing venv is a failure,
    /// never a skip.
    static func get() throws -> JSON { try document.get() }

    /// `<repo>`: this file is `<repo>/Tests/InteropTests/GuruxVectors.swift` (symlinks resolved, so a
    /// private development package that links the directory still finds the repository).
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The Python that has gurux-dlms: `DLMS_BRIDGE_PYTHON` (the Makefile exports the venv's), else the
    /// repository's `.venv/bin/python3`.
    static func python() throws(VectorLoadFailure) -> String {
        let fm = FileManager.default
        var tried: [String] = []
        if let env = ProcessInfo.processInfo.environment["DLMS_BRIDGE_PYTHON"], !env.isEmpty {
            if fm.isExecutableFile(atPath: env) { return env }
            tried.append("DLMS_BRIDGE_PYTHON=\(env) (not an executable file)")
        }
        let venv = repositoryRoot.appendingPathComponent(".venv/bin/python3").path
        if fm.isExecutableFile(atPath: venv) { return venv }
        tried.append(venv + " (missing)")
        throw VectorLoadFailure(description: """
            No Python with gurux-dlms for the interop vectors. Tried: \(tried.joined(separator: "; ")). \
            Run `make venv` in the repository root (it creates .venv with the pinned gurux-dlms), or set \
            DLMS_BRIDGE_PYTHON to a python that has gurux-dlms 1.0.203.
            """)
    }

    static func load() -> Result<JSON, VectorLoadFailure> {
        do {
            let output = try runGenerator(arguments: [], input: nil)
            let json = try JSONDecoder().decode(JSON.self, from: output)
            guard json["generator"]?["schema"]?.int == 1 else {
                throw VectorLoadFailure(description: "The vector document has an unknown schema: \(json["generator"] ?? .null)")
            }
            return .success(json)
        } catch let failure as VectorLoadFailure {
            return .failure(failure)
        } catch {
            return .failure(VectorLoadFailure(description: "Could not read the gurux vector document: \(error)"))
        }
    }

    /// The reverse direction: gurux's parsers read frames our code built. Each request line is
    /// `frames <hex> <hex> ...` (one APDU's I-frames) or `snrm <hex>`; each answer is
    /// `{"apdu": hex}`, `{"parameters": {...}}` or `{"error": text}` (gurux refused the bytes).
    static func guruxReads(_ requests: [String]) throws -> [JSON] {
        let input = Data((requests.joined(separator: "\n") + "\n").utf8)
        let output = try runGenerator(arguments: ["--check-our-frames"], input: input)
        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n")
        let answers = try lines.map { try JSONDecoder().decode(JSON.self, from: Data($0.utf8)) }
        guard answers.count == requests.count else {
            throw VectorLoadFailure(description: "gurux answered \(answers.count) of \(requests.count) frame checks")
        }
        return answers
    }

    /// Runs the generator with the venv's Python; its stdout, or a failure carrying its stderr.
    static func runGenerator(arguments: [String], input: Data?, script name: String = "gurux_vectors.py") throws -> Data {
        let python = try python()
        let script = repositoryRoot.appendingPathComponent("Tests/Interop/" + name).path
        guard FileManager.default.fileExists(atPath: script) else {
            throw VectorLoadFailure(description: "The vector generator \(script) is missing.")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script] + arguments
        let stdout = Pipe()
        // stderr and stdin go through files: a full pipe nobody serves would block the generator.
        let tmp = FileManager.default.temporaryDirectory
        let tag = "\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))"
        let errPath = tmp.appendingPathComponent("gurux_vectors-\(tag).err")
        let inPath = tmp.appendingPathComponent("gurux_vectors-\(tag).in")
        _ = FileManager.default.createFile(atPath: errPath.path, contents: nil)
        _ = FileManager.default.createFile(atPath: inPath.path, contents: input ?? Data())
        defer {
            try? FileManager.default.removeItem(at: errPath)
            try? FileManager.default.removeItem(at: inPath)
        }
        let stderr = try FileHandle(forWritingTo: errPath)
        let stdin = try FileHandle(forReadingFrom: inPath)
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = stdin
        try process.run()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try? stderr.close()
        try? stdin.close()
        guard process.terminationStatus == 0 else {
            let err = (try? String(contentsOf: errPath, encoding: .utf8)) ?? ""
            throw VectorLoadFailure(description: """
                \(python) \(script) \(arguments.joined(separator: " ")) exited with status \
                \(process.terminationStatus): gurux-dlms failed. Its error output:
                \(err)
                """)
        }
        return output
    }
}

/// Bytes from the generator's hex (upper case, no separators).
func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(hex.count / 2)
    var high: UInt8? = nil
    for scalar in hex.unicodeScalars {
        let v: UInt8
        switch scalar {
        case "0"..."9": v = UInt8(scalar.value - 48)
        case "A"..."F": v = UInt8(scalar.value - 55)
        case "a"..."f": v = UInt8(scalar.value - 87)
        default: continue
        }
        if let h = high {
            out.append(h << 4 | v)
            high = nil
        } else {
            high = v
        }
    }
    return out
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789ABCDEF")
    var s = ""
    s.reserveCapacity(bytes.count * 2)
    for b in bytes {
        s.append(digits[Int(b >> 4)])
        s.append(digits[Int(b & 15)])
    }
    return s
}
