import CLibc
import Platform

/// The open-file budget of `run`, checked before anything is opened: past the process's limit (RLIMIT_NOFILE,
/// 1024 by default) sockets and spool files fail with EMFILE one by one, and a large gateway would deliver
/// nothing with no clear reason. Each meter holds its link's socket (meters on one serial line share it) and
/// its spool's active segment, state file and directory; the process itself holds the broker's socket, the
/// standard streams, wakeups, the notify socket and files opened for a moment (a segment being read, /proc).
public enum DescriptorBudget {
    /// Descriptors each meter may hold at once.
    public static let perMeter = 4
    /// Descriptors of the process beyond its meters.
    public static let base = 64

    /// What `meters` meters need.
    public static func needed(meters: Int) -> Int { base + perMeter * meters }

    /// Raises the soft limit to what `meters` need (up to the hard limit; the kernel lets any process do
    /// that) and returns the limit now in force; throws when even the hard limit is too low.
    @discardableResult
    public static func ensure(meters: Int) throws(ConfigError) -> Int {
        let need = needed(meters: meters)
        let soft = OpenFileLimit.raise(to: need)
        if soft < need {
            throw ConfigError(
                variable: "LimitNOFILE", value: nil, origin: nil,
                problem: "\(meters) meter(s) need about \(need) open files (\(perMeter) per meter + \(base)), but this process may open only \(soft) (hard limit \(OpenFileLimit.hard))",
                expected: "a higher limit: LimitNOFILE=\(max(8192, need)) in the systemd unit (the shipped one has 8192), or `ulimit -n \(need)` in the shell that starts dlms-bridge; or fewer meters on this gateway")
        }
        return soft
    }
}
