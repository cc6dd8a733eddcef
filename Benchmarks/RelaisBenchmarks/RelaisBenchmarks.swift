import Benchmark

let benchmarks: @Sendable () -> Void = {
    wireBenchmarks()
    rtcpBenchmarks()
    transportBenchmarks()
    sfuBenchmarks()
    cameraBenchmarks()
    relayBenchmarks()
}
