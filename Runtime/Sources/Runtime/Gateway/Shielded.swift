/// Runs `work` in a task of its own and waits for it: cancelling the caller does not cut it.
///
/// GRDB refuses writes from a cancelled task, and a reply half delivered is worse than one delivered late, so the
/// ends of turns and the final flushes run shielded; what they wait on is bounded by the store's busy timeout and
/// the channels' own timeouts.
func shielded<T: Sendable>(_ work: @escaping @Sendable () async -> T) async -> T {
    await Task { await work() }.value
}

/// ``shielded(_:)`` for work that throws.
func shielded<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
    try await Task { try await work() }.value
}
