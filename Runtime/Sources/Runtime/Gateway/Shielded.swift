/// Runs `work` in a task of its own and waits for it: cancelling the caller does not cut it.
///
/// GRDB refuses writes from a cancelled task (its `pool.write`; the group commit of the message path runs in a task
/// of its own already), so the final flush at shutdown runs shielded; what it waits on is bounded by the store's busy
/// timeout.
func shielded<T: Sendable>(_ work: @escaping @Sendable () async -> T) async -> T {
    await Task { await work() }.value
}

