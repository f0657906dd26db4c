/**
 * The helper the linux target runs inside its network namespace (`ip netns exec NS python3
 * -u -c HELPER_PY TUN_NAME CC`): it opens the TUN device (the TUNSETIFF ioctl on /dev/net/tun,
 * no packet-information header) and makes the socket calls on real kernel sockets, driven by
 * one JSON object per line on stdin and answering one per line on stdout:
 *
 *   -> {"id":1,"op":"inject","hex":"4500..."}   <- {"ev":"ret","id":1,"value":0,"ts":100,"t":101}
 *   -> {"id":2,"op":"call","call":"accept","fd":3,"newfd":4,"mayBlock":true}
 *   <- {"ev":"blocked","id":2,"ts":120} ... {"ev":"ret","id":2,"value":4,"ts":120,"t":5123}
 *   <- {"ev":"pkt","t":123456,"hex":"4500..."}      every packet the kernel sends
 *
 * Every socket gets the congestion control named by the second argument (TCP_CONGESTION,
 * which root may set to any loaded one; the sysctl in a namespace only takes those the host
 * allows). `ts` is when the helper began a command, `t` when it ended or when a packet
 * came. Times are CLOCK_MONOTONIC microseconds, the clock Node's process.hrtime reads too.
 * A call that may block runs in its own thread; when it has not returned within 2 ms the
 * helper says "blocked" and goes on reading commands (packetdrill's syscall thread), and
 * its "ret" comes when it returns. Errors are errno names. Descriptors are the script's
 * numbers, mapped to the kernel's sockets here.
 */
export const HELPER_PY = String.raw`
import errno, fcntl, json, os, select, socket, struct, sys, threading, time

TUNSETIFF = 0x400454ca
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
name = sys.argv[1]
congestion = sys.argv[2].encode()
TCP_CONGESTION = 13
tun = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(tun, TUNSETIFF, struct.pack('16sH', name.encode(), IFF_TUN | IFF_NO_PI))
lock = threading.Lock()
socks = {}

def now():
    return time.monotonic_ns() // 1000

def emit(obj):
    line = json.dumps(obj) + '\n'
    with lock:
        sys.stdout.write(line)
        sys.stdout.flush()

def reader():
    while True:
        try:
            pkt = os.read(tun, 65536)
        except OSError:
            return
        emit({'ev': 'pkt', 't': now(), 'hex': pkt.hex()})

LEVELS = {'SOL_SOCKET': socket.SOL_SOCKET, 'IPPROTO_TCP': socket.IPPROTO_TCP, 'SOL_TCP': socket.IPPROTO_TCP, 'IPPROTO_IP': socket.IPPROTO_IP, 'SOL_IP': socket.IPPROTO_IP}
OPTS = {
    'SO_REUSEADDR': socket.SO_REUSEADDR, 'SO_REUSEPORT': getattr(socket, 'SO_REUSEPORT', 15),
    'SO_KEEPALIVE': socket.SO_KEEPALIVE, 'SO_RCVBUF': socket.SO_RCVBUF, 'SO_SNDBUF': socket.SO_SNDBUF,
    'SO_ERROR': socket.SO_ERROR, 'SO_LINGER': socket.SO_LINGER, 'SO_RCVLOWAT': socket.SO_RCVLOWAT,
    'TCP_NODELAY': socket.TCP_NODELAY, 'TCP_MAXSEG': socket.TCP_MAXSEG, 'TCP_CORK': 3,
    'TCP_KEEPIDLE': 4, 'TCP_KEEPINTVL': 5, 'TCP_KEEPCNT': 6, 'TCP_SYNCNT': 7, 'TCP_LINGER2': 8,
    'TCP_DEFER_ACCEPT': 9, 'TCP_WINDOW_CLAMP': 10, 'TCP_QUICKACK': 12, 'TCP_USER_TIMEOUT': 18,
    'TCP_NOTSENT_LOWAT': 25, 'IP_TOS': socket.IP_TOS, 'IP_TTL': socket.IP_TTL, 'IP_MTU_DISCOVER': 10, 'IP_FREEBIND': 15,
}
MSG = {'MSG_PEEK': socket.MSG_PEEK, 'MSG_DONTWAIT': socket.MSG_DONTWAIT, 'MSG_WAITALL': socket.MSG_WAITALL, 'MSG_MORE': 0x8000, 'MSG_EOR': socket.MSG_EOR, 'MSG_NOSIGNAL': 0x4000, 'MSG_OOB': socket.MSG_OOB}
IOCTLS = {'SIOCINQ': 0x541B, 'FIONREAD': 0x541B, 'SIOCOUTQ': 0x5411}
HOW = {'SHUT_RD': socket.SHUT_RD, 'SHUT_WR': socket.SHUT_WR, 'SHUT_RDWR': socket.SHUT_RDWR}

SPLICE = {'SPLICE_F_MOVE': 1, 'SPLICE_F_NONBLOCK': 2, 'SPLICE_F_MORE': 4}

class Raw:
    # A file or pipe descriptor kept beside the sockets (the file side of sendfile and splice).
    def __init__(self, fd):
        self.fd = fd
    def fileno(self):
        return self.fd
    def close(self):
        os.close(self.fd)

def flags(names):
    v = 0
    for n in names:
        v |= MSG[n]
    return v

def sock(c, key='fd'):
    s = socks.get(c[key])
    if s is None:
        raise OSError(errno.EBADF, 'no such descriptor')
    return s

def do_call(c):
    k = c['call']
    if k == 'socket':
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        s.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, congestion)
        socks[c['newfd']] = s
        return c['newfd'], {}
    if k == 'poll':
        p = select.poll()
        real = []
        for en in c['entries']:
            real.append(sock(en).fileno())
            p.register(real[-1], en['events'])
        got = dict(p.poll(c['timeout']))
        rev = [got.get(f, 0) for f in real]
        return sum(1 for r in rev if r), {'revents': rev}
    if k == 'epoll_create':
        socks[c['newfd']] = select.epoll()
        return c['newfd'], {}
    if k == 'open':
        f = Raw(os.memfd_create('ftcp-conformance'))
        os.write(f.fd, bytes(c['size']))
        os.lseek(f.fd, 0, os.SEEK_SET)
        socks[c['newfd']] = f
        return c['newfd'], {}
    if k == 'pipe':
        r, w = os.pipe()
        socks[c['rfd']] = Raw(r)
        socks[c['wfd']] = Raw(w)
        return 0, {}
    if k == 'sendfile':
        return os.sendfile(sock(c).fileno(), sock(c, 'infd').fileno(), c['offset'], c['count']), {}
    if k == 'splice':
        fl = sum(SPLICE[n] for n in c['flags'])
        return os.splice(sock(c).fileno(), sock(c, 'outfd').fileno(), c['len'], flags=fl), {}
    s = sock(c)
    fd = s.fileno()
    if k == 'bind':
        s.bind((c['addr'], c['port']))
    elif k == 'listen':
        s.listen(c['backlog'])
    elif k == 'accept':
        conn, _ = s.accept()
        socks[c['newfd']] = conn
        return c['newfd'], {}
    elif k == 'connect':
        extra = {}
        try:
            s.connect((c['addr'], c['port']))
        finally:
            try:
                extra['lport'] = s.getsockname()[1]
            except OSError:
                pass
        return 0, extra
    elif k == 'write':
        return os.write(fd, bytes(c['len'])), {}
    elif k == 'send':
        return s.send(bytes(c['len']), flags(c['flags'])), {}
    elif k == 'sendmsg':
        return s.sendmsg([bytes(n) for n in c['iov']], [], flags(c['flags'])), {}
    elif k == 'epoll_ctl':
        t = sock(c, 'target').fileno()
        if c['ctl'] == 1:
            s.register(t, c['events'])
        elif c['ctl'] == 2:
            s.unregister(t)
        else:
            s.modify(t, c['events'])
    elif k == 'epoll_wait':
        back = {v.fileno(): n for n, v in socks.items()}
        got = s.poll(c['timeout'] / 1000 if c['timeout'] >= 0 else -1, c['max'])
        return len(got), {'events': [{'fd': back.get(f, -1), 'events': ev} for f, ev in got]}
    elif k == 'ioctl':
        got = fcntl.ioctl(fd, IOCTLS[c['request']], struct.pack('i', 0))
        return 0, {'optval': struct.unpack('i', got)[0]}
    elif k == 'read':
        return len(os.read(fd, c['len'])), {}
    elif k == 'recv':
        return len(s.recv(c['len'], flags(c['flags']))), {}
    elif k == 'shutdown':
        s.shutdown(HOW[c['how']])
    elif k == 'close':
        del socks[c['fd']]
        s.close()
    elif k == 'fcntl':
        if c['cmd'] == 'F_GETFL':
            return fcntl.fcntl(fd, fcntl.F_GETFL), {}
        fcntl.fcntl(fd, fcntl.F_SETFL, c['arg'])
        s.setblocking((c['arg'] & os.O_NONBLOCK) == 0)
    elif k == 'setsockopt':
        level, opt = LEVELS[c['level']], OPTS[c['opt']]
        if 'linger' in c:
            s.setsockopt(level, opt, struct.pack('ii', c['onoff'], c['linger']))
        else:
            s.setsockopt(level, opt, c['value'])
    elif k == 'getsockopt':
        level, opt = LEVELS[c['level']], OPTS[c['opt']]
        if c['opt'] == 'SO_LINGER':
            onoff, linger = struct.unpack('ii', s.getsockopt(level, opt, 8))
            return 0, {'onoff': onoff, 'linger': linger}
        return 0, {'optval': s.getsockopt(level, opt)}
    else:
        raise OSError(errno.ENOSYS, 'unknown call ' + k)
    return 0, {}

def call(c):
    c['ts'] = now()
    try:
        value, extra = do_call(c)
        out = {'ev': 'ret', 'id': c['id'], 'value': value, 't': now(), 'ts': c['ts']}
        out.update(extra)
    except OSError as e:
        out = {'ev': 'ret', 'id': c['id'], 'value': -1, 'errno': errno.errorcode.get(e.errno, str(e.errno)), 't': now(), 'ts': c['ts']}
        if c['call'] == 'connect':
            try:
                out['lport'] = sock(c).getsockname()[1]
            except OSError:
                pass
    emit(out)

threading.Thread(target=reader, daemon=True).start()
emit({'ev': 'ready', 't': now()})
for line in sys.stdin:
    c = json.loads(line)
    op = c['op']
    c['ts'] = now()
    if op == 'inject':
        os.write(tun, bytes.fromhex(c['hex']))
        emit({'ev': 'ret', 'id': c['id'], 'value': 0, 't': now(), 'ts': c['ts']})
    elif op == 'call' and c.get('mayBlock'):
        th = threading.Thread(target=call, args=(c,), daemon=True)
        th.start()
        th.join(0.002)
        if th.is_alive():
            emit({'ev': 'blocked', 'id': c['id'], 'ts': c['ts']})
    elif op == 'call':
        call(c)
    elif op == 'quit':
        break
os._exit(0)
`;
