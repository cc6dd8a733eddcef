// swift-tools-version: 6.1
// Relais fuzz targets (libFuzzer through the Swift toolchain, with AddressSanitizer).
//
// A separate package so the instrumented build holds only the modules the network feeds:
// RelaisWire, RelaisTransport, RelaisSignaling, RelaisCamera, RelaisNegotiation (no NIO, no
// Hummingbird). One executable, `relais-fuzz`, holds every target; RELAIS_FUZZ_TARGET picks one,
// so each target has its own corpus (Corpus/<target>) and its own libFuzzer run and statistics.
// Build and run them all with `make fuzz` (see run.py for the exact flags).
import PackageDescription

let package = Package(
    name: "RelaisFuzz",
    dependencies: [.package(name: "Relais", path: "..")],
    targets: [
        .executableTarget(
            name: "relais-fuzz",
            dependencies: [
                "CLibFuzzer",
                .product(name: "RelaisWire", package: "Relais"),
                .product(name: "RelaisTransport", package: "Relais"),
                .product(name: "RelaisSignaling", package: "Relais"),
                .product(name: "RelaisCamera", package: "Relais"),
                .product(name: "RelaisNegotiation", package: "Relais"),
            ],
            path: "Sources/RelaisFuzz"
        ),
        // Declares libFuzzer's LLVMFuzzerRunDriver for Swift.
        .target(name: "CLibFuzzer"),
    ],
    swiftLanguageModes: [.v6]
)
