import Foundation

/// One HTTP/1.1 response read off a ``RawConnection``: enough parsing for the status, headers and a
/// `content-length` body, which is what the gateway's small responses carry.
struct RawHTTPResponse: Sendable {
    var status: Int
    var headers: [String: String]
    var body: String

    /// The first complete response at the start of `bytes` and how many bytes it took, or nil while incomplete.
    static func parse(_ bytes: ArraySlice<UInt8>) -> (RawHTTPResponse, Int)? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let headEnd = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }) else { return nil }
        let lines = String(decoding: bytes[bytes.startIndex..<headEnd], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let bodyStart = headEnd + separator.count
        let length = Int(headers["content-length"] ?? "0") ?? 0
        guard bytes.endIndex - bodyStart >= length else { return nil }
        let body = String(decoding: bytes[bodyStart..<(bodyStart + length)], as: UTF8.self)
        return (RawHTTPResponse(status: status, headers: headers, body: body), bodyStart + length - bytes.startIndex)
    }
}
