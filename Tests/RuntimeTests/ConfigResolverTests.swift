import Foundation
import Testing

@testable import Runtime

@Suite struct ConfigResolverTests {
    let resolver = ConfigResolver()

    func resolve(_ files: [(String, String)], dotenv: String? = nil, env: [String: String] = [:], flags: [ConfigOverride] = []) throws(ConfigError) -> ResolvedConfig {
        try resolver.resolve(
            files: files.map { .init(path: $0.0, text: $0.1) }, dotenv: dotenv.map { .init(path: ".env", text: $0) }, environment: env, overrides: flags)
    }

    func issues(_ files: [(String, String)], dotenv: String? = nil, env: [String: String] = [:], flags: [ConfigOverride] = []) -> [ConfigIssue] {
        do {
            _ = try resolve(files, dotenv: dotenv, env: env, flags: flags)
            return []
        } catch {
            return error.issues
        }
    }

    @Test func defaultsApplyWithNoFiles() throws {
        let config = GatewayConfig(try resolve([]))
        #expect(config.gateway.bind == "127.0.0.1")
        #expect(config.gateway.port == 18_789)
        #expect(config.gateway.auth == .token)
        #expect(config.resolved["gateway.port"].source == .defaults)
        #expect(config.webchat.maxMessageSize == 16 << 10)
    }

    @Test func layersApplyInOrderAndRecordTheirSource() throws {
        let resolved = try resolve(
            [("config.yaml", "gateway:\n  port: 1000\n  bind: 127.0.0.2\nlogging:\n  level: debug\n"), ("config.d/telegram.yaml", "gateway:\n  port: 2000\n")],
            dotenv: "SWIFTLET_GATEWAY__PORT=3000\nSWIFTLET_LOGGING__LEVEL=warning\n",
            env: ["SWIFTLET_GATEWAY__PORT": "4000"],
            flags: [ConfigOverride(path: "logging.format", value: "text", flag: "--set logging.format")])
        #expect(resolved.int("gateway.port") == 4000)
        #expect(resolved["gateway.port"].source == ConfigSource(.environment(variable: "SWIFTLET_GATEWAY__PORT")))
        #expect(resolved.string("gateway.bind") == "127.0.0.2")
        #expect(resolved["gateway.bind"].source == ConfigSource(.file(path: "config.yaml"), line: 3))
        #expect(resolved.string("logging.level") == "warning")
        #expect(resolved["logging.level"].source == ConfigSource(.dotenv(path: ".env", variable: "SWIFTLET_LOGGING__LEVEL"), line: 2))
        #expect(resolved.string("logging.format") == "text")
        #expect(resolved["logging.format"].source.description == "flag --set logging.format")
    }

    @Test func fragmentOverridesMainFile() throws {
        let resolved = try resolve([("config.yaml", "gateway:\n  port: 1000\n"), ("config.d/a.yaml", "gateway:\n  port: 2000\n")])
        #expect(resolved.int("gateway.port") == 2000)
        #expect(resolved["gateway.port"].source.description == "config.d/a.yaml:2")
    }

    @Test func flagsBeatEnvironment() throws {
        let resolved = try resolve([], env: ["SWIFTLET_GATEWAY__PORT": "4000"], flags: [ConfigOverride(path: "gateway.port", value: "5000", flag: "--port")])
        #expect(resolved.int("gateway.port") == 5000)
    }

    @Test func substitutesVariablesFromEnvironmentOverDotenv() throws {
        let yaml = "gateway:\n  public_url: \"https://${HOST}:${PORT:-443}/x$$y\"\ncontrol:\n  signing_key: ${KEY}\n"
        let resolved = try resolve([("config.yaml", yaml)], dotenv: "HOST=from-dotenv\nKEY=k-from-dotenv-0123456789", env: ["HOST": "from-env"])
        #expect(resolved.string("gateway.public_url") == "https://from-env:443/x$y")
        #expect(resolved.string("control.signing_key") == "k-from-dotenv-0123456789")
    }

    @Test func undefinedVariableNamesFileLineAndKey() {
        let found = issues([("config.yaml", "gateway:\n  bind: ${NOPE}\n")])
        #expect(found.count == 1)
        #expect(found[0].source == ConfigSource(.file(path: "config.yaml"), line: 2))
        #expect(found[0].keyPath == "gateway.bind")
        #expect(found[0].message.contains("undefined variable ${NOPE}"))
    }

    @Test func unterminatedAndInvalidSubstitutions() {
        #expect(issues([("c.yaml", "gateway:\n  bind: ${OPEN\n")]).first?.message.contains("unterminated") == true)
        #expect(issues([("c.yaml", "gateway:\n  bind: ${1BAD}\n")]).first?.message.contains("invalid variable name") == true)
    }

    @Test func unknownKeySuggestsTheClosestOne() {
        let found = issues([("config.yaml", "gateway:\n  prot: 1\n")])
        #expect(found.count == 1)
        #expect(found[0].keyPath == "gateway.prot")
        #expect(found[0].source.line == 2)
        #expect(found[0].message.contains("did you mean 'port'"))
    }

    @Test func unknownTopLevelSection() {
        let found = issues([("config.yaml", "gatewya:\n  port: 1\n")])
        #expect(found.first?.keyPath == "gatewya")
        #expect(found.first?.message.contains("did you mean 'gateway'") == true)
    }

    @Test func wrongTypesAreReportedWithExpectation() {
        let found = issues([("config.yaml", "gateway:\n  port: abc\n  dev: maybe\n  shutdown_grace: 10 parsecs\nlogging:\n  level: loud\n")])
        #expect(found.map(\.keyPath) == ["gateway.port", "gateway.dev", "gateway.shutdown_grace", "logging.level"])
        #expect(found[0].message == "expected an integer from 0 to 65535, found 'abc'")
        #expect(found[1].message.contains("true or false"))
        #expect(found[2].message.contains("duration"))
        #expect(found[3].message.contains("one of trace, debug"))
        #expect(found.map { $0.source.line } == [2, 3, 4, 6])
    }

    @Test func outOfRangeIntegerIsRefused() {
        #expect(issues([("c.yaml", "gateway:\n  port: 70000\n")]).first?.message.contains("0 to 65535") == true)
    }

    @Test func mappingWhereScalarExpectedAndScalarWhereSectionExpected() {
        let found = issues([("c.yaml", "gateway:\n  port:\n    nested: 1\nlogging: loud\n")])
        #expect(found.count == 2)
        #expect(found[0].message.contains("found a mapping"))
        #expect(found[1].keyPath == "logging")
        #expect(found[1].message.contains("expected a section"))
    }

    @Test func emptyValueIsAnError() {
        let found = issues([("c.yaml", "gateway:\n  port:\n")])
        #expect(found.first?.message.contains("has no value") == true)
    }

    @Test func emptySectionAndCommentOnlyFileAreFine() throws {
        _ = try resolve([("a.yaml", "# only comments\n"), ("b.yaml", ""), ("c.yaml", "gateway:\n")])
    }

    @Test func malformedYAMLReportsTheLine() {
        let found = issues([("config.yaml", "gateway:\n  port: 1\n bind: [unclosed\n")])
        #expect(found.count == 1)
        #expect(found[0].message.hasPrefix("invalid YAML"))
        #expect(found[0].source.line != nil)
    }

    @Test func duplicateKeysAreRefused() {
        let found = issues([("config.yaml", "gateway:\n  port: 1\n  port: 2\n")])
        #expect(found.first?.message.contains("duplicate key port") == true)
    }

    @Test func topLevelMustBeAMapping() {
        #expect(issues([("c.yaml", "- a\n- b\n")]).first?.message.contains("top level must be a mapping") == true)
    }

    @Test func unknownEnvironmentKeyIsAnErrorButUnrelatedVariablesAreIgnored() {
        let found = issues([], env: ["SWIFTLET_GATEWAY__PROT": "1", "SWIFTLET_HOME": "/x", "PATH": "/bin"])
        #expect(found.count == 1)
        #expect(found[0].source.description == "env SWIFTLET_GATEWAY__PROT")
        #expect(found[0].message.contains("did you mean 'port'"))
    }

    @Test func environmentValuesAreTypeChecked() {
        let found = issues([], env: ["SWIFTLET_GATEWAY__PORT": "eighty"])
        #expect(found.first?.keyPath == "gateway.port")
    }

    @Test func unknownFlagKeyIsAnError() {
        let found = issues([], flags: [ConfigOverride(path: "gateway.nope", value: "1", flag: "--set gateway.nope")])
        #expect(found.first?.source.description == "flag --set gateway.nope")
    }

    @Test func malformedDotenvLinesAreReported() {
        let found = issues([], dotenv: "GOOD=1\nthis line is wrong\n1BAD=2\nQ=\"open\n")
        #expect(found.map { $0.source.line } == [2, 3, 4])
    }

    @Test func allIssuesAreCollectedAcrossLayers() {
        let found = issues([("config.yaml", "gateway:\n  port: x\n"), ("config.d/b.yaml", "nope: 1\n")], env: ["SWIFTLET_LOGGING__LEVEL": "loud"])
        #expect(found.count == 3)
    }

    @Test func secretValuesAreNotEchoedInErrors() {
        // control.signing_key is a string, so it cannot be mistyped; a secret int would be. Check the redaction path directly.
        let schema = ConfigSchema(sections: [.init(path: "s", doc: "")], keys: [ConfigKey("s.pin", .int(0...9), default: .int(0), doc: "", secret: true)])
        do {
            _ = try ConfigResolver(schema: schema).resolve(files: [.init(path: "c.yaml", text: "s:\n  pin: hunter2\n")], environment: [:])
            Issue.record("expected an error")
        } catch {
            #expect(!error.description.contains("hunter2"))
        }
    }

    @Test func configShowRedactsSecrets() throws {
        let resolved = try resolve([("c.yaml", "control:\n  signing_key: super-secret-signing-key-material\n")])
        let rows = ConfigView.rows(resolved)
        let row = try #require(rows.first { $0.key == "control.signing_key" })
        #expect(row.value == SecretRedactor.placeholder)
        #expect(row.source == "c.yaml:2")
        #expect(rows.first { $0.key == "gateway.max_body_size" }?.value == "1MiB")
    }

    @Test func stringListsAcceptSequencesOnly() throws {
        let schema = ConfigSchema(sections: [.init(path: "s", doc: "")], keys: [ConfigKey("s.hosts", .stringList, default: .list([]), doc: "")])
        let resolved = try ConfigResolver(schema: schema).resolve(files: [.init(path: "c.yaml", text: "s:\n  hosts: [a, b]\n")], environment: ["SWIFTLET_S__HOSTS": "x, y"])
        #expect(resolved.list("s.hosts") == ["x", "y"])
        #expect(throws: ConfigError.self) { try ConfigResolver(schema: schema).resolve(files: [.init(path: "c.yaml", text: "s:\n  hosts: a\n")], environment: [:]) }
    }

    @Test func variableNameMapping() {
        #expect(ConfigResolver.keyPath(forVariable: "SWIFTLET_LOGGING__FILE__MAX_SIZE") == "logging.file.max_size")
        #expect(ConfigResolver.keyPath(forVariable: "SWIFTLET_HOME") == nil)
        #expect(ConfigResolver.variable(forKeyPath: "gateway.port") == "SWIFTLET_GATEWAY__PORT")
    }

    @Test func durationsAndSizesParse() {
        #expect(ConfigType.parseDuration("500ms") == .milliseconds(500))
        #expect(ConfigType.parseDuration("8h") == .seconds(8 * 3600))
        #expect(ConfigType.parseDuration("1d") == .seconds(86_400))
        #expect(ConfigType.parseDuration("5") == nil)
        #expect(ConfigType.parseByteSize("64KiB") == 65_536)
        #expect(ConfigType.parseByteSize("10MB") == 10_000_000)
        #expect(ConfigType.parseByteSize("12") == 12)
        #expect(ConfigType.parseByteSize("-1") == nil)
    }

    @Test func generatedTemplateAndRepositoryConfigValidate() throws {
        _ = try resolve([("template.yaml", ConfigTemplate.render(schema: .swiftlet))])
        let repoConfig = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("config.yaml")
        let text = try String(contentsOf: repoConfig, encoding: .utf8)
        #expect(text == ConfigTemplate.render(schema: .swiftlet), "config.yaml is stale: regenerate it with `swiftlet config reference --template > config.yaml`")
    }
}

@Suite struct ConfigTemplateTests {
    @Test func uncommentedTemplateIsAValidConfigWithTheDefaults() throws {
        let template = ConfigTemplate.render(schema: .swiftlet)
        let uncommented = template.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard let match = line.wholeMatch(of: /(\s*)# ([a-z_]+:( .*)?)/) else { return String(line) }
            return String(match.1) + String(match.2)
        }.joined(separator: "\n")
        let resolved = try ConfigResolver().resolve(files: [.init(path: "config.yaml", text: uncommented)], environment: [:])
        #expect(resolved.entryNames("providers") == ["openai"], "a named entry appears under an example name")
        for key in resolved.concreteKeys {
            #expect(resolved[key.path].value == key.defaultValue, "\(key.path)")
            #expect(resolved[key.path].source.layer == .file(path: "config.yaml"), "\(key.path) is missing from the template")
        }
    }
}
