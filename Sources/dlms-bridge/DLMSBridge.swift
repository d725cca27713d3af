import ArgumentParser

/// The `dlms-bridge` command: one binary for the agent and the field engineer's tools.
@main
struct DLMSBridge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlms-bridge",
        abstract: "Read DLMS/COSEM meters and publish their readings over MQTT with TLS.",
        discussion: """
            run       the agent: poll meters, spool readings on flash, publish them to the broker
            read      one-shot read of a meter (TCP or optical probe), table or JSON
            decode    explain a frame or APDU pasted from a log
            simulate  a simulated Microstar meter (TCP or pseudo-terminal), the demo and test peer
            bench     time the codec's hot paths on this machine
            """,
        version: "0.1.0",
        subcommands: [RunCommand.self, ReadCommand.self, DecodeCommand.self, SimulateCommand.self, BenchCommand.self]
    )
}
