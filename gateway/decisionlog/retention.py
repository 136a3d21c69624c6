"""The decision log's retention: at most ``max_entries`` entries, ``max_bytes`` bytes, ``max_age`` seconds.

Redis trims a stream by length (MAXLEN) or by id (MINID: ids are milliseconds, so MINID is an
age), never by bytes, and a 1,000-line claim is ~98 KB where a 1-line one is ~150 bytes: a cap
in entries alone does not bound memory.  So the append script keeps a ledger beside the stream:

    {prefix}:decisions:slices  list  "first_ms last_ms last_seq bytes entries", oldest first
    {prefix}:decisions:size    hash  bytes, entries: the sums over the slices

Each batch adds its entries' bytes (payload + ``64 + payload/64``: the stream's own overhead,
measured with ``MEMORY USAGE … SAMPLES 0`` at 60 B–98 KB an entry, conservative) to the newest
slice, or opens one when that slice would pass 1/1024 of a bound.  While any bound is passed, or
the oldest slice is past the age, the oldest slices are dropped from the ledger and one
``XTRIM MINID`` removes their entries: exact to one slice (~0.1% of the bound), O(1) a batch, no
read of the entries.  A stream found without its ledger (an upgrade, a deleted key) is counted
once with ``MEMORY USAGE``; a ledger without its stream is reset.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["APPEND", "SLICES", "Retention"]

#: Slices a bound is divided into: the trimming's granularity.
SLICES = 1024

#: KEYS: stream, slices, size.  ARGV: max_entries, max_bytes, max_age_ms, slice_ms, slice_bytes,
#: slice_entries, then the entries.  Returns the number of entries written.
APPEND = """
local stream, slices, size = KEYS[1], KEYS[2], KEYS[3]
local max_entries, max_bytes, max_age = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local slice_ms, slice_bytes, slice_entries = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local function parse(slice)
    local f, lm, ls, b, e = string.match(slice, '(%d+) (%d+) (%d+) (%d+) (%d+)')
    return tonumber(f), tonumber(lm), tonumber(ls), tonumber(b), tonumber(e)
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
local id, bytes, n = nil, 0, #ARGV - 6
for i = 7, #ARGV do
    id = redis.call('XADD', stream, '*', 'd', ARGV[i])
    bytes = bytes + #ARGV[i] + 64 + math.floor(#ARGV[i] / 64)
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
local cut_ms, cut_seq, dropped = ms - max_age, 0, false
while true do
    local head = redis.call('LINDEX', slices, 0)
    if not head then break end
    local _, lm, ls, b, e = parse(head)
    if total_bytes <= max_bytes and total_entries <= max_entries and lm >= ms - max_age then break end
    redis.call('LPOP', slices)
    total_bytes, total_entries, dropped = total_bytes - b, total_entries - e, true
    if lm > cut_ms or (lm == cut_ms and ls + 1 > cut_seq) then cut_ms, cut_seq = lm, ls + 1 end
end
if dropped then
    redis.call('HSET', size, 'bytes', total_bytes, 'entries', total_entries)
end
if cut_ms > 0 then
    redis.call('XTRIM', stream, 'MINID', string.format('%d-%d', cut_ms, cut_seq))
end
return n
"""


@dataclass(frozen=True, slots=True)
class Retention:
    max_entries: int
    max_bytes: int
    max_age: float  # seconds

    def args(self) -> list[int]:
        """The script's ARGV before the entries."""
        age_ms = int(self.max_age * 1000)
        return [self.max_entries, self.max_bytes, age_ms, max(1000, age_ms // SLICES),
                max(1, self.max_bytes // SLICES), max(1, self.max_entries // SLICES)]
