/// `{"v":1,"type":"req","id":"c1","method":"chat.send","params":{"text":"..."}}`
struct ChatSendRequest: Encodable {
    struct Params: Encodable {
        var text: String
    }

    let v = 1
    let type = "req"
    var id: String
    let method = "chat.send"
    var params: Params

    init(id: String, text: String) {
        self.id = id
        self.params = Params(text: text)
    }
}

/// A frame from the gateway, decoded leniently: only the fields the driver matches on, all optional but `type`.
///
/// Responses: `{"type":"res","id":"c1","ok":true,"result":{"message_id":"M"}}` or `"ok":false,"error":{"code":...}`.
/// Events: `{"type":"event","event":"chat.message","data":{"in_reply_to":"M","timings":{...}}}`.
struct ServerFrame: Decodable, Sendable {
    struct ResponseResult: Decodable, Sendable {
        var messageID: String?

        enum CodingKeys: String, CodingKey {
            case messageID = "message_id"
        }
    }

    struct ErrorBody: Decodable, Sendable {
        var code: String?
        var message: String?
    }

    struct EventData: Decodable, Sendable {
        var inReplyTo: String?
        var code: String?
        var timings: Timings?

        enum CodingKeys: String, CodingKey {
            case inReplyTo = "in_reply_to"
            case code
            case timings
        }
    }

    /// `total_ms`: gateway receive to reply delivery; `provider_ms`: the part spent waiting on the model provider.
    struct Timings: Decodable, Sendable {
        var totalMs: Double?
        var providerMs: Double?

        enum CodingKeys: String, CodingKey {
            case totalMs = "total_ms"
            case providerMs = "provider_ms"
        }
    }

    var type: String
    var id: String?
    var ok: Bool?
    var result: ResponseResult?
    var error: ErrorBody?
    var event: String?
    var data: EventData?
}

/// The event that ends a chat message: the assistant's reply or the reason there is none.
enum FinalEvent: Sendable {
    case reply(Timings?)
    case error(code: String)

    typealias Timings = ServerFrame.Timings
}

extension ServerFrame {
    /// `chat.message` or `chat.error` with the user message it answers; nil for every other frame.
    var finalEvent: (inReplyTo: String, event: FinalEvent)? {
        guard type == "event", let inReplyTo = data?.inReplyTo else { return nil }
        switch event {
        case "chat.message": return (inReplyTo, .reply(data?.timings))
        case "chat.error": return (inReplyTo, .error(code: data?.code ?? "chat_error"))
        default: return nil
        }
    }
}
