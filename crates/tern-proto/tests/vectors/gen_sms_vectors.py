#!/usr/bin/env python3
"""Generates sms_vectors.json: SMS encodings, part counts and parts computed
independently of Tern's Rust code, for tests/sms/vectors.rs.

Independent means: GSM 03.38 unpacked septets come from the `gsm0338` codec
(PyPI), packed septets without a header from `smspdudecoder`'s GSM codec,
UCS2 from Python's own UTF-16-BE codec; splitting and header packing are
written here from the rules in docs/sms-encoding.md (GSM 160/153, UCS2 70/66,
8-bit 140/134; never split an escape or surrogate pair), with a big-integer bit
packer rather than a port of the Rust code. Every GSM part with a header is
then decoded by `smspdudecoder` as an SMS-DELIVER PDU as a self-check.

Regenerate (from crates/tern-proto):
    python3 -m venv /tmp/v && /tmp/v/bin/pip install gsm0338==1.1.0 smspdudecoder==2.2.0 'bitstring<4.3'
    /tmp/v/bin/python tests/vectors/gen_sms_vectors.py > tests/vectors/sms_vectors.json

Only messages whose encoding does not depend on Tern's look-alike table are
generated (body type AUTO and BINARY): that table is Tern's own policy and is
tested with exact values in the unit tests.
"""

import json
import random
import sys

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
from smspdudecoder.codecs import GSM as PduGsm
from smspdudecoder.easy import read_incoming_sms

SIZES = {"GSM7": (160, 153), "UCS2": (70, 66), "BINARY8": (140, 134)}


def gsm_char(c):
    """The septets of one character, or None when GSM 03.38 lacks it."""
    try:
        return c.encode("gsm03.38")
    except UnicodeEncodeError:
        return None


def is_gsm(text):
    return all(gsm_char(c) is not None for c in text)


def tokens(text, encoding):
    """The encoded message as a list of indivisible byte strings and the unit size."""
    if encoding == "GSM7":
        return [gsm_char(c) for c in text], 1
    if encoding == "UCS2":
        return [c.encode("utf-16-be") for c in text], 2
    raise ValueError(encoding)


def split(toks, unit, encoding):
    single, per = SIZES[encoding]
    total_units = sum(len(t) for t in toks) // unit
    if total_units <= single:
        return [b"".join(toks)]
    parts, current = [], b""
    for t in toks:
        if len(current) + len(t) > per * unit:
            parts.append(current)
            current = b""
        current += t
    parts.append(current)
    return parts


def udh_for(encoding, reference, total, seq):
    if encoding == "UCS2":
        return bytes([6, 8, 4, reference >> 8, reference & 0xFF, total, seq])
    return bytes([5, 0, 3, reference & 0xFF, total, seq])


def pack_after(udh, septets):
    """TP-User-Data: the header octets, fill bits to a septet boundary, then septets, LSB first."""
    value, pos = 0, 0
    for b in udh:
        value |= b << pos
        pos += 8
    if udh:
        pos = -(-pos // 7) * 7  # round up to a multiple of 7: the fill bits
    for s in septets:
        value |= s << pos
        pos += 7
    return value.to_bytes(-(-pos // 8), "little")


def deliver_pdu(udh, user_data, udl, dcs):
    """An SMS-DELIVER PDU around the user data, for smspdudecoder to read back."""
    first = 0x44 if udh else 0x04
    oa = "0B91" + "1356214365F7"  # +31651234567, semi-octets swapped
    scts = "62115221000000"  # 2026-11-25 12:00:00, semi-octets swapped
    return "00%02X%s00%02X%s%02X%s" % (first, oa, dcs, scts, udl, user_data.hex().upper())


def message(name, content, body_type, reference):
    if body_type == "BINARY":
        encoding = "BINARY8"
        data = bytes.fromhex(content)
        units = len(data)
        single, per = SIZES[encoding]
        if units <= single:
            payloads = [data]
        else:
            payloads = [data[i:i + per] for i in range(0, units, per)]
    else:
        encoding = "GSM7" if is_gsm(content) else "UCS2"
        toks, unit = tokens(content, encoding)
        units = sum(len(t) for t in toks) // unit
        payloads = split(toks, unit, encoding)
    total = len(payloads)
    parts = []
    for i, payload in enumerate(payloads, start=1):
        udh = udh_for(encoding, reference, total, i) if total > 1 else b""
        if encoding == "GSM7":
            tp_ud = pack_after(udh, payload)
            header_septets = -(-len(udh) * 8 // 7)
            udl = header_septets + len(payload)
            # Self-check with a third-party decoder (its GSM slicing counts
            # characters, so it is only exact when no header septet is an escape).
            header_sept = [(int.from_bytes(tp_ud, "little") >> (7 * k)) & 0x7F for k in range(header_septets)]
            if 0x1B not in header_sept:
                sms = read_incoming_sms(deliver_pdu(udh, tp_ud, udl, 0x00))
                expected = payload.decode("gsm03.38")
                # It slices characters by septet count, so each escape pair lets
                # one trailing fill septet through as '@': allow exactly those.
                got, extra = sms["content"], payload.count(0x1B)
                assert got[:len(expected)] == expected, (name, i, got, expected)
                assert set(got[len(expected):]) <= {"@"} and len(got) - len(expected) <= extra, (name, i)
                if udh:
                    assert sms["partial"]["part_number"] == i and sms["partial"]["parts_count"] == total
        else:
            tp_ud = udh + payload
            if encoding == "UCS2":
                sms = read_incoming_sms(deliver_pdu(udh, tp_ud, len(tp_ud), 0x08))
                assert sms["content"] == payload.decode("utf-16-be"), (name, i)
        assert len(tp_ud) <= 140, (name, i, len(tp_ud))
        parts.append({"udh": udh.hex().upper(), "payload": payload.hex().upper(), "tp_user_data": tp_ud.hex().upper()})
    return {
        "name": name,
        "body_type": body_type,
        "content": content,
        "reference": reference,
        "encoding": encoding,
        "units": units,
        "parts": parts,
    }


def main():
    rng = random.Random(20261125)
    gsm_alphabet = bytes(range(128)).replace(b"\x1b", b"").decode("gsm03.38")
    ext = "^{}\\[~]|€\f"
    others = "ΚείμενοЖжпривет中文한국어ç`á"
    astral = "😀🎉𝄞🇳🇱"

    cases = []
    a = lambda n: "a" * n  # noqa: E731
    for n in (0, 1, 159, 160, 161, 306, 307, 459, 460, 1224, 1225):
        cases.append((f"gsm_{n}", a(n)))
    cases += [
        ("at_signs_161", "@" * 161),
        ("escape_at_160", a(159) + "€"),
        ("escape_fits_160", a(158) + "€"),
        ("escape_straddles_153", a(152) + "{" + a(152)),
        ("escape_ends_153", a(151) + "{" + a(153)),
        ("all_escapes_81", "€" * 81),
        ("all_gsm_chars", gsm_alphabet + ext),
        ("all_gsm_chars_x3", (gsm_alphabet + ext) * 3),
        ("cm_multipart_example",
         "Using these settings we can send SMS messages that contain more than 160 characters as if it is "
         "one message. Please do note that this limits the length of one message to 153 characters."),
        ("greek_example", "Κείμενο διαθέσιμο σε όλες τις γλώσσες"),
        ("ucs2_70", "ж" * 70),
        ("ucs2_71", "ж" * 71),
        ("ucs2_132", "ж" * 132),
        ("ucs2_133", "ж" * 133),
        ("surrogate_at_70", "ж" * 68 + "😀"),
        ("surrogate_over_70", "ж" * 69 + "😀"),
        ("surrogate_straddles_66", "ж" * 65 + "😀" + "ж" * 65),
        ("surrogate_ends_66", "ж" * 64 + "😀" + "ж" * 66),
        ("emoji_only_100", "🎉" * 100),
        ("mixed_latin_cyrillic", "Hello Жанна, your code is 1234 [ok] € 5"),
    ]
    pool = gsm_alphabet + ext * 4 + "abcdefghij      " * 4
    for i in range(40):
        n = rng.randrange(1, 900)
        text = "".join(rng.choice(pool) for _ in range(n))
        if i % 2 == 1:  # make half of them UCS2
            for _ in range(rng.randrange(1, 6)):
                p = rng.randrange(len(text) + 1)
                text = text[:p] + rng.choice(others + astral) + text[p:]
        cases.append((f"random_{i}", text))

    messages = []
    for k, (name, text) in enumerate(cases):
        messages.append(message(name, text, "AUTO", (k * 7919 + 13) & 0xFFFF))
    for n in (0, 1, 140, 141, 268, 269, 700):
        data = bytes(rng.randrange(256) for _ in range(n))
        messages.append(message(f"binary_{n}", data.hex().upper(), "BINARY", (n * 31) & 0xFFFF))

    gsm = []
    for name, text in cases:
        if not is_gsm(text):
            continue
        unpacked = text.encode("gsm03.38")
        packed = bytes.fromhex(PduGsm.encode(text)) if text else b""
        assert PduGsm.decode(packed.hex())[: len(text)] == text or not text
        gsm.append({"name": name, "text": text, "unpacked": unpacked.hex().upper(), "packed": packed.hex().upper(),
                    "septets": len(unpacked)})

    ucs2 = []
    for name, text in cases:
        data = text.encode("utf-16-be")
        ucs2.append({"name": name, "text": text, "hex": data.hex().upper(), "units": len(data) // 2})

    json.dump({"generated_by": "tests/vectors/gen_sms_vectors.py (gsm0338 1.1.0, smspdudecoder 2.2.0)",
               "gsm": gsm, "ucs2": ucs2, "messages": messages}, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
