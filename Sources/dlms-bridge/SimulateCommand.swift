import ArgumentParser

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "simulate", abstract: "(being written)")

    func run() throws {
        print("dlms-bridge simulate: not implemented yet")
        throw ExitCode(1)
    }
}
