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
        guard let url = URL(string: request.url), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", let host = url.host,
            !host.isEmpty
        else {
            throw ToolFailure("not an http or https URL: \(request.url)")
        }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        let bareHost = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        guard permissions.allowsEgress(host: bareHost, port: port) else {
            throw PluginAccessDenied(permission: "network", subject: "\(bareHost):\(port)")
        }
        // A whitelisted name must not lead inside: an address literal or `localhost` names the inside on purpose,
        // any other name that resolves to a private address is refused. (The connection resolves the name again;
        // a DNS server that changes its answer in between is only stopped by process isolation.)
        if PrivateAddress.mustResolve(bareHost) {
            let addresses = await withCheckedContinuation { continuation in
                DispatchQueue.global().async { continuation.resume(returning: PrivateAddress.resolve(bareHost)) }
            }
            if let inside = addresses.first(where: { PrivateAddress.isPrivate($0) && !permissions.allowsEgress(host: $0, port: port) }) {
                throw PluginAccessDenied(
                    permission: "network", subject: "\(bareHost):\(port) (it resolves to the private address \(inside); list \(inside):\(port) to allow that)")
            }
        }
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
