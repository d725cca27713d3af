import ArgumentParser

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "(being written)")

    func run() throws {
        print("dlms-bridge bench: not implemented yet")
        throw ExitCode(1)
    }
}
