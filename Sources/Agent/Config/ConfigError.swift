/// A configuration value the agent refuses at start. Its description names the variable, where the value came
/// from, what is wrong with it and what is expected; secrets are never echoed. The CLI exits with
/// `ConfigError.exitStatus` (2) after printing it.
///
/// Example: `DLMS_PORT="70000" (from .env line 3): the number is out of range; expected a TCP port, 1 to 65535`.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The variable (`DLMS_PORT`) or the file (`/etc/dlms-bridge/meters.conf`) at fault.
    public var variable: String
    /// The value as given, or nil when there is none to show (missing, or a secret).
    public var value: String?
    /// Where the value came from: `environment`, `.env line 3`, `meters.conf line 12 [meter kitchen]`.
    public var origin: String?
    /// What is wrong with it.
    public var problem: String
    /// What would be accepted.
    public var expected: String

    /// The process exit status for a configuration error (as for a usage error).
    public static let exitStatus: Int32 = 2

    public init(variable: String, value: String?, origin: String?, problem: String, expected: String) {
        self.variable = variable
        self.value = value
        self.origin = origin
        self.problem = problem
        self.expected = expected
    }

    public var description: String {
        var text = variable
        if let value { text += "=\"" + value + "\"" }
        if let origin { text += " (from " + origin + ")" }
        return text + ": " + problem + "; expected " + expected
    }
}
