public import RelaisWire

/// Finds which transport a datagram on a shared UDP port belongs to.
///
/// Every transport of a media loop shares one socket. Before ICE has validated an address, only
/// STUN can reach a transport, found by the local ufrag at the start of USERNAME; afterwards, the
/// validated source address (the 5-tuple, given the local socket) leads straight to it. DTLS and
/// media from an address that never passed a check match nothing and are dropped.
public struct ICEPortRouter<TransportID: Hashable & Sendable>: Sendable {
    private var byUfrag: [String: TransportID] = [:]
    private var byAddress: [TransportAddress: TransportID] = [:]
    private var addressesOf: [TransportID: [TransportAddress]] = [:]

    public init() {}

    public var transportCount: Int { byUfrag.count }
    /// Addresses bound, over all transports: at most `maxAddressesPerTransport` per transport.
    public var addressCount: Int { byAddress.count }

    /// Addresses one transport keeps bound: as many as its ICE agent keeps validated. The owner
    /// unbinds what the agent forgets (`MediaLoop` does after each check), so a peer checking from
    /// thousands of source ports cannot grow the table.
    public static var maxAddressesPerTransport: Int { ICELiteAgent.maxValidated }

    /// The transport `address` is bound to, if any.
    public func owner(of address: TransportAddress) -> TransportID? {
        byAddress[address]
    }

    /// Makes a transport reachable by STUN checks naming `ufrag`.
    public mutating func register(ufrag: String, for id: TransportID) {
        byUfrag[ufrag] = id
    }

    /// Binds a validated address to its transport (after the transport's ICE agent accepted a check
    /// from it). An address moving to another transport is unbound from the old one; whether it may
    /// move is the owner's decision (`MediaLoop` refuses to move an address whose transport still
    /// has consent from it).
    public mutating func bind(_ address: TransportAddress, to id: TransportID) {
        if let previous = byAddress[address], previous != id {
            addressesOf[previous]?.removeAll { $0 == address }
        }
        if byAddress.updateValue(id, forKey: address) != id {
            addressesOf[id, default: []].append(address)
        }
    }

    /// Addresses bound to `id` (tests).
    public func addresses(of id: TransportID) -> [TransportAddress] {
        addressesOf[id] ?? []
    }

    /// Unbinds `address` from `id` (its agent forgot it).
    public mutating func unbind(_ address: TransportAddress, from id: TransportID) {
        guard byAddress[address] == id else { return }
        byAddress.removeValue(forKey: address)
        addressesOf[id]?.removeAll { $0 == address }
    }

    /// Forgets a transport: its ufrag and every address bound to it.
    public mutating func remove(_ id: TransportID) {
        byUfrag = byUfrag.filter { $0.value != id }
        for address in addressesOf.removeValue(forKey: id) ?? [] where byAddress[address] == id {
            byAddress.removeValue(forKey: address)
        }
    }

    /// Replaces a transport's ufrag (ICE restart): the old one stops matching.
    public mutating func changeUfrag(of id: TransportID, to ufrag: String) {
        byUfrag = byUfrag.filter { $0.value != id }
        byUfrag[ufrag] = id
    }

    /// The transport for a non-STUN datagram: only validated addresses match.
    @inlinable
    public func transport(forAddress address: TransportAddress) -> TransportID? {
        lookup(address)
    }

    @usableFromInline
    func lookup(_ address: TransportAddress) -> TransportID? {
        byAddress[address]
    }

    /// The transport a STUN request is for: by the local ufrag before the colon in USERNAME, falling
    /// back to the source address (consent checks from a known address).
    public func transport(forSTUN message: STUNMessageView, from address: TransportAddress) -> TransportID? {
        if let username = message.username {
            var colon = -1
            for i in 0..<username.count where username[i] == UInt8(ascii: ":") {
                colon = i
                break
            }
            if colon > 0 {
                let ufrag = String(decoding: UnsafeRawBufferPointer(rebasing: username[0..<colon]), as: UTF8.self)
                if let id = byUfrag[ufrag] { return id }
            }
        }
        return byAddress[address]
    }
}
