// Script text shared by the runner tests: a listener and one accepted connection (fd 4)
// from a peer announcing `peerMss` and window scale 8, at 0.1 s.
export function acceptedPrelude(peerMss: number): string {
  return `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 65535 <mss ${peerMss},nop,wscale 8>
+0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 8>
+.1 < . 1:1(0) ack 1 win 257
+0 accept(3, ..., ...) = 4
`;
}
