"""The notice in Japanese, written as a Japanese store would write it (not translated word by word)."""

from __future__ import annotations

from edgeanon.config.names import DAYS
from edgeanon.guidebook import policy
from edgeanon.guidebook.notice.texts import Texts, day_runs

DAY_NAMES = dict(zip(DAYS, "月火水木金土日", strict=True))
AGES = {"<20": "20歳未満", "20s": "20代", "30s": "30代", "40s": "40代", "50s": "50代", "60+": "60歳以上"}
GENDERS = {"female": "女性", "male": "男性"}


# what is kept: ``content.Kept.output`` -> {names} {grids} {k} {k2} {what}
KEPT = {
    "camera_occupancy": "各カメラの撮影範囲内の人数（カメラ：{names}）",
    "zone_occupancy": "エリアごとの人数（エリア：{names}）",
    "site_occupancy": "店内の人数（出入口を通過した人数から算出。出入口：{names}）",
    "line_crossings": "計測ラインを通過した人数（入る方向・出る方向別。ライン：{names}）",
    "zone_dwell": "エリアごとの滞在時間の分布（何分程度滞在した人が何人いたか。エリアを出た人が{k}人未満の期間は"
    "記録しません。エリア：{names}）",
    "heatmap": "売場を粗い区画（{grids}）に分けた、区画ごとの人数（{k}人未満の区画は記録しません。同じ人は区画ごとに"
    "1人と数えます。カメラ：{names}）",
    "queue": "レジ待ちの人数と推定待ち時間（待ち時間は、待ち終えた人が{k}人未満のときは出しません。エリア：{names}）",
    "line_groups": "計測ラインを一緒に通過したグループの数（1人・2人・3人・4人以上の人数別。{k}件未満の区分があるとき、"
    "または通過した人が{k2}人未満のときは、その期間の人数別の数をすべて記録しません。ライン：{names}）",
    "zone_movement": "エリア内を移動した方向（8方向）別・速さ（ゆっくり・ふつう・速い）別の人数（{k}人未満の区分が"
    "あるときは、その期間のその内訳をすべて記録しません。エリア：{names}）",
    "attributes": "{what}別の人数（機械による推定値。計測ラインを通過したとき、またはエリアから出たときに数えます。"
    "{k}人未満の区分があるときは、その期間のその場所の内訳をすべて記録しません。場所：{names}）",
}


def join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return "、".join(items[:-1]) + "および" + items[-1]


def period(s: int) -> str:
    if s % 3600 == 0:
        return f"{s // 3600}時間"
    if s % 60 == 0:
        return f"{s // 60}分"
    return f"{s}秒"


def days(ds: tuple[str, ...]) -> str:
    if set(ds) == set(DAYS):
        return "毎日"
    parts = []
    for run in day_runs(ds):
        if len(run) >= 3:
            parts.append(f"{DAY_NAMES[run[0]]}〜{DAY_NAMES[run[-1]]}")
        else:
            parts.extend(DAY_NAMES[d] for d in run)
    return "・".join(parts) + ("曜日" if len(parts) == 1 and len(parts[0]) == 1 else "")


def clock(hhmm: str) -> str:
    h, m = hhmm.split(":")
    return f"{int(h)}:{m}"


JA = Texts(
    code="ja",
    name="日本語",
    title="カメラ画像の利用について",
    list_sep="、",
    join=join,
    period=period,
    days=days,
    clock=clock,
    intros={
        "occupancy": "店内の混雑状況の把握",
        "flow": "来店者数の計測",
        "dwell": "売場での滞在時間の把握",
        "heatmap": "売場の利用状況の把握",
        "queue": "レジ待ち状況の把握",
        "attributes": "来店者の{what}の統計的な把握",
    },
    lead="{operator}では、{intro}を目的として、カメラを設置しています。カメラの映像は店内の機器の中で{analysis}"
    "だけに解析し、解析後ただちに破棄します。映像を録画したり、外部へ送信したりすることはありません。",
    lead_analysis=("人数を数えるため", "人数を数え、{what}を推定するため"),
    operator_title="カメラの設置者",
    operator_labels=("設置・運営者", "管理責任者"),
    descriptions={p: ja for p, (_, ja) in policy.PURPOSE_DESCRIPTIONS.items()},
    purposes_title="利用目的",
    purposes_intro="カメラ画像は、次の目的に限って利用します。これ以外の目的に利用することはありません。",
    captured_title="取得する情報",
    cameras="店内に設置したカメラ（計{n}台：{names}）で、撮影範囲に入った方の姿を撮影します。",
    analysis="映像は店内の機器の中でその場で解析し、{analysis}直後に消去します。映像の復号処理は最新の1コマだけを、"
    "次のコマに置き換わるまで機器のメモリ上に保持します。映像を録画・保存することはなく、インターネットなどを通じて"
    "外部へ送信することもありません。",
    analysis_attributes=("人の位置を検出した", "人の位置の検出と{what}の推定を終えた"),
    refrain_intro="解析にあたって、次のことは一切行いません。",
    refrain=(
        "特定の個人を識別すること（顔認証・顔識別を含みます）",
        "顔などの特徴量データ（目・鼻・口の位置関係などを数値化したもの）の作成・保存",
        "人種・信条・障害・健康状態などの配慮を要する情報の推定",
        "再来店の判別や、複数のカメラをまたいだ同一人物の追跡",
    ),
    refrain_attributes="性別・年齢などの属性の推定",
    refrain_one="{what}の推定",
    refrain_words={"gender": "性別", "age_band": "年齢"},
    temporary_ids="人数を数えるため、画面内の人に一時的な番号を付けますが、この番号は機器のメモリ上でのみ使い、"
    "画面から外れるとすぐに消去します。保存や外部への送信はしません。",
    installer="現在、設置作業のための設置者モードが有効です（{until}まで）。このモードでは、設置担当者が"
    "機器の設定画面で、画面内の人の位置を最新の枠線（映像ではありません）として確認できます。"
    "枠線は保存・送信しません。期限を過ぎると自動的に無効になります。",
    what_words={"gender": "性別", "age_band": "年代"},
    what_sep="・",
    attr_intro="カメラ画像から{what}を機械により推定し、統計情報としてのみ保持します。顔画像や特徴量は保存しません。"
    "推定するのは次の項目だけです。",
    attr_device="推定は店内の機器の中で行い、推定に使ったカメラ画像と顔の部分の画像は、推定後ただちに消去します。"
    "個人を識別するための顔の特徴量は算出しません。",
    attr_stats="推定結果は{period}ごとに{what}の区分ごとの人数として集計し、この集計値だけを保持します（{k}人未満の"
    "区分があるときは、その期間のその場所の内訳をすべて記録しません）。お一人お一人の推定結果を記録することはなく、"
    "特定の個人を識別することもありません。",
    attr_caveat="推定は機械によるもので、誤りを含むことがあります。推定結果によって、お客様への対応を変えることはありません。",
    ages=AGES,
    age_sep="、",
    estimated_age="年代：{bands}の{n}区分（10歳きざみより細かくは推定しません）",
    genders=GENDERS,
    gender_sep="・",
    estimated_gender="性別：{genders}の{n}区分",
    kept_title="保存する情報と保存期間",
    kept_intro="保存するのは、{period}ごとにまとめた次の集計値（人数などの数値）だけです。カメラ画像は保存しません。",
    kept=KEPT,
    retention="集計値の保存期間は{days}日間で、期間を過ぎたものは自動的に削除します。"
    "集計値から個人を識別することはできません。",
    third_title="第三者提供",
    third_provided="カメラ画像を第三者に提供することはありません。個人を識別できない集計値に限り、次の提供先に提供します。",
    third_none="カメラ画像および集計値を第三者に提供することはありません。",
    hours_title="稼働時間",
    hours_intro="カメラは次の時間帯のみ稼働します。それ以外の時間は停止しており、撮影は行いません。",
    hours_entry="{days}\u3000{open}〜{close}",
    hours_all_day="カメラは終日（24時間）稼働しています。",
    contact_title="お問い合わせ",
    contact_intro="カメラ画像の利用に関するご質問・ご意見は、下記の窓口までお問い合わせください。",
    contact_label="窓口",
    contact_who="{operator}（管理責任者：{accountable}）",
    contact_kinds={"email": "メールアドレス", "phone": "電話番号", "url": "お問い合わせページ"},
    published="この掲示の内容は、次のウェブページでもご覧いただけます：",
    footer="本掲示は、経済産業省・総務省「カメラ画像利活用ガイドブック ver3.0」を参考に作成しています。",
    txt_field_sep="：",
    txt_bullet="・",
    txt_heading="【{title}】",
    txt_underline=False,
)
