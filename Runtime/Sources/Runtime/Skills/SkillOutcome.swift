import Foundation

/// What the model (and the trace) is told about one finished skill run. Pure.
enum SkillOutcome {
    /// The exit status swiftlet-skill-launch ends with when it cannot start the skill.
    static let launcherFailure: Int32 = 125

    static func result(
        _ run: SkillProcess.Result, skill: String, limits: ToolsFile.SkillLimits, timeoutSeconds: Double, memoryMB: Int
    ) -> Result<String, ToolError> {
        let lastWords = cause(in: run.errorTail)
        func failure(_ text: String) -> Result<String, ToolError> {
            .failure(ToolError("the skill \(skill) \(text)" + (lastWords.map { "; it said: \($0)" } ?? "")))
        }
        if run.cancelled { return .failure(ToolError("the skill \(skill) was cancelled; its processes were stopped")) }
        if run.timedOut {
            return failure("ran past its time limit (\(formatted(timeoutSeconds)) s, permissions.timeout_seconds) and was stopped with every process it started")
        }
        if run.outputExceeded {
            return failure("wrote more than \(limits.outputKB) KB to standard output (limits.output_kb) and was stopped")
        }
        switch run.ending {
        case .exited(0):
            var text = String(decoding: run.output, as: UTF8.self)
            if text.hasSuffix("\n") { text.removeLast() }
            return .success(text.isEmpty ? "(the skill \(skill) printed nothing)" : text)
        case .exited(launcherFailure) where run.errorTail.contains(where: { $0.hasPrefix("swiftlet-skill-launch:") }):
            let line = run.errorTail.last { $0.hasPrefix("swiftlet-skill-launch:") } ?? ""
            return .failure(ToolError("the skill \(skill) could not be started: \(line.dropFirst("swiftlet-skill-launch: ".count))"))
        case .exited(1) where run.output.isEmpty && run.errorTail.contains(where: { $0.hasPrefix("bwrap:") }):
            let line = run.errorTail.last { $0.hasPrefix("bwrap:") } ?? ""
            return .failure(ToolError("the sandbox of the skill \(skill) could not be set up: \(line)"))
        // bwrap reports a command killed by a signal as 128 + the signal (a script exiting with such a status itself
        // reads the same; the shell convention makes that rare).
        case .exited(let code) where code > 128 && code < 128 + 65:
            return failure(signalText(code - 128, limits: limits, memoryMB: memoryMB))
        case .signaled(let signal):
            return failure(signalText(signal, limits: limits, memoryMB: memoryMB))
        case .exited(let code):
            var text = "failed with exit status \(code)"
            if run.errorTail.contains(where: { $0.contains("MemoryError") || $0.contains("Cannot allocate memory") }) {
                text += " after running out of memory (permissions.memory_mb \(memoryMB))"
            }
            return failure(text)
        }
    }

    /// A signal's meaning in terms of the limit that sent it.
    static func signalText(_ signal: Int32, limits: ToolsFile.SkillLimits, memoryMB: Int) -> String {
        switch signal {
        case SIGXCPU: "used up its CPU time (limits.cpu_seconds \(limits.cpuSeconds)) and was stopped"
        case SIGXFSZ: "tried to write a file larger than limits.file_size_mb (\(limits.fileSizeMB) MB) and was stopped"
        case SIGKILL: "was killed (signal 9)"
        case SIGSEGV: "crashed (signal 11, segmentation fault; permissions.memory_mb \(memoryMB) may be too small)"
        default: "was killed by signal \(signal) (\(String(cString: strsignal(signal))))"
        }
    }

    /// The line of standard error that tells why: the last one of a Python traceback (`SomeError: ...`) or an
    /// `error` line, else the last line.
    static func cause(in lines: [String]) -> String? {
        let meaningful = lines.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if let telling = meaningful.last(where: { $0.range(of: #"^[A-Za-z_.]*(Error|Exception|Exit)\b"#, options: .regularExpression) != nil }) {
            return String(telling.prefix(500))
        }
        if let telling = meaningful.last(where: { $0.lowercased().contains("error") }) { return String(telling.prefix(500)) }
        return meaningful.last.map { String($0.prefix(500)) }
    }

    private static func formatted(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}
