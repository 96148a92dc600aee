public enum PluginABI { public static let version: Int = 1 }
