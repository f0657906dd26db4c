export * from './addr.js';
export * from './checksum.js';
export * from './crc32.js';
export * from './seq.js';
export * from './ipv4.js';
export * from './tcp.js';
export * from './packet.js';
