import Testing
import RelaisMedia

@Suite struct I420FrameTests {
    @Test func blackFrameHasRoundedUpChromaPlanes() {
        let frame = I420Frame(width: 321, height: 241)
        #expect(frame.chromaWidth == 161 && frame.chromaHeight == 121)
        #expect(frame.y.count == 321 * 241 && frame.u.count == 161 * 121 && frame.v.count == 161 * 121)
        #expect(frame.y.allSatisfy { $0 == 16 } && frame.u.allSatisfy { $0 == 128 } && frame.v.allSatisfy { $0 == 128 })
        #expect(frame.isWellFormed)
    }

    @Test func wrappingChecksPlaneSizes() {
        #expect(I420Frame(width: 4, height: 2, y: [UInt8](repeating: 0, count: 8), u: [1, 2], v: [3, 4]) != nil)
        #expect(I420Frame(width: 4, height: 2, y: [UInt8](repeating: 0, count: 7), u: [1, 2], v: [3, 4]) == nil)
        #expect(I420Frame(width: 3, height: 3, y: [UInt8](repeating: 0, count: 9), u: [1, 2, 3], v: [1, 2, 3, 4]) == nil)
        #expect(I420Frame(width: 0, height: 3, y: [], u: [], v: []) == nil)
    }
}
