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

    static func parse(_ json: String) throws(ChannelSetupError) -> WhatsAppSettings {
        let object = try ChannelConfig.object(json, plugin: "whatsapp")
        let baseURL = try ChannelConfig.baseURL(in: object, default: defaultBaseURL)
        guard let phone = object["phone_number_id"] as? String, !phone.isEmpty, phone.allSatisfy(\.isNumber) else {
            throw ChannelSetupError("config.phone_number_id is required: the id of the business phone number (digits, from WhatsApp Manager → API Setup)")
        }
        return WhatsAppSettings(baseURL: baseURL, phoneNumberID: phone)
    }
}
