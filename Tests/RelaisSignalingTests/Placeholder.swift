import Testing
@testable import RelaisSignaling
