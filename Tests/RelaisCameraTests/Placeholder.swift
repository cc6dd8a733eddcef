import Testing
@testable import RelaisCamera
