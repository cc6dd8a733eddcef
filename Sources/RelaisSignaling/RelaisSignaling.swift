/// RelaisSignaling: the WebSocket signaling protocol's messages and tokens (Signaling/PROTOCOL.md).
public enum RelaisSignaling {}
