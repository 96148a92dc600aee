import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PluginAPI

/// ``PluginHTTPClient`` limited to the entry's `permissions.network`, on the gateway's plugin HTTP client
/// (which never follows redirects).
struct PluginHTTP: PluginHTTPClient {
    let client: HTTPClient
    let permissions: PermissionSet

    func send(_ request: PluginHTTPRequest) async throws -> PluginHTTPResponse {
        _ = try await PluginEgress.admit(request.url, schemes: ["http": 80, "https": 443], kind: "an http or https URL", permissions: permissions)
        var outgoing = HTTPClientRequest(url: request.url)
        outgoing.method = HTTPMethod(rawValue: request.method.uppercased())
        for header in request.headers { outgoing.headers.add(name: header.name, value: header.value) }
        if let body = request.body { outgoing.body = .bytes(ByteBuffer(bytes: body)) }
        let asked = request.timeoutSeconds.isFinite && request.timeoutSeconds > 0 ? request.timeoutSeconds : permissions.timeoutSeconds
        let timeout = TimeAmount.nanoseconds(Int64(min(asked, permissions.timeoutSeconds) * 1e9))
        let response = try await client.execute(outgoing, timeout: timeout)
        let body = try await response.body.collect(upTo: request.maxResponseBytes)
        return PluginHTTPResponse(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: Data(body.readableBytesView))
    }
}
