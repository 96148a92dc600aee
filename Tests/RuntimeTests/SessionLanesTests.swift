import Foundation
import Synchronization
import Testing

@testable import Runtime

/// One ordered lane per session, lanes in parallel, bounded overall.
@Suite struct SessionLanesTests {
    final class Recorder: Sendable {
        let events = Mutex<[String]>([])
        let running = Atomic(0)
        let peak = Atomic(0)
        /// Work holds until released, so a test can look at what runs at once without depending on timing.
        let released = Atomic(false)

        func work(_ entries: [JournalEntry]) async {
            let names = entries.map(\.id).joined(separator: "+")
            let now = running.add(1, ordering: .relaxed).newValue
            peak.store(max(peak.load(ordering: .relaxed), now), ordering: .relaxed)
            events.withLock { $0.append("start \(names)") }
            while !released.load(ordering: .relaxed) { try? await Task.sleep(for: .milliseconds(2)) }
            events.withLock { $0.append("end \(names)") }
            running.subtract(1, ordering: .relaxed)
        }

        /// Waits until `count` turns run at once, checks no more start, then lets everything finish.
        func holdUntilRunning(_ count: Int) async throws -> Int {
            let deadline = ContinuousClock.now + .seconds(10)
            while running.load(ordering: .relaxed) < count, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(2)) }
            try await Task.sleep(for: .milliseconds(50))
            let seen = running.load(ordering: .relaxed)
            released.store(true, ordering: .relaxed)
            return seen
        }
    }

    static func entry(_ id: String, session: String) -> JournalEntry {
        JournalEntry(id: id, channel: "test", sessionKey: session, sessionID: session, peer: "p", sender: "p", text: id, replyTarget: "")
    }

    @Test func oneSessionRunsInOrderOneAtATimeWhileSessionsRunInParallel() async throws {
        let recorder = Recorder()
        let lanes = SessionLanes(limit: 8)
        for index in 1...4 {
            await lanes.enqueue(Self.entry("a\(index)", session: "A"), work: recorder.work)
            await lanes.enqueue(Self.entry("b\(index)", session: "B"), work: recorder.work)
        }
        #expect(try await recorder.holdUntilRunning(2) == 2, "a1 and b1 run side by side, a2 waits for a1")
        await lanes.waitUntilIdle()
        let events = recorder.events.withLock { $0 }
        let laneA = events.filter { $0.hasSuffix("a1") || $0.hasSuffix("a2") || $0.hasSuffix("a3") || $0.hasSuffix("a4") }
        #expect(laneA == ["start a1", "end a1", "start a2", "end a2", "start a3", "end a3", "start a4", "end a4"])
        #expect(recorder.peak.load(ordering: .relaxed) == 2)
    }

    @Test func concurrencyIsBoundedAcrossSessions() async throws {
        let recorder = Recorder()
        let lanes = SessionLanes(limit: 3)
        for index in 0..<12 { await lanes.enqueue(Self.entry("m\(index)", session: "s\(index)"), work: recorder.work) }
        #expect(try await recorder.holdUntilRunning(3) == 3)
        await lanes.waitUntilIdle()
        #expect(recorder.peak.load(ordering: .relaxed) == 3)
        #expect(recorder.events.withLock { $0.count } == 24)
    }

    @Test func anEntryQueuedTwiceRunsOnce() async throws {
        let recorder = Recorder()
        let lanes = SessionLanes(limit: 2)
        let entry = Self.entry("x", session: "S")
        await lanes.enqueue(entry, work: recorder.work)
        await lanes.enqueue(entry, work: recorder.work)  // while the first is queued or running, as a resume racing a live turn would
        #expect(try await recorder.holdUntilRunning(1) == 1)
        await lanes.waitUntilIdle()
        #expect(recorder.events.withLock { $0 } == ["start x", "end x"])
    }

    @Test func cancellingTheRunningTurnLeavesTheRestOfTheLane() async throws {
        let started = Atomic(0)
        let lanes = SessionLanes(limit: 2)
        let work: SessionLanes.Work = { entries in
            started.add(1, ordering: .relaxed)
            if entries.first?.id == "slow" { try? await Task.sleep(for: .seconds(30)) }
        }
        await lanes.enqueue(Self.entry("slow", session: "S"), work: work)
        await lanes.enqueue(Self.entry("next", session: "S"), work: work)
        while started.load(ordering: .relaxed) == 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(await lanes.stop(session: "S") == "slow")
        await lanes.waitUntilIdle()
        #expect(started.load(ordering: .relaxed) == 2)
        #expect(await lanes.stop(session: "S") == nil)
    }

    @Test func collectTakesTheWaitingMessagesOfALaneTogetherButNeverACommand() async throws {
        let recorder = Recorder()
        let lanes = SessionLanes(limit: 4)
        for id in ["a1", "a2", "a3", "/new", "a4"] { await lanes.enqueue(Self.entry(id, session: "A"), collect: 10, work: recorder.work) }
        #expect(try await recorder.holdUntilRunning(1) == 1)
        await lanes.waitUntilIdle()
        #expect(recorder.events.withLock { $0 } == ["start a1", "end a1", "start a2+a3", "end a2+a3", "start /new", "end /new", "start a4", "end a4"])
    }

    @Test func aRunningTurnCanTakeTheMessagesWaitingBehindIt() async throws {
        let lanes = SessionLanes(limit: 2)
        let taken = Mutex<[String]>([])
        let gate = Atomic(false)
        let work: SessionLanes.Work = { entries in
            guard entries.first?.id == "a1" else { return }
            while !gate.load(ordering: .relaxed) { try? await Task.sleep(for: .milliseconds(2)) }
            let joined = await lanes.steer(session: "A", limit: 10)
            taken.withLock { $0 = joined.map(\.id) }
        }
        for id in ["a1", "a2", "a3", "/status", "a4"] { await lanes.enqueue(Self.entry(id, session: "A"), work: work) }
        gate.store(true, ordering: .relaxed)
        await lanes.waitUntilIdle()
        #expect(taken.withLock { $0 } == ["a2", "a3"], "the command and what follows it wait for their own turns")
        #expect(await lanes.queued == 0)
        #expect(await lanes.steer(session: "A", limit: 10).isEmpty, "no turn runs: nothing to steer")
    }

    @Test func aClosedLaneStartsNothingAndIsIdleOnceRunningTurnsEnd() async throws {
        let recorder = Recorder()
        let lanes = SessionLanes(limit: 1)
        await lanes.enqueue(Self.entry("a1", session: "A"), work: recorder.work)
        await lanes.enqueue(Self.entry("b1", session: "B"), work: recorder.work)
        await lanes.close()
        #expect(try await recorder.holdUntilRunning(1) == 1)
        await lanes.waitUntilIdle()
        #expect(recorder.events.withLock { $0 } == ["start a1", "end a1"])
        #expect(await lanes.queued == 1, "b1 stays queued (pending in the journal) for the next start")
    }

    @Test func aStopBelongsToTheTurnItCutNotToItsSession() async throws {
        let lanes = SessionLanes(limit: 2)
        let gate = Atomic(false)
        let work: SessionLanes.Work = { entries in
            guard entries.first?.id == "first" else { return }
            while !gate.load(ordering: .relaxed), !Task.isCancelled { try? await Task.sleep(for: .milliseconds(2)) }
        }
        await lanes.enqueue(Self.entry("first", session: "S"), work: work)
        while await lanes.running == 0 { try await Task.sleep(for: .milliseconds(2)) }
        #expect(await lanes.stop(session: "S") == "first")
        #expect(await lanes.wasStopped(session: "S", turn: "first"))
        await lanes.waitUntilIdle()
        // The next turn of the session is not taken for a stopped one (a shutdown must leave it pending).
        let seen = Mutex<Bool?>(nil)
        await lanes.enqueue(Self.entry("second", session: "S")) { _ in seen.withLock { $0 = false } }
        await lanes.waitUntilIdle()
        #expect(seen.withLock { $0 } == false)
        #expect(await lanes.wasStopped(session: "S", turn: "second") == false)
        #expect(await lanes.wasStopped(session: "S", turn: "first") == false, "forgotten with its turn")
    }
}
