"""The planning check (企画時のリスク分析): a pass/warn/fail checklist computed from the config alone.

Source: METI/MIC "カメラ画像利活用ガイドブック ver3.0" (2022-03-30). The checks follow the guidebook's phases; the
config loader already refuses what the policy forbids (see ``policy.RULES``), so what is left here is judgement:
is the purpose specific, the capture proportionate, the notice complete, the device safe to expose.

One module per phase (``planning``, ``prior_notice``, ``acquisition``, ``handling``, ``management`` with
``credentials``), each returning its ``item.Item`` lines; ``checklist.assess`` runs them all in order and ``report``
renders the result and gives the exit code.

| id                            | phase       | what it checks                                                    |
|-------------------------------|-------------|-------------------------------------------------------------------|
| planning.operator             | 企画時      | an operator and an accountable person/role, not placeholders      |
| planning.contact              | 企画時      | exactly one inquiry contact, well-formed                          |
| planning.justification.<p>    | 企画時      | each justification is specific (``justification_problem``)        |
| planning.purpose-used.<p>     | 企画時      | each declared purpose is used by a camera/zone/line/heatmap       |
| notice.url                    | 事前告知時  | the notice is published on a reachable web address                |
| notice.third-party            | 事前告知時  | third-party provision is stated and recipients are named          |
| acquisition.raw-frames        | 取得時      | raw frames kept: 0 (always passes; frames are zeroed after use)   |
| acquisition.schedule          | 取得時      | cameras run only in opening hours, not all day                    |
| acquisition.fps.<camera>      | 取得時      | analysis rate at most ``FPS_PROPORTIONATE`` fps                   |
| acquisition.output.<camera>   | 取得時      | every camera produces an aggregate some purpose needs             |
| acquisition.min-face          | 取得時      | with attributes: ``attributes.min_face_px`` at least ``MIN_FACE_PX`` |
| handling.identification       | 取扱い時    | no identification, feature data or sensitive attributes           |
| handling.attributes           | 取扱い時    | what is estimated (movement; opt-in age band, gender), what not   |
| handling.attributes-use       | 取扱い時    | with attributes: machine estimates, no discriminatory treatment   |
| handling.small-cells          | 取扱い時    | bucket length and k protect small cells (heatmap/attribute bins)  |
| management.retention          | 管理時      | aggregate retention proportionate to the purposes                 |
| management.endpoint-auth      | 管理時      | no network-reachable endpoint without authentication (fail)       |
| management.endpoint-tls       | 管理時      | TLS when the endpoint is reachable from the network               |
| management.credentials        | 管理時      | stream credentials in the config: file permissions, placeholders  |
| management.cleartext-passwords| 管理時      | no password in clear beyond loopback: http camera, MQTT, push    |

``http.auth`` and ``http.tls`` are read with ``getattr``: absent, ``None``, ``False`` or ``enabled: false`` all mean
"not configured", so ``management`` works before and after those settings exist.
"""
