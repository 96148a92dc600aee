// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

// Plugins are never unloaded (see ../shared/FACTS.md): linked with -z nodelete as well as opened RTLD_NODELETE.
let pluginLinkerSettings: [LinkerSetting] = [.unsafeFlags(["-Xlinker", "-z", "-Xlinker", "nodelete"])]

/// A plugin: a dynamic library product over one target that links the shared PluginAPI.
func plugin(_ product: String, target: String, path: String) -> (Product, Target) {
    (
        .library(name: product, type: .dynamic, targets: [target]),
        .target(
            name: target, dependencies: [.product(name: "PluginAPI", package: "PluginAPI")], path: path, swiftSettings: swiftSettings,
            linkerSettings: pluginLinkerSettings)
    )
}

let plugins = [
    plugin("FileSearch", target: "FileSearchPlugin", path: "Plugins/FileSearch"),
    plugin("FileSystem", target: "FileSystemPlugin", path: "Plugins/FileSystem"),
    plugin("HTTPFetch", target: "HTTPFetchPlugin", path: "Plugins/HTTPFetch"),
    plugin("Slack", target: "SlackPlugin", path: "Plugins/Slack"),
    plugin("WhatsApp", target: "WhatsAppPlugin", path: "Plugins/WhatsApp"),
    plugin("Telegram", target: "TelegramPlugin", path: "Plugins/Telegram"),
    // Test fixtures: loaded by RuntimeTests from the build folder.
    plugin("FixtureToolPlugin", target: "FixtureToolPlugin", path: "Tests/Fixtures/FixtureToolPlugin"),
    plugin("FixtureABIMismatchPlugin", target: "FixtureABIMismatchPlugin", path: "Tests/Fixtures/FixtureABIMismatchPlugin"),
]

let package = Package(
    name: "swiftlet",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "swiftlet", targets: ["swiftlet"]),
        .library(name: "Runtime", targets: ["Runtime"]),
        .executable(name: "swiftlet-skill-launch", targets: ["swiftlet-skill-launch"]),
        .executable(name: "swiftlet-fake-provider", targets: ["swiftlet-fake-provider"]),
        .executable(name: "swiftlet-load", targets: ["swiftlet-load"]),
        .executable(name: "swiftlet-channel-load", targets: ["swiftlet-channel-load"]),
        .executable(name: "swiftlet-plugin-bench", targets: ["swiftlet-plugin-bench"]),
        .executable(name: "swiftlet-skill-bench", targets: ["swiftlet-skill-bench"]),
    ] + plugins.map(\.0),
    dependencies: [
        .package(path: "PluginAPI"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.5.0"),
    ],
    targets: [
        // The kernel filters the sandboxed plugin host installs on itself (seccomp needs variadic C calls).
        .target(name: "CSandbox", path: "Runtime/Sources/CSandbox"),
        // The first program of every skill sandbox: limits, unprivileged uid, exec rule, proxy relay (C: fast to start).
        .executableTarget(
            name: "swiftlet-skill-launch", dependencies: ["CSandbox"], path: "Runtime/Sources/SkillLaunch", cSettings: [.unsafeFlags(["-Wall", "-Werror"])],
            // SwiftPM links every executable with the Swift runtime: statically here, so no Swift library is mounted.
            linkerSettings: [.unsafeFlags(["-static-stdlib"])]),
        .target(
            name: "Runtime",
            dependencies: [
                "CSandbox",
                .product(name: "PluginAPI", package: "PluginAPI"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            path: "Runtime/Sources/Runtime",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "swiftlet",
            dependencies: [
                "Runtime",
                .product(name: "PluginAPI", package: "PluginAPI"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Runtime/Sources/swiftlet",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FakeProviders",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "bench/Sources/FakeProviders",
            swiftSettings: swiftSettings
        ),
        // Local fakes of the chat platforms' APIs (Telegram, Slack, WhatsApp, callbacks), for tests and benchmarks.
        .target(
            name: "FakePlatforms",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "bench/Sources/FakePlatforms",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "swiftlet-fake-provider",
            dependencies: [
                "FakeProviders",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "bench/Sources/FakeProviderServer",
            swiftSettings: swiftSettings
        ),
        // What the benchmark drivers share: percentiles, the gateway's memory, the open-file limit.
        .target(name: "BenchSupport", path: "bench/Sources/BenchSupport", swiftSettings: swiftSettings),
        .executableTarget(
            name: "swiftlet-load",
            dependencies: [
                "BenchSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            path: "bench/Sources/LoadDriver",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "swiftlet-channel-load",
            dependencies: [
                "BenchSupport", "FakePlatforms",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "bench/Sources/ChannelLoad",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "swiftlet-plugin-bench",
            dependencies: ["Runtime", .product(name: "Logging", package: "swift-log")],
            path: "bench/Sources/PluginBench",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "swiftlet-skill-bench",
            dependencies: [
                "Runtime", .product(name: "Logging", package: "swift-log"), .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "bench/Sources/SkillBench",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RuntimeTests",
            dependencies: [
                "Runtime",
                "FakeProviders",
                "FakePlatforms",
                .product(name: "PluginAPI", package: "PluginAPI"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/RuntimeTests",
            swiftSettings: swiftSettings
        ),
    ] + plugins.map(\.1),
    swiftLanguageModes: [.v6]
)
