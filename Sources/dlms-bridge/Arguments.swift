// The command line, without swift-argument-parser: that package imports FoundationEssentials, which alone
// cost ~5.5 MB of the static binary (cross/README.md, "Where the MB go"); a gateway's budget is 12 MB.
// This is the small part of it we need: long options with values (`--port 3333`, `--port=3333`), flags,
// options that take several values (`--measurement a b c`), positionals, and generated help.

import CLibc

/// One option or flag of a command.
struct OptionSpec {
    enum Kind { case flag, value, values }
    var name: String
    var kind: Kind
    var valueName: String
    var help: String
    var defaultText: String?

    static func flag(_ name: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, kind: .flag, valueName: "", help: help, defaultText: nil)
    }
    static func value(_ name: String, _ valueName: String, _ help: String, default d: String? = nil) -> OptionSpec {
        OptionSpec(name: name, kind: .value, valueName: valueName, help: help, defaultText: d)
    }
    static func values(_ name: String, _ valueName: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, kind: .values, valueName: valueName, help: help, defaultText: nil)
    }
}

/// A subcommand: its options and help.
struct CommandSpec {
    var name: String
    var abstract: String
    var discussion: String = ""
    var positionals: [(name: String, help: String)] = []
    var options: [OptionSpec]

    var help: String {
        var out = "OVERVIEW: \(abstract)\n\n"
        if !discussion.isEmpty { out += discussion + "\n\n" }
        let pos = positionals.map { " [<\($0.name)>]" }.joined()
        out += "USAGE: dlms-bridge \(name) [options]\(pos)\n\n"
        if !positionals.isEmpty {
            out += "ARGUMENTS:\n"
            for p in positionals { out += "  " + pad("<\(p.name)>", 28) + p.help + "\n" }
            out += "\n"
        }
        out += "OPTIONS:\n"
        for o in options + [.flag("help", "Show this help.")] {
            var left = "--\(o.name)"
            switch o.kind {
            case .flag: break
            case .value: left += " <\(o.valueName)>"
            case .values: left += " <\(o.valueName)> ..."
            }
            var text = o.help
            if let d = o.defaultText { text += " (default: \(d))" }
            out += "  " + pad(left, 28) + text + "\n"
        }
        return out
    }
}

/// A command line that does not fit its command: exit status 2 with the message and a pointer to `--help`.
struct UsageError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// The parsed command line of one subcommand.
struct ParsedArguments {
    private var single: [String: String] = [:]
    private var multiple: [String: [String]] = [:]
    private var flags: Set<String> = []
    var positionals: [String] = []

    /// Parses `arguments` (after the subcommand's name) against `spec`; `--help` is returned as a flag.
    init(_ arguments: ArraySlice<String>, spec: CommandSpec) throws(UsageError) {
        var i = arguments.startIndex
        var onlyPositionals = false
        while i < arguments.endIndex {
            let arg = arguments[i]
            i += 1
            if onlyPositionals || !arg.hasPrefix("--") || arg == "-" {
                if arg.hasPrefix("-") && arg != "-" && !onlyPositionals && arg.count > 1, Int64(arg) == nil {
                    throw UsageError(message: "unknown option '\(arg)' (options are spelled --name)")
                }
                positionals.append(arg)
                continue
            }
            if arg == "--" { onlyPositionals = true; continue }
            var name = String(arg.dropFirst(2))
            var inline: String? = nil
            if let eq = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            if name == "help" { flags.insert("help"); continue }
            guard let option = spec.options.first(where: { $0.name == name }) else {
                throw UsageError(message: "unknown option '--\(name)' for 'dlms-bridge \(spec.name)'")
            }
            switch option.kind {
            case .flag:
                if inline != nil { throw UsageError(message: "--\(name) takes no value") }
                flags.insert(name)
            case .value:
                if let inline { single[name] = inline; continue }
                guard i < arguments.endIndex, !arguments[i].hasPrefix("--") else {
                    throw UsageError(message: "--\(name) needs a value <\(option.valueName)>")
                }
                single[name] = arguments[i]
                i += 1
            case .values:
                var got: [String] = inline.map { [$0] } ?? []
                while i < arguments.endIndex, !arguments[i].hasPrefix("--") {
                    got.append(arguments[i])
                    i += 1
                }
                if got.isEmpty { throw UsageError(message: "--\(name) needs at least one value <\(option.valueName)>") }
                multiple[name, default: []] += got
            }
        }
        if positionals.count > max(spec.positionals.count, 0) && !(spec.positionals.last?.name.hasSuffix("...") ?? false) {
            throw UsageError(message: "unexpected argument '\(positionals[spec.positionals.count])'")
        }
    }

    func flag(_ name: String) -> Bool { flags.contains(name) }
    func string(_ name: String) -> String? { single[name] }
    func string(_ name: String, default d: String) -> String { single[name] ?? d }
    func strings(_ name: String) -> [String] { multiple[name] ?? [] }

    /// An integer option in `range`, or `d` when absent.
    func integer<T: FixedWidthInteger>(_ name: String, _ type: T.Type = T.self, default d: T? = nil,
                                       in range: ClosedRange<T>? = nil) throws(UsageError) -> T? {
        guard let text = single[name] else { return d }
        guard let v = T(text), range.map({ $0.contains(v) }) ?? true else {
            let r = range.map { " from \($0.lowerBound) to \($0.upperBound)" } ?? ""
            throw UsageError(message: "--\(name) \(text) is not a whole number\(r)")
        }
        return v
    }

    /// A number option, or `d` when absent.
    func double(_ name: String, default d: Double? = nil) throws(UsageError) -> Double? {
        guard let text = single[name] else { return d }
        guard let v = Double(text), v.isFinite else { throw UsageError(message: "--\(name) \(text) is not a number") }
        return v
    }
}

/// Runs a subcommand body, turning a usage error into its message and exit status 2.
func runCommand(_ spec: CommandSpec, _ arguments: ArraySlice<String>, _ body: (ParsedArguments) throws(UsageError) -> Void) -> Never {
    do {
        let parsed = try ParsedArguments(arguments, spec: spec)
        if parsed.flag("help") {
            print(spec.help, terminator: "")
            exit(0)
        }
        try body(parsed)
        exit(0)
    } catch {
        stderrLine("dlms-bridge \(spec.name): \(error.message)")
        stderrLine("See 'dlms-bridge \(spec.name) --help'.")
        exit(2)
    }
}
