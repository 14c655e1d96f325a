// swift-tools-version:6.1
import PackageDescription

/// Release builds of the hot modules skip the runtime exclusivity checks (debug builds and tests keep
/// them): the index fold made ~20 checked accesses per event, 3.5 % of an import's instructions, and
/// the simulator's classes 4 % of a simulation's (callgrind).
let releaseSpeed: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "rewind",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "rewind", targets: ["rewind"]),
        .library(name: "RewindCore", targets: ["RewindCore"]),
        .library(name: "RewindStore", targets: ["RewindStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Pure core: events, JSON, timestamps, timeline, folds, rules, strategies.
        // Knows nothing of storage or terminals.
        .target(
            name: "RewindCore",
            dependencies: ["CZlib", .product(name: "Yams", package: "Yams")],
            swiftSettings: releaseSpeed
        ),
        // zlib, for the index's document blocks.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // libpq, the PostgreSQL client library (preinstalled with libpq-dev; builds at once).
        .systemLibrary(name: "CLibpq", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // Stores behind the EventStore protocol: embedded SQLite (GRDB), PostgreSQL (libpq), the importer.
        .target(
            name: "RewindStore",
            dependencies: [
                "RewindCore", "CLibpq",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: releaseSpeed
        ),
        // The event-driven patterns, simulated on a virtual clock: bus, outbox, sagas, competing
        // consumers, as-of validation; the scenarios that generate logs, and the benchmarks' load.
        .target(name: "RewindSimulation", dependencies: ["RewindCore"], swiftSettings: releaseSpeed),
        // The explorer: model, actions, update, and views drawn into an in-memory screen buffer.
        .target(name: "RewindExplorer", dependencies: ["RewindCore"]),
        // ncurses, for RewindTerminal only (macros wrapped as functions in shim.h).
        .systemLibrary(name: "CNcursesw", pkgConfig: "ncursesw", providers: [.apt(["libncurses-dev"])]),
        // The one module that talks to the terminal.
        .target(name: "RewindTerminal", dependencies: ["CNcursesw", "RewindExplorer"]),
        // The command line: one type per command.
        .target(
            name: "RewindCommands",
            dependencies: [
                "RewindCore", "RewindStore", "RewindExplorer", "RewindTerminal", "RewindSimulation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "rewind", dependencies: ["RewindCommands"]),
        // Test doubles shared by the test targets (never a dependency of the product).
        .target(name: "RewindTestSupport", dependencies: ["RewindCore", "RewindExplorer"]),
        .testTarget(name: "RewindCoreTests", dependencies: ["RewindCore", "RewindTestSupport"]),
        .testTarget(name: "RewindExplorerTests", dependencies: ["RewindExplorer", "RewindCore", "RewindSimulation", "RewindTestSupport"], exclude: ["golden"]),
        .testTarget(name: "RewindStoreTests", dependencies: ["RewindStore", "RewindCore", "RewindSimulation", "RewindTestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "RewindSimulationTests", dependencies: ["RewindSimulation", "RewindCore", "RewindTestSupport"]),
        .testTarget(name: "RewindCommandTests", dependencies: [
            "RewindCommands", "RewindStore", "RewindCore", "RewindSimulation", "RewindTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
        ]),
    ]
)
