"""Brute force: no withheld value of a bucket can be worked out from everything the bucket publishes.

The attacker knows the rule (``aggregate.suppress``, run here for real) and every relation between published
numbers listed in ``aggregate``'s docstring, and searches *every* non-negative integer completion of the
withheld values exhaustively. A withheld cell (a non-zero raw value that is not published) is *determined*
when all completions consistent with the publication give it the same value. The test fails on any such cell.

The model is one camera with one zone ``z``, one line ``l`` and a 2 x 2 heatmap, and per bucket:

- zone: visits per dwell bin (3 of the 9 bins, among them "5 s or less"), of which ``short`` lasted under
  0.5 s and have no speed band; speed bands sum to visits - short; headings sum to at most the visits; age
  bands and genders at ``z`` have equal sums, at most the visits;
- line: in and out (plain, always published); groups weighted by size (a 4+ group has 4 or more people) sum
  to in + out; age bands and genders at ``l`` have equal sums, at most in + out;
- heatmap: cells sum to at most the occupancy sum (person-frames), which is published.

Fewer bins than the real families (3 headings of 8, 3 age bands of 6) make the attacker's search smaller,
so a value is *easier* to pin down here: passing here is the harder case.

Values that the plain counts alone fix (one crossing in a bucket is one group of size 1, whatever is
published about groups) are public by policy, not by this rule: the test exempts exactly those, and checks
the exemption is that case only. A second test runs the same attack against the old rule (drop each bin below
k on its own) and must find determined cells, so the attack is known to work.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from functools import cache

import numpy as np
import pytest

from edgeanon.counting.aggregate import suppress
from edgeanon.counting.bins import DWELL_BUCKETS_S, GENDERS, GROUP_SIZES, SPEED_BANDS
from edgeanon.counting.results import Bucket, CameraBucket, LineBucket, ZoneBucket

Z, L = "z", "l"
HEADINGS3 = ("n", "e", "s")
AGES3 = ("20s", "30s", "60+")
DWELL_BINS = (0, 1, len(DWELL_BUCKETS_S) - 1)  # <= 5 s (short visits are in it), <= 15 s, over 30 min
MAX_VISITS = 6
MAX_CROSSINGS = 8
MAX_PERSON_FRAMES = 8

# family -> (attribute keys of its bins, in vector order); "dwell" and "heat" are not attribute families
FAMILIES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "heading": tuple(("heading", Z, b) for b in HEADINGS3),
    "speed": tuple(("speed", Z, b) for b in SPEED_BANDS),
    "ag_z": tuple(("age_band", Z, b) for b in AGES3) + tuple(("gender", Z, g) for g in GENDERS),
    "group": tuple(("group_size", L, b) for b in GROUP_SIZES),
    "ag_l": tuple(("age_band", L, b) for b in AGES3) + tuple(("gender", L, g) for g in GENDERS),
}

Vec = tuple[int, ...]
Raw = dict[str, object]  # family -> Vec, plus "short", "in", "out", "frames" -> int


def vectors(m: int, most: int) -> Iterator[Vec]:
    """Every m-tuple of non-negative integers with sum at most ``most``."""
    if m == 0:
        yield ()
        return
    for first in range(most + 1):
        for rest in vectors(m - 1, most - first):
            yield (first, *rest)


def pair_vectors(most: int) -> Iterator[Vec]:
    """Age (3 bands) + gender (2) with equal sums, at most ``most``: the same estimated people."""
    for v in vectors(3, most):
        s = sum(v)
        yield from ((*v, f, s - f) for f in range(s + 1))


def camera_bucket(raw: Raw) -> CameraBucket:
    dwell = [0] * len(DWELL_BUCKETS_S)
    d = raw.get("dwell", (0, 0, 0))
    for i, n in zip(DWELL_BINS, d, strict=True):  # type: ignore[arg-type]
        dwell[i] = n
    attrs = {
        key: n
        for fam, keys in FAMILIES.items()
        for key, n in zip(keys, raw.get(fam, (0,) * len(keys)), strict=True)  # type: ignore[arg-type]
        if n
    }
    return CameraBucket(
        occupancy_sum=int(raw.get("frames", 0)),  # type: ignore[arg-type]
        zones={Z: ZoneBucket(dwell_counts=dwell, dwell_sum=7.5 * sum(d))},  # type: ignore[arg-type]
        lines={L: LineBucket(int(raw.get("in", 0)), int(raw.get("out", 0)))},  # type: ignore[arg-type]
        heatmap=np.array(raw.get("heat", (0, 0, 0, 0)), np.int64).reshape(2, 2),
        attributes=attrs,
    )


Rule = Callable[[CameraBucket, int], None]


def real_rule(cb: CameraBucket, k: int) -> None:
    suppress(Bucket(0, 60, {"cam": cb}), k)


def old_rule(cb: CameraBucket, k: int) -> None:
    """What edgeanon did before: each attribute bin below k dropped on its own, nothing else."""
    for key in [key for key, n in cb.attributes.items() if n < k]:
        del cb.attributes[key]
    if cb.heatmap is not None:
        cb.heatmap[(cb.heatmap > 0) & (cb.heatmap < k)] = 0


def view(cb: CameraBucket, fam: str) -> tuple:
    """What a published bucket says about one family: its bins (a withheld one reads as 0, like a zero)."""
    if fam == "dwell":
        zb = cb.zones[Z]
        return (*(zb.dwell_counts[i] for i in DWELL_BINS), zb.dwell_sum)
    if fam == "heat":
        return tuple(int(x) for x in np.asarray(cb.heatmap).ravel())
    return tuple(cb.attributes.get(key, 0) for key in FAMILIES[fam])


@cache
def published(rule_name: str, fam: str, vec: Vec, k: int, crossings: int = 0) -> tuple:
    """The rule applied to a bucket holding only this family (group sizes: and the line's crossings)."""
    rule = RULES[rule_name]
    cb = camera_bucket({fam: vec, "in": crossings})
    rule(cb, k)
    return view(cb, fam)


RULES: dict[str, Rule] = {"real": real_rule, "old": old_rule}


def group_fits(g: Vec, crossings: int) -> bool:
    """Groups of sizes 1, 2, 3 and 4+ (each 4 or more people) can add up to ``crossings``."""
    fixed = g[0] + 2 * g[1] + 3 * g[2]
    rest = crossings - fixed
    return rest == 0 if g[3] == 0 else rest >= 4 * g[3]


@cache
def family_options(fam: str) -> tuple[Vec, ...]:
    if fam in ("ag_z", "ag_l"):
        return tuple(pair_vectors(MAX_VISITS if fam == "ag_z" else MAX_CROSSINGS))
    if fam == "heat":
        return tuple(vectors(4, MAX_PERSON_FRAMES))
    if fam == "group":
        return tuple(vectors(4, MAX_CROSSINGS))
    return tuple(vectors(3, MAX_VISITS))


def fits(fam: str, v: Vec, ctx: dict[str, int]) -> bool:
    """The published relations between a family's vector and the bucket's counts (``ctx``)."""
    s = sum(v)
    if fam == "speed":
        return s == ctx["visits"] - ctx["short"]
    if fam == "heading":
        return s <= ctx["visits"]
    if fam == "ag_z":
        return 2 * sum(v[:3]) == s and sum(v[:3]) <= ctx["visits"]
    if fam == "ag_l":
        return 2 * sum(v[:3]) == s and sum(v[:3]) <= ctx["crossings"]
    if fam == "group":
        return group_fits(v, ctx["crossings"])
    if fam == "heat":
        return s <= ctx["frames"]
    raise AssertionError(fam)


ZONE_FAMS, LINE_FAMS = ("heading", "speed", "ag_z"), ("group", "ag_l")


def possible_values(raw: Raw, k: int, rule: str, *, plain_only: bool = False) -> dict[tuple[str, int], set[int]]:
    """Every value each cell takes over all completions consistent with what is published (or, with
    ``plain_only``, with the plain counts alone: in, out and the occupancy sum)."""
    out: dict[tuple[str, int], set[int]] = {}
    w = crossings(raw)
    seen = {fam: published(rule, fam, raw[fam], k, w) for fam in (*ZONE_FAMS, *LINE_FAMS, "heat", "dwell")}
    cand = {
        fam: [v for v in family_options(fam) if plain_only or published(rule, fam, v, k, w) == seen[fam]]
        for fam in (*ZONE_FAMS, *LINE_FAMS, "heat")
    }

    def collect(fams: tuple[str, ...], ctx: dict[str, int], extra: tuple[str, Vec] | None = None) -> None:
        opts = {fam: [v for v in cand[fam] if fits(fam, v, ctx)] for fam in fams}
        if not all(opts.values()):
            return  # this context contradicts some family's publication
        if extra is not None:
            opts[extra[0]] = [extra[1]]
        for fam, vs in opts.items():
            for v in vs:
                for i, x in enumerate(v):
                    out.setdefault((fam, i), set()).add(x)

    for d in vectors(3, MAX_VISITS):  # the zone: every dwell vector the publication allows, every short count
        if plain_only or published(rule, "dwell", d, k, w) == seen["dwell"]:
            for short in range(d[0] + 1):
                collect(ZONE_FAMS, {"visits": sum(d), "short": short}, ("dwell", d))
    collect(LINE_FAMS, {"crossings": w})
    collect(("heat",), {"frames": int(raw["frames"])})  # type: ignore[arg-type]
    return out


def population(rng: random.Random) -> Raw:
    """A random bucket built person by person, so every relation holds as it does in the pipeline."""
    raw: Raw = {fam: [0] * len(keys) for fam, keys in FAMILIES.items()}
    raw["dwell"], raw["heat"] = [0, 0, 0], [0, 0, 0, 0]
    short = 0
    for _ in range(rng.randrange(MAX_VISITS + 1)):
        b = rng.randrange(3)
        raw["dwell"][b] += 1  # type: ignore[index]
        if b == 0 and rng.random() < 0.2:
            short += 1  # no speed band
        else:
            raw["speed"][rng.randrange(3)] += 1  # type: ignore[index]
        if rng.random() < 0.7:
            raw["heading"][rng.randrange(3)] += 1  # type: ignore[index]
        if rng.random() < 0.6:
            raw["ag_z"][rng.randrange(3)] += 1  # type: ignore[index]
            raw["ag_z"][3 + rng.randrange(2)] += 1  # type: ignore[index]
    crossings = rng.randrange(MAX_CROSSINGS + 1)
    raw["in"] = rng.randrange(crossings + 1)
    raw["out"] = crossings - raw["in"]  # type: ignore[operator]
    left = crossings
    while left:
        size = min(left, rng.choice([1, 1, 1, 2, 2, 3, 4, 5]))
        raw["group"][min(size, 4) - 1] += 1  # type: ignore[index]
        left -= size
    for _ in range(crossings):
        if rng.random() < 0.6:
            raw["ag_l"][rng.randrange(3)] += 1  # type: ignore[index]
            raw["ag_l"][3 + rng.randrange(2)] += 1  # type: ignore[index]
    raw["frames"] = rng.randrange(MAX_PERSON_FRAMES + 1)
    for _ in range(rng.randrange(raw["frames"] + 1)):  # type: ignore[operator]
        raw["heat"][rng.randrange(4)] += 1  # type: ignore[index]
    raw["short"] = short
    return {key: tuple(v) if isinstance(v, list) else v for key, v in raw.items()}


def crossings(raw: Raw) -> int:
    return int(raw["in"]) + int(raw["out"])  # type: ignore[arg-type]


def withheld_cells(raw: Raw, k: int, rule: str) -> list[tuple[str, int, int]]:
    """(family, index, raw value) of every non-zero raw value that the rule does not publish."""
    cells = []
    for fam in (*FAMILIES, "heat", "dwell"):
        shown = published(rule, fam, raw[fam], k, crossings(raw))
        for i, x in enumerate(raw[fam]):  # type: ignore[arg-type]
            if x and shown[i] != x:
                cells.append((fam, i, x))
    return cells


def attack(raw: Raw, k: int, rule: str) -> tuple[list, list]:
    """(determined cells, exempt cells: determined by the plain counts alone)."""
    cells = withheld_cells(raw, k, rule)
    if not cells:
        return [], []
    values = possible_values(raw, k, rule)
    determined = [(fam, i, x) for fam, i, x in cells if values[fam, i] == {x}]
    if not determined:
        return [], []
    plain = possible_values(raw, k, rule, plain_only=True)
    exempt = [c for c in determined if plain[c[0], c[1]] == {c[2]}]
    return [c for c in determined if c not in exempt], exempt


def samples(k: int, n: int) -> list[Raw]:
    rng = random.Random(1000 + k)
    return [population(rng) for _ in range(n)]


@pytest.mark.parametrize("k", [2, 3, 5])
def test_no_withheld_value_is_determined_by_what_a_bucket_publishes(k):
    withheld = shown = 0
    for raw in samples(k, 400):
        # the rule on the whole bucket publishes exactly what it publishes per family (the attack relies on it)
        cb = camera_bucket(raw)
        real_rule(cb, k)
        for fam in (*FAMILIES, "heat", "dwell"):
            got = view(cb, fam)
            alone = published("real", fam, raw[fam], k, crossings(raw))
            n_bins = len(raw[fam])  # type: ignore[arg-type]
            assert got[:n_bins] == alone[:n_bins], (fam, raw)
            shown += sum(1 for x in got[:n_bins] if x)
        withheld += len(withheld_cells(raw, k, "real"))
        determined, exempt = attack(raw, k, "real")
        assert not determined, f"k={k}: withheld values determined {determined} in {raw}"
        for fam, i, x in exempt:  # only "one crossing is one group of one"
            assert (fam, i, x) == ("group", 0, 1) and crossings(raw) == 1, (fam, i, x, raw)
    assert withheld > 100 and shown > 100  # the samples exercise both sides of the rule


def test_the_attack_recovers_values_under_the_old_per_bin_rule():
    """The same search breaks what edgeanon used to publish: it is a real attack, not a formality."""
    found = [c for raw in samples(3, 200) for c in attack(raw, 3, "old")[0]]
    assert len(found) >= 10
    assert {fam for fam, _, _ in found} >= {"speed", "group"}  # speed from the visits, groups from crossings


@pytest.mark.parametrize("k", [2, 5])
def test_a_sum_of_suppressed_buckets_needs_nothing_more_withheld(k):
    """Roll-ups (and a bucket stored in two parts) add suppressed buckets: applying the rule again to the sum
    changes nothing, because every published value is 0 or at least k, and so is any sum of them."""
    rng = random.Random(77 + k)
    for _ in range(100):
        parts = []
        for raw in (population(rng) for _ in range(rng.randrange(2, 6))):
            cb = camera_bucket(raw)
            real_rule(cb, k)
            parts.append(cb)
        total = CameraBucket(
            occupancy_sum=sum(p.occupancy_sum for p in parts),
            zones={Z: ZoneBucket()},
            lines={L: LineBucket()},
            heatmap=sum(p.heatmap for p in parts),  # type: ignore[arg-type, misc]
        )
        for p in parts:
            zb, lb = p.zones[Z], p.lines[L]
            total.zones[Z].dwell_counts = [
                a + b for a, b in zip(total.zones[Z].dwell_counts, zb.dwell_counts, strict=True)
            ]
            total.zones[Z].dwell_sum += zb.dwell_sum
            total.lines[L].in_ += lb.in_
            total.lines[L].out += lb.out
            for key, n in p.attributes.items():
                total.attributes[key] = total.attributes.get(key, 0) + n
        before = (dict(total.attributes), total.heatmap.copy(), list(total.zones[Z].dwell_counts))
        real_rule(total, k)
        assert (total.attributes, total.zones[Z].dwell_counts) == (before[0], before[2])
        np.testing.assert_array_equal(total.heatmap, before[1])
