// CallgrindOps: the operations of `dlms-bridge bench` (BenchOps.swift is a symlink to the CLI's file, so both
// run the same code) with nothing else around them, for `make bench-check` to count with callgrind. It is
// built by the benchmark package's release build, which `make test` runs anyway for the malloc thresholds,
// instead of a second release build of the whole agent.
//
//   CallgrindOps bench --op parse-frame --iterations 1000     (the arguments callgrind-check.sh passes)

#if canImport(Glibc)
import Glibc
#endif

var op: BenchOperation?
var iterations = 1_000
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "bench": continue
    case "--op":
        guard let name = arguments.popFirst(), let known = BenchOperation(rawValue: name) else {
            print("CallgrindOps: --op needs one of: " + BenchOperation.allCases.map(\.rawValue).joined(separator: ", "))
            exit(2)
        }
        op = known
    case "--iterations":
        guard let text = arguments.popFirst(), let n = Int(text), n > 0 else {
            print("CallgrindOps: --iterations needs a positive number")
            exit(2)
        }
        iterations = n
    case "--runs": _ = arguments.popFirst()  // accepted for the same command line as dlms-bridge bench
    default:
        print("CallgrindOps: unknown argument '\(argument)' (usage: CallgrindOps bench --op NAME --iterations N)")
        exit(2)
    }
}

let fixture = BenchFixture()
var sink: UInt64 = 0
for operation in op.map({ [$0] }) ?? BenchOperation.allCases {
    sink &+= operation.run(fixture, iterations: 1)  // first call: lazy globals, page faults
    sink &+= operation.run(fixture, iterations: iterations)
}
print("checksum \(sink)")
