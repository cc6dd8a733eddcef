import RelaisClient
import RelaisSignaling
import RelaisWire
import Testing

/// The simulated PTZ camera over a fake clock (explicit instants; no real time).
@Suite struct CameraSimulationTests {
    static func at(_ milliseconds: UInt64) -> Instant { Instant(nanoseconds: milliseconds * 1_000_000) }
    static let start = at(1_000)

    @Test func startsAtHomeAndStill() {
        var sim = PTZSimulation(now: Self.start)
        #expect(sim.position(at: Self.at(5_000)) == CameraPosition(pan: 0, tilt: 0, zoom: 1))
        #expect(!sim.isMoving)
        #expect(sim.velocity == .zero)
        #expect(sim.capabilities().presets == 8)
        #expect(sim.capabilities().pan == AxisRange(min: -170, max: 170))
        #expect(sim.capabilities().tilt == AxisRange(min: -30, max: 90))
        #expect(sim.capabilities().zoom == AxisRange(min: 1, max: 12))
    }

    @Test func continuousMoveIntegratesTheConfiguredSpeeds() {
        var sim = PTZSimulation(now: Self.start)
        let (result, position) = sim.apply(.move(pan: 1, tilt: -0.5, zoom: 0.25), now: Self.start)
        #expect(result == .ok)
        #expect(position == CameraPosition(pan: 0, tilt: 0, zoom: 1))
        #expect(sim.isMoving)
        #expect(sim.velocity == PTZSimulation.Velocity(pan: 1, tilt: -0.5, zoom: 0.25))
        // 500 ms: pan 100°/s, tilt 0.5 x 60°/s down, zoom 0.25 x 4x/s.
        #expect(sim.position(at: Self.at(1_500)) == CameraPosition(pan: 50, tilt: -15, zoom: 1.5))
        // Another 250 ms in two steps: integration is additive.
        _ = sim.position(at: Self.at(1_600))
        #expect(sim.position(at: Self.at(1_750)) == CameraPosition(pan: 75, tilt: -22.5, zoom: 1.75))
    }

    @Test func speedsAreConfigurable() {
        var sim = PTZSimulation(configuration: .init(panSpeed: 10, tiltSpeed: 20, zoomSpeed: 1), now: .zero)
        _ = sim.apply(.move(pan: -1, tilt: 1, zoom: 1), now: .zero)
        #expect(sim.position(at: Self.at(1_000)) == CameraPosition(pan: -10, tilt: 20, zoom: 2))
    }

    @Test func velocitiesAreClampedToUnit() {
        var sim = PTZSimulation(now: .zero)
        _ = sim.apply(.move(pan: 5, tilt: -3, zoom: 0), now: .zero)
        #expect(sim.velocity == PTZSimulation.Velocity(pan: 1, tilt: -1, zoom: 0))
        #expect(sim.apply(.move(pan: .nan, tilt: 0, zoom: 0), now: .zero).0 == .failed)
    }

    @Test func clampsAtTheLimitsAndStopsCountingAsMoving() {
        var sim = PTZSimulation(now: .zero)
        _ = sim.apply(.move(pan: 1, tilt: -1, zoom: 1), now: .zero)
        // 10 s is far beyond every limit.
        #expect(sim.position(at: Self.at(10_000)) == CameraPosition(pan: 170, tilt: -30, zoom: 12))
        #expect(!sim.isMoving)
        // Moving away from the limit moves again.
        _ = sim.apply(.move(pan: -1, tilt: 0, zoom: 0), now: Self.at(10_000))
        #expect(sim.isMoving)
        #expect(sim.position(at: Self.at(10_100)) == CameraPosition(pan: 160, tilt: -30, zoom: 12))
        _ = sim.apply(.move(pan: -1, tilt: 1, zoom: -1), now: Self.at(10_100))
        #expect(sim.position(at: Self.at(30_000)) == CameraPosition(pan: -170, tilt: 90, zoom: 1))
    }

    @Test func stopFreezes() {
        var sim = PTZSimulation(now: .zero)
        _ = sim.apply(.move(pan: 0.5, tilt: 0.5, zoom: 0.5), now: .zero)
        let (result, stopped) = sim.apply(.stop, now: Self.at(200))
        #expect(result == .ok)
        #expect(stopped == CameraPosition(pan: 10, tilt: 6, zoom: 1.4))
        #expect(!sim.isMoving)
        #expect(sim.velocity == .zero)
        #expect(sim.position(at: Self.at(60_000)) == stopped)
    }

    @Test func absoluteIsInstantByDefaultAndRefusesOutOfRange() {
        var sim = PTZSimulation(now: .zero)
        let (result, position) = sim.apply(.absolute(pan: -45, tilt: nil, zoom: 3), now: .zero)
        #expect(result == .ok)
        #expect(position == CameraPosition(pan: -45, tilt: 0, zoom: 3))
        #expect(!sim.isMoving)
        #expect(sim.apply(.absolute(pan: 171, tilt: nil, zoom: nil), now: .zero) == (.failed, position))
        #expect(sim.apply(.absolute(pan: nil, tilt: -31, zoom: nil), now: .zero).0 == .failed)
        #expect(sim.apply(.absolute(pan: nil, tilt: nil, zoom: 0.5), now: .zero).0 == .failed)
        #expect(sim.apply(.absolute(pan: nil, tilt: .infinity, zoom: nil), now: .zero).0 == .failed)
    }

    @Test func absoluteCancelsContinuousMotion() {
        var sim = PTZSimulation(now: .zero)
        _ = sim.apply(.move(pan: 1, tilt: 0, zoom: 0), now: .zero)
        _ = sim.apply(.absolute(pan: 10, tilt: 10, zoom: nil), now: Self.at(100))
        #expect(sim.position(at: Self.at(5_000)) == CameraPosition(pan: 10, tilt: 10, zoom: 1))
    }

    @Test func relativeIsClamped() {
        var sim = PTZSimulation(now: .zero)
        #expect(sim.apply(.relative(pan: 30, tilt: -10, zoom: 2), now: .zero) == (.ok, CameraPosition(pan: 30, tilt: -10, zoom: 3)))
        #expect(sim.apply(.relative(pan: 500, tilt: nil, zoom: -50), now: .zero) == (.ok, CameraPosition(pan: 170, tilt: -10, zoom: 1)))
    }

    @Test func travelPositioningMovesAtTopSpeedAndStopHaltsIt() {
        var sim = PTZSimulation(configuration: .init(positioning: .travel), now: .zero)
        let (result, position) = sim.apply(.absolute(pan: 100, tilt: -30, zoom: 5), now: .zero)
        #expect(result == .ok)
        #expect(position == CameraPosition(pan: 0, tilt: 0, zoom: 1))
        #expect(sim.isMoving)
        #expect(sim.target == CameraPosition(pan: 100, tilt: -30, zoom: 5))
        // 250 ms: pan 25°, tilt 15° (60°/s), zoom 1x (4x/s).
        #expect(sim.position(at: Self.at(250)) == CameraPosition(pan: 25, tilt: -15, zoom: 2))
        // Tilt arrives at 500 ms, zoom at 1 s, pan at 1 s.
        #expect(sim.position(at: Self.at(750)) == CameraPosition(pan: 75, tilt: -30, zoom: 4))
        #expect(sim.isMoving)
        #expect(sim.position(at: Self.at(1_000)) == CameraPosition(pan: 100, tilt: -30, zoom: 5))
        #expect(!sim.isMoving)
        #expect(sim.target == nil)

        _ = sim.apply(.home, now: Self.at(1_000))
        let (_, halted) = sim.apply(.stop, now: Self.at(1_500))
        #expect(halted == CameraPosition(pan: 50, tilt: 0, zoom: 3))
        #expect(!sim.isMoving)
        #expect(sim.position(at: Self.at(9_000)) == halted)
    }

    @Test func presetsRoundTrip() {
        var sim = PTZSimulation(now: .zero)
        _ = sim.apply(.absolute(pan: 12.5, tilt: 40, zoom: 6), now: .zero)
        #expect(sim.apply(.presetSave(preset: 3), now: .zero).0 == .ok)
        #expect(sim.presets[3] == CameraPosition(pan: 12.5, tilt: 40, zoom: 6))
        _ = sim.apply(.home, now: Self.at(10))
        #expect(sim.position(at: Self.at(20)) == CameraPosition(pan: 0, tilt: 0, zoom: 1))
        #expect(sim.apply(.presetGoto(preset: 3), now: Self.at(30)) == (.ok, CameraPosition(pan: 12.5, tilt: 40, zoom: 6)))
        #expect(sim.position(at: Self.at(10_000)) == CameraPosition(pan: 12.5, tilt: 40, zoom: 6))
        // Empty and out-of-range slots fail and do not move the camera.
        #expect(sim.apply(.presetGoto(preset: 2), now: Self.at(10_000)).0 == .failed)
        #expect(sim.apply(.presetGoto(preset: 8), now: Self.at(10_000)).0 == .failed)
        #expect(sim.apply(.presetSave(preset: -1), now: Self.at(10_000)).0 == .failed)
        #expect(sim.apply(.presetSave(preset: 8), now: Self.at(10_000)).0 == .failed)
        #expect(sim.position == CameraPosition(pan: 12.5, tilt: 40, zoom: 6))
    }

    @Test func presetSavedMidMoveStoresWhereTheCameraIs() {
        var sim = PTZSimulation(now: .zero)
        _ = sim.apply(.move(pan: -1, tilt: 1, zoom: 0), now: .zero)
        _ = sim.apply(.presetSave(preset: 0), now: Self.at(300))
        #expect(sim.presets[0] == CameraPosition(pan: -30, tilt: 18, zoom: 1))
    }

    @Test func homeReturnsToConfiguredHome() {
        var sim = PTZSimulation(configuration: .init(home: CameraPosition(pan: 5, tilt: 5, zoom: 2)), now: .zero)
        #expect(sim.position == CameraPosition(pan: 5, tilt: 5, zoom: 2))
        _ = sim.apply(.move(pan: 1, tilt: 1, zoom: 1), now: .zero)
        #expect(sim.apply(.home, now: Self.at(400)) == (.ok, CameraPosition(pan: 5, tilt: 5, zoom: 2)))
        #expect(sim.position(at: Self.at(900)) == CameraPosition(pan: 5, tilt: 5, zoom: 2))
    }

    @Test func focusIsState() {
        var sim = PTZSimulation(now: .zero)
        #expect(sim.focusMode == .auto)
        #expect(sim.apply(.focus(mode: .manual, position: 0.25), now: .zero).0 == .ok)
        #expect(sim.focusMode == .manual)
        #expect(sim.focusPosition == 0.25)
        #expect(sim.apply(.focus(mode: .manual, position: 1.5), now: .zero).0 == .failed)
        #expect(sim.focusPosition == 0.25)
        #expect(sim.apply(.focus(mode: .auto, position: nil), now: .zero).0 == .ok)
        #expect(sim.focusMode == .auto)
    }

    @Test func timeGoingBackwardsIsNoTime() {
        var sim = PTZSimulation(now: Self.at(1_000))
        _ = sim.apply(.move(pan: 1, tilt: 0, zoom: 0), now: Self.at(1_000))
        #expect(sim.position(at: Self.at(500)) == CameraPosition(pan: 0, tilt: 0, zoom: 1))
        #expect(sim.position(at: Self.at(1_100)) == CameraPosition(pan: 10, tilt: 0, zoom: 1))
    }

    @Test func driverReachesAPresetComesBackAndStaysStillAfterStop() async {
        let camera = SimulatedCamera(now: .zero)
        #expect(camera.description.cameraId == "main")
        #expect(camera.description.capabilities.presets == 8)
        _ = await camera.execute(.absolute(pan: 60, tilt: 20, zoom: 4), now: Self.at(100))
        #expect(await camera.execute(.presetSave(preset: 1), now: Self.at(200)).0 == .ok)
        #expect(await camera.execute(.home, now: Self.at(300)) == (.ok, CameraPosition(pan: 0, tilt: 0, zoom: 1)))
        #expect(await camera.execute(.presetGoto(preset: 1), now: Self.at(400)) == (.ok, CameraPosition(pan: 60, tilt: 20, zoom: 4)))
        #expect(await camera.execute(.home, now: Self.at(500)) == (.ok, CameraPosition(pan: 0, tilt: 0, zoom: 1)))
        _ = await camera.execute(.move(pan: 1, tilt: 0, zoom: 0), now: Self.at(600))
        #expect(await camera.isMoving(now: Self.at(650)))
        #expect(await camera.velocity == PTZSimulation.Velocity(pan: 1, tilt: 0, zoom: 0))
        let (result, stopped) = await camera.execute(.stop, now: Self.at(700))
        #expect(result == .ok)
        #expect(stopped == CameraPosition(pan: 10, tilt: 0, zoom: 1))
        #expect(await !camera.isMoving(now: Self.at(800)))
        #expect(await camera.position(now: Self.at(5_000)) == stopped)
    }

    @Test func capabilitiesGateCommands() {
        let none = CameraCapabilities(continuousPanTilt: false, continuousZoom: true, absolutePosition: false, relativePosition: false,
                                      focus: false, presets: 0, pan: AxisRange(min: 0, max: 0), tilt: AxisRange(min: 0, max: 0),
                                      zoom: AxisRange(min: 1, max: 2))
        #expect(none.allows(.move(pan: 0, tilt: 0, zoom: 1)))
        #expect(!none.allows(.move(pan: 0.1, tilt: 0, zoom: 0)))
        #expect(none.allows(.stop))
        #expect(!none.allows(.absolute(pan: 1, tilt: nil, zoom: nil)))
        #expect(!none.allows(.relative(pan: 1, tilt: nil, zoom: nil)))
        #expect(!none.allows(.focus(mode: .auto, position: nil)))
        #expect(!none.allows(.presetGoto(preset: 0)))
        #expect(!none.allows(.home))
    }
}
