/// A deliberately simple stand-in for the agent, used until model providers are configured.
///
/// It never pretends to be a model: every reply says what it is.
public struct BuiltinResponder: Sendable {
    public static let author = "builtin:echo"

    public init() {}

    /// - Parameters:
    ///   - text: the user's message.
    ///   - turn: how many user messages this session has, this one included.
    public func reply(to text: String, turn: Int) -> String {
        "[built-in echo responder: no model provider is configured yet] You said: \"\(text)\" (message \(turn) in this session)."
    }
}
