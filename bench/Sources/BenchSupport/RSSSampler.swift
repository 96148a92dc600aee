import Foundation
import Synchronization

/// Memory figures of one process from `/proc/PID/status`, in KiB as the kernel reports them.
public struct ProcessMemory: Sendable, Equatable {
    /// `VmRSS`: resident now.
    public var residentKiB: Int?
    /// `VmHWM`: the most ever resident, kept by the kernel.
    public var highWaterKiB: Int?

    /// Reads the `VmRSS:` and `VmHWM:` lines (`VmRSS:\t   48028 kB`) of a status file.
    public init(status: String) {
        for line in status.split(separator: "\n") {
            let fields = line.split(whereSeparator: \.isWhitespace)
            guard fields.count >= 2, let kib = Int(fields[1]) else { continue }
            switch fields[0] {
            case "VmRSS:": residentKiB = kib
            case "VmHWM:": highWaterKiB = kib
            default: break
            }
        }
    }

    /// Nil once the process is gone or the file cannot be read (no procfs, another user's process).
    public static func read(pid: Int32) -> ProcessMemory? {
        (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)).map(ProcessMemory.init(status:))
    }
}

/// Samples a process's `VmRSS` every 100 ms and keeps the peak.
///
/// Sampling only sees what is resident at each tick; `VmHWM`, read once at the end, is the kernel's exact peak.
public final class RSSSampler: Sendable {
    public let pid: Int32
    private let peak = Mutex<Int?>(nil)

    public init(pid: Int32) {
        self.pid = pid
    }

    /// The highest `VmRSS` seen so far, in KiB.
    public var peakKiB: Int? { peak.withLock { $0 } }

    /// Samples until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            sample()
            try? await Task.sleep(for: .milliseconds(100))
        }
        sample()
    }

    private func sample() {
        guard let resident = ProcessMemory.read(pid: pid)?.residentKiB else { return }
        peak.withLock { peak in peak = Swift.max(peak ?? 0, resident) }
    }
}
