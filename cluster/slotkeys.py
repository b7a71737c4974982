"""The keyspace side the cluster needs: the hash slot of a key and the keys of a slot.

engine/slots.py (the `slots` branch) provides ``key_hash_slot`` and the per-slot index on ``Db``
(``count_keys_in_slot``, ``keys_in_slot``, ``delete_keys_in_slot``); until it is present these fall back to
a CRC16 in Python and a scan of the table (slow, but the same answers)."""
try:                                          # pragma: no cover - depends on the merge of the slots branch
    from engine.slots import key_hash_slot    # noqa: F401
except ImportError:                           # the fallback: redis crc16 (XMODEM) and keyHashSlot
    _TABLE = []
    for _i in range(256):
        _crc = _i << 8
        for _ in range(8):
            _crc = ((_crc << 1) ^ 0x1021) if _crc & 0x8000 else (_crc << 1)
        _TABLE.append(_crc & 0xFFFF)
    _TABLE = tuple(_TABLE)

    def _crc16(data):
        crc = 0
        t = _TABLE
        for b in data:
            crc = ((crc << 8) & 0xFFFF) ^ t[((crc >> 8) ^ b) & 0xFF]
        return crc

    def key_hash_slot(key):
        s = key.find(b"{")
        if s >= 0:
            e = key.find(b"}", s + 1)
            if e > s + 1:
                key = key[s + 1:e]
        return _crc16(key) & 0x3FFF


def enable_index(ks):
    hook = getattr(ks, "enable_slot_index", None)
    if hook is not None:
        hook()


def count_keys_in_slot(db, slot):
    fn = getattr(db, "count_keys_in_slot", None)
    if fn is not None:
        return fn(slot)
    return sum(1 for k in db.key_list() if key_hash_slot(k) == slot)


def keys_in_slot(db, slot, count):
    fn = getattr(db, "keys_in_slot", None)
    if fn is not None:
        return fn(slot, count)
    out = []
    for k in db.key_list():
        if len(out) >= count:
            break
        if key_hash_slot(k) == slot:
            out.append(k)
    return out


def delete_keys_in_slot(db, slot):
    fn = getattr(db, "delete_keys_in_slot", None)
    if fn is not None:
        return fn(slot)
    n = 0
    for k in db.key_list():
        if key_hash_slot(k) == slot and db.delete(k):
            n += 1
    return n
