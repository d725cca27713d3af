import ArgumentParser

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "(being written)")

    func run() throws {
        print("dlms-bridge run: not implemented yet")
        throw ExitCode(1)
    }
}
