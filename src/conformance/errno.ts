/** Linux errno values and texts, for socket call results in scripts (`= -1 EAGAIN (...)`). */

export const ERRNO: Readonly<Record<string, { value: number; text: string }>> = {
  EPERM: { value: 1, text: 'Operation not permitted' },
  ENOENT: { value: 2, text: 'No such file or directory' },
  EINTR: { value: 4, text: 'Interrupted system call' },
  EBADF: { value: 9, text: 'Bad file descriptor' },
  EAGAIN: { value: 11, text: 'Resource temporarily unavailable' },
  ENOMEM: { value: 12, text: 'Cannot allocate memory' },
  EFAULT: { value: 14, text: 'Bad address' },
  EINVAL: { value: 22, text: 'Invalid argument' },
  EMFILE: { value: 24, text: 'Too many open files' },
  EPIPE: { value: 32, text: 'Broken pipe' },
  ENOMSG: { value: 42, text: 'No message of desired type' },
  ENOTSOCK: { value: 88, text: 'Socket operation on non-socket' },
  ENOPROTOOPT: { value: 92, text: 'Protocol not available' },
  EPROTONOSUPPORT: { value: 93, text: 'Protocol not supported' },
  EOPNOTSUPP: { value: 95, text: 'Operation not supported' },
  EADDRINUSE: { value: 98, text: 'Address already in use' },
  EADDRNOTAVAIL: { value: 99, text: 'Cannot assign requested address' },
  ENETUNREACH: { value: 101, text: 'Network is unreachable' },
  EHOSTUNREACH: { value: 113, text: 'No route to host' },
  ECONNABORTED: { value: 103, text: 'Software caused connection abort' },
  ECONNRESET: { value: 104, text: 'Connection reset by peer' },
  EISCONN: { value: 106, text: 'Transport endpoint is already connected' },
  ENOTCONN: { value: 107, text: 'Transport endpoint is not connected' },
  ETIMEDOUT: { value: 110, text: 'Connection timed out' },
  ECONNREFUSED: { value: 111, text: 'Connection refused' },
  EALREADY: { value: 114, text: 'Operation already in progress' },
  EINPROGRESS: { value: 115, text: 'Operation now in progress' },
};

/** EWOULDBLOCK is EAGAIN on Linux. */
export function canonicalErrno(name: string): string {
  return name === 'EWOULDBLOCK' ? 'EAGAIN' : name;
}

export function isErrnoName(name: string): boolean {
  return ERRNO[canonicalErrno(name)] !== undefined;
}

export function errnoValue(name: string): number | undefined {
  return ERRNO[canonicalErrno(name)]?.value;
}

/** `EAGAIN (Resource temporarily unavailable)` */
export function describeErrno(name: string): string {
  const e = ERRNO[name];
  return e === undefined ? name : `${name} (${e.text})`;
}
