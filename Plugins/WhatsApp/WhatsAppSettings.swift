import Foundation
import PluginAPI

/// The `config` object of the plugin's tools.json entry.
///
/// ```json
/// {"base_url": "https://graph.facebook.com/v21.0", "phone_number_id": "106540352242922"}
/// ```
struct WhatsAppSettings: Sendable, Equatable {
    static let defaultBaseURL = "https://graph.facebook.com/v21.0"

    var baseURL: String
    /// The business phone number replies are sent from (WhatsApp Manager → API Setup).
    var phoneNumberID: String

    static func parse(_ json: String) throws(WhatsAppSetupError) -> WhatsAppSettings {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else {
            throw WhatsAppSetupError("the config of the whatsapp entry in tools.json is not a JSON object")
        }
        var baseURL = defaultBaseURL
        if let value = object["base_url"] {
            guard let text = value as? String, text.hasPrefix("http://") || text.hasPrefix("https://") else {
                throw WhatsAppSetupError("config.base_url must be an http(s) URL such as \(defaultBaseURL)")
            }
            baseURL = text.hasSuffix("/") ? String(text.dropLast()) : text
        }
        guard let phone = object["phone_number_id"] as? String, !phone.isEmpty, phone.allSatisfy(\.isNumber) else {
            throw WhatsAppSetupError("config.phone_number_id is required: the id of the business phone number (digits, from WhatsApp Manager → API Setup)")
        }
        return WhatsAppSettings(baseURL: baseURL, phoneNumberID: phone)
    }
}

/// A configuration problem: the channel cannot work until the entry or a secret is fixed.
struct WhatsAppSetupError: Error, Sendable, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
