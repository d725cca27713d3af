// swift-tools-version: 6.2
// dlms-bridge: DLMS/COSEM meters to MQTT over TLS, for embedded Linux gateways.
//
// One module per layer. HDLC and COSEM are the sans-I/O protocol core: no Foundation, no I/O, no clock, no
// threads, and they also compile in Embedded Swift (`make embedded-check`). Everything that touches a
// socket, a tty, a file or libmosquitto lives above them.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "dlms-bridge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "dlms-bridge", targets: ["dlms-bridge"]),
        .library(name: "HDLC", targets: ["HDLC"]),
        .library(name: "COSEM", targets: ["COSEM"]),
    ],
    dependencies: [
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
    ],
    targets: [
        // The framing: IEC 62056-46 HDLC frames, CRC-16/X.25, the streaming deframer, the link state machine.
        .target(name: "HDLC", swiftSettings: strict),
        // The application layer: OBIS, A-XDR data, AARQ/AARE, GET, RLRQ/RLRE, interface classes, units.
        .target(name: "COSEM", swiftSettings: strict),
        // Logging: the subset of swift-log's API the agent uses, without its task locals (which pulled the
        // Concurrency runtime and libdispatch into the static binary).
        .target(name: "Log", dependencies: ["CLibc", "Platform"], swiftSettings: strict),
        // The C library as one module map, imported the same way by the normal and the Embedded build.
        .target(name: "CLibc"),
        // The thin POSIX layer shared by the I/O modules: clocks, threads, locks, a condition queue, errno errors.
        .target(name: "Platform", dependencies: ["CLibc"], swiftSettings: strict),
        // The meter link: TCP and termios transports, IEC 62056-21 mode E, the meter session, the catalog.
        .target(
            name: "MeterLink",
            dependencies: ["HDLC", "COSEM", "DLMSCrypto", "CLibc", "Platform"],
            swiftSettings: strict
        ),
        // The simulated Microstar meter (demo and test peer), server side of the same core.
        .target(
            name: "MeterSimulator",
            dependencies: ["HDLC", "COSEM", "DLMSCrypto", "CLibc", "Platform", "MeterLink"],
            swiftSettings: strict
        ),
        // libmosquitto, seen only by Uplink.
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        // The uplink: MQTT over TLS through one Swift wrapper of libmosquitto.
        .target(
            name: "Uplink",
            dependencies: ["CMosquitto", "CLibc", "Platform", "Log"],
            swiftSettings: strict
        ),
        // libcrypto's EVP AES-128-GCM, seen only by DLMSCrypto (the static binary links libcrypto already).
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // The AES-GCM engine behind COSEM's AESGCMEngine seam (DLMS security suite 0), over COpenSSL.
        .target(name: "DLMSCrypto", dependencies: ["COSEM", "COpenSSL"], swiftSettings: strict),
        // The spool: crash-safe store-and-forward log on flash.
        .target(name: "Spool", dependencies: ["CLibc", "Platform"], swiftSettings: strict),
        // The agent: configuration, scheduling, payload, health, signals.
        .target(
            name: "Agent",
            dependencies: [
                "HDLC", "COSEM", "CLibc", "Platform", "MeterLink", "Uplink", "Spool",
                "Log",
            ],
            swiftSettings: strict
        ),
        // The command line.
        .executableTarget(
            name: "dlms-bridge",
            dependencies: [
                "HDLC", "COSEM", "DLMSCrypto", "CLibc", "Platform", "MeterLink", "MeterSimulator", "Agent",
                "Log", "Spool",
            ],
            swiftSettings: strict
        ),

        .testTarget(
            name: "HDLCTests",
            dependencies: ["HDLC", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "COSEMTests",
            dependencies: [
                "COSEM", "HDLC", "DLMSCrypto", .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(name: "MeterLinkTests", dependencies: ["MeterLink", "MeterSimulator", "HDLC", "COSEM", "DLMSCrypto"]),
        .testTarget(name: "PlatformTests", dependencies: ["Platform"]),
        .testTarget(name: "LogTests", dependencies: ["Log"]),
        .testTarget(name: "SpoolTests", dependencies: ["Spool", "Platform"]),
        .testTarget(name: "UplinkTests", dependencies: ["Uplink", "Log"]),
        .testTarget(name: "AgentTests", dependencies: ["Agent", "MeterLink", "MeterSimulator", "Spool", "Uplink", "Log"]),
        .testTarget(name: "InteropTests", dependencies: ["HDLC", "COSEM", "DLMSCrypto"]),
    ]
)
