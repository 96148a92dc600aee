import Testing

@testable import Runtime

@Suite struct ProviderConfigTests {
    private func resolve(_ yaml: String = "", env: [String: String] = [:]) throws(ConfigError) -> ResolvedConfig {
        try ConfigResolver().resolve(files: yaml.isEmpty ? [] : [.init(path: "config.yaml", text: yaml)], environment: env)
    }

    private func issues(_ yaml: String = "", env: [String: String] = [:]) -> [ConfigIssue] {
        do {
            _ = try resolve(yaml, env: env)
            return []
        } catch {
            return error.issues
        }
    }

    private static let entryFields = [
        "api_key", "base_url", "connect_timeout", "context_window", "extra_body", "first_token_timeout", "idle_timeout", "kind", "tool_choice",
        "total_timeout",
    ]

    @Test func entryKeyResolvesThroughThePattern() throws {
        let resolved = try resolve("providers:\n  openai:\n    kind: anthropic\n    api_key: sk-test\n")
        #expect(resolved.string("providers.openai.kind") == "anthropic")
        #expect(resolved["providers.openai.kind"].source == ConfigSource(.file(path: "config.yaml"), line: 3))
        #expect(resolved.string("providers.openai.api_key") == "sk-test")
    }

    @Test func everyKeyOfAMentionedEntryGetsItsDefault() throws {
        let resolved = try resolve("providers:\n  openai:\n    api_key: sk-test\n")
        let keys = resolved.values.keys.filter { $0.hasPrefix("providers.openai.") }.sorted()
        #expect(keys == Self.entryFields.map { "providers.openai.\($0)" })
        #expect(resolved.string("providers.openai.kind") == "openai")
        #expect(resolved["providers.openai.kind"].source == .defaults)
        #expect(resolved.string("providers.openai.base_url") == "")
        #expect(resolved.int("providers.openai.context_window") == 32_768)
        #expect(resolved.duration("providers.openai.connect_timeout") == .seconds(10))
        #expect(resolved.duration("providers.openai.first_token_timeout") == .seconds(60))
        #expect(resolved.duration("providers.openai.idle_timeout") == .seconds(30))
        #expect(resolved.duration("providers.openai.total_timeout") == .seconds(300))
    }

    @Test func noProvidersMeansNoEntryKeys() throws {
        let resolved = try resolve()
        #expect(resolved.entryNames("providers") == [])
        #expect(!resolved.values.keys.contains { $0.hasPrefix("providers.") })
    }

    @Test func environmentVariableCreatesAnEntry() throws {
        let resolved = try resolve(env: ["SWIFTLET_PROVIDERS__LOCAL__BASE_URL": "http://127.0.0.1:8080/v1"])
        #expect(resolved.entryNames("providers") == ["local"])
        #expect(resolved.string("providers.local.base_url") == "http://127.0.0.1:8080/v1")
        #expect(resolved["providers.local.base_url"].source == ConfigSource(.environment(variable: "SWIFTLET_PROVIDERS__LOCAL__BASE_URL")))
        #expect(resolved.string("providers.local.kind") == "openai")
        #expect(resolved.duration("providers.local.idle_timeout") == .seconds(30))
    }

    @Test func environmentVariableOverridesTheFileForOneKeyOfAnEntry() throws {
        let resolved = try resolve(
            "providers:\n  local:\n    kind: ollama\n    base_url: http://a:11434\n", env: ["SWIFTLET_PROVIDERS__LOCAL__BASE_URL": "http://b:11434"])
        #expect(resolved.string("providers.local.base_url") == "http://b:11434")
        #expect(resolved.string("providers.local.kind") == "ollama")
    }

    @Test func entryNamesAreSortedAcrossLayers() throws {
        let resolved = try resolve(
            "providers:\n  openai:\n    api_key: k\n  anthropic:\n    kind: anthropic\n", env: ["SWIFTLET_PROVIDERS__LOCAL_LLM__KIND": "ollama"])
        #expect(resolved.entryNames("providers") == ["anthropic", "local_llm", "openai"])
    }

    @Test func invalidEntryNameInAFileIsAnError() {
        let found = issues("providers:\n  Bad-Name:\n    kind: openai\n")
        #expect(found.count == 1)
        #expect(found.first?.keyPath == "providers.Bad-Name")
        #expect(found.first?.source == ConfigSource(.file(path: "config.yaml"), line: 2))
    }

    @Test func invalidEntryNameInTheEnvironmentIsAnError() {
        let found = issues(env: ["SWIFTLET_PROVIDERS__BAD-NAME__KIND": "openai"])
        #expect(found.count == 1)
        #expect(found.first?.keyPath == "providers.bad-name.kind")
    }

    @Test func entryNameRules() {
        #expect(ConfigKey.isValidEntryName("openai"))
        #expect(ConfigKey.isValidEntryName("local_llm2"))
        #expect(!ConfigKey.isValidEntryName("Bad-Name"))
        #expect(!ConfigKey.isValidEntryName("OpenAI"))
        #expect(!ConfigKey.isValidEntryName(""))
        #expect(!ConfigKey.isValidEntryName(String(repeating: "a", count: 65)))
        #expect(!ConfigKey.isValidEntryName("café"))
    }

    @Test func entryValuesAreTypeChecked() {
        let found = issues("providers:\n  openai:\n    kind: gemini\n    context_window: 100\n")
        #expect(found.map(\.keyPath) == ["providers.openai.kind", "providers.openai.context_window"])
        #expect(found.first?.message == "expected one of openai, anthropic, ollama, found 'gemini'")
    }

    @Test func unknownKeyInsideAnEntrySuggestsTheClosest() {
        let found = issues("providers:\n  openai:\n    base_ur: http://x\n")
        #expect(found.count == 1)
        #expect(found.first?.keyPath == "providers.openai.base_ur")
        #expect(found.first?.message.contains("did you mean 'base_url'") == true)
    }

    @Test func patternKeyComesBackWithTheEntryNameFilledIn() {
        let schema = ConfigSchema.swiftlet
        #expect(schema.key("providers.openai.api_key")?.isSecret == true)
        #expect(schema.key("providers.openai.api_key")?.path == "providers.openai.api_key")
        #expect(schema.key("providers.Bad.api_key") == nil)
    }

    /// An entry written with no keys is still an entry: `agent.models` may name it, and it gets the defaults.
    @Test func entryWithoutKeysIsStillAnEntry() throws {
        let resolved = try resolve("providers:\n  openai:\n")
        #expect(resolved.entryNames("providers") == ["openai"])
    }

    @Test func gatewayConfigBuildsProviderSettings() throws {
        let config = GatewayConfig(
            try resolve("providers:\n  claude:\n    kind: anthropic\n    api_key: k\n    idle_timeout: 5s\n  local:\n    kind: ollama\n    context_window: 8192\n"))
        #expect(
            config.providers == [
                ProviderSettings(
                    name: "claude", kind: .anthropic, baseURL: "https://api.anthropic.com", apiKey: "k",
                    timeouts: ProviderTimeouts(idle: .seconds(5))),
                ProviderSettings(name: "local", kind: .ollama, baseURL: "http://127.0.0.1:11434", contextWindow: 8192),
            ])
    }

    @Test func crossKeyIssuesNameUnknownProvidersAndBadRefs() throws {
        let resolved = try resolve("providers:\n  openai:\n    api_key: k\nagent:\n  models: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5, gpt-4o]\n")
        let found = GatewayConfig.crossKeyIssues(resolved)
        #expect(found.map(\.keyPath) == ["agent.models", "agent.models"])
        #expect(found.map(\.message) == [
            "'anthropic/claude-sonnet-4-5' names provider 'anthropic', which is not under providers: (configured: openai)",
            "'gpt-4o' is not a model ref; write provider/model, e.g. openai/gpt-4o-mini",
        ])
        #expect(found.first?.source == ConfigSource(.file(path: "config.yaml"), line: 5))
    }

    @Test func crossKeyIssuesWithNoProvidersSayNone() throws {
        let found = GatewayConfig.crossKeyIssues(try resolve("agent:\n  models: [openai/gpt-4o-mini]\n"))
        #expect(found.map(\.message) == ["'openai/gpt-4o-mini' names provider 'openai', which is not under providers: (configured: none)"])
    }

    @Test func noCrossKeyIssuesWhenEveryModelHasItsProvider() throws {
        let resolved = try resolve(
            "providers:\n  openrouter:\n    api_key: k\nagent:\n  models: [openrouter/meta-llama/llama-3-70b]\n",
            env: ["SWIFTLET_PROVIDERS__LOCAL__KIND": "ollama", "SWIFTLET_AGENT__MODELS": "local/llama3.2:3b, openrouter/x"])
        #expect(GatewayConfig.crossKeyIssues(resolved) == [])
        #expect(GatewayConfig(resolved).agent.models == [ModelRef(provider: "local", model: "llama3.2:3b"), ModelRef(provider: "openrouter", model: "x")])
    }

    @Test func modelRefSplitsAtTheFirstSlash() {
        #expect(ModelRef("openrouter/meta-llama/llama-3-70b") == ModelRef(provider: "openrouter", model: "meta-llama/llama-3-70b"))
        #expect(ModelRef(" local/llama3.2:3b ") == ModelRef(provider: "local", model: "llama3.2:3b"))
        #expect(ModelRef("gpt-4o") == nil)
        #expect(ModelRef("/gpt-4o") == nil)
        #expect(ModelRef("openai/") == nil)
    }
}
