import Testing
@testable import RelaisSFU
