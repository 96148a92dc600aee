import Hummingbird
import NIOCore

extension FakeHTTPReply {
    /// The Hummingbird response carrying this reply.
    var response: Response {
        Response(
            // 529 has no standard reason phrase; Anthropic's own is "Overloaded".
            status: HTTPResponse.Status(code: self.status, reasonPhrase: self.status == 529 ? "Overloaded" : ""),
            headers: Self.fields(contentType: self.contentType, self.headers),
            body: ResponseBody(byteBuffer: ByteBuffer(string: self.body))
        )
    }

    /// Header fields from names and values; names that are not valid tokens are skipped.
    static func fields(contentType: String, _ headers: [(name: String, value: String)]) -> HTTPFields {
        var fields = HTTPFields()
        fields[.contentType] = contentType
        for header in headers {
            // `HTTPField` itself is not re-exported by Hummingbird; its element type is.
            if let name = HTTPFields.Element.Name(header.name) {
                fields.append(HTTPFields.Element(name: name, value: header.value))
            }
        }
        return fields
    }
}
