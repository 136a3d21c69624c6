"""The decision log's retention: at most ``max_entries`` entries, ``max_bytes`` bytes, ``max_age`` seconds.

Redis trims a stream by length (MAXLEN) or by id (MINID: ids are milliseconds, so MINID is an
age), never by bytes, and a 1,000-line claim is ~98 KB where a 1-line one is ~150 bytes: a cap
in entries alone does not bound memory.  So the append script keeps a ledger beside the stream:

    {prefix}:decisions:slices  list  "first_ms last_ms last_seq bytes entries", oldest first
    {prefix}:decisions:size    hash  bytes, entries: the sums over the slices

Each batch adds its entries' bytes (payload + ``64 + payload/64 + min(payload, 4096)/6``: the
stream's own overhead, the last term its node's share of an entry up to ``stream-node-max-bytes``,
measured with ``MEMORY USAGE … SAMPLES 0`` at 60 B–98 KB an entry, conservative) to the newest
slice, or opens one when that slice would pass 1/1024 of a bound.  While any bound is passed, or
the oldest slice is past the age, the oldest slices are dropped from the ledger and one
``XTRIM MINID`` removes their entries: exact to one slice (~0.1% of the bound), O(1) a batch, no
read of the entries.  A stream found without its ledger (an upgrade, a deleted key) is counted
once with ``MEMORY USAGE``; a ledger without its stream is reset.

The archive's consumer group (``ARCHIVE_GROUP``) holds the trim back: while it exists, the entry
and age bounds drop only slices the group has acknowledged (below its oldest pending entry, or
past its last-delivered id when none is pending; ``XINFO GROUPS`` and the ``XPENDING`` summary,
O(1), read only when a slice is due to go).  A slice held back for it sets ``held`` in the size
hash (cleared once the trim runs freely again).  The byte bound is the memory's and binds
regardless: a bounded log must drop something when the archiver is down for long.  Entries it
trims that the group never read are added to ``unarchived`` in the size hash; the archiver takes
that count (and counts the pending ones it finds gone itself), reports them lost and exits 1
under ``--once``.  Without the group (no archiver ever ran) the three bounds trim as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["APPEND", "ARCHIVE_GROUP", "SLICES", "TAKE_UNARCHIVED", "Retention"]

#: Slices a bound is divided into: the trimming's granularity.
SLICES = 1024
#: The archiver's consumer group (``gateway.decisionlog.archiver``): the trim waits for it.
ARCHIVE_GROUP = "archive"

#: KEYS: stream, slices, size.  ARGV: max_entries, max_bytes, max_age_ms, slice_ms, slice_bytes,
#: slice_entries, the archive's group, then the entries.  Returns the number of entries written.
APPEND = """
local stream, slices, size = KEYS[1], KEYS[2], KEYS[3]
local max_entries, max_bytes, max_age = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local slice_ms, slice_bytes, slice_entries = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local group = ARGV[7]
local function parse(slice)
    local f, lm, ls, b, e = string.match(slice, '(%d+) (%d+) (%d+) (%d+) (%d+)')
    return tonumber(f), tonumber(lm), tonumber(ls), tonumber(b), tonumber(e)
end
local function split(id)
    local ms, seq = string.match(id, '(%d+)-(%d+)')
    return tonumber(ms), tonumber(seq)
end
-- The archive group's progress: false without the group, else {acked_ms, acked_seq, read_ms, read_seq}:
-- every entry below acked is acknowledged (archived), every entry up to read was delivered to it.
local function archive_floor()
    for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
        local name, last, pending = nil, '0-0', 0
        for i = 1, #g, 2 do
            if g[i] == 'name' then name = g[i + 1]
            elseif g[i] == 'last-delivered-id' then last = g[i + 1]
            elseif g[i] == 'pending' then pending = tonumber(g[i + 1]) end
        end
        if name == group then
            local rm, rs = split(last)
            local am, as = rm, rs + 1
            if pending > 0 then am, as = split(redis.call('XPENDING', stream, group)[2]) end
            return {am, as, rm, rs}
        end
    end
    return false
end
local function before(ms, seq, fm, fs)  -- (ms, seq) < (fm, fs)
    return ms < fm or (ms == fm and seq < fs)
end
if redis.call('EXISTS', stream) == 0 then
    redis.call('DEL', slices, size)
elseif redis.call('EXISTS', size) == 0 then
    local info = redis.call('XINFO', 'STREAM', stream)
    local n, last = 0, '0-0'
    for i = 1, #info, 2 do
        if info[i] == 'length' then n = info[i + 1] elseif info[i] == 'last-generated-id' then last = info[i + 1] end
    end
    local lm, ls = string.match(last, '(%d+)-(%d+)')
    local b = redis.call('MEMORY', 'USAGE', stream, 'SAMPLES', '0')
    redis.call('DEL', slices)
    redis.call('RPUSH', slices, '0 ' .. lm .. ' ' .. ls .. ' ' .. b .. ' ' .. n)
    redis.call('HSET', size, 'bytes', b, 'entries', n)
end
local id, bytes, n = nil, 0, #ARGV - 7
for i = 8, #ARGV do
    id = redis.call('XADD', stream, '*', 'd', ARGV[i])
    bytes = bytes + #ARGV[i] + 64 + math.floor(#ARGV[i] / 64) + math.floor(math.min(#ARGV[i], 4096) / 6)
end
local ms, seq = string.match(id, '(%d+)-(%d+)')
ms, seq = tonumber(ms), tonumber(seq)
local tail, merged = redis.call('LINDEX', slices, -1), false
if tail then
    local f, _, _, b, e = parse(tail)
    if ms - f < slice_ms and b + bytes <= slice_bytes and e + n <= slice_entries then
        redis.call('LSET', slices, -1, string.format('%d %d %d %d %d', f, ms, seq, b + bytes, e + n))
        merged = true
    end
end
if not merged then
    redis.call('RPUSH', slices, string.format('%d %d %d %d %d', ms, ms, seq, bytes, n))
end
local total_bytes = redis.call('HINCRBY', size, 'bytes', bytes)
local total_entries = redis.call('HINCRBY', size, 'entries', n)
local cut_ms, cut_seq, dropped, floor, held = 0, 0, false, nil, false
while true do
    local head = redis.call('LINDEX', slices, 0)
    if not head then break end
    local _, lm, ls, b, e = parse(head)
    if total_bytes <= max_bytes and total_entries <= max_entries and lm >= ms - max_age then break end
    if total_bytes <= max_bytes then  -- the entry or age bound: only what the archive has acknowledged
        if floor == nil then floor = archive_floor() end
        if floor and not before(lm, ls, floor[1], floor[2]) then
            held = true
            break
        end
    end
    redis.call('LPOP', slices)
    total_bytes, total_entries, dropped = total_bytes - b, total_entries - e, true
    if lm > cut_ms or (lm == cut_ms and ls + 1 > cut_seq) then cut_ms, cut_seq = lm, ls + 1 end
end
if dropped then
    redis.call('HSET', size, 'bytes', total_bytes, 'entries', total_entries)
end
-- The oldest slice left may begin past the age: its old entries go too, if the archive has them.
local head = redis.call('LINDEX', slices, 0)
if head and parse(head) < ms - max_age then
    local age_ms, age_seq = ms - max_age, 0
    if floor == nil then floor = archive_floor() end
    if floor and before(floor[1], floor[2], age_ms, age_seq) then
        age_ms, age_seq, held = floor[1], floor[2], true
    end
    if before(cut_ms, cut_seq, age_ms, age_seq) then cut_ms, cut_seq = age_ms, age_seq end
end
if held then
    redis.call('HSET', size, 'held', 1)
elseif redis.call('HEXISTS', size, 'held') == 1 then
    redis.call('HDEL', size, 'held')
end
if cut_ms > 0 then
    if floor == nil then floor = archive_floor() end
    if floor and before(floor[3], floor[4], cut_ms, cut_seq - 1) then
        -- the byte bound reaches past what the group has read: count what it never got
        redis.call('XTRIM', stream, 'MINID', string.format('%d-%d', floor[3], floor[4] + 1))
        local lost = redis.call('XTRIM', stream, 'MINID', string.format('%d-%d', cut_ms, cut_seq))
        if lost > 0 then redis.call('HINCRBY', size, 'unarchived', lost) end
    else
        redis.call('XTRIM', stream, 'MINID', string.format('%d-%d', cut_ms, cut_seq))
    end
end
return n
"""


#: KEYS: size.  Takes (returns and zeroes) the count of entries trimmed before the archive read them.
TAKE_UNARCHIVED = """
local n = tonumber(redis.call('HGET', KEYS[1], 'unarchived') or '0')
if n > 0 then redis.call('HINCRBY', KEYS[1], 'unarchived', -n) end
return n
"""


@dataclass(frozen=True, slots=True)
class Retention:
    max_entries: int
    max_bytes: int
    max_age: float  # seconds

    def args(self) -> list[int | str]:
        """The script's ARGV before the entries."""
        age_ms = int(self.max_age * 1000)
        return [self.max_entries, self.max_bytes, age_ms, max(1000, age_ms // SLICES),
                max(1, self.max_bytes // SLICES), max(1, self.max_entries // SLICES), ARCHIVE_GROUP]
