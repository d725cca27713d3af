// swift-tools-version: 6.2
// The package-benchmark suite for dlms-bridge's protocol core. A separate package that depends on the root
// package by path, so building or shipping dlms-bridge never resolves the benchmark harness.
//
//   swift package --package-path Benchmarks benchmark              (make bench)
//   swift package --package-path Benchmarks benchmark thresholds check   (make bench-malloc-check)
import PackageDescription

let package = Package(
    name: "dlms-bridge-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "dlms-bridge", path: ".."),
        // Malloc counters only: the default RuntimeInterposer trait needs a package this project does not use.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "CodecBenchmarks",
            dependencies: [
                .product(name: "HDLC", package: "dlms-bridge"),
                .product(name: "COSEM", package: "dlms-bridge"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/CodecBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The ops of `dlms-bridge bench` alone, for callgrind (`make bench-check`); not a package-benchmark
        // suite: package-benchmark runs every executable target in a folder named Benchmarks, so it lives in
        // Tools/ (this package's own folder is named Benchmarks too).
        .executableTarget(
            name: "CallgrindOps",
            dependencies: [
                .product(name: "HDLC", package: "dlms-bridge"),
                .product(name: "COSEM", package: "dlms-bridge"),
            ],
            path: "Tools/CallgrindOps"
        ),
    ]
)
