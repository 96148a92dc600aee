public import Foundation
public import PluginAPI

/// The files of a new plugin package, as `swiftlet plugin new NAME --kind tool|channel` writes them: a package
/// that builds a `.dynamic` library against this checkout's PluginAPI, a plugin that works as it stands, a
/// test, and a README with the steps from build to hot reload.
///
/// The package names the PluginAPI folder by a path relative to itself, so the two can move together, and
/// `SWIFTLET_PLUGIN_API` overrides it when only one of them moves: an absolute path broke as soon as the checkout did.
public enum PluginScaffold {
    /// Why a scaffold cannot be made with these inputs.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// `my_tool` → `MyTool`: the product (`libMyTool.so`) and the Swift type prefix.
    public static func typeName(for name: String) -> String {
        name.split(whereSeparator: { $0 == "_" || $0 == "-" }).map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// Writes the files of ``files(name:kind:pluginAPIPath:)`` into `folder`, creating it and its subfolders, with the
    /// PluginAPI folder named relative to `folder`.
    public static func write(name: String, kind: PluginKind, pluginAPI: URL, into folder: URL) throws {
        let pluginAPIPath = relativePath(from: folder, to: pluginAPI)
        for (path, text) in try files(name: name, kind: kind, pluginAPIPath: pluginAPIPath).sorted(by: { $0.key < $1.key }) {
            let url = folder.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
    }

    /// Relative path → contents.
    ///
    /// - Parameters:
    ///   - name: the tools.json name (1 to 64 of a-z, 0-9, `_`, `-`, starting with a letter).
    ///   - kind: tool or channel.
    ///   - pluginAPIPath: the `PluginAPI` package folder the plugin builds against when `SWIFTLET_PLUGIN_API` is not
    ///     set (relative to the new package, or absolute); it must be the one the gateway was built from.
    public static func files(name: String, kind: PluginKind, pluginAPIPath: String) throws(Refusal) -> [String: String] {
        guard ToolsFile.isValidName(name), name.first?.isLetter == true else {
            throw Refusal(description: "'\(name)' is not a plugin name: 1 to 64 of a-z, 0-9, '_' and '-', starting with a letter")
        }
        let type = typeName(for: name)
        let target = type + "Plugin"
        var files = [
            "Package.swift": packageManifest(product: type, target: target, pluginAPIPath: pluginAPIPath),
            "Sources/\(target)/\(target).swift": kind == .tool ? toolSource(name: name, target: target) : channelSource(name: name, target: target),
            "Tests/\(target)Tests/\(target)Tests.swift": kind == .tool ? toolTest(name: name, target: target) : channelTest(target: target),
            "README.md": readme(name: name, product: type, kind: kind, pluginAPIPath: pluginAPIPath),
            ".gitignore": ".build/\nPackage.resolved\n*.so\n",
        ]
        files["tools-entry.json"] = """
            {
              "name": "\(name)",
              "file": "lib\(type).so",
              "isolation": "in-process",
              "permissions": { "timeout_seconds": 10 }
            }

            """
        return files
    }

    /// `target` as a path relative to the folder `base` ("../swiftlet/PluginAPI"); both are made absolute and
    /// symbolic links resolved first, so the path holds on disk.
    public static func relativePath(from base: URL, to target: URL) -> String {
        func components(_ url: URL) -> [String] {
            // The folders that do not exist yet (the new package) are appended to their nearest existing ancestor.
            var existing = url.standardizedFileURL
            var missing: [String] = []
            while !FileManager.default.fileExists(atPath: existing.path), existing.pathComponents.count > 1 {
                missing.insert(existing.lastPathComponent, at: 0)
                existing.deleteLastPathComponent()
            }
            return existing.resolvingSymlinksInPath().pathComponents.filter { $0 != "/" } + missing
        }
        let from = components(base)
        let to = components(target)
        var shared = 0
        while shared < min(from.count, to.count), from[shared] == to[shared] { shared += 1 }
        let path = Array(repeating: "..", count: from.count - shared) + to[shared...]
        return path.isEmpty ? "." : path.joined(separator: "/")
    }

    private static func packageManifest(product: String, target: String, pluginAPIPath: String) -> String {
        """
        // swift-tools-version:6.2
        import PackageDescription

        // Built against the PluginAPI of the swiftlet checkout that runs it: host, libPluginAPI.so and plugin must
        // come from the same toolchain. The path is relative to this package; when this package or the checkout has
        // moved, set SWIFTLET_PLUGIN_API to the checkout's PluginAPI folder. Plugins are never unloaded, hence -z nodelete.
        let pluginAPI = Context.environment["SWIFTLET_PLUGIN_API"] ?? "\(pluginAPIPath)"

        let package = Package(
            name: "\(product)",
            products: [
                .library(name: "\(product)", type: .dynamic, targets: ["\(target)"])
            ],
            dependencies: [
                .package(path: pluginAPI)
            ],
            targets: [
                .target(
                    name: "\(target)",
                    dependencies: [.product(name: "PluginAPI", package: "PluginAPI")],
                    linkerSettings: [.unsafeFlags(["-Xlinker", "-z", "-Xlinker", "nodelete"])]
                ),
                .testTarget(name: "\(target)Tests", dependencies: ["\(target)"]),
            ],
            swiftLanguageModes: [.v6]
        )

        """
    }

    private static func entryPoints(_ type: String) -> String {
        """
        @c(swiftlet_plugin_abi_version)
        public func abiVersion() -> Int32 { PluginABI.version }

        @c(swiftlet_plugin_create)
        public func createPlugin() -> UnsafeMutableRawPointer { PluginExport.retained(\(type)()) }

        """
    }

    private static func toolSource(name: String, target: String) -> String {
        """
        import Foundation
        import PluginAPI

        /// The `\(name)` tool plugin. Add functions to `functions` and handle them in `invoke`.
        public struct \(target): ToolPlugin {
            public let metadata = PluginMetadata(name: "\(name)", version: "0.1.0", kind: .tool)

            public let functions = [
                ToolFunction(
                    name: "\(name)",
                    description: "Counts the words of a text and says which is the longest.",
                    parameters: #"{"type":"object","properties":{"text":{"type":"string","description":"The text to look at."}},"required":["text"]}"#)
            ]

            public init() {}

            struct Arguments: Decodable {
                var text: String
            }

            public func invoke(_ call: ToolInvocation, context: any PluginContext) async throws -> String {
                let arguments = try call.decode(Arguments.self)
                let words = arguments.text.split(whereSeparator: { $0.isWhitespace || $0.isPunctuation })
                guard let longest = words.max(by: { $0.count < $1.count }) else { throw ToolFailure("the text has no words") }
                context.log(.info, "counted words", metadata: ["words": "\\(words.count)"])
                return "\\(words.count) words; the longest is \\"\\(longest)\\""
            }
        }

        \(entryPoints(target))
        """
    }

    private static func channelSource(name: String, target: String) -> String {
        """
        import Foundation
        import PluginAPI

        /// The `\(name)` channel plugin: connect `start` to your platform and hand what arrives to `context.inbound`;
        /// deliver replies in `send`.
        public struct \(target): ChannelPlugin {
            public let metadata = PluginMetadata(name: "\(name)", version: "0.1.0", kind: .channel)
            public let capabilities = ChannelCapabilities(textLimit: 4096, markup: .plain)

            public init() {}

            public func start(context: any PluginContext) async throws {
                context.log(.info, "started")
            }

            public func stop() async {}

            public func send(_ message: OutboundMessage, context: any PluginContext) async throws -> DeliveryReceipt {
                guard !message.text.isEmpty else { throw ChannelSendFailure("empty reply", retryable: false) }
                // Deliver message.text to message.target on your platform here (through context.http).
                context.log(.info, "reply", metadata: ["target": message.target, "key": message.idempotencyKey])
                return DeliveryReceipt(externalID: message.idempotencyKey)
            }
        }

        \(entryPoints(target))
        """
    }

    private static func toolTest(name: String, target: String) -> String {
        """
        import Foundation
        import PluginAPI
        import Testing

        @testable import \(target)

        /// A context with nothing granted, as a tools.json entry without permissions gives.
        struct DenyingContext: PluginContext {
            struct Files: PluginFiles {
                func read(_ path: String) throws -> Data { throw PluginAccessDenied(permission: "files.read", subject: path) }
                func write(_ path: String, _ data: Data) throws { throw PluginAccessDenied(permission: "files.write", subject: path) }
                func list(_ path: String) throws -> [String] { throw PluginAccessDenied(permission: "files.read", subject: path) }
                var readableRoots: [String] { [] }
                var writableRoots: [String] { [] }
            }
            struct HTTP: PluginHTTPClient {
                func send(_ request: PluginHTTPRequest) async throws -> PluginHTTPResponse { throw PluginAccessDenied(permission: "network", subject: request.url) }
            }
            struct Store: PluginKeyValueStore {
                func get(_ key: String) async throws -> String? { nil }
                func set(_ key: String, _ value: String) async throws {}
                func remove(_ key: String) async throws {}
            }
            struct Sink: InboundSink {
                func receive(_ message: InboundMessage) async throws { throw PluginAccessDenied(permission: "inbound", subject: message.sender) }
            }
            let pluginName = "\(name)"
            let configuration = "{}"
            let files: any PluginFiles = Files()
            let http: any PluginHTTPClient = HTTP()
            let store: any PluginKeyValueStore = Store()
            let inbound: any InboundSink = Sink()
            func log(_ level: PluginLogLevel, _ message: String, metadata: [String: String]) {}
            func secret(_ name: String) throws -> String { throw PluginAccessDenied(permission: "secrets", subject: name) }
            func environment(_ name: String) throws -> String? { throw PluginAccessDenied(permission: "env", subject: name) }
            func hmacSHA256(key: Data, message: Data) -> Data { Data() }
        }

        @Test func countsWords() async throws {
            let plugin = \(target)()
            let answer = try await plugin.invoke(ToolInvocation(function: "\(name)", arguments: #"{"text": "a quick brown fox"}"#), context: DenyingContext())
            #expect(answer == "4 words; the longest is \\"quick\\"")
        }

        @Test func refusesAnEmptyText() async throws {
            await #expect(throws: ToolFailure("the text has no words")) {
                try await \(target)().invoke(ToolInvocation(function: "\(name)", arguments: #"{"text": "  "}"#), context: DenyingContext())
            }
        }

        """
    }

    private static func channelTest(target: String) -> String {
        """
        import PluginAPI
        import Testing

        @testable import \(target)

        @Test func declaresItsCapabilities() {
            #expect(\(target)().capabilities.textLimit == 4096)
            #expect(\(target)().metadata.kind == .channel)
        }

        """
    }

    private static func readme(name: String, product: String, kind: PluginKind, pluginAPIPath: String) -> String {
        """
        # \(name)

        A swiftlet \(kind.rawValue) plugin. `<workspace>` below is the gateway's workspace folder (`--workspace` of
        `swiftlet gateway start`; `~/.swiftlet` by default).

        ```sh
        swift build -c release                                  # .build/release/lib\(product).so
        swift test                                              # the plugin's own tests
        cp .build/release/lib\(product).so <workspace>/Plugins/
        ```

        The package builds against the PluginAPI of the swiftlet checkout whose gateway loads it, found at
        `\(pluginAPIPath)` from this folder. If this folder or the checkout moves, point to it for the build:

        ```sh
        SWIFTLET_PLUGIN_API=/path/to/swiftlet/PluginAPI swift build -c release
        ```

        Add the entry of `tools-entry.json` to the `plugins` array of the workspace's `tools.json` (grant what the
        plugin needs under `permissions`: nothing is allowed by default), then load it without a restart:

        ```sh
        swiftlet plugins reload \(name) --workspace <workspace>
        swiftlet plugins list --workspace <workspace>
        ```

        After each rebuild, copy the `.so` again and run `swiftlet plugins reload \(name) --workspace <workspace>`: the
        new build replaces the old one without dropping a call, and a build that does not load is refused while the
        old one serves.
        \(kind == .channel ? "\nThe gateway starts channel plugins at load and stops them at reload and shutdown; webhooks reach `webhook(_:context:)` at /channels/<name>/webhook.\n" : "")
        """
    }
}
