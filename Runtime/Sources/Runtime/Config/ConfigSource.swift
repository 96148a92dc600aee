/// Where one configuration value came from.
///
/// Every effective value carries its source so that `swiftlet config show` can explain it and so that
/// validation errors can point at the file and line a user has to edit.
public struct ConfigSource: Sendable, Hashable, CustomStringConvertible {
    public enum Layer: Sendable, Hashable {
        /// The built-in default compiled into swiftlet.
        case defaults
        /// A YAML file: `config.yaml` or one of `config.d/*.yaml`.
        case file(path: String)
        /// A `SWIFTLET_<SECTION>__<KEY>` variable read from the workspace `.env` file.
        case dotenv(path: String, variable: String)
        /// A `SWIFTLET_<SECTION>__<KEY>` variable from the process environment.
        case environment(variable: String)
        /// A command-line flag.
        case flag(name: String)
    }

    public var layer: Layer
    /// 1-based line in a file layer, when known.
    public var line: Int?

    public init(_ layer: Layer, line: Int? = nil) {
        self.layer = layer
        self.line = line
    }

    public static let defaults = ConfigSource(.defaults)

    public var description: String {
        switch layer {
        case .defaults: "default"
        case .file(let path): line.map { "\(path):\($0)" } ?? path
        case .dotenv(let path, let variable): line.map { "\(path):\($0) (\(variable))" } ?? "\(path) (\(variable))"
        case .environment(let variable): "env \(variable)"
        case .flag(let name): "flag \(name)"
        }
    }
}
