/// The release of this build, shown by `--version`, `/ready`, status and the web chat.
public enum SwiftletVersion {
    public static let current = "0.1.0"
}
