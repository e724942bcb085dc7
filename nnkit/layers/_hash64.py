"""The two 64-bit string hashes TensorFlow's ``to_hash_bucket_fast`` / ``to_hash_bucket_strong`` use (and so Keras'
Hashing layer): FarmHash ``Fingerprint64`` (farmhashna, by Geoff Pike, github.com/google/farmhash) and SipHash-2-4
(Aumasson & Bernstein 2012). Plain Python integers masked to 64 bits; bytes are read little-endian.
"""
MASK = (1 << 64) - 1
K0, K1, K2 = 0xC3A5C85C97CB3127, 0xB492B66FBE98F273, 0x9AE16A3B2F90404F


def _u64(data, at):
    return int.from_bytes(data[at:at + 8], "little")


def _u32(data, at):
    return int.from_bytes(data[at:at + 4], "little")


def _rot(value, shift):
    """FarmHash's Rotate: to the right."""
    return ((value >> shift) | (value << (64 - shift))) & MASK if shift else value


def _rotl(value, shift):
    return ((value << shift) | (value >> (64 - shift))) & MASK


def _shift_mix(value):
    return value ^ (value >> 47)


def _hash_len16(u, v, mul):
    a = ((u ^ v) * mul) & MASK
    a ^= a >> 47
    b = ((v ^ a) * mul) & MASK
    b ^= b >> 47
    return (b * mul) & MASK


def _len_0_to_16(s):
    n = len(s)
    if n >= 8:
        mul = K2 + n * 2
        a = (_u64(s, 0) + K2) & MASK
        b = _u64(s, n - 8)
        c = (_rot(b, 37) * mul + a) & MASK
        d = ((_rot(a, 25) + b) * mul) & MASK
        return _hash_len16(c, d, mul)
    if n >= 4:
        return _hash_len16(n + (_u32(s, 0) << 3), _u32(s, n - 4), K2 + n * 2)
    if n > 0:
        y = s[0] + (s[n >> 1] << 8)
        z = n + (s[n - 1] << 2)
        return (_shift_mix(((y * K2) ^ (z * K0)) & MASK) * K2) & MASK
    return K2


def _len_17_to_32(s):
    n = len(s)
    mul = K2 + n * 2
    a = (_u64(s, 0) * K1) & MASK
    b = _u64(s, 8)
    c = (_u64(s, n - 8) * mul) & MASK
    d = (_u64(s, n - 16) * K2) & MASK
    return _hash_len16((_rot((a + b) & MASK, 43) + _rot(c, 30) + d) & MASK,
                       (a + _rot((b + K2) & MASK, 18) + c) & MASK, mul)


def _len_33_to_64(s):
    n = len(s)
    mul = K2 + n * 2
    a = (_u64(s, 0) * K2) & MASK
    b = _u64(s, 8)
    c = (_u64(s, n - 8) * mul) & MASK
    d = (_u64(s, n - 16) * K2) & MASK
    y = (_rot((a + b) & MASK, 43) + _rot(c, 30) + d) & MASK
    z = _hash_len16(y, (a + _rot((b + K2) & MASK, 18) + c) & MASK, mul)
    e = (_u64(s, 16) * mul) & MASK
    f = _u64(s, 24)
    g = ((y + _u64(s, n - 32)) * mul) & MASK
    h = ((z + _u64(s, n - 24)) * mul) & MASK
    return _hash_len16((_rot((e + f) & MASK, 43) + _rot(g, 30) + h) & MASK,
                       (e + _rot((f + a) & MASK, 18) + g) & MASK, mul)


def _weak_len32(s, at, a, b):
    w, x, y, z = (_u64(s, at + 8 * i) for i in range(4))
    a = (a + w) & MASK
    b = _rot((b + a + z) & MASK, 21)
    c = a
    a = (a + x + y) & MASK
    b = (b + _rot(a, 44)) & MASK
    return (a + z) & MASK, (b + c) & MASK


def fingerprint64(s):
    """FarmHash ``Fingerprint64`` of the bytes ``s`` (an int in ``[0, 2**64)``), TensorFlow's string fingerprint.

    Args:
        s: bytes.
    """
    n = len(s)
    if n <= 16:
        return _len_0_to_16(s)
    if n <= 32:
        return _len_17_to_32(s)
    if n <= 64:
        return _len_33_to_64(s)
    x = 81
    y = (81 * K1 + 113) & MASK
    z = (_shift_mix((y * K2 + 113) & MASK) * K2) & MASK
    v, w = (0, 0), (0, 0)
    x = (x * K2 + _u64(s, 0)) & MASK
    for at in range(0, ((n - 1) // 64) * 64, 64):
        x = (_rot((x + y + v[0] + _u64(s, at + 8)) & MASK, 37) * K1) & MASK
        y = (_rot((y + v[1] + _u64(s, at + 48)) & MASK, 42) * K1) & MASK
        x ^= w[1]
        y = (y + v[0] + _u64(s, at + 40)) & MASK
        z = (_rot((z + w[0]) & MASK, 33) * K1) & MASK
        v = _weak_len32(s, at, (v[1] * K1) & MASK, (x + w[0]) & MASK)
        w = _weak_len32(s, at + 32, (z + w[1]) & MASK, (y + _u64(s, at + 16)) & MASK)
        x, z = z, x
    mul = K1 + ((z & 0xFF) << 1)
    at = n - 64
    w0 = (w[0] + ((n - 1) & 63)) & MASK
    v0 = (v[0] + w0) & MASK
    w = ((w0 + v0) & MASK, w[1])
    v = (v0, v[1])
    x = (_rot((x + y + v[0] + _u64(s, at + 8)) & MASK, 37) * mul) & MASK
    y = (_rot((y + v[1] + _u64(s, at + 48)) & MASK, 42) * mul) & MASK
    x ^= (w[1] * 9) & MASK
    y = (y + v[0] * 9 + _u64(s, at + 40)) & MASK
    z = (_rot((z + w[0]) & MASK, 33) * mul) & MASK
    v = _weak_len32(s, at, (v[1] * mul) & MASK, (x + w[0]) & MASK)
    w = _weak_len32(s, at + 32, (z + w[1]) & MASK, (y + _u64(s, at + 16)) & MASK)
    x, z = z, x
    return _hash_len16((_hash_len16(v[0], w[0], mul) + _shift_mix(y) * K0 + z) & MASK,
                       (_hash_len16(v[1], w[1], mul) + x) & MASK, mul)


def siphash64(key, s):
    """SipHash-2-4 of the bytes ``s`` under the 128-bit ``key`` (two 64-bit ints), TensorFlow's keyed strong hash.

    Args:
        key: ``(k0, k1)``, integers taken modulo ``2**64``.
        s: bytes.
    """
    k0, k1 = key[0] & MASK, key[1] & MASK
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D, k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]

    def rounds(count):
        for _ in range(count):
            v[0] = (v[0] + v[1]) & MASK
            v[1] = _rotl(v[1], 13) ^ v[0]
            v[0] = _rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & MASK
            v[3] = _rotl(v[3], 16) ^ v[2]
            v[0] = (v[0] + v[3]) & MASK
            v[3] = _rotl(v[3], 21) ^ v[0]
            v[2] = (v[2] + v[1]) & MASK
            v[1] = _rotl(v[1], 17) ^ v[2]
            v[2] = _rotl(v[2], 32)

    tail = len(s) // 8 * 8
    blocks = [_u64(s, at) for at in range(0, tail, 8)]
    blocks.append(int.from_bytes(s[tail:], "little") | ((len(s) & 0xFF) << 56))
    for m in blocks:
        v[3] ^= m
        rounds(2)
        v[0] ^= m
    v[2] ^= 0xFF
    rounds(4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]
