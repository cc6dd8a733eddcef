import ArgumentParser

@main
struct RelaisClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relais-client",
        abstract: "Relais headless WebRTC client: expert, cart simulator, site probe and load generator.")
}
