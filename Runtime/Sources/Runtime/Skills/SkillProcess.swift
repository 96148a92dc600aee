import Foundation
import Subprocess
import Synchronization

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// Runs one sandboxed skill process: the input on standard input, standard output collected up to a limit,
/// standard error line by line, a wall-clock deadline. Past the deadline or the output limit, or when the caller
/// is cancelled, the whole sandbox is killed (every process in its PID namespace, whatever it forked).
enum SkillProcess {
    struct Result: Sendable, Equatable {
        enum Ending: Sendable, Equatable {
            case exited(Int32)
            case signaled(Int32)
        }

        var ending: Ending
        var output: [UInt8]
        /// The last lines of standard error.
        var errorTail: [String]
        var timedOut: Bool
        var outputExceeded: Bool
        var cancelled: Bool
        var elapsed: Duration
    }

    /// What the tasks of one run share.
    private final class Flags: Sendable {
        /// The pid started: bwrap's (the script's own with `sandbox: none`), 0 until it started.
        let pid = Atomic<Int32>(0)
        let timedOut = Atomic<Bool>(false)
        let exceeded = Atomic<Bool>(false)
        let cancelled = Atomic<Bool>(false)
        let finished = Atomic<Bool>(false)
    }

    /// How many lines of standard error are kept to explain a failure.
    static let errorTailLines = 20
    static let maxErrorLineBytes = 2000

    /// - Parameters:
    ///   - environment: the process's whole environment.
    ///   - unsandboxed: for a skill with `sandbox: none`: the process then leads a session of its own, which is
    ///     killed as a process group (a process that leaves it escapes: there is no sandbox), in a fresh working
    ///     folder (also its HOME and TMPDIR) removed afterwards.
    ///   - errorLine: receives each line of standard error (to log it).
    static func run(
        executable: String, arguments: [String], environment: [(name: String, value: String)], input: [UInt8], timeout: Duration, outputLimit: Int,
        unsandboxed: Bool = false, errorLine: @escaping @Sendable (String) -> Void
    ) async throws -> Result {
        var options = PlatformOptions()
        var variables = environment
        var workingDirectory: FilePath?
        if unsandboxed {
            options.createSession = true
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-skill-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            workingDirectory = FilePath(folder.path)
            variables = variables.filter { $0.name != "HOME" && $0.name != "TMPDIR" } + [("HOME", folder.path), ("TMPDIR", folder.path)]
        }
        // Each entry is handed to strdup: it must end with a NUL byte.
        let environment = Environment.custom(variables.map { Array("\($0.name)=\($0.value)".utf8) + [0] })
        defer { if let workingDirectory { try? FileManager.default.removeItem(atPath: workingDirectory.string) } }
        let (platformOptions, processEnvironment, processDirectory) = (options, environment, workingDirectory)
        let kill: @Sendable (Int32) -> Void = { pid in
            if unsandboxed {
                if pid > 0 { _ = Glibc.kill(-pid, SIGKILL) }
            } else {
                SandboxProcess.killSandbox(bubblewrap: pid)
            }
        }
        let flags = Flags()
        let started = ContinuousClock.now
        let collected = try await withTaskCancellationHandler {
            try await withThrowingTaskGroup(of: ([UInt8], [String], TerminationStatus)?.self) { group in
                group.addTask {
                    defer { flags.finished.store(true, ordering: .releasing) }
                    let result = try await Subprocess.run(
                        .path(FilePath(executable)), arguments: Arguments(arguments), environment: processEnvironment, workingDirectory: processDirectory,
                        platformOptions: platformOptions, input: .inputWriter,
                        output: .sequence, error: .sequence
                    ) { execution in
                        flags.pid.store(execution.processIdentifier.value, ordering: .releasing)
                        return await withTaskGroup(of: [String].self) { streams in
                            streams.addTask {
                                // A skill that never reads its input must not block the run: failures to write are ignored.
                                let writer = execution.standardInputWriter
                                _ = try? await writer.write(input)
                                try? await writer.finish()
                                return []
                            }
                            streams.addTask {
                                var splitter = LineSplitter(maxLineBytes: maxErrorLineBytes)
                                var tail: [String] = []
                                func keep(_ line: String) {
                                    errorLine(line)
                                    tail.append(line)
                                    if tail.count > errorTailLines { tail.removeFirst() }
                                }
                                do {
                                    for try await buffer in execution.standardError {
                                        for line in buffer.withUnsafeBytes({ splitter.append($0) }) { keep(line) }
                                    }
                                } catch {}
                                if let rest = splitter.finish() { keep(rest) }
                                return tail
                            }
                            var output: [UInt8] = []
                            do {
                                for try await buffer in execution.standardOutput {
                                    buffer.withUnsafeBytes { output.append(contentsOf: $0.prefix(outputLimit + 1 - output.count)) }
                                    if output.count > outputLimit {
                                        flags.exceeded.store(true, ordering: .relaxed)
                                        kill(flags.pid.load(ordering: .acquiring))
                                        break
                                    }
                                }
                            } catch {}
                            var tail: [String] = []
                            for await lines in streams { tail += lines }
                            return (output, tail)
                        }
                    }
                    return (result.closureResult.0, result.closureResult.1, result.terminationStatus)
                }
                // The killer: past the deadline, or when the caller is cancelled, it kills the sandbox until the
                // process has ended (again and again, so a kill that raced the sandbox's start is not lost).
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    guard !flags.finished.load(ordering: .acquiring) else { return nil }
                    if !Task.isCancelled { flags.timedOut.store(true, ordering: .relaxed) }
                    while !flags.finished.load(ordering: .acquiring) {
                        kill(flags.pid.load(ordering: .acquiring))
                        // Not cancellable: this task may already be cancelled, and must still wait between kills.
                        await Task.detached { try? await Task.sleep(for: .milliseconds(50)) }.value
                    }
                    return nil
                }
                while let next = try await group.next() {
                    if let finished = next {
                        group.cancelAll()
                        return finished
                    }
                }
                throw CancellationError()
            }
        } onCancel: {
            flags.cancelled.store(true, ordering: .relaxed)
            // Not once it ended: its pid may belong to another process by now. (The killer task goes on killing until
            // the end, should this come before the sandbox had started.)
            if !flags.finished.load(ordering: .acquiring) { kill(flags.pid.load(ordering: .acquiring)) }
        }
        let ending: Result.Ending =
            switch collected.2 {
            case .exited(let code): .exited(code)
            case .signaled(let signal): .signaled(signal)
            }
        return Result(
            ending: ending, output: collected.0, errorTail: collected.1, timedOut: flags.timedOut.load(ordering: .relaxed),
            outputExceeded: flags.exceeded.load(ordering: .relaxed), cancelled: flags.cancelled.load(ordering: .relaxed), elapsed: ContinuousClock.now - started)
    }
}
