"""Public ids: 26 Crockford base32 characters, ordered by creation time, with 80 random bits no other id
(nor a forked process's) shares."""

from __future__ import annotations

import os
import random
import re
import time

from service import ids

ID = re.compile(r"^[0-9a-hjkmnp-tv-z]{26}$")


def decoded(public_id: str) -> int:
    return int(public_id.translate(str.maketrans(ids._CROCKFORD, "0123456789abcdefghijklmnopqrstuv")), 32)


def test_an_id_holds_its_milliseconds_then_its_80_random_bits(monkeypatch):
    rng = random.Random(3)
    for milliseconds, bits in [(0, 0), ((1 << 48) - 1, (1 << 80) - 1),
                               *((rng.getrandbits(48), rng.getrandbits(80)) for _ in range(300))]:
        monkeypatch.setattr(ids.time, "time", lambda ms=milliseconds: ms / 1000 + 0.0004)
        monkeypatch.setattr(ids, "_random_bits_80", lambda bits=bits: bits)
        made = ids.new_id()
        assert ID.match(made)
        assert decoded(made) == milliseconds << 80 | bits


def test_ids_follow_creation_time_and_never_repeat():
    made = []
    for _ in range(3):
        made += [ids.new_id() for _ in range(700)]  # more than one fetch of random bytes
        time.sleep(0.002)
    assert all(ID.match(i) for i in made)
    assert len(set(made)) == len(made)
    assert [i[:10] for i in made] == sorted(i[:10] for i in made)  # the time part never goes back
    assert len({decoded(i) & ((1 << 80) - 1) for i in made}) == len(made)


def test_a_forked_process_shares_no_random_bits_with_its_parent():
    ids.new_id()  # the parent holds random bytes it has not handed out yet
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(read)
        os.write(write, " ".join(ids.new_id() for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    parent = [ids.new_id() for _ in range(50)]
    assert len(child) == 50
    assert not {i[10:] for i in child} & {i[10:] for i in parent}
