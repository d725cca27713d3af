import ArgumentParser

struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "decode", abstract: "(being written)")

    func run() throws {
        print("dlms-bridge decode: not implemented yet")
        throw ExitCode(1)
    }
}
