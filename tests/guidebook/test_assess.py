"""The planning check (企画時): each check warns or fails on the config that should trigger it, and only there."""

from __future__ import annotations

import os
import re
from types import SimpleNamespace
from typing import Any

import pytest

from edgeanon.config.loader import load_config
from edgeanon.config.names import is_loopback
from edgeanon.config.schema import Config
from edgeanon.guidebook.assess.checklist import assess
from edgeanon.guidebook.assess.item import PHASES, Item
from edgeanon.guidebook.assess.justification import justification_problem
from edgeanon.guidebook.assess.report import exit_code, render
from tests.helpers.assessment import BASE, DROP, build, by_id, not_passing
from tests.helpers.paths import ROOT

HEAT_CAMERA = {"id": "floor", "source": {"kind": "device", "index": 1}, "heatmap": {"rows": 4, "cols": 4}}
HEAT_PURPOSE = {
    "id": "heatmap",
    "justification": "See which aisles nobody visits, to move the shelves that are missed.",
}
DWELL_PURPOSE = {"id": "dwell", "justification": "Compare how long people stay at the new display with the old one."}


def test_base_passes_everything():
    items = assess(build())
    assert not_passing(items) == {}
    assert exit_code(items) == 0


def justification(pid: str, text: str) -> dict[str, Any]:
    return {"purposes": [{"id": pid, "justification": text} if p["id"] == pid else p for p in BASE["purposes"]]}


CASES = [
    # ---- planning 企画時
    ("placeholder operator", {"operator": {"name": "TODO company name"}}, "planning.operator", "warn"),
    ("placeholder accountable", {"operator": {"accountable": "whoever is on shift"}}, "planning.operator", "warn"),
    ("accountable is the company", {"operator": {"accountable": "sakura mart k.k."}}, "planning.operator", "warn"),
    (
        "two emails",
        {"operator": {"contact": "https://shop.example/contact,tel:0312345678"}},
        "planning.contact",
        "warn",
    ),
    ("short phone", {"operator": {"contact": "+81 3 1234"}}, "planning.contact", "warn"),
    ("http contact form", {"operator": {"contact": "http://shop.example/contact"}}, "planning.contact", "warn"),
    ("local contact form", {"operator": {"contact": "https://192.168.0.2/contact"}}, "planning.contact", "warn"),
    ("bare email host", {"operator": {"contact": "privacy@shop.x1"}}, "planning.contact", "warn"),
    ("phone ok", {"operator": {"contact": "03-1234-5678"}}, "planning.contact", "pass"),
    ("https form ok", {"operator": {"contact": "https://shop.example/contact"}}, "planning.contact", "pass"),
    ("short justification", justification("occupancy", "staff the floor"), "planning.justification.occupancy", "warn"),
    (
        "generic justification",
        justification("occupancy", "To improve customer experience and service quality with analytics."),
        "planning.justification.occupancy",
        "warn",
    ),
    (
        "open-ended justification",
        justification("occupancy", "Count visitors at the door for staffing, planning, etc."),
        "planning.justification.occupancy",
        "warn",
    ),
    (
        "generic Japanese justification",
        justification("occupancy", "サービス向上およびマーケティング分析のため"),
        "planning.justification.occupancy",
        "warn",
    ),
    (
        "short Japanese justification",
        justification("occupancy", "混雑の把握のため"),
        "planning.justification.occupancy",
        "warn",
    ),
    (
        "specific Japanese justification",
        justification("occupancy", "消防法上の収容人数を超えないよう、店内の人数を把握して入店を調整します。"),
        "planning.justification.occupancy",
        "pass",
    ),
    (
        "heatmap declared, no heatmap",
        {"purposes": [*BASE["purposes"], HEAT_PURPOSE]},
        "planning.purpose-used.heatmap",
        "warn",
    ),
    (
        "queue declared, no queue zone",
        {"purposes": [*BASE["purposes"], {"id": "queue", "justification": "Open another till when the line is long."}]},
        "planning.purpose-used.queue",
        "warn",
    ),
    (
        "dwell declared, zone present",
        {"purposes": [*BASE["purposes"], DWELL_PURPOSE]},
        "planning.purpose-used.dwell",
        "pass",
    ),
    # ---- prior notice 事前告知時
    ("no notice url", {"operator": {"notice_url": DROP}}, "notice.url", "warn"),
    ("loopback notice url", {"operator": {"notice_url": "http://127.0.0.1:9108/notice"}}, "notice.url", "warn"),
    ("private notice url", {"operator": {"notice_url": "http://10.0.0.5/notice"}}, "notice.url", "warn"),
    ("not a web address", {"operator": {"notice_url": "on the door"}}, "notice.url", "warn"),
    (
        "vague recipient",
        {"privacy": {"third_party": {"provided": True, "recipients": ["partners"]}}},
        "notice.third-party",
        "warn",
    ),
    (
        "named recipient",
        {"privacy": {"third_party": {"provided": True, "recipients": ["Ebisu Mall Management Co., Ltd."]}}},
        "notice.third-party",
        "pass",
    ),
    # ---- acquisition 取得時
    ("no schedule", {"schedule": DROP}, "acquisition.schedule", "warn"),
    (
        "schedule is all day",
        {
            "schedule": {
                "hours": [
                    {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "open": "00:00", "close": "24:00"}
                ]
            }
        },
        "acquisition.schedule",
        "warn",
    ),
    ("fps 25", {"cameras": [{**BASE["cameras"][0], "fps": 25}]}, "acquisition.fps.door", "warn"),
    ("fps 15", {"cameras": [{**BASE["cameras"][0], "fps": 15}]}, "acquisition.fps.door", "pass"),
    (
        "camera with no output",
        {
            "purposes": [BASE["purposes"][1]],
            "cameras": [
                {k: v for k, v in BASE["cameras"][0].items() if k != "zones"},
                {"id": "spare", "source": {"kind": "device", "index": 2}},
            ],
            "entrances": [],
        },
        "acquisition.output.spare",
        "warn",
    ),
    # ---- handling 取扱い時
    ("k 2", {"privacy": {"k": 2}}, "handling.small-cells", "warn"),
    (
        "heatmap, short bucket, small k",
        {
            "purposes": [*BASE["purposes"], HEAT_PURPOSE],
            "cameras": [BASE["cameras"][0], HEAT_CAMERA],
            "privacy": {"k": 3},
            "aggregation": {"bucket_seconds": 60},
        },
        "handling.small-cells",
        "warn",
    ),
    (
        "heatmap, 5 min bucket, small k",
        {
            "purposes": [*BASE["purposes"], HEAT_PURPOSE],
            "cameras": [BASE["cameras"][0], HEAT_CAMERA],
            "privacy": {"k": 3},
        },
        "handling.small-cells",
        "pass",
    ),
    (
        "heatmap, short bucket, k 5",
        {
            "purposes": [*BASE["purposes"], HEAT_PURPOSE],
            "cameras": [BASE["cameras"][0], HEAT_CAMERA],
            "aggregation": {"bucket_seconds": 60},
        },
        "handling.small-cells",
        "pass",
    ),
    (
        "no heatmap, short bucket, k 3",
        {"privacy": {"k": 3}, "aggregation": {"bucket_seconds": 60}},
        "handling.small-cells",
        "pass",
    ),
    # ---- management 管理時
    ("retention 200 for counting", {"retention": {"aggregates_days": 200}}, "management.retention", "warn"),
    ("retention 180 for counting", {"retention": {"aggregates_days": 180}}, "management.retention", "pass"),
    (
        "retention 200 with dwell",
        {"retention": {"aggregates_days": 200}, "purposes": [*BASE["purposes"], DWELL_PURPOSE]},
        "management.retention",
        "pass",
    ),
    (
        "retention 380 with dwell",
        {"retention": {"aggregates_days": 380}, "purposes": [*BASE["purposes"], DWELL_PURPOSE]},
        "management.retention",
        "warn",
    ),
    (
        "all interfaces, no auth",
        {"http": {"host": "0.0.0.0", "allow_unauthenticated": True}},
        "management.endpoint-auth",
        "fail",
    ),
    (
        "LAN address, no auth",
        {"http": {"host": "192.168.1.20", "allow_unauthenticated": True}},
        "management.endpoint-auth",
        "fail",
    ),
    (
        "all interfaces, no TLS",
        {"http": {"host": "0.0.0.0", "allow_unauthenticated": True}},
        "management.endpoint-tls",
        "warn",
    ),
    ("IPv6 loopback", {"http": {"host": "::1"}}, "management.endpoint-auth", "pass"),
    ("localhost", {"http": {"host": "localhost"}}, "management.endpoint-tls", "pass"),
    (
        "stream credentials",
        {
            "cameras": [
                {
                    **BASE["cameras"][0],
                    "source": {
                        "kind": "url",
                        "url": "rtsp://192.0.2.10/s1",
                        "username": "cam",
                        "password": "Tr0ub4dor&3xq",
                    },
                }
            ]
        },
        "management.credentials",
        "warn",
    ),
]


@pytest.mark.parametrize(("over", "check", "status"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_check(over, check, status):
    items = by_id(assess(build(over)))
    assert items[check].status == status, items[check].reason
    assert items[check].reason.strip()


@pytest.mark.parametrize(("over", "check", "status"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_only_that_check_changes(over, check, status):
    """A case triggers its own check; the others stay as in the passing base (a few cases touch two on purpose)."""
    others = {k: v for k, v in not_passing(assess(build(over))).items() if k != check}
    allowed = {"management.endpoint-tls", "management.endpoint-auth"}  # an exposed bind trips both
    assert set(others) <= allowed, others


def test_fail_means_exit_code_1():
    items = assess(build({"http": {"host": "0.0.0.0", "allow_unauthenticated": True}}))
    assert exit_code(items) == 1
    assert exit_code([i for i in items if i.status != "fail"]) == 0


def with_http(cfg: Config, **http: Any) -> Config:
    """Stand-in for a later config with http.auth / http.tls: the check reads them with getattr."""
    return cfg.model_copy(update={"http": SimpleNamespace(host=cfg.http.host, port=cfg.http.port, **http)})


@pytest.mark.parametrize(
    ("host", "auth", "tls", "expect"),
    [
        ("0.0.0.0", SimpleNamespace(username="ops", password="x"), None, {"auth": "pass", "tls": "warn"}),
        (
            "0.0.0.0",
            SimpleNamespace(username="ops"),
            SimpleNamespace(cert="c.pem", key="k.pem"),
            {"auth": "pass", "tls": "pass"},
        ),
        ("0.0.0.0", SimpleNamespace(enabled=False), SimpleNamespace(enabled=False), {"auth": "fail", "tls": "warn"}),
        ("0.0.0.0", None, None, {"auth": "fail", "tls": "warn"}),
        ("127.0.0.1", None, None, {"auth": "pass", "tls": "pass"}),
    ],
)
def test_http_auth_and_tls_read_defensively(host, auth, tls, expect):
    cfg = with_http(build({"http": {"host": host, "allow_unauthenticated": True}}), auth=auth, tls=tls)
    items = by_id(assess(cfg))
    assert items["management.endpoint-auth"].status == expect["auth"]
    assert items["management.endpoint-tls"].status == expect["tls"]


def test_credentials_file_permissions(tmp_path):
    src = {"kind": "url", "url": "rtsp://192.0.2.10/s1", "username": "cam", "password": "Tr0ub4dor&3xq"}
    cfg = build({"cameras": [{**BASE["cameras"][0], "source": src}]})
    path = tmp_path / "site.yaml"
    path.write_text("x")
    os.chmod(path, 0o644)
    item = by_id(assess(cfg, path=path))["management.credentials"]
    assert item.status == "warn" and "0644" in item.reason
    os.chmod(path, 0o600)
    assert by_id(assess(cfg, path=path))["management.credentials"].status == "pass"
    weak = build({"cameras": [{**BASE["cameras"][0], "source": {**src, "password": "change-me"}}]})
    item = by_id(assess(weak, path=path))["management.credentials"]
    assert item.status == "warn" and "placeholder" in item.reason


def test_store_example_passes():
    items = assess(load_config(ROOT / "configs" / "store-example.yaml"))
    assert exit_code(items) == 0
    # its only warning: the example's stream passwords ("change-me") sit in the file
    assert not_passing(items) == {"management.credentials": "warn"}


def test_default_demo_config():
    items = assess(load_config(ROOT / "configs" / "default.yaml"))
    assert exit_code(items) == 0
    assert not_passing(items) == {"planning.operator": "warn", "notice.url": "warn", "acquisition.schedule": "warn"}


def test_items_are_grouped_by_phase_with_unique_ids():
    cfg = build(
        {"purposes": [*BASE["purposes"], DWELL_PURPOSE], "http": {"host": "0.0.0.0", "allow_unauthenticated": True}}
    )
    items = assess(cfg)
    order = list(PHASES)
    assert [order.index(i.phase) for i in items] == sorted(order.index(i.phase) for i in items)
    assert {i.phase for i in items} == set(PHASES)
    assert len({i.id for i in items}) == len(items)
    assert all(i.id.startswith(i.phase + ".") for i in items)
    assert all(i.status in ("pass", "warn", "fail") for i in items)


@pytest.mark.parametrize(
    ("text", "vague"),
    [
        ("staff the floor", True),
        ("For business purposes.", True),
        ("Marketing analytics to improve the customer experience and service quality.", True),
        ("Count visitors entering and leaving per hour to plan opening hours and staffing.", False),
        ("Count people per hour and other purposes such as planning the floor.", True),
        ("サービス向上およびマーケティング分析のため", True),
        ("顧客満足度向上等の目的で利用します。", True),
        ("レジ待ちが長くなったら別のレジを開け、お客様の待ち時間を短くするため。", False),
    ],
)
def test_justification_heuristic(text, vague):
    assert (justification_problem(text) is not None) == vague


@pytest.mark.parametrize(
    ("host", "loop"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.168.1.2", False),
        ("edge.example", False),
    ],
)
def test_is_loopback(host, loop):
    assert is_loopback(host) is loop


def test_render_text_and_markdown():
    items = assess(
        build({"http": {"host": "0.0.0.0", "allow_unauthenticated": True}, "operator": {"notice_url": DROP}})
    )
    text = render(items, "text")
    for label in PHASES.values():
        assert label in text
    for i in items:
        assert i.id in text
    assert "[FAIL] Endpoints not exposed without authentication" in text
    assert text.rstrip().endswith("fail") and "1 fail" in text
    md = render(items, "markdown")
    assert md.startswith("# ")
    assert md.count("| Status | Check | Reason |") == len(PHASES)
    assert "| **FAIL** | `management.endpoint-auth`" in md
    assert "**Summary:**" in md


def test_render_escapes_markdown_cells():
    md = render([Item("planning", "planning.x", "a | b", "warn", "<script>x</script>\nnext | line")], "markdown")
    row = next(line for line in md.splitlines() if "planning.x" in line)
    assert len(re.split(r"(?<!\\)\|", row)) == 5  # the cell pipes are escaped: the row keeps its three columns
    assert "\\|" in row and "&lt;script&gt;" in row and "<script>" not in md
    with pytest.raises(ValueError):
        render([], "html")  # type: ignore[arg-type]


def test_exit_code():
    assert exit_code([]) == 0
    assert exit_code([Item("planning", "planning.a", "t", "warn", "r")]) == 0
    assert (
        exit_code([Item("planning", "planning.a", "t", "pass", "r"), Item("management", "m.b", "t", "fail", "r")]) == 1
    )
