-- ftcp-log.lua: Wireshark dissector for ftcp's control plane.
--
--   FTCP-LOG  the log channel between primary and backup (src/replica/channel.ts frames,
--             carrying src/replica/log.ts entries), UDP port 47001 in the captures;
--   FTCP-ARB  the arbiter's test-and-set request/response (src/replica/arbiter.ts),
--             UDP port 47002.
--
-- In a log capture (captures/<run>/log.pcapng) each frame is the payload of a synthetic
-- IPv4/UDP datagram (src/wire/udp.ts). The inbound IP packet a `packet` entry logs
-- is handed to Wireshark's IP dissector, so the client's segment shows as IP/TCP inside
-- the entry. Every CRC-32 is checked; a frame the decoders in src/replica would reject is
-- flagged with expert info (never a Lua error).
--
-- Load: `tshark -X lua_script:wireshark/ftcp-log.lua -r log.pcapng`, or copy this file to
-- ~/.local/lib/wireshark/plugins/. The ports are preferences (ftcplog.udp_port,
-- ftcparb.udp_port); both protocols are also offered under "Decode As..." for UDP.
--
-- Field names (display filters): ftcplog.type, ftcplog.epoch, ftcplog.r, ftcplog.last_index,
-- ftcplog.entry.kind, ftcplog.entry.index, ftcplog.entry.epoch, ftcplog.entry.time,
-- ftcplog.entry.crc.status, ftcplog.check.*, ftcplog.entry.digest, ftcparb.type, ftcparb.won ...
-- Formats are big-endian, as documented at the top of channel.ts, log.ts and arbiter.ts.

local LOG_PORT = 47001
local ARBITER_PORT = 47002
local FORMAT_VERSION = 1
local CHANNEL_HEADER = 12
local ENTRY_HEADER = 28
local ENTRY_MIN = ENTRY_HEADER + 7 -- header, u16 check count, u8 hasDigest, CRC
local ENTRY_MAX = 256 * 1024 -- LOG_FRAME_MAX_BYTES
local SAFE_HI = 0x200000 -- u64 values at or above 2^53 are not indices (decoders reject them)

---------------------------------------------------------------------------------------------
-- CRC-32 (IEEE 802.3, as zlib and src/wire/crc32.ts). Wireshark bundles the `bit`
-- library in every version; bit32 is there too up to Lua 5.2.
local bitlib = bit32 or bit
local band, bxor, rshift = bitlib.band, bitlib.bxor, bitlib.rshift
local TWO32 = 4294967296

local crc_table = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if band(c, 1) ~= 0 then c = bxor(rshift(c, 1), 0xEDB88320) else c = rshift(c, 1) end
  end
  crc_table[i] = c
end

local function crc32(tvb, offset, length)
  local crc = 0xFFFFFFFF
  local s = tvb:raw(offset, length)
  local chunk = 4096
  for at = 1, #s, chunk do
    local bytes = { s:byte(at, math.min(at + chunk - 1, #s)) }
    for k = 1, #bytes do
      crc = bxor(crc_table[band(bxor(crc, bytes[k]), 0xFF)], rshift(crc, 8))
    end
  end
  return bxor(crc, 0xFFFFFFFF) % TWO32
end

---------------------------------------------------------------------------------------------
-- Protocols and fields

local p_log = Proto("ftcplog", "FTCP log channel")
local p_arb = Proto("ftcparb", "FTCP arbiter (test-and-set)")

local FRAME_TYPES = { [1] = "append", [2] = "heartbeat", [3] = "ack", [4] = "resend", [5] = "join", [6] = "snapshot", [7] = "hello", [8] = "handover", [9] = "forward" }
local ENTRY_KINDS = { [1] = "packet", [2] = "tick", [3] = "app", [4] = "epoch", [5] = "retransmit" }
local APP_OPS = { [1] = "write", [2] = "shutdown", [3] = "close", [4] = "read", [5] = "abort" }
local CRC_STATUS = { [0] = "Bad", [1] = "Good", [2] = "Unverified" }
local ARB_TYPES = { [1] = "request", [2] = "response" }

local f = {
  version = ProtoField.uint8("ftcplog.version", "Format version"),
  type = ProtoField.uint8("ftcplog.type", "Frame type", base.DEC, FRAME_TYPES),
  reserved = ProtoField.uint16("ftcplog.reserved", "Reserved", base.HEX),
  length = ProtoField.uint32("ftcplog.length", "Frame length"),
  epoch = ProtoField.uint32("ftcplog.epoch", "Sender epoch"),
  r = ProtoField.uint64("ftcplog.r", "Released index (r)"),
  count = ProtoField.uint16("ftcplog.count", "Entry count"),
  last_index = ProtoField.uint64("ftcplog.last_index", "Last index appended"),
  ack = ProtoField.uint64("ftcplog.ack", "Highest index applied in order"),
  resend_from = ProtoField.uint64("ftcplog.resend_from", "First index wanted"),
  join_name_len = ProtoField.uint8("ftcplog.join.name_length", "Name length"),
  join_name = ProtoField.string("ftcplog.join.name", "Joining replica"),
  snap_index = ProtoField.uint64("ftcplog.snapshot.index", "Snapshot index"),
  snap_total = ProtoField.uint32("ftcplog.snapshot.total", "Snapshot total bytes"),
  snap_offset = ProtoField.uint32("ftcplog.snapshot.offset", "Chunk offset"),
  snap_len = ProtoField.uint32("ftcplog.snapshot.chunk_length", "Chunk length"),
  snap_chunk = ProtoField.bytes("ftcplog.snapshot.chunk", "Chunk"),
  hello_len = ProtoField.uint16("ftcplog.hello.length", "Hello text length"),
  hello_text = ProtoField.string("ftcplog.hello.text", "Configuration (JSON)"),
  forward_packet = ProtoField.bytes("ftcplog.forward.packet", "Forwarded client packet"),
  crc = ProtoField.uint32("ftcplog.crc", "CRC-32", base.HEX),
  crc_status = ProtoField.uint8("ftcplog.crc.status", "CRC status", base.DEC, CRC_STATUS),

  entry = ProtoField.none("ftcplog.entry", "Log entry"),
  e_version = ProtoField.uint8("ftcplog.entry.version", "Format version"),
  e_kind = ProtoField.uint8("ftcplog.entry.kind", "Kind", base.DEC, ENTRY_KINDS),
  e_reserved = ProtoField.uint16("ftcplog.entry.reserved", "Reserved", base.HEX),
  e_length = ProtoField.uint32("ftcplog.entry.length", "Entry length"),
  e_index = ProtoField.uint64("ftcplog.entry.index", "Index"),
  e_epoch = ProtoField.uint32("ftcplog.entry.epoch", "Epoch"),
  e_time = ProtoField.uint64("ftcplog.entry.time", "Time (us)"),
  e_packet_len = ProtoField.uint32("ftcplog.entry.packet_length", "Packet length"),
  e_packet = ProtoField.bytes("ftcplog.entry.packet", "Inbound IP packet"),
  e_app_socket = ProtoField.uint32("ftcplog.entry.app.socket", "Socket"),
  e_app_op = ProtoField.uint8("ftcplog.entry.app.op", "Operation", base.DEC, APP_OPS),
  e_app_n = ProtoField.uint32("ftcplog.entry.app.n", "Byte count / amount"),
  e_app_data = ProtoField.bytes("ftcplog.entry.app.data", "Written bytes"),
  e_new_epoch = ProtoField.uint32("ftcplog.entry.new_epoch", "New epoch"),
  e_member_count = ProtoField.uint8("ftcplog.entry.member_count", "Members"),
  e_member = ProtoField.string("ftcplog.entry.member", "Member"),
  e_skip_count = ProtoField.uint32("ftcplog.entry.skip_count", "Connections skipped (segment at SND.UNA re-emitted)"),
  e_skip = ProtoField.uint32("ftcplog.entry.skip", "Skipped socket"),
  e_check_count = ProtoField.uint16("ftcplog.entry.check_count", "State checks"),
  check = ProtoField.none("ftcplog.check", "State check"),
  c_socket = ProtoField.uint32("ftcplog.check.socket", "Socket"),
  c_snd_una = ProtoField.uint32("ftcplog.check.snd_una", "SND.UNA"),
  c_snd_nxt = ProtoField.uint32("ftcplog.check.snd_nxt", "SND.NXT"),
  c_rcv_nxt = ProtoField.uint32("ftcplog.check.rcv_nxt", "RCV.NXT"),
  c_snd_wnd = ProtoField.uint32("ftcplog.check.snd_wnd", "SND.WND"),
  c_rcv_wnd = ProtoField.uint32("ftcplog.check.rcv_wnd", "RCV.WND"),
  e_has_digest = ProtoField.uint8("ftcplog.entry.has_digest", "Has digest"),
  e_digest = ProtoField.uint32("ftcplog.entry.digest", "State digest", base.HEX),
  e_crc = ProtoField.uint32("ftcplog.entry.crc", "CRC-32", base.HEX),
  e_crc_status = ProtoField.uint8("ftcplog.entry.crc.status", "CRC status", base.DEC, CRC_STATUS),
}
p_log.fields = f

local a = {
  version = ProtoField.uint8("ftcparb.version", "Format version"),
  type = ProtoField.uint8("ftcparb.type", "Message type", base.DEC, ARB_TYPES),
  reserved = ProtoField.uint16("ftcparb.reserved", "Reserved", base.HEX),
  id = ProtoField.uint32("ftcparb.id", "Request id"),
  epoch = ProtoField.uint32("ftcparb.epoch", "Epoch"),
  replica_len = ProtoField.uint8("ftcparb.replica_length", "Name length"),
  replica = ProtoField.string("ftcparb.replica", "Asking replica"),
  winner_len = ProtoField.uint8("ftcparb.winner_length", "Name length"),
  winner = ProtoField.string("ftcparb.winner", "Winner"),
  won = ProtoField.bool("ftcparb.won", "Asker won"),
  crc = ProtoField.uint32("ftcparb.crc", "CRC-32", base.HEX),
  crc_status = ProtoField.uint8("ftcparb.crc.status", "CRC status", base.DEC, CRC_STATUS),
}
p_arb.fields = a

local ex = {
  malformed = ProtoExpert.new("ftcplog.malformed", "Malformed log-channel frame", expert.group.MALFORMED, expert.severity.ERROR),
  bad_crc = ProtoExpert.new("ftcplog.bad_crc", "Bad log-channel frame CRC", expert.group.CHECKSUM, expert.severity.ERROR),
  entry_malformed = ProtoExpert.new("ftcplog.entry.malformed", "Malformed log entry", expert.group.MALFORMED, expert.severity.ERROR),
  entry_bad_crc = ProtoExpert.new("ftcplog.entry.bad_crc", "Bad log entry CRC", expert.group.CHECKSUM, expert.severity.ERROR),
  subdissector = ProtoExpert.new("ftcplog.entry.packet_error", "The embedded IP packet did not dissect", expert.group.MALFORMED, expert.severity.ERROR),
}
p_log.experts = { ex.malformed, ex.bad_crc, ex.entry_malformed, ex.entry_bad_crc, ex.subdissector }

local ax = {
  malformed = ProtoExpert.new("ftcparb.malformed", "Malformed arbiter message", expert.group.MALFORMED, expert.severity.ERROR),
  bad_crc = ProtoExpert.new("ftcparb.bad_crc", "Bad arbiter message CRC", expert.group.CHECKSUM, expert.severity.ERROR),
}
p_arb.experts = { ax.malformed, ax.bad_crc }

p_log.prefs.udp_port = Pref.uint("UDP port", LOG_PORT, "UDP port of the log channel in ftcp captures")
p_arb.prefs.udp_port = Pref.uint("UDP port", ARBITER_PORT, "UDP port of the arbiter in ftcp captures")

local ip_dissector = Dissector.get("ip")

---------------------------------------------------------------------------------------------
-- Helpers

-- A u64 at `offset` as a string, or nil when it is 2^53 or more (the decoders reject it).
local function safe_u64(tvb, offset)
  if tvb:range(offset, 4):uint() >= SAFE_HI then return nil end
  return tostring(tvb:range(offset, 8):uint64())
end

local function format_us(tvb, offset)
  local hi = tvb:range(offset, 4):uint()
  local lo = tvb:range(offset + 4, 4):uint()
  local us = hi * TWO32 + lo
  return string.format("%d.%06d s", math.floor(us / 1000000), us % 1000000)
end

-- Adds a CRC field over [0, end_) with its status; returns true when it matches.
local function add_crc(tree, tvb, end_, f_crc, f_status, bad_expert, what)
  local stored = tvb:range(end_, 4):uint()
  local computed = crc32(tvb, 0, end_)
  local item = tree:add(f_crc, tvb:range(end_, 4))
  if computed == stored then
    item:append_text(" [correct]")
    tree:add(f_status, 1):set_generated()
    return true
  end
  item:append_text(string.format(" [incorrect, should be 0x%08x]", computed))
  tree:add(f_status, 0):set_generated()
  item:add_proto_expert_info(bad_expert, string.format("Bad %s CRC: 0x%08x, computed 0x%08x", what, stored, computed))
  return false
end

-- Hands an IP packet to Wireshark's IP dissector, keeping the outer packet's columns and
-- addresses. A dissector exception becomes expert info, not a Lua error.
local ADDRESS_FIELDS = { "src", "dst", "net_src", "net_dst", "dl_src", "dl_dst", "src_port", "dst_port" }

local function dissect_ip(tvb, pinfo, tree)
  if ip_dissector == nil then return end
  local saved = {}
  for _, k in ipairs(ADDRESS_FIELDS) do pcall(function() saved[k] = pinfo[k] end) end
  local ok, err = pcall(function() ip_dissector:call(tvb, pinfo, tree) end)
  for _, k in ipairs(ADDRESS_FIELDS) do
    if saved[k] ~= nil then pcall(function() pinfo[k] = saved[k] end) end
  end
  if not ok then tree:add_proto_expert_info(ex.subdissector, "The embedded IP packet did not dissect: " .. tostring(err)) end
end

---------------------------------------------------------------------------------------------
-- Log entries (src/replica/log.ts)

-- The fields of one entry frame occupying all of `tvb`, under `item`. Returns a summary table
-- { kind = name or nil, index = string or nil, bad = true or nil, crc_end = offset of the CRC }.
local function dissect_entry_fields(tvb, pinfo, item)
  local n = tvb:len()
  local info = {}
  local bad = function(text)
    item:add_proto_expert_info(ex.entry_malformed, text)
    info.bad = true
    return info
  end
  if n < ENTRY_MIN then
    item:set_text(string.format("Log entry (%d bytes, too short)", n))
    return bad(string.format("Log entry of %d bytes: shorter than the %d-byte minimum", n, ENTRY_MIN))
  end
  local version = tvb:range(0, 1):uint()
  item:add(f.e_version, tvb:range(0, 1))
  if version ~= FORMAT_VERSION then return bad(string.format("Unknown log entry format version %d", version)) end
  local kind_code = tvb:range(1, 1):uint()
  local kind = ENTRY_KINDS[kind_code]
  info.kind = kind
  info.kind_code = kind_code
  item:add(f.e_kind, tvb:range(1, 1))
  item:add(f.e_reserved, tvb:range(2, 2))
  local length = tvb:range(4, 4):uint()
  local length_item = item:add(f.e_length, tvb:range(4, 4))
  local index = safe_u64(tvb, 8)
  info.index = index
  local index_item = item:add(f.e_index, tvb:range(8, 8))
  local epoch = tvb:range(16, 4):uint()
  item:add(f.e_epoch, tvb:range(16, 4))
  local time_item = item:add(f.e_time, tvb:range(20, 8))
  time_item:append_text(" (" .. format_us(tvb, 20) .. ")")
  item:set_text(string.format("Log entry %s: %s, epoch %d, time %s", index or "?", kind or ("kind " .. kind_code), epoch, format_us(tvb, 20)))
  if length > ENTRY_MAX then
    length_item:add_proto_expert_info(ex.entry_malformed, string.format("Log entry of %d bytes exceeds the %d-byte maximum", length, ENTRY_MAX))
    info.bad = true
    return info
  end
  if length ~= n then
    length_item:add_proto_expert_info(ex.entry_malformed, string.format("Entry length field says %d bytes, the entry frame has %d", length, n))
    info.bad = true
    return info
  end
  local end_ = n - 4
  info.crc_end = end_
  if index == nil or tvb:range(20, 4):uint() >= SAFE_HI then
    index_item:add_proto_expert_info(ex.entry_malformed, "Index or time is 2^53 or more")
    info.bad = true
  end
  if kind == nil then return bad(string.format("Unknown log entry kind %d", kind_code)) end

  local pos = ENTRY_HEADER
  local need = function(k) return pos + k <= end_ end
  if kind == "packet" then
    if not need(4) then return bad("Packet entry ends before its packet length") end
    local plen = tvb:range(pos, 4):uint()
    item:add(f.e_packet_len, tvb:range(pos, 4))
    pos = pos + 4
    if not need(plen) then return bad(string.format("Packet of %d bytes runs past the entry", plen)) end
    if plen > 0 then
      local pitem = item:add(f.e_packet, tvb:range(pos, plen))
      pitem:set_text(string.format("Inbound IP packet (%d bytes)", plen))
      dissect_ip(tvb:range(pos, plen):tvb(), pinfo, pitem)
    end
    pos = pos + plen
  elseif kind == "app" then
    if not need(9) then return bad("App entry ends before its operation") end
    item:add(f.e_app_socket, tvb:range(pos, 4))
    local op = APP_OPS[tvb:range(pos + 4, 1):uint()]
    item:add(f.e_app_op, tvb:range(pos + 4, 1))
    local k = tvb:range(pos + 5, 4):uint()
    item:add(f.e_app_n, tvb:range(pos + 5, 4))
    pos = pos + 9
    if op == nil then return bad("Unknown app operation") end
    info.op = op
    if op == "write" then
      if not need(k) then return bad(string.format("Write of %d bytes runs past the entry", k)) end
      if k > 0 then item:add(f.e_app_data, tvb:range(pos, k)) end
      pos = pos + k
    end
  elseif kind == "epoch" then
    if not need(5) then return bad("Epoch entry ends before its members") end
    item:add(f.e_new_epoch, tvb:range(pos, 4))
    local members = tvb:range(pos + 4, 1):uint()
    item:add(f.e_member_count, tvb:range(pos + 4, 1))
    pos = pos + 5
    for _ = 1, members do
      if not need(1) then return bad("Epoch entry ends inside its member list") end
      local k = tvb:range(pos, 1):uint()
      if not need(1 + k) then return bad("Member name runs past the entry") end
      item:add(f.e_member, tvb:range(pos + 1, k))
      pos = pos + 1 + k
    end
  elseif kind == "retransmit" then
    if not need(4) then return bad("Retransmit entry ends before its count") end
    local skipped = tvb:range(pos, 4):uint()
    item:add(f.e_skip_count, tvb:range(pos, 4))
    pos = pos + 4
    if not need(skipped * 4) then return bad("Retransmit entry's sockets run past the entry") end
    for _ = 1, skipped do
      item:add(f.e_skip, tvb:range(pos, 4))
      pos = pos + 4
    end
  end
  if not need(2) then return bad("Entry ends before its state checks") end
  local checks = tvb:range(pos, 2):uint()
  item:add(f.e_check_count, tvb:range(pos, 2))
  pos = pos + 2
  if not need(checks * 24 + 1) then return bad(string.format("%d state checks run past the entry", checks)) end
  for _ = 1, checks do
    local c = item:add(f.check, tvb:range(pos, 24))
    c:add(f.c_socket, tvb:range(pos, 4))
    c:add(f.c_snd_una, tvb:range(pos + 4, 4))
    c:add(f.c_snd_nxt, tvb:range(pos + 8, 4))
    c:add(f.c_rcv_nxt, tvb:range(pos + 12, 4))
    c:add(f.c_snd_wnd, tvb:range(pos + 16, 4))
    c:add(f.c_rcv_wnd, tvb:range(pos + 20, 4))
    c:set_text(string.format("State check: socket %d, SND.UNA %d, SND.NXT %d, RCV.NXT %d, SND.WND %d, RCV.WND %d",
      tvb:range(pos, 4):uint(), tvb:range(pos + 4, 4):uint(), tvb:range(pos + 8, 4):uint(),
      tvb:range(pos + 12, 4):uint(), tvb:range(pos + 16, 4):uint(), tvb:range(pos + 20, 4):uint()))
    pos = pos + 24
  end
  local has_digest = tvb:range(pos, 1):uint()
  item:add(f.e_has_digest, tvb:range(pos, 1))
  pos = pos + 1
  if has_digest == 1 then
    if not need(4) then return bad("Entry ends before its digest") end
    item:add(f.e_digest, tvb:range(pos, 4))
    pos = pos + 4
  elseif has_digest ~= 0 then
    return bad(string.format("hasDigest is %d, not 0 or 1", has_digest))
  end
  if pos ~= end_ then return bad(string.format("%d bytes between the body and the CRC", end_ - pos)) end
  return info
end

-- One entry frame (all of `tvb`) as a subtree of `tree`, its CRC last.
local function dissect_entry(tvb, pinfo, tree)
  local item = tree:add(f.entry, tvb:range(0, tvb:len()))
  local info = dissect_entry_fields(tvb, pinfo, item)
  if info.crc_end ~= nil and not add_crc(item, tvb, info.crc_end, f.e_crc, f.e_crc_status, ex.entry_bad_crc, "log entry") then info.bad = true end
  return info
end

---------------------------------------------------------------------------------------------
-- Channel frames (src/replica/channel.ts)

local function dissect_log(tvb, pinfo, tree)
  local len = tvb:len()
  pinfo.cols.protocol:set("FTCP-LOG")
  local root = tree:add(p_log, tvb:range(0, len))
  local summary = "malformed frame"
  local marks = {}
  local mark = function(text)
    for _, m in ipairs(marks) do if m == text then return end end
    marks[#marks + 1] = text
  end
  local crc_end
  local finish = function()
    if crc_end ~= nil and not add_crc(root, tvb, crc_end, f.crc, f.crc_status, ex.bad_crc, "frame") then mark("bad CRC") end
    local text = summary
    if #marks > 0 then text = text .. " [" .. table.concat(marks, "; ") .. "]" end
    -- The embedded packets' dissectors may have put fences and prefixes ("[TCP ...]") in the
    -- columns: the row describes the log-channel frame.
    pinfo.cols.protocol:clear_fence()
    pinfo.cols.info:clear_fence()
    pinfo.cols.protocol:set("FTCP-LOG")
    pinfo.cols.info:set(text)
    root:append_text(": " .. text)
    return len
  end
  local malformed = function(item, text)
    item:add_proto_expert_info(ex.malformed, text)
    mark("malformed")
  end

  if len < CHANNEL_HEADER + 4 then
    malformed(root, string.format("Frame of %d bytes: shorter than the %d-byte header and CRC", len, CHANNEL_HEADER + 4))
    return finish()
  end
  local version = tvb:range(0, 1):uint()
  local version_item = root:add(f.version, tvb:range(0, 1))
  if version ~= FORMAT_VERSION then
    summary = string.format("format version %d", version)
    malformed(version_item, string.format("Unknown log-channel format version %d", version))
    return finish()
  end
  local type_code = tvb:range(1, 1):uint()
  local ftype = FRAME_TYPES[type_code]
  local type_item = root:add(f.type, tvb:range(1, 1))
  root:add(f.reserved, tvb:range(2, 2))
  local length = tvb:range(4, 4):uint()
  local length_item = root:add(f.length, tvb:range(4, 4))
  local epoch = tvb:range(8, 4):uint()
  root:add(f.epoch, tvb:range(8, 4))
  summary = string.format("%s, epoch %d", ftype or ("type " .. type_code), epoch)

  if length ~= len or length < CHANNEL_HEADER + 4 then
    malformed(length_item, string.format("Frame length field says %d bytes, the datagram carries %d", length, len))
    return finish()
  end
  local end_ = len - 4
  crc_end = end_
  if ftype == nil then
    malformed(type_item, string.format("Unknown frame type %d", type_code))
    return finish()
  end

  local pos = CHANNEL_HEADER
  local need = function(k) return pos + k <= end_ end
  local u64 = function(field, label)
    local v = safe_u64(tvb, pos)
    local item = root:add(field, tvb:range(pos, 8))
    if v == nil then malformed(item, label .. " is 2^53 or more") end
    pos = pos + 8
    return v or "?"
  end
  local ok = true
  if ftype == "append" then
    if need(10) then
      local r = u64(f.r, "r")
      local count = tvb:range(pos, 2):uint()
      root:add(f.count, tvb:range(pos, 2))
      pos = pos + 2
      local first, last, kinds, kind_seen, carried = nil, nil, {}, {}, 0
      for i = 1, count do
        if not need(8) then
          malformed(root, string.format("Entry %d of %d: no room for its header", i, count))
          ok = nil
          break
        end
        local n = tvb:range(pos + 4, 4):uint()
        if n < 8 or not need(n) then
          malformed(root, string.format("Entry %d of %d: its length (%d) runs past the append frame", i, count, n))
          ok = nil
          break
        end
        local info = dissect_entry(tvb:range(pos, n):tvb(), pinfo, root)
        carried = carried + 1
        first = first or info.index
        last = info.index or last
        local label = info.kind or info.kind_code and ("kind " .. info.kind_code) or "?"
        if not kind_seen[label] then
          kind_seen[label] = true
          kinds[#kinds + 1] = label
        end
        if info.bad then mark(string.format("entry %s bad", info.index or ("#" .. i))) end
        pos = pos + n
      end
      summary = string.format("append %d %s entr%s%s, r = %s, epoch %d", carried, table.concat(kinds, "/"),
        carried == 1 and "y" or "ies", first and string.format(" [%s..%s]", first, last) or "", r, epoch)
    else
      ok = false
    end
  elseif ftype == "heartbeat" then
    if need(16) then
      local r = u64(f.r, "r")
      local last = u64(f.last_index, "Last index")
      summary = string.format("heartbeat r = %s, last index %s, epoch %d", r, last, epoch)
    else
      ok = false
    end
  elseif ftype == "ack" or ftype == "resend" then
    if need(8) then
      local v = u64(ftype == "ack" and f.ack or f.resend_from, ftype == "ack" and "Ack index" or "Resend index")
      summary = string.format(ftype == "ack" and "ack %s, epoch %d" or "resend from %s, epoch %d", v, epoch)
    else
      ok = false
    end
  elseif ftype == "join" then
    if need(1) then
      local k = tvb:range(pos, 1):uint()
      root:add(f.join_name_len, tvb:range(pos, 1))
      pos = pos + 1
      if need(k) then
        local name = k > 0 and tvb:range(pos, k):string(ENC_UTF_8) or ""
        if k > 0 then root:add(f.join_name, tvb:range(pos, k)) end
        pos = pos + k
        summary = string.format("%s asks to join", name)
      else
        ok = false
      end
    else
      ok = false
    end
  elseif ftype == "snapshot" then
    if need(20) then
      local index = u64(f.snap_index, "Snapshot index")
      local total = tvb:range(pos, 4):uint()
      local offset = tvb:range(pos + 4, 4):uint()
      local k = tvb:range(pos + 8, 4):uint()
      root:add(f.snap_total, tvb:range(pos, 4))
      root:add(f.snap_offset, tvb:range(pos + 4, 4))
      local len_item = root:add(f.snap_len, tvb:range(pos + 8, 4))
      pos = pos + 12
      if not need(k) then
        ok = false
      else
        if k > 0 then root:add(f.snap_chunk, tvb:range(pos, k)) end
        pos = pos + k
        if offset + k > total then malformed(len_item, string.format("Chunk %d..%d runs past the snapshot's %d bytes", offset, offset + k, total)) end
        summary = string.format("snapshot at index %s, bytes %d..%d of %d, epoch %d", index, offset, offset + k, total, epoch)
      end
    else
      ok = false
    end
  elseif ftype == "hello" then
    -- The configuration the replicas compare before any entry (src/net/handshake-check.ts).
    if need(2) then
      local k = tvb:range(pos, 2):uint()
      root:add(f.hello_len, tvb:range(pos, 2))
      pos = pos + 2
      if need(k) then
        if k > 0 then root:add(f.hello_text, tvb:range(pos, k)) end
        pos = pos + k
        summary = string.format("hello (%d bytes of configuration), epoch %d", k, epoch)
      else
        ok = false
      end
    else
      ok = false
    end
  elseif ftype == "handover" then
    -- Planned switchover: the primary's r and the last index it logged.
    if need(16) then
      local r = u64(f.r, "r")
      local last = u64(f.last_index, "Last index")
      summary = string.format("handover r = %s, last index %s, epoch %d", r, last, epoch)
    else
      ok = false
    end
  elseif ftype == "forward" then
    -- A client packet that reached the old primary during a switchover, unlogged.
    local k = end_ - pos
    if k > 0 then root:add(f.forward_packet, tvb:range(pos, k)) end
    pos = end_
    summary = string.format("forward %d-byte client packet, epoch %d", k, epoch)
  end
  if ok == false then
    malformed(root, string.format("The %s body ends early", ftype))
  elseif ok and pos ~= end_ then
    malformed(root, string.format("%d bytes between the %s body and the CRC", end_ - pos, ftype))
  end
  return finish()
end

---------------------------------------------------------------------------------------------
-- Arbiter messages (src/replica/arbiter.ts)

local function dissect_arbiter(tvb, pinfo, tree)
  local len = tvb:len()
  pinfo.cols.protocol:set("FTCP-ARB")
  local root = tree:add(p_arb, tvb:range(0, len))
  local crc_end
  local crc_ok = true
  local add_arb_crc = function()
    if crc_end ~= nil then crc_ok = add_crc(root, tvb, crc_end, a.crc, a.crc_status, ax.bad_crc, "arbiter message") end
    crc_end = nil
  end
  local malformed = function(item, text)
    item:add_proto_expert_info(ax.malformed, text)
    add_arb_crc()
    pinfo.cols.info:set("malformed arbiter message")
    return len
  end
  if len < 18 then return malformed(root, string.format("Message of %d bytes: shorter than the 18-byte minimum", len)) end
  local version = tvb:range(0, 1):uint()
  local version_item = root:add(a.version, tvb:range(0, 1))
  if version ~= FORMAT_VERSION then return malformed(version_item, string.format("Unknown arbiter format version %d", version)) end
  local type_code = tvb:range(1, 1):uint()
  local mtype = ARB_TYPES[type_code]
  local type_item = root:add(a.type, tvb:range(1, 1))
  root:add(a.reserved, tvb:range(2, 2))
  root:add(a.id, tvb:range(4, 4))
  local epoch = tvb:range(8, 4):uint()
  root:add(a.epoch, tvb:range(8, 4))
  local end_ = len - 4
  crc_end = end_
  if mtype == nil then return malformed(type_item, string.format("Unknown arbiter message type %d", type_code)) end
  local pos = 12
  local name = function(f_len, f_name, what)
    if pos >= end_ then return nil, what .. " missing" end
    local k = tvb:range(pos, 1):uint()
    root:add(f_len, tvb:range(pos, 1))
    if k == 0 or pos + 1 + k > end_ then return nil, string.format("%s of %d bytes does not fit", what, k) end
    local s = tvb:range(pos + 1, k):string(ENC_UTF_8)
    root:add(f_name, tvb:range(pos + 1, k))
    pos = pos + 1 + k
    return s
  end
  local replica, err = name(a.replica_len, a.replica, "Asking replica's name")
  if replica == nil then return malformed(root, err) end
  local summary
  if mtype == "request" then
    summary = string.format("%s asks for the test-and-set of epoch %d", replica, epoch)
  else
    local winner, werr = name(a.winner_len, a.winner, "Winner's name")
    if winner == nil then return malformed(root, werr) end
    root:add(a.won, winner == replica):set_generated()
    summary = string.format("epoch %d belongs to %s (%s)", epoch, winner, winner == replica and "won" or "lost")
  end
  if pos ~= end_ then return malformed(root, string.format("%d bytes after the names", end_ - pos)) end
  add_arb_crc()
  if not crc_ok then summary = summary .. " [bad CRC]" end
  pinfo.cols.info:set(summary)
  root:append_text(": " .. summary)
  return len
end

---------------------------------------------------------------------------------------------
-- Registration: the UDP ports (preferences), and "Decode As" for UDP.

-- Any Lua error past this point is a bug in this file; flag it instead of failing the packet silently.
local function guarded(proto, fn, bug_expert)
  return function(tvb, pinfo, tree)
    local ok, res = pcall(fn, tvb, pinfo, tree)
    if ok then return res end
    tree:add(proto, tvb:range(0, tvb:len())):add_proto_expert_info(bug_expert, "Dissector error: " .. tostring(res))
    return tvb:len()
  end
end

p_log.dissector = guarded(p_log, dissect_log, ex.malformed)
p_arb.dissector = guarded(p_arb, dissect_arbiter, ax.malformed)

local udp_port = DissectorTable.get("udp.port")
local registered = { log = LOG_PORT, arb = ARBITER_PORT }
udp_port:add(LOG_PORT, p_log)
udp_port:add(ARBITER_PORT, p_arb)
udp_port:add_for_decode_as(p_log)
udp_port:add_for_decode_as(p_arb)

function p_log.prefs_changed()
  if p_log.prefs.udp_port ~= registered.log then
    udp_port:remove(registered.log, p_log)
    registered.log = p_log.prefs.udp_port
    udp_port:add(registered.log, p_log)
  end
end

function p_arb.prefs_changed()
  if p_arb.prefs.udp_port ~= registered.arb then
    udp_port:remove(registered.arb, p_arb)
    registered.arb = p_arb.prefs.udp_port
    udp_port:add(registered.arb, p_arb)
  end
end
