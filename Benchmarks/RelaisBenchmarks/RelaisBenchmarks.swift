import Benchmark

let benchmarks: @Sendable () -> Void = {
    wireBenchmarks()
    transportBenchmarks()
}
