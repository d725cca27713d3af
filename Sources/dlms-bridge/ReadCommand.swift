import ArgumentParser

struct ReadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "read", abstract: "(being written)")

    func run() throws {
        print("dlms-bridge read: not implemented yet")
        throw ExitCode(1)
    }
}
