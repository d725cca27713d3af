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
            let python = try python()
            let script = repositoryRoot.appendingPathComponent("Tests/Interop/gurux_vectors.py").path
            guard FileManager.default.fileExists(atPath: script) else {
                throw VectorLoadFailure(description: "The vector generator \(script) is missing.")
            }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [script]
            let stdout = Pipe()
            // stderr goes to a file: a full pipe nobody reads would block the generator.
            let errPath = FileManager.default.temporaryDirectory
                .appendingPathComponent("gurux_vectors-\(ProcessInfo.processInfo.processIdentifier).err")
            _ = FileManager.default.createFile(atPath: errPath.path, contents: nil)
            let stderr = try FileHandle(forWritingTo: errPath)
            defer { try? FileManager.default.removeItem(at: errPath) }
            process.standardOutput = stdout
            process.standardError = stderr
            try process.run()
            let output = stdout.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            try? stderr.close()
            guard process.terminationStatus == 0 else {
                let err = (try? String(contentsOf: errPath, encoding: .utf8)) ?? ""
                throw VectorLoadFailure(description: """
                    \(python) \(script) exited with status \(process.terminationStatus): gurux-dlms failed to \
                    produce the vectors. Its error output:
                    \(err)
                    """)
            }
            let json = try JSONDecoder().decode(JSON.self, from: output)
            guard json["generator"]?["schema"]?.int == 1 else {
                throw VectorLoadFailure(description: "The vector document has an unknown schema: \(json["generator"] ?? .null)")
            }
            return .success(json)
        } catch let failure as VectorLoadFailure {
            return .failure(failure)
        } catch {
            return .failure(VectorLoadFailure(description: "Could not run or read the gurux vector generator: \(error)"))
        }
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
