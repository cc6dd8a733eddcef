// Creates SDP with Chromium's WebRTC stack; chromium_capture.py evaluates capture(otherOffer) with it.
// No ICE servers: only host candidates (mDNS-obfuscated by Chromium), nothing leaves the machine.
async function gathered(pc) {
  if (pc.iceGatheringState === "complete") return;
  await new Promise(resolve => {
    pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") resolve(); });
    setTimeout(resolve, 5000);  // a bound: the offer is valid without every candidate
  });
}
async function offer(setup) {
  const pc = new RTCPeerConnection({iceServers: []});
  setup(pc);
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const sdp = pc.localDescription.sdp;
  pc.close();
  return sdp;
}
async function answerTo(remote) {
  const pc = new RTCPeerConnection({iceServers: []});
  await pc.setRemoteDescription({type: "offer", sdp: remote});
  for (const t of pc.getTransceivers()) t.direction = "recvonly";
  await pc.setLocalDescription(await pc.createAnswer());
  await gathered(pc);
  const sdp = pc.localDescription.sdp;
  pc.close();
  return sdp;
}
async function capture(other) {
  const result = {};
  result.offer = await offer(pc => { pc.addTransceiver("audio"); pc.addTransceiver("video"); });
  result.simulcast = await offer(pc => {
    pc.addTransceiver("audio");
    pc.addTransceiver("video", {direction: "sendonly", sendEncodings: [
      {rid: "q", scaleResolutionDownBy: 4}, {rid: "h", scaleResolutionDownBy: 2}, {rid: "f"}]});
  });
  if (other) result.answer = await answerTo(other);
  return JSON.stringify(result);
}
