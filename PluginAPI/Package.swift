// swift-tools-version:6.2
import PackageDescription

// The plugin contract lives in its own package so that SwiftPM links it as a shared library:
// the host and every plugin then load one copy of its types (see ../shared/FACTS.md).
let package = Package(
    name: "PluginAPI",
    products: [
        .library(name: "PluginAPI", type: .dynamic, targets: ["PluginAPI"])
    ],
    targets: [
        .target(
            name: "PluginAPI",
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
                .enableUpcomingFeature("InternalImportsByDefault"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
