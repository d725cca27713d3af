import CLibc
import Platform

/// The `dlms-bridge` command: one binary for the agent and the field engineer's tools.
@main
enum DLMSBridge {
    static let version = "0.1.0"

    static let overview = """
        OVERVIEW: Read DLMS/COSEM meters and publish their readings over MQTT with TLS.

        USAGE: dlms-bridge <command> [options]      (dlms-bridge <command> --help for its options)

        COMMANDS:
          run       the agent: poll meters, spool readings on flash, publish them to the broker
          read      one-shot read of a meter (TCP or optical probe), table or JSON
          discover  list the objects a meter offers, and write a [meter] section for run
          decode    explain a frame or APDU pasted from a log
          simulate  a simulated Microstar meter (TCP or pseudo-terminal), the demo and test peer
          bench     time the codec's hot paths on this machine

        OPTIONS:
          --version   print the version
          --help      show this help

        """

    static func main() {
        let args = ProcessArguments.all
        guard args.count > 1 else {
            print(overview, terminator: "")
            exit(0)
        }
        let rest = args[2...]
        switch args[1] {
        case "run": RunCommand.main(rest)
        case "read": ReadCommand.main(rest)
        case "discover": DiscoverCommand.main(rest)
        case "simulate": SimulateCommand.main(rest)
        case "decode": DecodeCommand.main(Array(rest))
        case "bench": BenchCommand.main(Array(rest))
        case RecoverCommand.spec.name: RecoverCommand.main(rest)  // hidden: the power-loss checker's
        case "--help", "-h", "help":
            print(overview, terminator: "")
            exit(0)
        case "--version":
            print(version)
            exit(0)
        default:
            stderrLine("dlms-bridge: unknown command '\(args[1])'; the commands are run, read, discover, decode, simulate, bench")
            stderrLine("See 'dlms-bridge --help'.")
            exit(2)
        }
    }
}
