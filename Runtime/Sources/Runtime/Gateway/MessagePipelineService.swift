import ServiceLifecycle

/// Runs the pipeline's background work: replies left by the last run, resume at start, outbox retries, batched
/// trace and delivery writes; at shutdown it drains the lanes within `gateway.shutdown_grace` and flushes.
struct MessagePipelineService: Service {
    let pipeline: MessagePipeline
    let grace: Duration
    /// Runs once no turn will answer anything more in this run (webhook callers still waiting are let go).
    let onDrained: @Sendable () -> Void

    func run() async throws {
        let pipeline = self.pipeline
        // Replies a crash or stop left undelivered are handed over first: a session's new replies queue behind them.
        await pipeline.outbox.deliverDue(waiting: false)
        await pipeline.resumePending()
        await cancelWhenGracefulShutdown {
            var tick = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                // Shutting down: the store refuses writes from this cancelled task; the final flush below writes.
                if Task.isCancelled { break }
                await pipeline.traces.flush()
                await pipeline.outbox.flushSent()
                tick += 1
                if tick % 10 == 0 { await pipeline.outbox.deliverDue(waiting: false) }
            }
        }
        await pipeline.drain(until: .now + grace)
        onDrained()
        await shielded { await pipeline.flush() }
    }
}
