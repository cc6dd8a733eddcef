import Testing
@testable import RelaisMedia
