// swift-tools-version:6.1
import PackageDescription
let package = Package(
    name: "tdcmp",
    dependencies: [.package(url: "https://github.com/apple/swift-collections", from: "1.6.0")],
    targets: [.executableTarget(name: "tdcmp", dependencies: [.product(name: "HashTreeCollections", package: "swift-collections")])]
)
